"""Forecasts, budgets and cost anomalies over six weeks of history in a real Prometheus, against the generator's
truth: the injected anomalies are found and nothing else is, a fresh database over the same Prometheus gives the
same outlook as one that saw the weeks go by, and `--as-of` reports what was known at that moment."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecharge.synthetic.model import SEASONAL, Cluster, Truth
from tests.conftest import SEASONAL_DAYS, SEASONAL_START
from tests.support.history import History
from tests.support.reports import read_csv, run_in_process, truth_costs_by

OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
END = SEASONAL_START + timedelta(days=SEASONAL_DAYS)  # 2026-10-13: the history ends here
RUNS = (  # (period, as-of) in the order a long-running ledger saw them (an hour counts 5 minutes after its end)
    ("2026-09", "2026-09-12T00:10Z"),
    ("2026-09", "2026-09-24T06:10Z"),
    ("2026-09", "2026-10-02T00:10Z"),
    ("2026-10", "2026-10-08T00:10Z"),
    ("2026-10", "2026-10-13T00:10Z"),
)


@pytest.fixture(scope="module")
def served(seasonal_history: History) -> Iterator[str]:
    server = seasonal_history.serve()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def mappings(seasonal_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cluster's mappings; search's budget is in euros (the reports price in dollars)."""
    documents = copy.deepcopy(seasonal_cluster.team_mappings)
    for document in documents:
        if document["spec"]["team"] == "search":  # type: ignore[index]
            document["spec"]["budget"] = {"monthly": 100, "currency": "EUR"}  # type: ignore[index]
    path = tmp_path_factory.mktemp("seasonal-manifests") / "teams.yaml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def report(url: str, mappings: Path, db: Path, out: Path, period: str, as_of: str) -> dict[str, Any]:
    code, output = run_in_process("report", "--prometheus", url, "--mappings", str(mappings), "--period", period,
                                  "--as-of", as_of, "--out", str(out), "--db", f"sqlite:///{db}",
                                  "--cluster", "synthetic", "--force")  # fmt: skip
    assert code == 0, output
    found: dict[str, Any] = json.loads((out / "chargeback.json").read_text())
    found["output"] = output
    found["csv"] = (out / "chargeback.csv").read_bytes()
    return found


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("long-running") / "ledger.db"


@pytest.fixture(scope="module")
def long_running(served: str, mappings: Path, ledger: Path) -> dict[tuple[str, str], Any]:
    """One database that saw the weeks go by, report after report."""
    return {run: report(served, mappings, ledger, ledger.parent / "out", *run) for run in RUNS}


