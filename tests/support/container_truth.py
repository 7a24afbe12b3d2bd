"""The generator's exact use per workload container over its whole period: what recommendations are judged by."""

from __future__ import annotations

import numpy as np

from kubecharge.synthetic.model import Cluster
from kubecharge.synthetic.workloads import workload_truth

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
