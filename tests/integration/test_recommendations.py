"""Request recommendations from a real Prometheus holding the synthetic cluster, judged row by row against the
generator's exact use (`rightsizing.py`'s shapes among every other workload container), and their savings against
the formula at the report's own prices."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kubecharge.domain.recommendations import FEWEST_CPU_CORES, FEWEST_MEMORY_BYTES, HOURS_PER_MONTH
from kubecharge.domain.units import BYTES_PER_GIB
from kubecharge.synthetic import rightsizing
from kubecharge.synthetic.model import Cluster
from tests.conftest import PERIOD
from tests.support.container_truth import Key, expected
from tests.support.reports import read_csv, run_in_process

CPU_PRICE, MEMORY_PRICE = 0.05, 0.008  # the report's own prices (not the defaults)
REPORT = f"""apiVersion: kubecharge.io/v1alpha1
kind: UsageReport
metadata: {{name: rightsizing, namespace: finance}}
spec:
  pricing: {{currency: EUR, cpuCoreHour: {CPU_PRICE}, memoryGiBHour: {MEMORY_PRICE}}}
  recommendations: {{windowDays: 3}}
"""


@pytest.fixture(scope="module")
def report(prometheus_url: str, mappings_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The period's report with recommendations over the 3 complete days before its end (Prometheus holds 2)."""
    work = tmp_path_factory.mktemp("recommendations")
    (work / "report.yaml").write_text(REPORT)
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", PERIOD,
        "--report", str(work / "report.yaml"), "--out", str(work / "out"), "--db", f"sqlite:///{work / 'k.db'}",
        "--by", "recommendation",
    )  # fmt: skip
    assert code == 0, output
    return work / "out", output


def _rows(out: Path) -> dict[Key, dict[str, str]]:
    return {(r["namespace"], r["workload_kind"], r["workload"], r["container"]): r
            for r in read_csv(out / "recommendations.csv")}  # fmt: skip


def test_every_container_with_a_day_of_data_is_recommended_from_its_exact_use(
    cluster: Cluster, report: tuple[Path, str]
) -> None:
    """CPU within 2 % of the exact pooled p95 of 5-minute averages, memory within 1 % of the exact peak × 1.15,
    requests exact, replicas within 1 % of the average containers running over the window Prometheus held."""
    rows, truth = _rows(report[0]), expected(cluster)
    judged = [key for key, want in truth.items() if want.get("windows", 0.0) * 300 / 3600 >= 24]
    assert {("platform-portal", "Deployment", name, "app") for name in ("steady", "diurnal", "spiky", "leaky",
            "starved", "autoscaled")} <= set(judged)  # fmt: skip
    wrong: dict[Key, object] = {}
    for key in judged:
        row, want = rows[key], truth[key]
        cpu = max(want["cpu_p95"], FEWEST_CPU_CORES)
        memory = max(want["memory"] * 1.15, FEWEST_MEMORY_BYTES) / BYTES_PER_GIB
        got = (float(row["cpu_recommended_cores"]), float(row["memory_recommended_gib"]), float(row["replicas"]),
               float(row["cpu_request_cores"]))  # fmt: skip
        if (got[0] != pytest.approx(cpu, rel=0.02) or got[1] != pytest.approx(memory, rel=0.01)
                or got[2] != pytest.approx(want["alive_slots"] / cluster.slots, rel=0.01)
                or got[3] != pytest.approx(want.get("cpu_request", 0.0), abs=1e-9)):  # fmt: skip
            wrong[key] = (got, (cpu, memory, want["alive_slots"] / cluster.slots, want.get("cpu_request", 0.0)))
    assert not wrong, list(wrong.items())[:8]


def test_savings_are_the_formula_at_the_reports_prices_signed(report: tuple[Path, str]) -> None:
    """730 × replicas × Σ (request − recommendation) × price, from the row's own figures: an over-provisioned
    container saves, an under-provisioned one (`starved`: usage above both requests) shows what it costs."""
    rows = _rows(report[0])
    for row in rows.values():
        if not row["monthly_saving"]:
            continue
        cpu = float(row["cpu_request_cores"]) - float(row["cpu_recommended_cores"])
        memory = float(row["memory_request_gib"]) - float(row["memory_recommended_gib"])
        formula = HOURS_PER_MONTH * float(row["replicas"]) * (cpu * CPU_PRICE + memory * MEMORY_PRICE)
        assert float(row["monthly_saving"]) == pytest.approx(formula, abs=2e-6), row
        assert row["currency"] == "EUR"
    portal = {key[2]: row for key, row in rows.items() if key[0] == rightsizing.NAMESPACE}
    assert float(portal["steady"]["monthly_saving"]) > 0
    assert float(portal["starved"]["monthly_saving"]) < 0
    # the steady pair: (1.0 − ~0.2 cores) × 0.05 + (1 − ~0.23 GiB) × 0.008, × 730 × 2 replicas ≈ 67
    assert 60 < float(portal["steady"]["monthly_saving"]) < 70


def test_the_autoscaled_workload_is_flagged_and_out_of_its_teams_saving(report: tuple[Path, str]) -> None:
    out = report[0]
    rows = _rows(out)
    flagged = {key[2] for key, row in rows.items() if row["hpa"] == "true"}
    assert flagged == {"autoscaled"}
    summary = json.loads((out / "chargeback.json").read_text())
    teams = summary["recommendedSaving"]["teams"]
    for team, saving in teams.items():
        counted = [float(r["monthly_saving"]) for r in rows.values() if r["team"] == team and r["hpa"] == "false"
                   and r["monthly_saving"] and float(r["monthly_saving"]) > 0]  # fmt: skip
        assert saving == pytest.approx(math.fsum(counted), abs=1e-6), team
    assert summary["recommendedSaving"]["total"] == pytest.approx(math.fsum(teams.values()))
    autoscaled = rows[(rightsizing.NAMESPACE, "Deployment", "autoscaled", "app")]
    assert float(autoscaled["monthly_saving"]) > 0  # it would save, and is still kept out
    assert rows[(rightsizing.NAMESPACE, "Deployment", "steady", "app")]["team"] == "platform"
    assert summary["recommendationWindow"] == {"start": "2026-09-30T00:00:00Z", "end": "2026-10-03T00:00:00Z"}
    assert len(summary["recommendations"]) == len(rows)


def test_a_container_younger_than_a_day_is_listed_without_numbers(report: tuple[Path, str]) -> None:
    out, printed = report
    fresh = _rows(out)[(rightsizing.NAMESPACE, "Deployment", "fresh", "app")]
    numbers = ("replicas", "cpu_request_cores", "cpu_recommended_cores", "memory_request_gib",
               "memory_recommended_gib", "monthly_saving")  # fmt: skip
    assert all(fresh[column] == "" for column in numbers), fresh
    assert "not enough data" in printed
    assert "Request recommendations" in printed
    assert "Monthly saving by team" in printed
