"""The operator on the ledger: per timer tick it asks Prometheus only for new hours and the re-check window, it
never charges the unfinished hour, and a Prometheus that lost its oldest days changes nothing it published.

The operator's clock is moved by the test; every run records (in `report_runs`) how many hours it asked for and,
in its completeness, how many hours had elapsed, so each run is checked against the clock it actually read.
"""

from __future__ import annotations

import csv
import functools
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubecharge.settings import Settings
from kubecharge.store import schema
from kubecharge.synthetic.local_prometheus import LocalPrometheus, free_port
from kubecharge.synthetic.model import Cluster, Truth
from tests.integration.test_accuracy import COLUMNS
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, OperatorThread, wait_for
from tests.support.history import History
from tests.support.reports import by_team

START = datetime(2026, 10, 1, tzinfo=UTC)
REPORTS_NS = "finops"
RECHECK_HOURS = 3


class Clock:
    """The operator's clock, set by the test."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture(scope="module")
def prometheus_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def gappy_port() -> int:
    """The second Prometheus' port, known before the operator starts so its settings can allow it."""
    return free_port()


@pytest.fixture(scope="module")
def served(history: History, prometheus_port: int) -> Iterator[dict[str, LocalPrometheus]]:
    """The Prometheus the operator talks to; a test may replace it (same address) with a trimmed one."""
    holder = {"server": history.serve(port=prometheus_port)}
    yield holder
    holder["server"].stop()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(START + timedelta(hours=6, minutes=10))


@pytest.fixture(scope="module")
def setup(cluster: Cluster, served: dict[str, LocalPrometheus], clock: Clock, gappy_port: int,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, Settings]]:  # fmt: skip
    work = tmp_path_factory.mktemp("operator-ledger")
    with running_emulator() as (_, url):
        kube = Kube(url)
        for namespace in cluster.namespaces:
            kube.namespace(namespace.name, namespace.labels_at(cluster.slots - 1))
        kube.namespace(REPORTS_NS, {})
        for mapping in cluster.team_mappings:
            kube.apply_mapping(dict(mapping))
        settings = Settings(
            kube_api_url=url, prometheus_url=served["server"].url, database_url=f"sqlite:///{work / 'ledger.db'}",
            cluster_name="synthetic", report_interval_seconds=2, mapping_interval_seconds=1, retry_delay_seconds=1,
            retry_max_delay_seconds=2, metrics_port=free_port(), liveness_port=free_port(), standalone=True,
            recheck_hours=RECHECK_HOURS, prometheus_url_allowed_prefixes=[f"http://127.0.0.1:{gappy_port}/"],
            default_object_storage_url=f"file://{work / 'exports'}",  # file:// only from the operator's settings
        )  # fmt: skip
        schema.upgrade(settings.database_url)
        thread = OperatorThread(settings, clock=clock).start()
        try:
            yield kube, settings
        finally:
            thread.stop()


