"""What each workload container used over a window, asked of a real Prometheus holding the synthetic cluster,
against the generator's own usage: the 95th percentile of every replica's 5-minute CPU averages pooled, the peak
working set, the latest requests and the average replicas."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kubecharge.collect import promql
from kubecharge.collect.container_use import container_use
from kubecharge.collect.prometheus import PrometheusSource
from kubecharge.domain.recommendations import ContainerUse
from kubecharge.pipeline.recommended import LedgerDays
from kubecharge.settings import QuerySettings
from kubecharge.store.repository import Repository
from kubecharge.synthetic.local_prometheus import free_port
from kubecharge.synthetic.model import Cluster
from tests.conftest import DAYS, START
from tests.support.container_truth import Key, expected


@pytest.fixture(scope="module")
def measured(prometheus_url: str) -> dict[Key, ContainerUse]:
    source = PrometheusSource(prometheus_url, promql.build(QuerySettings()))
    uses = container_use(source, promql.recommendation_queries(QuerySettings()), START,
                         START + timedelta(days=DAYS), 95.0)  # fmt: skip
    return {(u.namespace, u.workload_kind, u.workload, u.container): u for u in uses}


def test_every_long_running_containers_cpu_p95_and_peak_memory_match_the_generators(
    cluster: Cluster, measured: dict[Key, ContainerUse]
) -> None:
    truth = expected(cluster)
    judged = [key for key, values in truth.items() if values.get("windows", 0.0) * 300 / 3600 >= 24]
    assert len(judged) >= 20
    wrong: dict[tuple[str, ...], object] = {}
    for key in judged:
        use = measured.get(key)
        assert use is not None, key
        want = truth[key]
        got = (use.cpu_rate_cores, use.memory_max_bytes, use.cpu_request_cores)
        replicas = want["alive_slots"] / cluster.slots  # the containers running, on average over the window
        if use.replicas != pytest.approx(replicas, rel=0.01):
            wrong[(*key, "replicas")] = (use.replicas, replicas)
        if (got[0] != pytest.approx(want["cpu_p95"], rel=0.02) or got[1] != pytest.approx(want["memory"], rel=0.01)
                or got[2] != pytest.approx(want.get("cpu_request", 0.0))):  # fmt: skip
            wrong[key] = (got, (want["cpu_p95"], want["memory"], want.get("cpu_request", 0.0)))
    assert not wrong, list(wrong.items())[:8]


def test_kept_days_are_read_back_and_not_asked_again(prometheus_url: str, tmp_path: Path) -> None:
    """Days of use kept in the ledger come back as they were measured: a second look at the same window, with
    Prometheus gone, gives the same use."""
    repository = Repository(f"sqlite:///{tmp_path / 'kubecharge.db'}")
    try:
        days = LedgerDays(repository, "synthetic")
        wanted = promql.recommendation_queries(QuerySettings())
        end = START + timedelta(days=DAYS)
        asked = PrometheusSource(prometheus_url, promql.build(QuerySettings()), recommendation_queries=wanted)
        first = asked.container_use(START, end, 95.0, days)
        gone = PrometheusSource(f"http://127.0.0.1:{free_port()}", promql.build(QuerySettings()), retries=0,
                                recommendation_queries=wanted)  # fmt: skip
        assert gone.container_use(START, end, 95.0, days) == first
        assert len(first) >= 20
    finally:
        repository.close()
