"""Budgets, forecasts and anomalies through the real operator against the Kubernetes emulator, over six weeks of
history in a real Prometheus: each budget threshold and each anomaly raises one Event, and neither reruns nor a
restart raise any again; the TeamMapping says when its budget is in another currency; the self-metrics carry the
outlook, and every metric the chart's Grafana dashboard draws is one the running operator exposes."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubecharge.settings import Settings
from kubecharge.store import schema
from kubecharge.synthetic.local_prometheus import free_port
from kubecharge.synthetic.model import Cluster, Truth
from tests.chart.test_chart import render
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, OperatorThread, status_of, wait_for
from tests.support.history import History
from tests.support.reports import truth_costs_by

OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 10, 8, 0, 10, tzinfo=UTC)  # October's first seven days are complete
REPORTS_NS = "finops"
USED = 0.8  # of its budget, payments has spent this much by NOW


@pytest.fixture(scope="module")
def spent(seasonal_truth: Truth) -> float:
    """What payments cost in October's first seven days, from the truth."""
    return truth_costs_by(seasonal_truth, OCTOBER, OCTOBER + timedelta(days=7))["payments"]


@pytest.fixture(scope="module")
def running(
    seasonal_cluster: Cluster, seasonal_history: History, spent: float, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Kube, Settings, Path]]:
    work = tmp_path_factory.mktemp("operator-outlook")
    server = seasonal_history.serve()
    with running_emulator() as (_, url):
        kube = Kube(url)
        for namespace in seasonal_cluster.namespaces:
            kube.namespace(namespace.name, namespace.labels_at(seasonal_cluster.slots - 1))
        kube.namespace(REPORTS_NS, {})
        for mapping in copy.deepcopy(seasonal_cluster.team_mappings):
            spec: dict[str, Any] = mapping["spec"]  # type: ignore[assignment]
            if spec["team"] == "payments":
                spec["budget"] = {"monthly": round(spent / USED, 6), "currency": "USD"}
            if spec["team"] == "search":
                spec["budget"] = {"monthly": 100, "currency": "EUR"}
            kube.apply_mapping(mapping)
        settings = Settings(
            kube_api_url=url, prometheus_url=server.url, database_url=f"sqlite:///{work / 'ledger.db'}",
            cluster_name="synthetic", report_interval_seconds=2, mapping_interval_seconds=1, retry_delay_seconds=1,
            retry_max_delay_seconds=2, metrics_port=free_port(), liveness_port=free_port(), standalone=True,
        )  # fmt: skip
        schema.upgrade(settings.database_url)
        kube.apply_report(REPORTS_NS, {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                       "metadata": {"name": "monthly", "namespace": REPORTS_NS},
                                       "spec": {"period": "monthly"}})  # fmt: skip
        try:
            yield kube, settings, work
        finally:
            server.stop()


def runs(settings: Settings) -> int:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        return int(db.execute("SELECT count(*) FROM report_runs WHERE result = 'succeeded'").fetchone()[0])


def events(kube: Kube, *reasons: str, period: str = "2026-10") -> list[str]:
    """The report's Events of these reasons about `period` (budgets name it; anomalies start with their day)."""
    return sorted(e.message for e in kube.events(REPORTS_NS, "monthly")
                  if e.reason in reasons and re.search(rf"(^| ){period}\b", e.message))  # fmt: skip


def wait_events(kube: Kube, count: int, *reasons: str, period: str = "2026-10") -> list[str]:
    def probe() -> list[str] | None:
        found = events(kube, *reasons, period=period)
        return found if len(found) == count else None

    return wait_for(probe, what=f"{count} {'/'.join(reasons)} Events of {period}")


def two_more_runs(settings: Settings) -> None:
    before = runs(settings)
    wait_for(lambda: runs(settings) >= before + 2, what="two more report runs")


def scrape(settings: Settings) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in /metrics")