@pytest.fixture(scope="module")
def fresh(served: str, mappings: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A database created on the last day, over the same Prometheus."""
    work = tmp_path_factory.mktemp("fresh")
    return report(served, mappings, work / "ledger.db", work / "out", "2026-10", "2026-10-13T00:10Z")


def flagged_namespaces(*reports: dict[str, Any]) -> set[tuple[str, date]]:
    return {(a["namespace"], date.fromisoformat(a["day"])) for r in reports for a in r["anomalies"] if a["namespace"]}


def test_the_injected_anomalies_are_found_and_nothing_else(
    long_running: dict[tuple[str, str], Any], seasonal_cluster: Cluster, seasonal_truth: Truth
) -> None:
    injected = {(a.namespace, a.day) for a in seasonal_cluster.anomalies}
    assert len(injected) == 5  # two in September, three in October: all on weekdays, judged from day 10
    found = flagged_namespaces(long_running[RUNS[2]], long_running[RUNS[4]])
    precision = len(found & injected) / len(found)
    recall = len(found & injected) / len(injected)
    assert precision >= 0.9, (sorted(found), sorted(injected))
    assert recall >= 0.9, (sorted(found), sorted(injected))
    # The weekly-pattern-only namespace and the slow ramp are never flagged; no other namespace either.
    assert {"shop-web", "shop-batch"}.isdisjoint(namespace for namespace, _ in found)
    assert {namespace for namespace, _ in found} <= {name for name, (_, _, events) in SEASONAL.items() if events}
    kinds = {(a.namespace, a.day): a.kind for a in seasonal_cluster.anomalies}
    for item in long_running[RUNS[2]]["anomalies"] + long_running[RUNS[4]]["anomalies"]:
        if item["namespace"] is None:
            continue
        day = datetime.fromisoformat(item["day"]).replace(tzinfo=UTC)
        truth = truth_costs_by(seasonal_truth, day, day + timedelta(days=1), namespace=True).get(item["namespace"], 0)
        assert item["cost"] == pytest.approx(truth, rel=0.01, abs=1e-6), item
        assert not item["lower"] <= item["cost"] <= item["upper"]
        if kinds[(item["namespace"], day.date())] == "spike":
            assert 2.4 < item["cost"] / item["expected"] < 3.6, item  # three times the usual weekday
        else:
            assert item["cost"] == 0.0
            assert item["expected"] > 1.0


def test_a_fresh_database_gives_the_same_anomalies_and_forecasts(
    long_running: dict[tuple[str, str], Any], fresh: dict[str, Any]
) -> None:
    seen = long_running[RUNS[4]]
    assert "Asked Prometheus for" in fresh["output"]
    assert [(a["namespace"], a["team"], a["day"]) for a in fresh["anomalies"]] == [
        (a["namespace"], a["team"], a["day"]) for a in seen["anomalies"]
    ]
    for mine, theirs in zip(fresh["anomalies"], seen["anomalies"], strict=True):
        for key in ("cost", "expected", "lower", "upper"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-9)
    assert fresh["forecast"] is not None
    for mine, theirs in zip(fresh["forecast"]["teams"], seen["forecast"]["teams"], strict=True):
        assert mine["team"] == theirs["team"]
        for key in ("cost", "lower", "upper", "actual"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-9), mine["team"]
    assert fresh["forecast"]["cluster"]["cost"] == pytest.approx(seen["forecast"]["cluster"]["cost"], rel=1e-9)


def test_a_steady_team_is_forecast_at_its_daily_cost_for_the_days_left(
    fresh: dict[str, Any], seasonal_truth: Truth
) -> None:
    """Team web runs one crash-looping pod all along: its forecast is what it spent plus 19 more of its days."""
    forecast = {item["team"]: item for item in fresh["forecast"]["teams"]}["web"]
    spent = truth_costs_by(seasonal_truth, OCTOBER, END)["web"]
    days = [truth_costs_by(seasonal_truth, END - timedelta(days=d + 1), END - timedelta(days=d))["web"]
            for d in range(28)]  # fmt: skip
    expected = spent + 19 * sum(days) / len(days)
    assert forecast["actual"] == pytest.approx(spent, rel=0.01)
    assert forecast["cost"] == pytest.approx(expected, rel=0.02)
    assert forecast["lower"] <= expected <= forecast["upper"]
    assert forecast["historyDays"] == 28
    assert forecast["method"] == "trend and weekday"


def test_as_of_reports_what_was_known_then_on_a_ledger_that_knows_more(
    served: str, mappings: Path, ledger: Path, long_running: dict[tuple[str, str], Any], seasonal_truth: Truth,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The same database, now holding data to the 13th, asked for October as of the 8th: byte for byte what it
    said on the 8th, and the truth of the first seven days."""
    again = report(served, mappings, ledger, tmp_path, *RUNS[3])
    then = long_running[RUNS[3]]
    assert again["csv"] == then["csv"]
    assert again["asOf"] == "2026-10-08T00:00:00Z"  # the end of the last hour it counted
    assert again["anomalies"] == then["anomalies"]
    assert again["forecast"] == then["forecast"]
    rows = read_csv(tmp_path / "chargeback.csv")
    by_team: dict[str, float] = {}
    for row in rows:
        by_team[row["team"]] = by_team.get(row["team"], 0.0) + float(row["cost_total"])
    truth = truth_costs_by(seasonal_truth, OCTOBER, OCTOBER + timedelta(days=7))
    for team, cost in by_team.items():
        assert cost == pytest.approx(truth[team], rel=0.01, abs=1e-6), team


def test_a_period_that_is_over_has_no_forecast(long_running: dict[tuple[str, str], Any]) -> None:
    assert long_running[RUNS[1]]["forecast"] is not None  # September on the 24th
    assert long_running[RUNS[2]]["forecast"] is None  # September on 2 October
    assert long_running[RUNS[2]]["asOf"] == "2026-10-01T00:00:00Z"


def test_budgets_say_how_much_is_used_and_refuse_another_currency(
    long_running: dict[tuple[str, str], Any], seasonal_truth: Truth
) -> None:
    seen = long_running[RUNS[4]]
    budgets = {use["team"]: use for use in seen["budgets"]}
    payments = budgets["payments"]
    spent = truth_costs_by(seasonal_truth, OCTOBER, END)["payments"]
    assert payments["budget"] == 500
    assert payments["usedRatio"] == pytest.approx(spent / 500, rel=0.01)
    forecast = {item["team"]: item for item in seen["forecast"]["teams"]}["payments"]
    assert payments["forecast"] == forecast["cost"]
    assert payments["forecastRatio"] == pytest.approx(forecast["cost"] / 500)
    search = budgets["search"]
    assert search["usedRatio"] is None
    assert search["reached"] == []
    assert "EUR" in search["problem"]
    assert "budget of team search: budget is in EUR but the report prices in USD" in seen["output"]
