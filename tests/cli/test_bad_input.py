"""Bad input: a clear one-line message, a non-zero exit, no traceback, and no files written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import PERIOD
from tests.support.reports import closed_port, read_csv, run_cli

GOOD_REPORT = """
apiVersion: kubecharge.io/v1alpha1
kind: UsageReport
metadata: {name: monthly, namespace: finance}
spec:
  chargeBasis: max
  pricing: {currency: EUR, cpuCoreHour: 0.03, memoryGiBHour: 0.004}
"""


def _assert_clean_failure(result: object, out: Path, *fragments: str) -> None:
    code, stderr = result.returncode, result.stderr  # type: ignore[attr-defined]
    assert code != 0
    assert "Traceback" not in stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists(), f"{out} was created"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "staging left behind"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "report"


def _report(prometheus: str, mappings: Path, out: Path, *extra: str, period: str = PERIOD) -> object:
    return run_cli(
        "report",
        "--prometheus",
        prometheus,
        "--mappings",
        str(mappings),
        "--period",
        period,
        "--out",
        str(out),
        "--db",
        f"sqlite:///{out.parent / 'k.db'}",
        *extra,
    )


def test_malformed_yaml(prometheus_url: str, tmp_path: Path, out: Path) -> None:
    bad = tmp_path / "teams.yaml"
    bad.write_text("apiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\nmetadata: {name: x\nspec: [\n")
    _assert_clean_failure(_report(prometheus_url, bad, out), out, "not valid YAML", "teams.yaml")


def test_mapping_that_breaks_the_crd_schema(prometheus_url: str, tmp_path: Path, out: Path) -> None:
    bad = tmp_path / "teams.yaml"
    bad.write_text(
        textwrap.dedent("""
        apiVersion: kubecharge.io/v1alpha1
        kind: TeamMapping
        metadata: {name: payments}
        spec: {team: Payments_Team, priority: high}
    """)
    )
    _assert_clean_failure(_report(prometheus_url, bad, out), out, "breaks the CRD schema", "spec.team", "spec.priority")


@pytest.mark.parametrize("period", ["2026-13", "last-month", "2026-10-40", "2026-10-05/2026-10-01"])
def test_unknown_period(prometheus_url: str, mappings_file: Path, out: Path, period: str) -> None:
    _assert_clean_failure(_report(prometheus_url, mappings_file, out, period=period), out, "period")


def test_negative_price(prometheus_url: str, mappings_file: Path, tmp_path: Path, out: Path) -> None:
    report = tmp_path / "report.yaml"
    report.write_text(GOOD_REPORT.replace("cpuCoreHour: 0.03", "cpuCoreHour: -0.03"))
    result = _report(prometheus_url, mappings_file, out, "--report", str(report))
    _assert_clean_failure(result, out, "spec.pricing.cpuCoreHour", "minimum")


def test_unreachable_prometheus(mappings_file: Path, out: Path) -> None:
    result = _report(f"http://127.0.0.1:{closed_port()}", mappings_file, out)
    _assert_clean_failure(result, out, "unreachable")
    assert result.returncode == 3  # type: ignore[attr-defined]


def test_prometheus_without_data_for_the_period(prometheus_url: str, mappings_file: Path, out: Path) -> None:
    _assert_clean_failure(_report(prometheus_url, mappings_file, out, period="2025-01"), out, "no cAdvisor")


def test_a_failed_run_leaves_an_existing_report_untouched(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "chargeback.csv").write_text("previous\n")
    result = _report(f"http://127.0.0.1:{closed_port()}", mappings_file, out)
    assert result.returncode != 0  # type: ignore[attr-defined]
    assert (out / "chargeback.csv").read_text() == "previous\n"
    assert sorted(p.name for p in out.iterdir()) == ["chargeback.csv"]


def test_a_good_report_manifest_sets_currency_and_prices(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, out: Path
) -> None:
    report = tmp_path / "report.yaml"
    report.write_text(GOOD_REPORT)
    result = _report(prometheus_url, mappings_file, out, "--report", str(report))
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    assert sorted(p.name for p in out.iterdir()) == [
        "chargeback-daily.csv", "chargeback-workloads-daily.csv", "chargeback-workloads.csv", "chargeback.csv",
        "chargeback.json", "recommendations.csv", "report.html", "report.md", "teams", "workloads-top.csv"]  # fmt: skip
    pages = sorted(p.name for p in (out / "teams").iterdir())
    assert pages == sorted(f"{team}.md" for team in {row["team"] for row in read_csv(out / "chargeback.csv")})
    assert b",EUR,default," in (out / "chargeback.csv").read_bytes()  # currency, then the cluster
    assert "payments" in result.stdout  # type: ignore[attr-defined]


def test_scrape_job_labels_that_match_nothing_stop_the_run(
    prometheus_url: str, mappings_file: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without kube-state-metrics' `up` every request share would be zero: the run must stop, not under-charge.
    monkeypatch.setenv("KUBECHARGE_QUERY_STATE_METRICS_JOB_LABELS", '{"job": "state-metrics"}')
    result = _report(prometheus_url, mappings_file, out)
    _assert_clean_failure(result, out, "no kube-state-metrics scrape", "KUBECHARGE_QUERY_STATE_METRICS_JOB_LABELS")
    assert result.returncode == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--auth", "oidc"], "--auth 'oidc': give kubernetes"),
        (["--auth", "none", "--mappings", "teams.yaml"], "give --mappings and --report together"),
        (["--auth", "none", "--mappings", "missing.yaml", "--report", "missing.yaml"], "missing.yaml"),
    ],
)
def test_serve_refuses_bad_options_before_listening(tmp_path: Path, args: list[str], fragment: str) -> None:
    """`kubecharge serve` with bad options says what is wrong in one line and creates no database."""
    database = tmp_path / "ledger.db"
    result = run_cli("serve", *args, "--db", f"sqlite:///{database}", "--port", "1")
    _assert_clean_failure(result, database, fragment)