def runs(settings: Settings, report: str, period: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(id, hours_queried, completeness) of every run of `period`, oldest first."""
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT id, hours_queried, completeness_json FROM report_runs WHERE report = ? AND "
                          "period_name = ? ORDER BY id", (f"{REPORTS_NS}/{report}", period)).fetchall()  # fmt: skip
    return [(int(i), int(hours), json.loads(text)) for i, hours, text in rows]


def at_least_two_runs_at(settings: Settings, hours_elapsed: int) -> bool:
    found = [seen for *_, seen in runs(settings, "monthly", "2026-10") if seen.get("hoursElapsed") == hours_elapsed]
    return len(found) >= 2


def finalized(kube: Kube, report: str, period: str) -> dict[str, Any] | None:
    status = kube.report(REPORTS_NS, report).get("status") or {}
    return status if period in (status.get("finalizedPeriods") or []) else None


def configmap(kube: Kube, report: str, period: str) -> Any:
    return kube.configmaps(REPORTS_NS, report).get(f"{report}-{period}")


def elapsed_hours(clock: Clock) -> int:
    settled = clock.moment - timedelta(minutes=5)
    return int((settled.replace(minute=0) - START) / timedelta(hours=1))


def test_each_tick_asks_only_for_new_hours_and_the_recheck_window(
    setup: tuple[Kube, Settings], clock: Clock, cluster_truth: Truth
) -> None:
    kube, settings = setup
    kube.apply_report(REPORTS_NS, {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                   "metadata": {"name": "monthly", "namespace": REPORTS_NS},
                                   "spec": {"period": "monthly"}})  # fmt: skip
    # Jumps of 1, 5, 16, 1 and 17 hours, and ticks that do not move at all.
    for moment in ("2026-10-01T06:10", "2026-10-01T07:10", "2026-10-01T12:40", "2026-10-02T05:10",
                   "2026-10-02T06:10", "2026-10-02T23:10"):  # fmt: skip
        clock.moment = datetime.fromisoformat(moment).replace(tzinfo=UTC)
        hours = elapsed_hours(clock)
        wait_for(functools.partial(at_least_two_runs_at, settings, hours), what=f"two runs at {moment}")
        status = kube.report(REPORTS_NS, "monthly")["status"]
        # The hour the clock is in is not charged; the one before it is (once settled).
        last = START + timedelta(hours=hours - 1)
        assert status["completeness"]["lastHour"] == last.strftime("%Y-%m-%dT%H:%M:%SZ")
        # The ConfigMap is written before the status, by the same runs: it holds those hours.
        measured = by_team(
            list(csv.DictReader(configmap(kube, "monthly", "2026-10").data["chargeback.csv"].splitlines()))
        )
        expected = cluster_truth.by_team(START, START + timedelta(hours=hours))
        for team, values in measured.items():
            for column, quantity in COLUMNS.items():
                assert values[column] == pytest.approx(expected[team][quantity], rel=0.01, abs=1e-6), (moment, team)

    october = runs(settings, "monthly", "2026-10")
    previous_elapsed = 0
    for _, queried, seen in october:
        elapsed = int(seen["hoursElapsed"])
        advance = elapsed - previous_elapsed
        assert queried == min(elapsed, max(advance, RECHECK_HOURS)), (elapsed, advance, queried)
        assert queried <= RECHECK_HOURS + advance
        previous_elapsed = elapsed
    september = runs(settings, "monthly", "2026-09")
    assert september[0][1] == 720  # the first run learns that September has no data at all ...
    assert all(queried == 0 for _, queried, _ in september[1:])  # ... and never asks again
    status = kube.report(REPORTS_NS, "monthly")["status"]
    assert {p["name"]: p["phase"] for p in status["periods"]}["2026-09"] == "NoData"
    assert status["phase"] == "Provisional"


def test_finalizing_a_period_with_gaps_says_so(
    setup: tuple[Kube, Settings], history: History, clock: Clock, gappy_port: int
) -> None:
    kube, _ = setup
    assert clock.moment == datetime(2026, 10, 2, 23, 10, tzinfo=UTC)  # left there by the test above
    # A second Prometheus, watching another cluster (unlabelled: the report names it), that never had the first 18
    # hours of 2026-10-01. (Of the same cluster, it would be one more witness of hours the ledger holds.)
    gappy = history.serve(drop=(START, START + timedelta(hours=18)), port=gappy_port)
    try:
        kube.apply_report(REPORTS_NS, {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                       "metadata": {"name": "gappy", "namespace": REPORTS_NS},
                                       "spec": {"period": "daily", "finalizeAfter": "1h", "clusters": ["second"],
                                                "prometheus": {"url": gappy.url}}})  # fmt: skip
        status = wait_for(lambda: finalized(kube, "gappy", "2026-10-01"), what="2026-10-01 finalized")
        data = next(c for c in status["conditions"] if c["type"] == "DataComplete")
        words = "data for 6 of 24 hours; no data 2026-10-01T00:00Z–2026-10-01T17:00Z"
        assert (data["status"], data["reason"]) == ("False", "FinalizedWithGaps")
        assert data["message"] == f"2026-10-01: {words}"
        assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"
        entry = {p["name"]: p for p in status["periods"]}["2026-10-01"]
        assert entry["completeness"]["hoursCollected"] == 6
        wait_for(lambda: [e.message for e in kube.events(REPORTS_NS, "gappy") if e.reason == "FinalizedWithGaps"]
                 == [f"2026-10-01 was finalized with {words}"], what="one FinalizedWithGaps event")  # fmt: skip
        summary = configmap(kube, "gappy", "2026-10-01").data["summary.md"]
        assert words in summary
    finally:
        gappy.stop()


def test_a_prometheus_that_lost_its_oldest_day_changes_nothing_published(
    setup: tuple[Kube, Settings], clock: Clock, history: History, served: dict[str, LocalPrometheus],
    prometheus_port: int, tmp_path: Path,
) -> None:  # fmt: skip
    kube, settings = setup
    assert settings.default_object_storage_url is not None
    exports = Path(settings.default_object_storage_url.removeprefix("file://"))
    kube.apply_report(REPORTS_NS, {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                   "metadata": {"name": "daily", "namespace": REPORTS_NS},
                                   "spec": {"period": "daily", "finalizeAfter": "1h"}})  # fmt: skip
    status = wait_for(lambda: (s := kube.report(REPORTS_NS, "daily").get("status") or {}).get("phase")
                      == "Provisional" and "2026-10-01" in (s.get("finalizedPeriods") or []) and s,
                      what="2026-10-01 finalized")  # fmt: skip
    assert status["completeness"]["hoursElapsed"] == 23
    before = {
        name: (cm.data, cm.metadata.resource_version) for name, cm in kube.configmaps(REPORTS_NS, "daily").items()
    }
    monthly_before = configmap(kube, "monthly", "2026-10").data
    final_dir = exports / REPORTS_NS / "daily" / "2026-10-01"
    assert sorted(p.name for p in final_dir.iterdir()) == ["v1-final"]
    final_csv = (final_dir / "v1-final" / "chargeback.csv").read_bytes()

    # Prometheus restarts at the same address over a copy of its TSDB without the first day (retention).
    served["server"].stop()
    served["server"] = history.serve(drop=(START, START + timedelta(days=1)), port=prometheus_port)
    monthly_runs = len(runs(settings, "monthly", "2026-10"))
    kube.patch_report(REPORTS_NS, "daily", {"metadata": {"annotations": {"kubecharge.io/restate": "2026-10-01"}}})
    wait_for(lambda: len(runs(settings, "daily", "2026-10-01")) == 2
             and "kubecharge.io/restate" not in (kube.report(REPORTS_NS, "daily")["metadata"].get("annotations") or {}),
             what="the restatement run")  # fmt: skip
    wait_for(lambda: len(runs(settings, "monthly", "2026-10")) >= monthly_runs + 2, what="two more monthly runs")

    restated = runs(settings, "daily", "2026-10-01")[-1]
    assert restated[1] == 24  # the whole day was asked for again ...
    after = {name: (cm.data, cm.metadata.resource_version) for name, cm in kube.configmaps(REPORTS_NS, "daily").items()}
    assert after == before  # ... and nothing changed: the ledger kept what Prometheus no longer has
    assert configmap(kube, "monthly", "2026-10").data == monthly_before
    assert sorted(p.name for p in final_dir.iterdir()) == ["v1-final"]  # no restatement version
    assert (final_dir / "v1-final" / "chargeback.csv").read_bytes() == final_csv
    assert not (kube.report(REPORTS_NS, "daily")["status"].get("restatements"))


def test_the_cluster_history_is_read_whatever_url_answers_today(
    setup: tuple[Kube, Settings], clock: Clock, history: History, gappy_port: int
) -> None:
    """Retention took the first day, and Prometheus is reached at another address: a report pointed there reads the
    cluster's hours from the ledger, asks Prometheus for none of the finished day, and publishes the same bytes."""
    kube, settings = setup
    assert settings.default_object_storage_url is not None
    exports = Path(settings.default_object_storage_url.removeprefix("file://")) / REPORTS_NS
    moved = history.serve(drop=(START, START + timedelta(days=1)), port=gappy_port)
    try:
        assert moved.url != settings.prometheus_url
        kube.apply_report(REPORTS_NS, {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                       "metadata": {"name": "moved", "namespace": REPORTS_NS},
                                       "spec": {"period": "daily", "finalizeAfter": "1h",
                                                "prometheus": {"url": moved.url}}})  # fmt: skip
        wait_for(lambda: finalized(kube, "moved", "2026-10-01"), what="2026-10-01 finalized")
        day = runs(settings, "moved", "2026-10-01")
        assert day
        assert all(queried == 0 for _, queried, _ in day)
        assert day[-1][2]["hoursCollected"] == 24
        published = exports / "moved" / "2026-10-01" / "v1-final" / "chargeback.csv"
        assert published.read_bytes() == (exports / "daily" / "2026-10-01" / "v1-final" / "chargeback.csv").read_bytes()
    finally:
        moved.stop()
