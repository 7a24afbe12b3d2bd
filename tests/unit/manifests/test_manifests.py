"""Manifests are checked against the CRDs' own schemas; the examples are valid."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kubecharge.domain.anomalies import AnomalyRules
from kubecharge.domain.mappings import Budget
from kubecharge.domain.recommendations import RecommendationSettings
from kubecharge.domain.usage import ChargeBasis
from kubecharge.errors import ManifestError
from kubecharge.manifests import load_team_mappings, load_usage_report, parse_duration, schema_errors

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_examples_load() -> None:
    mappings = load_team_mappings(EXAMPLES / "teammappings.yaml")
    assert [m.name for m in mappings] == ["data", "ml", "payments", "search"]
    report = load_usage_report(EXAMPLES / "usagereport.yaml")
    assert report.charge_basis is ChargeBasis.MAX
    assert report.pricing.cpu_core_hour == Decimal("0.031611")
    assert report.finalize_after.total_seconds() == 48 * 3600


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"team": "Bad_Name"}, "spec.team"),
        ({}, "spec"),
        ({"team": "a", "priority": "high"}, "spec.priority"),
        ({"team": "a", "namespaceSelector": {"matchExpressions": [{"key": "k", "operator": "Near"}]}}, "operator"),
        ({"team": "a", "budget": {"monthly": -5, "currency": "USD"}}, "spec.budget.monthly"),
        ({"team": "a", "budget": {"monthly": 5, "currency": "USD", "thresholds": [0]}}, "spec.budget.thresholds"),
    ],
)
def test_bad_team_mappings_are_rejected(spec: dict[str, object], field: str) -> None:
    document = {"apiVersion": "kubecharge.io/v1alpha1", "kind": "TeamMapping", "metadata": {"name": "x"}, "spec": spec}
    problems = schema_errors("TeamMapping", document)
    assert any(field in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"period": "yearly"}, "spec.period"),
        ({"chargeBasis": "average"}, "spec.chargeBasis"),
        ({"pricing": {"cpuCoreHour": -1}}, "spec.pricing.cpuCoreHour"),
        ({"pricing": {"currency": "dollars"}}, "spec.pricing.currency"),
        ({"finalizeAfter": "two days"}, "spec.finalizeAfter"),
        ({"outputs": {"objectStorage": {"url": "ftp://x"}}}, "spec.outputs.objectStorage.url"),
        ({"anomalies": {"minChangePercent": -10}}, "spec.anomalies.minChangePercent"),
        ({"recommendations": {"windowDays": 0}}, "spec.recommendations.windowDays"),
        ({"recommendations": {"cpuPercentile": 101}}, "spec.recommendations.cpuPercentile"),
        ({"recommendations": {"memoryHeadroom": -0.1}}, "spec.recommendations.memoryHeadroom"),
    ],
)
def test_bad_usage_reports_are_rejected(spec: dict[str, object], field: str) -> None:
    document = {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport", "metadata": {"name": "x"}, "spec": spec}
    problems = schema_errors("UsageReport", document)
    assert any(problem.startswith(field) for problem in problems), problems


def test_duplicate_mapping_names_are_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "teammappings.yaml").read_text()
    path = tmp_path / "dup.yaml"
    path.write_text(text + "\n---\n" + text.split("---")[0])
    with pytest.raises(ManifestError, match="second TeamMapping named 'payments'"):
        load_team_mappings(path)


def test_a_folder_of_manifests_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text((EXAMPLES / "teammappings.yaml").read_text())
    (tmp_path / "ignored.txt").write_text("not yaml")
    assert len(load_team_mappings(tmp_path)) == 4


@pytest.mark.parametrize(("text", "seconds"), [("48h", 172800), ("2d", 172800), ("1h30m", 5400), ("90s", 90)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    ("kind", "spec", "problem"),
    [
        ("TeamMapping", {"team": "shop", "namespace": ["shop"]},
         "spec.namespace: unknown field; did you mean spec.namespaces?"),
        ("UsageReport", {"chargebasis": "usage"}, "spec.chargebasis: unknown field; did you mean spec.chargeBasis?"),
        ("UsageReport", {"pricing": {"cpuCorehour": 0.03}},
         "spec.pricing.cpuCorehour: unknown field; did you mean spec.pricing.cpuCoreHour?"),
        ("UsageReport", {"outputs": {"objectStorage": {"url": "s3://finance/x", "retention_days": 90}}},
         "spec.outputs.objectStorage.retention_days: unknown field; did you mean "
         "spec.outputs.objectStorage.retention?"),
        ("TeamMapping", {"team": "shop", "namespaceSelector": {"matchExpressions": [
            {"key": "team", "operator": "In", "value": ["shop"]}]}},
         "spec.namespaceSelector.matchExpressions.0.value: unknown field; did you mean "
         "spec.namespaceSelector.matchExpressions.0.values?"),
        ("UsageReport", {"colour": "blue"}, "spec.colour: unknown field"),
    ],
)  # fmt: skip
def test_unknown_fields_are_refused_with_the_nearest_known_name(kind: str, spec: dict[str, object],
                                                                problem: str) -> None:  # fmt: skip
    document = {"apiVersion": "kubecharge.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    assert problem in schema_errors(kind, document)


def test_a_typo_in_a_mapping_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text("apiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\nmetadata: {name: shop}\n"
                    "spec: {team: shop, namespace: [shop]}\n")  # fmt: skip
    with pytest.raises(ManifestError, match=r"spec\.namespace: unknown field; did you mean spec\.namespaces\?"):
        load_team_mappings(path)


def test_budget_thresholds_and_anomaly_limits_are_read(tmp_path: Path) -> None:
    (tmp_path / "teams.yaml").write_text(
        "apiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\nmetadata: {name: shop}\n"
        "spec: {team: shop, budget: {monthly: 900, currency: EUR, thresholds: [95, 80, 80]}}\n"
        "---\napiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\nmetadata: {name: web}\n"
        "spec: {team: web, budget: {monthly: 10, currency: USD}}\n"
    )
    shop, web = load_team_mappings(tmp_path / "teams.yaml")
    assert shop.budget == Budget(Decimal("900"), "EUR", (80, 95))
    assert web.budget is not None
    assert web.budget.thresholds == (50, 75, 90, 100)
    (tmp_path / "report.yaml").write_text(
        "apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: r}\n"
        "spec: {anomalies: {spreadFactor: 4, minChangePercent: 80, minCost: 25}}\n"
    )
    assert load_usage_report(tmp_path / "report.yaml").anomalies == AnomalyRules(4.0, 0.8, 25.0)
    (tmp_path / "report.yaml").write_text(
        "apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: r}\n"
        "spec: {anomalies: {enabled: false}}\n"
    )
    assert load_usage_report(tmp_path / "report.yaml").anomalies is None


def test_recommendation_settings_come_from_the_spec_with_the_crds_defaults(tmp_path: Path) -> None:
    path = tmp_path / "report.yaml"
    path.write_text("apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: r}\nspec: {}\n")
    assert load_usage_report(path).recommendations == RecommendationSettings(14, 95.0, 0.15, annotate=False)
    path.write_text(
        "apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: r}\n"
        "spec: {recommendations: {windowDays: 7, cpuPercentile: 90, memoryHeadroom: 0.3, annotate: true}}\n"
    )
    assert load_usage_report(path).recommendations == RecommendationSettings(7, 90.0, 0.3, annotate=True)
    path.write_text(
        "apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: r}\n"
        "spec: {recommendations: {enabled: false}}\n"
    )
    assert load_usage_report(path).recommendations is None
