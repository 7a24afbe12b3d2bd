"""What each workload container used over a window, asked of a real Prometheus holding the synthetic cluster,
against the generator's own usage: the 95th percentile of every replica's 5-minute CPU averages pooled, the peak
working set, the latest requests and the average replicas."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from kubecharge.collect import promql
from kubecharge.collect.container_use import container_use
from kubecharge.collect.prometheus import PrometheusSource
from kubecharge.domain.recommendations import ContainerUse
from kubecharge.settings import QuerySettings
from kubecharge.synthetic.model import Cluster
from kubecharge.synthetic.workloads import workload_truth
from tests.conftest import DAYS, START

Key = tuple[str, str, str, str]  # namespace, workload kind, workload, container


def expected(cluster: Cluster) -> dict[Key, dict[str, float]]:
    """Per workload container: the pooled p95 of its 5-minute usage averages (windows it ran all through), its
    peak memory, its latest requests and its windows."""
    per_window = 300 // cluster.step_seconds
    per_hour = 3600 // cluster.step_seconds
    owners = workload_truth(cluster)
    windows: dict[Key, list[float]] = {}
    found: dict[Key, dict[str, float]] = {}
    latest: dict[Key, tuple[int, float]] = {}  # the latest hour a request was exported, the largest in it
    for pod in cluster.pods:
        if pod.exact_seconds is not None or pod.cgroup_uid is not None:
            continue

        def key_of(hour: int, container: str) -> Key:
            shares = owners[(pod.namespace, pod.name, pod.uid, hour)]  # noqa: B023
            kind, name = max(shares, key=lambda workload: shares[workload])
            return (pod.namespace, kind, name, container)  # noqa: B023

        for container in pod.containers:
            if container.kind == "init":
                continue
            alive = container.alive(cluster.slots)
            for window in range(cluster.slots // per_window):
                slots = slice(window * per_window, (window + 1) * per_window)
                if alive[slots].all():
                    key = key_of(((window + 1) * per_window - 1) // per_hour, container.name)
                    windows.setdefault(key, []).append(float(np.mean(container.cpu_cores[slots])))
            for slot in np.flatnonzero(alive):
                key = key_of(int(slot) // per_hour, container.name)
                into = found.setdefault(key, {"memory": 0.0, "alive_slots": 0.0})
                into["memory"] = max(into["memory"], float(container.memory_bytes[slot]))
                into["alive_slots"] += 1
            if container.cpu_request_cores is not None:
                last_hour = (pod.deleted_slot - 1) // per_hour
                key = key_of(last_hour, container.name)
                hour, value = latest.get(key, (-1, 0.0))
                if last_hour > hour or (last_hour == hour and container.cpu_request_cores > value):
                    latest[key] = (last_hour, container.cpu_request_cores)
    for key, (_, request) in latest.items():
        found.setdefault(key, {"memory": 0.0, "alive_slots": 0.0})["cpu_request"] = request
    for key, values in windows.items():
        found[key]["cpu_p95"] = float(np.percentile(values, 95.0, method="inverted_cdf"))
        found[key]["windows"] = float(len(values))
    return found


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