def exposed_names(text: str) -> set[str]:
    """Every metric name /metrics declares (HELP/TYPE, with a histogram's series) or has a sample of."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            if kind == "counter":
                names.add(name.removesuffix("_total") + "_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_budget_and_anomaly_events_are_raised_once_through_reruns_and_a_restart(
    running: tuple[Kube, Settings, Path], seasonal_cluster: Cluster, seasonal_truth: Truth, spent: float,
    tmp_path: Path,
) -> None:  # fmt: skip
    kube, settings, _ = running
    clock = lambda: NOW  # noqa: E731
    operator = OperatorThread(settings, clock=clock).start()
    try:
        status = status_of(kube, REPORTS_NS, "monthly", "Provisional")
        budgets = {use["team"]: use for use in status["budgets"]}
        assert budgets["payments"]["usedRatio"] == pytest.approx(USED, rel=0.01)
        assert budgets["payments"]["reached"] == [50, 75]
        assert budgets["payments"]["forecastRatio"] > 1.0  # seven days at 80 %: the month will overrun
        assert "EUR" in budgets["search"]["problem"]
        assert status["forecast"]["cost"] > status["totals"]["cost"]

        reached = wait_events(kube, 2, "BudgetThresholdReached")
        assert all("team payments" in message for message in reached)
        assert ["50%" in reached[0], "75%" in reached[1]] == [True, True]
        assert len(events(kube, "BudgetForecastExceeded")) == 1
        # October's injected anomalies of the days before NOW, each once (and the team-level days too).
        injected = [a for a in seasonal_cluster.anomalies if OCTOBER.date() <= a.day < NOW.date()]
        assert len(injected) == 2
        anomalies = wait_events(kube, len(status["anomalies"]), "CostAnomaly")
        for item in injected:
            assert sum(f"{item.day}: namespace {item.namespace} " in message for message in anomalies) == 1
        # September (the period before, final) was computed too: over budget from its first days, no forecast.
        september = wait_events(kube, 4, "BudgetThresholdReached", period="2026-09")
        assert ["past the 100% threshold" in m for m in september].count(True) == 1
        assert events(kube, "BudgetForecastExceeded", period="2026-09") == []
        first = events(kube, "BudgetThresholdReached", "BudgetForecastExceeded", "CostAnomaly")

        two_more_runs(settings)
        assert events(kube, "BudgetThresholdReached", "BudgetForecastExceeded", "CostAnomaly") == first
        metrics = scrape(settings)
    finally:
        operator.stop()

    operator = OperatorThread(settings, clock=clock).start()  # a restart: a new process, the same ledger
    try:
        two_more_runs(settings)
        assert events(kube, "BudgetThresholdReached", "BudgetForecastExceeded", "CostAnomaly") == first
        # A lower budget: 90 % is reached now, and only that threshold is new.
        kube.patch_mapping("payments", {"spec": {"budget": {"monthly": round(spent / 0.93, 6), "currency": "USD"}}})
        latest = wait_events(kube, 3, "BudgetThresholdReached")
        assert sum("90%" in message for message in latest) == 1
        two_more_runs(settings)
        assert len(events(kube, "BudgetThresholdReached")) == 3
    finally:
        operator.stop()

    # The TeamMapping whose budget is in euros says so (the reports price in dollars).
    condition = next(c for c in kube.mapping("search")["status"]["conditions"] if c["type"] == "BudgetComparable")
    assert (condition["status"], condition["reason"]) == ("False", "CurrencyMismatch")
    assert "finops/monthly" in condition["message"]
    # The self-metrics carry the outlook, against the truth.
    labels = {"namespace": REPORTS_NS, "report": "monthly"}
    assert sample(metrics, "kubecharge_budget_used_ratio", **labels, team="payments") == pytest.approx(USED, rel=0.01)
    assert sample(metrics, "kubecharge_team_cost", **labels, period="2026-10", team="payments") == pytest.approx(
        spent, rel=0.01
    )
    assert sample(metrics, "kubecharge_cost_anomalies", **labels) == len(status["anomalies"])
    raised = len(events(kube, "CostAnomaly", period="2026-09")) + len(events(kube, "CostAnomaly"))
    assert sample(metrics, "kubecharge_cost_anomalies_raised_total", **labels) == raised > len(status["anomalies"])
    # In the last hour no second kube-state-metrics or Prometheus replica ran (nor a reshard): no copies.
    last = seasonal_cluster.slots - 6
    assert all(r.last_slot < last for r in seasonal_cluster.replicas)
    assert all(t.last_slot is None or t.last_slot < last for t in seasonal_cluster.state_metrics_targets)
    assert sample(metrics, "kubecharge_duplicate_series_ratio", **labels) == 0.0
    # The newest hour with data ends at NOW's hour: the ingest latency is the 10 minutes since.
    assert sample(metrics, "kubecharge_ingest_latency_seconds", **labels) == pytest.approx(600, abs=1)

    # Every metric the Grafana dashboard queries is one the operator exposes.
    documents = render(tmp_path, "--set", "grafana.dashboard.enabled=true")
    dashboard_map = next(
        d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("dashboard")
    )
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_map["data"]["kubecharge.json"])
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    expressions += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {name for expression in expressions for name in re.findall(r"\bkubecharge_[a-z_]+", expression)}
    assert len(used) >= 12
    assert used <= exposed_names(metrics), sorted(used - exposed_names(metrics))
