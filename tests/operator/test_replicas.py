"""Two operator replicas in two processes, peered through the emulator's ClusterKopfPeering, on PostgreSQL.

Exactly one runs reports; the other waits. When the one that runs is killed (SIGKILL: no goodbye in the
peering object), the other takes over within the peering lifetime plus one report interval. Across both, no
period is ever computed by two replicas at once (the run records' intervals never overlap), and no Event is
sent twice (at most one ReportFinished per finished run).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from kubecharge.store import schema
from kubecharge.synthetic.model import Cluster
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, Replica, populate, status_of, wait_for
from tests.support.postgres import fresh_database

NOW = datetime(2026, 10, 2, 12, tzinfo=UTC)
REPORTS_NS = "finops"
LIFETIME_SECONDS = 6  # the peering lifetime: how long a silent replica still counts as alive
LEASE_SECONDS = 8  # a killed replica's run lease expires after this
INTERVAL_SECONDS = 2
ROOT = Path(__file__).resolve().parents[2]


def peers(kube: Kube) -> dict[str, Any]:
    peering = kube.custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", "kubecharge")
    return dict(peering.get("status") or {})


def run_records(database_url: str) -> list[tuple[str, str, datetime, datetime | None, str]]:
    """(runner, period, started, finished, result) of every run, oldest first."""
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as connection:
        query = "SELECT runner, period_name, started_at, finished_at, result FROM report_runs ORDER BY id"
        rows = connection.execute(sqlalchemy.text(query)).all()
    engine.dispose()
    return [(str(r[0]), str(r[1]), r[2], r[3], str(r[4])) for r in rows]


@pytest.fixture(scope="module")
def setup(cluster: Cluster, prometheus_url: str, postgres_server: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, dict[str, str], Path]]:  # fmt: skip
    work = tmp_path_factory.mktemp("replicas")
    database_url = fresh_database(postgres_server)
    schema.upgrade(database_url)
    with running_emulator() as (_, url):
        kube = Kube(url)
        populate(kube, cluster, REPORTS_NS)
        kube.custom.create_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", {
            "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "kubecharge"}})  # fmt: skip
        environment = {
            "KUBECHARGE_KUBE_API_URL": url, "KUBECHARGE_PROMETHEUS_URL": prometheus_url,
            "KUBECHARGE_DATABASE_URL": database_url, "KUBECHARGE_CLUSTER_NAME": "synthetic",
            "KUBECHARGE_REPORT_INTERVAL_SECONDS": str(INTERVAL_SECONDS), "KUBECHARGE_MAPPING_INTERVAL_SECONDS": "1",
            "KUBECHARGE_RETRY_DELAY_SECONDS": "1", "KUBECHARGE_RETRY_MAX_DELAY_SECONDS": "2",
            "KUBECHARGE_STANDALONE": "false", "KUBECHARGE_PEERING_NAME": "kubecharge",
            "KUBECHARGE_PEERING_LIFETIME_SECONDS": str(LIFETIME_SECONDS),
            "KUBECHARGE_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
        }  # fmt: skip
        yield kube, environment, work


def test_one_replica_runs_reports_and_the_other_takes_over_when_it_dies(
    setup: tuple[Kube, dict[str, str], Path],
) -> None:
    kube, environment, work = setup
    first = Replica("kubecharge-a", environment, work / "a.log", NOW)
    second: Replica | None = None
    try:
        wait_for(lambda: "kubecharge-a" in str(peers(kube)), what="replica a in the peering object")
        second = Replica("kubecharge-b", environment, work / "b.log", NOW)
        found = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(peers(kube)), what="both replicas peered")
        priorities = {entry["priority"] for entry in found.values()}
        assert len(priorities) == 2  # distinct: tied priorities would pause both

        kube.apply_report(REPORTS_NS, {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                       "metadata": {"name": "daily", "namespace": REPORTS_NS},
                                       "spec": {"period": "daily", "finalizeAfter": "1h"}})  # fmt: skip
        status = status_of(kube, REPORTS_NS, "daily", "Provisional")
        assert status["lastRun"]["operator"] == "kubecharge-a"
        wait_for(lambda: len([r for r in run_records(environment["KUBECHARGE_DATABASE_URL"])
                              if r[4] == "succeeded"]) >= 4, what="a few runs by a")  # fmt: skip
        before_kill = run_records(environment["KUBECHARGE_DATABASE_URL"])
        assert {runner for runner, *_ in before_kill} == {"kubecharge-a"}  # b ran nothing while a was alive
        assert "Resuming operations" not in (work / "b.log").read_text()  # b starts paused, and stays so

        first.kill()
        killed = time.monotonic()
        status = wait_for(lambda: (s := kube.report(REPORTS_NS, "daily")["status"])["lastRun"]["operator"]
                          == "kubecharge-b" and s, timeout=60, what="b takes over")  # fmt: skip
        took = time.monotonic() - killed
        assert took < max(LIFETIME_SECONDS, LEASE_SECONDS) + 3 * INTERVAL_SECONDS + 10, took
        assert status["phase"] == "Provisional"
        assert "Resuming operations after the pause" in (work / "b.log").read_text()
        wait_for(lambda: len([r for r in run_records(environment["KUBECHARGE_DATABASE_URL"])
                              if r[0] == "kubecharge-b" and r[4] == "succeeded"]) >= 2, what="runs by b")  # fmt: skip
    finally:
        for replica in (first, second):
            if replica is not None:
                replica.stop()

    records = run_records(environment["KUBECHARGE_DATABASE_URL"])
    assert {runner for runner, *_ in records} == {"kubecharge-a", "kubecharge-b"}
    # No period was ever computed by two replicas at once: every run of b started after every run of a ended
    # (a run a was killed in never ends; b started only once a's lease on the report had expired).
    a_runs = [r for r in records if r[0] == "kubecharge-a"]
    b_runs = [r for r in records if r[0] == "kubecharge-b"]
    a_last_start = max(r[2] for r in a_runs)
    assert all(r[2] > a_last_start for r in b_runs)
    for earlier, later in itertools.pairwise(records):
        if earlier[3] is not None:
            assert earlier[3] <= later[2], (earlier, later)  # one run at a time, one after the other
    # No Event twice: at most one ReportFinished per period outcome of a finished run, from either replica.
    finished = [e for e in kube.events(REPORTS_NS, "daily") if e.reason == "ReportFinished"]
    succeeded = [r for r in records if r[4] == "succeeded"]
    assert 0 < len(finished) <= len(succeeded)
    for period in ("2026-10-01", "2026-10-02"):
        events = [e for e in finished if e.message.startswith(f"{period} ")]
        assert len(events) <= len([r for r in succeeded if r[1] == period]), period
