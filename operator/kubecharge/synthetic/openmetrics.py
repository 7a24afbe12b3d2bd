"""Render a synthetic cluster as the OpenMetrics text Prometheus would hold after scraping it.

Output is written window by window (a day, say): a month of 1,000 pods is far too large to hold at once,
and `promtool tsdb create-blocks-from openmetrics` wants each series' samples in time order with every
metric family contiguous. Each window is a complete file that promtool turns into blocks on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from kubecharge.synthetic.model import (
    Cluster,
    Container,
    FloatArray,
    Incarnation,
    Pod,
    ScrapeTarget,
    sample_times,
    scraped,
)
from kubecharge.synthetic.workloads import NONE

PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
PAUSE_CPU_CORES = 0.0004
PAUSE_MEMORY_BYTES = 0.7 * 2**20
NODE_INTERFACES = ("ens5", "cni0")
SYSTEM_CPU_CORES = 0.35  # the node's own daemons (kubelet, container runtime, journald)
SYSTEM_MEMORY_BYTES = 900 * 2**20
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
BoolArray = np.ndarray


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def sanitize_label_name(key: str) -> str:
    """kube-state-metrics' sanitization of a Kubernetes label key into a Prometheus label name."""
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


class _Sink:
    """The output file; every series written is also written once per Prometheus replica holding a copy of it
    (with the replica's external label), for the samples inside that replica's time range."""

    def __init__(self, out: TextIO, cluster: Cluster) -> None:
        self.out = out
        # A querier holding many clusters: every series carries its cluster's external label.
        self.external = "".join(f',{k}="{_escape(v)}"' for k, v in sorted(cluster.external_labels.items()))
        self.replicas = [
            (f',{r.label}="{_escape(r.name)}"}}', cluster.slot_time(r.first_slot), cluster.slot_time(r.last_slot))
            for r in cluster.replicas
        ]

    def write(self, text: str) -> None:
        self.out.write(text)


@dataclass
class _Context:
    cluster: Cluster
    ok: dict[str, BoolArray]  # by target key: scraped successfully at slot
    times_cache: dict[str, np.ndarray]

    def target_ok(self, target: ScrapeTarget) -> BoolArray:
        return self.ok[target.key]

    def times_of(self, target: ScrapeTarget) -> np.ndarray:
        """Sample timestamps of a target per slot (`model.sample_times`, computed once per target)."""
        if target.key not in self.times_cache:
            self.times_cache[target.key] = sample_times(self.cluster, target)
        return self.times_cache[target.key]


def _exact(ctx: _Context, pod: Pod, slots: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, FloatArray]:
    """For a run between scrapes: the slots whose scrape fell inside the run, and the seconds since it began (what
    a counter from zero at a constant rate has accumulated)."""
    assert pod.exact_seconds is not None
    begin, end = pod.exact_seconds
    relative = times[slots] - ctx.cluster.start.timestamp()
    inside = (relative >= begin) & (relative < end)
    return slots[inside], np.asarray(relative[inside] - begin, dtype=np.float64)


def _write(out: _Sink, prefix: str, times: np.ndarray, values: FloatArray | float) -> None:
    if out.external:
        prefix = prefix[:-1] + out.external + "}"
    _write_one(out, prefix, times, values)
    for label, low, high in out.replicas:
        inside = (times >= low) & (times < high)
        if inside.any():
            copy = values if isinstance(values, float) else values[inside]
            _write_one(out, prefix[:-1] + label, times[inside], copy)


def _write_one(out: _Sink, prefix: str, times: np.ndarray, values: FloatArray | float) -> None:
    if len(times) == 0:
        return
    if isinstance(values, float):
        text = f" {values!r} "
        out.write("".join(f"{prefix}{text}{t}\n" for t in times.tolist()))
    else:
        out.write("".join(f"{prefix} {v!r} {t}\n" for v, t in zip(values.tolist(), times.tolist(), strict=True)))


def _span(ctx: _Context, start: int, end: int, window: tuple[int, int], ok: BoolArray) -> np.ndarray:
    """Slots in [start, end) ∩ window where the target was scraped."""
    lo, hi = max(start, window[0]), min(end, window[1])
    if hi <= lo:
        return np.empty(0, dtype=np.int64)
    return lo + np.flatnonzero(ok[lo:hi])


# --------------------------------------------------------------------------------------------- cAdvisor


def _cgroup(pod: Pod, leaf: str | None) -> str:
    """The cgroup path; a static pod's carries the kubelet's config hash, not the mirror pod's API uid."""
    kubelet_uid = pod.cgroup_uid or pod.uid
    if pod.node.runtime == "docker":
        base = f"/kubepods/{pod.qos}/pod{kubelet_uid}"
        return base if leaf is None else f"{base}/{leaf}"
    uid = kubelet_uid.replace("-", "_")
    base = f"/kubepods.slice/kubepods-{pod.qos}.slice/kubepods-{pod.qos}-pod{uid}.slice"
    return base if leaf is None else f"{base}/cri-containerd-{leaf}.scope"


def _container_labels(pod: Pod, container: Container, inc: Incarnation, restart: int) -> dict[str, str]:
    name = (
        f"k8s_{container.name}_{pod.name}_{pod.namespace}_{pod.cgroup_uid or pod.uid}_{restart}"
        if pod.node.runtime == "docker"
        else inc.container_id
    )
    return _without_dropped_id(pod, {
        "container": container.name,
        "id": _cgroup(pod, inc.container_id),
        "image": container.image,
        "name": name,
        "namespace": pod.namespace,
        "pod": pod.name,
    })  # fmt: skip


def _without_dropped_id(pod: Pod, labels: dict[str, str]) -> dict[str, str]:
    """A node whose scrape config drops `id` (relabelling): no cgroup path, so no uid either."""
    if pod.node.cgroup_id_dropped:
        labels.pop("id", None)
    return labels


def _pause_labels(pod: Pod) -> dict[str, str]:
    docker = pod.node.runtime == "docker"
    return _without_dropped_id(pod, {
        "container": "POD" if docker else "",
        "id": _cgroup(pod, pod.sandbox_id),
        "image": PAUSE_IMAGE,
        "name": f"k8s_POD_{pod.name}_{pod.namespace}_{pod.cgroup_uid or pod.uid}_0" if docker else pod.sandbox_id,
        "namespace": pod.namespace,
        "pod": pod.name,
    })  # fmt: skip


def _pod_cgroup_labels(pod: Pod) -> dict[str, str]:
    return _without_dropped_id(pod, {
        "container": "",
        "id": _cgroup(pod, None),
        "image": "",
        "name": "",
        "namespace": pod.namespace,
        "pod": pod.name,
    })  # fmt: skip


def _counter(rate_per_slot: FloatArray, start: int, reset: int | None = None) -> FloatArray:
    """Counter value at each slot: what accumulated from `start` (or the last reset) up to that slot."""
    cumulative = np.concatenate([[0.0], np.cumsum(rate_per_slot)])[:-1]
    value = cumulative - cumulative[start]
    if reset is not None and reset > start:
        value[reset:] = cumulative[reset:] - cumulative[reset]
    return np.asarray(value, dtype=np.float64)


def _cadvisor(ctx: _Context, window: tuple[int, int], family: str, out: _Sink) -> None:
    cluster = ctx.cluster
    step = cluster.step_seconds
    node_totals = {name: np.zeros(cluster.slots) for name in cluster.kubelet_targets}  # per slot: cpu s or bytes
    for pod in cluster.pods:
        if not pod.containers or pod.running_slot is None:
            continue
        kubelet = cluster.kubelet_targets[pod.node.name]
        target = kubelet.labels
        ok = ctx.target_ok(kubelet)
        times = ctx.times_of(kubelet)
        sandbox_start, sandbox_end = pod.running_slot, pod.sandbox_end_slot
        if family == "container_network_transmit_bytes_total":
            _network(ctx, window, pod, ok, target, times, out)
            continue
        pod_total = np.zeros(cluster.slots)
        for container in pod.containers:
            alive = container.alive(cluster.slots)
            if family == "container_cpu_usage_seconds_total":
                per_slot = container.cpu_cores * alive * step
                pod_total += per_slot
                for restart, inc in enumerate(container.incarnations):
                    counter = _counter(per_slot, inc.start_slot, container.counter_reset_slot)
                    slots = _span(ctx, inc.start_slot, inc.end_slot, window, ok)
                    labels = {**_container_labels(pod, container, inc, restart), **target}
                    if pod.exact_seconds is not None:  # a constant rate from zero at the run's start
                        slots, elapsed = _exact(ctx, pod, slots, times)
                        counter = np.zeros(cluster.slots)
                        counter[slots] = container.cpu_cores[slots] * elapsed
                    _write(out, _series(family, labels), times[slots], counter[slots])
            else:
                pod_total += container.memory_bytes * alive
                for restart, inc in enumerate(container.incarnations):
                    slots = _span(ctx, inc.start_slot, inc.end_slot, window, ok)
                    if pod.exact_seconds is not None:
                        slots, _ = _exact(ctx, pod, slots, times)
                    labels = {**_container_labels(pod, container, inc, restart), **target}
                    _write(out, _series(family, labels), times[slots], container.memory_bytes[slots])
        _resource_endpoint(ctx, window, family, pod, out)
        sandbox = np.zeros(cluster.slots)
        sandbox[sandbox_start:sandbox_end] = 1.0
        slots = _span(ctx, sandbox_start, sandbox_end, window, ok)
        if family == "container_cpu_usage_seconds_total":
            node_totals[pod.node.name] += pod_total + PAUSE_CPU_CORES * step * sandbox
            pause = np.full(cluster.slots, PAUSE_CPU_CORES * step)
            pause_counter, whole = _counter(pause, sandbox_start), _counter(pod_total + pause, sandbox_start)
            if pod.exact_seconds is not None:
                slots, elapsed = _exact(ctx, pod, slots, times)
                pause_counter[slots] = PAUSE_CPU_CORES * elapsed
                whole[slots] = (pod_total[slots] / step + PAUSE_CPU_CORES) * elapsed
            _write(out, _series(family, {**_pause_labels(pod), **target}), times[slots], pause_counter[slots])
            _write(out, _series(family, {**_pod_cgroup_labels(pod), **target}), times[slots], whole[slots])
        else:
            node_totals[pod.node.name] += (pod_total + PAUSE_MEMORY_BYTES) * sandbox
            if pod.exact_seconds is not None:
                slots, _ = _exact(ctx, pod, slots, times)
            _write(out, _series(family, {**_pause_labels(pod), **target}), times[slots], PAUSE_MEMORY_BYTES)
            _write(
                out,
                _series(family, {**_pod_cgroup_labels(pod), **target}),
                times[slots],
                (pod_total + PAUSE_MEMORY_BYTES)[slots],
            )
    _node_level(ctx, window, family, node_totals, out)


def _node_level(
    ctx: _Context, window: tuple[int, int], family: str, pod_totals: dict[str, FloatArray], out: _Sink
) -> None:
    """The series cAdvisor exports for cgroups that are not pods: the node (`id="/"`), the kubepods and system
    slices, and the node's own NICs. No namespace, no pod: they must never become a row."""
    cluster = ctx.cluster
    step = cluster.step_seconds
    for node in cluster.nodes:
        kubelet = cluster.kubelet_targets[node.name]
        slots = _span(ctx, 0, cluster.slots, window, ctx.target_ok(kubelet))
        times = ctx.times_of(kubelet)
        kubepods = "/kubepods" if node.runtime == "docker" else "/kubepods.slice"
        if family == "container_network_transmit_bytes_total":
            rate = np.full(cluster.slots, node.network_bytes_per_second * step / len(NODE_INTERFACES))
            for interface in NODE_INTERFACES:
                labels = {"interface": interface, **kubelet.labels}
                if not node.cgroup_id_dropped:
                    labels = {"id": "/", **labels}
                _write(out, _series(family, labels), times[slots], (7.3e12 + _counter(rate, 0))[slots])
            continue
        system = np.full(cluster.slots, SYSTEM_CPU_CORES * step if family.startswith("container_cpu") else
                         SYSTEM_MEMORY_BYTES)  # fmt: skip
        pods = pod_totals[node.name]
        cgroups = (("/", pods + system), (kubepods, pods), ("/system.slice/kubelet.service", system))
        for cgroup, per_slot in cgroups[:1] if node.cgroup_id_dropped else cgroups:  # without `id` they would clash
            values = _counter(per_slot, 0) if family.startswith("container_cpu") else per_slot
            labels = kubelet.labels if node.cgroup_id_dropped else {"id": cgroup, **kubelet.labels}
            _write(out, _series(family, labels), times[slots], values[slots])


def _resource_endpoint(ctx: _Context, window: tuple[int, int], family: str, pod: Pod, out: _Sink) -> None:
    """The kubelet's /metrics/resource copies of container CPU and memory: `container`, `namespace`, `pod` and the
    target's labels, no `id` (so no uid), one series per container across restarts."""
    if family == "container_network_transmit_bytes_total":
        return
    cluster = ctx.cluster
    resource = cluster.resource_targets[pod.node.name]
    ok, times = ctx.target_ok(resource), ctx.times_of(resource)
    for container in pod.containers:
        alive = container.alive(cluster.slots)
        first = int(np.argmax(alive)) if alive.any() else 0
        last = int(len(alive) - np.argmax(alive[::-1])) if alive.any() else 0
        labels = {"container": container.name, "namespace": pod.namespace, "pod": pod.name, **resource.labels}
        slots = _span(ctx, first, last, window, ok)
        slots = slots[alive[slots] > 0]
        if family == "container_cpu_usage_seconds_total":
            values = _counter(container.cpu_cores * alive * cluster.step_seconds, first)
        else:
            values = container.memory_bytes
        if pod.exact_seconds is not None:
            slots, elapsed = _exact(ctx, pod, slots, times)
            if family == "container_cpu_usage_seconds_total":
                values = np.zeros(cluster.slots)
                values[slots] = container.cpu_cores[slots] * elapsed
        _write(out, _series(family, labels), times[slots], values[slots])


def _network(
    ctx: _Context,
    window: tuple[int, int],
    pod: Pod,
    ok: BoolArray,
    target: dict[str, str],
    times: np.ndarray,
    out: _Sink,
) -> None:
    cluster = ctx.cluster
    family = "container_network_transmit_bytes_total"
    start, end = pod.running_slot or 0, pod.sandbox_end_slot
    slots = _span(ctx, start, end, window, ok)
    if pod.host_network:
        # The pod shares the node's network namespace: cAdvisor reports the node's interfaces.
        rate = np.full(cluster.slots, pod.node.network_bytes_per_second * cluster.step_seconds)
        shares = {name: 1.0 / len(NODE_INTERFACES) for name in NODE_INTERFACES}
        offset = 7.3e12  # node counters have been running long before the pod
    else:
        assert pod.network_bytes_per_second is not None
        rate = pod.network_bytes_per_second * cluster.step_seconds
        shares = {"eth0": 1.0} if len(pod.network_interfaces) == 1 else {"eth0": 0.8, "net1": 0.2}
        offset = 0.0
    holders = [_pause_labels(pod)]
    if pod.node.runtime == "containerd":
        holders.append(_pod_cgroup_labels(pod))  # containerd reports the sandbox's network on the pod cgroup too
    elapsed: FloatArray | None = None
    if pod.exact_seconds is not None:
        slots, elapsed = _exact(ctx, pod, slots, times)
    for interface, share in shares.items():
        counter = offset * share + _counter(rate * share, start)
        if elapsed is not None:  # a constant rate from zero at the run's start
            counter[slots] = rate[slots] / cluster.step_seconds * share * elapsed
        for holder in holders:
            labels = {**holder, "interface": interface, **target}
            _write(out, _series(family, labels), times[slots], counter[slots])


# --------------------------------------------------------------------------------------------- kube-state-metrics


def _honor(metric: dict[str, str], target: dict[str, str]) -> dict[str, str]:
    """honor_labels: the metric's own labels win; target labels fill only what the metric lacks."""
    return {**metric, **{k: v for k, v in target.items() if k not in metric}}


def _sharded(ksm: ScrapeTarget, object_uid: str, slots: np.ndarray) -> np.ndarray:
    """The slots in which this kube-state-metrics (shard) exported the object."""
    return slots[ksm.exported(object_uid, slots)]


def _state_metrics(ctx: _Context, window: tuple[int, int], family: str, out: _Sink) -> None:
    cluster = ctx.cluster
    for ksm in cluster.state_metrics_targets:
        ok = ctx.target_ok(ksm)
        times = ctx.times_of(ksm)
        if family == "kube_namespace_labels":
            for ns in cluster.namespaces:
                bounds = [start for start, _ in ns.labels] + [cluster.slots]
                for (start, labels), end in zip(ns.labels, bounds[1:], strict=True):
                    metric = {"namespace": ns.name, **{sanitize_label_name(k): v for k, v in sorted(labels.items())}}
                    slots = _sharded(ksm, ns.name, _span(ctx, max(start, ns.created_slot), end, window, ok))
                    _write(out, _series(family, _honor(metric, ksm.labels)), times[slots], 1.0)
            continue
        if family == "kube_persistentvolumeclaim_resource_requests_storage_bytes":
            for pvc in cluster.pvcs:
                metric = {"namespace": pvc.namespace, "persistentvolumeclaim": pvc.name}
                slots = _span(ctx, pvc.created_slot, pvc.deleted_slot, window, ok)
                slots = _sharded(ksm, f"{pvc.namespace}/{pvc.name}", slots)
                _write(out, _series(family, _honor(metric, ksm.labels)), times[slots], float(pvc.size_bytes))
            continue
        for pod in cluster.pods:
            slots = _sharded(ksm, pod.uid, _span(ctx, pod.created_slot, pod.deleted_slot, window, ok))
            if len(slots) == 0:
                continue
            _pod_state(family, pod, _honor_with(ksm), times[slots], slots, out, cluster.start.timestamp())


def _honor_with(ksm: ScrapeTarget) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda metric: _honor(metric, ksm.labels)


def _pod_state(
    family: str, pod: Pod, honor: Callable[[dict[str, str]], dict[str, str]], times: np.ndarray, slots: np.ndarray,
    out: _Sink, start: float,
) -> None:  # fmt: skip
    base = {"namespace": pod.namespace, "pod": pod.name, "uid": pod.uid}
    if family == "kube_pod_status_phase":
        phases = np.array([pod.phase_at(int(s), float(t) - start) for s, t in zip(slots, times, strict=True)])
        for phase in PHASES:
            _write(out, _series(family, honor({**base, "phase": phase})), times, (phases == phase).astype(float))
    elif family == "kube_pod_info":
        metric = {
            **base,
            "host_ip": pod.node.ip,
            "pod_ip": pod.node.ip if pod.host_network else "10.244.1.7",
            "node": pod.node.name,
            "created_by_kind": "Node" if pod.cgroup_uid else "ReplicaSet",
            "created_by_name": pod.node.name if pod.cgroup_uid else pod.name,
            "priority_class": "",
            "host_network": "true" if pod.host_network else "false",
        }
        _write(out, _series(family, honor(metric)), times, 1.0)
    elif family in ("kube_pod_container_resource_requests", "kube_pod_init_container_resource_requests"):
        # kube-state-metrics lists sidecars (restartable init containers) with the init containers.
        kinds = ("app",) if family == "kube_pod_container_resource_requests" else ("init", "sidecar")
        for container in (c for c in pod.containers if c.kind in kinds):
            for resource, unit, amount in (
                ("cpu", "core", container.cpu_request_cores),
                ("memory", "byte", container.memory_request_bytes),
                ("nvidia_com_gpu", "integer", float(container.gpus) if container.gpus else None),
            ):
                if amount is None:
                    continue
                metric = {**base, "container": container.name, "node": pod.node.name, "resource": resource,
                          "unit": unit}  # fmt: skip
                _write(out, _series(family, honor(metric)), times, float(amount))
    elif family == "kube_pod_init_container_info":
        for container in (c for c in pod.containers if c.kind in ("init", "sidecar")):
            metric = {**base, "container": container.name, "image": container.image, "image_id": "",
                      "image_spec": container.image, "container_id": "",
                      "restart_policy": "Always" if container.kind == "sidecar" else ""}  # fmt: skip
            _write(out, _series(family, honor(metric)), times, 1.0)
    elif family == "kube_pod_owner":
        # one series per owner: a bare pod adopted by a ReplicaSet changes series at the adoption
        adopted = pod.adopted[0] if pod.adopted is not None else 1 << 62
        for owner, during in ((pod.owner, slots < adopted), (pod.adopted and pod.adopted[1], slots >= adopted)):
            if not during.any():
                continue
            kind, name, controller = (owner.kind, owner.name, "true") if owner else (NONE, NONE, NONE)
            metric = {**base, "owner_kind": kind, "owner_name": name, "owner_is_controller": controller}
            _write(out, _series(family, honor(metric)), times[during], 1.0)
    elif family == "kube_pod_labels":
        # one series per label set (kube-state-metrics exports only the keys its allowlist names: all of them here)
        bounds = [slot for slot, _ in pod.labels[1:]] + [1 << 62]
        timeline = pod.labels or [(0, {})]
        for (first, labels), end in zip(timeline, bounds if pod.labels else [1 << 62], strict=True):
            during = (slots >= first) & (slots < end)
            if during.any():
                metric = {**base, **{sanitize_label_name(k): v for k, v in sorted(labels.items())}}
                _write(out, _series(family, honor(metric)), times[during], 1.0)
    elif family == "kube_pod_spec_volumes_persistentvolumeclaims_info":
        for index, claim in enumerate(pod.claims):
            metric = {**base, "volume": f"volume-{index}", "persistentvolumeclaim": claim, "read_only": "false"}
            _write(out, _series(family, honor(metric)), times, 1.0)
    elif family in ("kube_pod_overhead_cpu_cores", "kube_pod_overhead_memory_bytes"):
        amount = pod.overhead_cpu_cores if family.endswith("cpu_cores") else pod.overhead_memory_bytes
        if amount:
            _write(out, _series(family, honor(base)), times, float(amount))


def _controllers(ctx: _Context, window: tuple[int, int], family: str, out: _Sink) -> None:
    """`kube_replicaset_owner` and `kube_job_owner`: each ReplicaSet's or Job's owner while it exists, except where
    its owner series is missing (`Controller.owner_missing_slots`)."""
    cluster = ctx.cluster
    kind, name_label = ("ReplicaSet", "replicaset") if family == "kube_replicaset_owner" else ("Job", "job_name")
    for ksm in cluster.state_metrics_targets:
        ok, times = ctx.target_ok(ksm), ctx.times_of(ksm)
        for controller in (c for c in cluster.controllers if c.kind == kind):
            slots = _span(ctx, controller.created_slot, controller.deleted_slot, window, ok)
            slots = _sharded(ksm, f"{controller.namespace}/{kind}/{controller.name}", slots)
            if controller.owner_missing_slots is not None:
                first, last = controller.owner_missing_slots
                slots = slots[(slots < first) | (slots >= last)]
            owner = controller.owner
            labels = {"namespace": controller.namespace, name_label: controller.name,
                      "owner_kind": owner.kind if owner else NONE, "owner_name": owner.name if owner else NONE,
                      "owner_is_controller": "true" if owner else NONE}  # fmt: skip
            _write(out, _series(family, _honor(labels, ksm.labels)), times[slots], 1.0)


def _autoscalers(ctx: _Context, window: tuple[int, int], family: str, out: _Sink) -> None:
    """`kube_horizontalpodautoscaler_info`: each HorizontalPodAutoscaler and its scale target, while it exists."""
    cluster = ctx.cluster
    for ksm in cluster.state_metrics_targets:
        ok, times = ctx.target_ok(ksm), ctx.times_of(ksm)
        for hpa in cluster.autoscalers:
            slots = _span(ctx, hpa.created_slot, hpa.deleted_slot, window, ok)
            slots = _sharded(ksm, f"{hpa.namespace}/HorizontalPodAutoscaler/{hpa.name}", slots)
            labels = {"namespace": hpa.namespace, "horizontalpodautoscaler": hpa.name,
                      "scaletargetref_api_version": "apps/v1", "scaletargetref_kind": hpa.target_kind,
                      "scaletargetref_name": hpa.target_name}  # fmt: skip
            _write(out, _series(family, _honor(labels, ksm.labels)), times[slots], 1.0)


def _nodes(ctx: _Context, window: tuple[int, int], family: str, out: _Sink) -> None:
    """kube-state-metrics' node series: info (with provider_id), the allow-listed labels, capacity and
    allocatable per resource; each node exported by the shard its uid hashes to, while the node exists."""
    cluster = ctx.cluster
    for ksm in cluster.state_metrics_targets:
        ok, times = ctx.target_ok(ksm), ctx.times_of(ksm)
        for node in cluster.nodes:
            end = node.left_slot if node.left_slot is not None else cluster.slots
            slots = _sharded(ksm, node.uid or node.name, _span(ctx, node.joined_slot, end, window, ok))
            if len(slots) == 0:
                continue
            base = {"node": node.name}
            if family == "kube_node_info":
                metric = {**base, "container_runtime_version": f"{node.runtime}://1.7.2", "internal_ip": node.ip,
                          "kernel_version": "6.1.0", "kubelet_version": "v1.29.3", "os_image": "Bottlerocket",
                          "provider_id": node.provider_id, "system_uuid": node.uid}  # fmt: skip
                _write(out, _series(family, _honor(metric, ksm.labels)), times[slots], 1.0)
            elif family == "kube_node_labels":
                metric = {**base, **{sanitize_label_name(k): v for k, v in sorted(node.labels().items())}}
                _write(out, _series(family, _honor(metric, ksm.labels)), times[slots], 1.0)
            else:
                reserved = 0.0 if family == "kube_node_status_capacity" else 1.0  # kubelet and system reservations
                amounts = [("cpu", "core", node.instance.cpu_cores - 0.09 * reserved),
                           ("memory", "byte", node.instance.memory_bytes - 1.5 * 2**30 * reserved)]  # fmt: skip
                if node.instance.gpus:
                    amounts.append(("nvidia_com_gpu", "integer", float(node.instance.gpus)))
                amounts.append(("pods", "integer", 110.0))
                for resource, unit, amount in amounts:
                    metric = {**base, "resource": resource, "unit": unit}
                    _write(out, _series(family, _honor(metric, ksm.labels)), times[slots], float(amount))


def _dcgm(ctx: _Context, window: tuple[int, int], family: str, out: _Sink) -> None:
    """dcgm-exporter's per-GPU utilisation, labelled with the pod using the GPU. Behind kube-prometheus
    (honorLabels off) the pod's namespace, pod and container become exported_*, the plain names being the
    exporter's own target labels; GPUs no pod uses carry no pod labels (and idle at 0 %)."""
    cluster = ctx.cluster
    users: dict[str, tuple[Pod, Container]] = {}
    for pod in cluster.pods:
        uuids = iter(pod.gpu_uuids)
        for container in pod.containers:
            for _ in range(container.gpus):
                users[next(uuids)] = (pod, container)
    for node in cluster.nodes:
        target = cluster.dcgm_targets.get(node.name)
        if target is None:
            continue
        ok, times = ctx.target_ok(target), ctx.times_of(target)
        for index, gpu_uuid in enumerate(node.gpu_uuids):
            device = {"gpu": str(index), "UUID": gpu_uuid, "device": f"nvidia{index}",
                      "modelName": node.instance.gpu_model, "Hostname": node.name}  # fmt: skip
            idle = _span(ctx, 0, cluster.slots, window, ok)
            user = users.get(gpu_uuid)
            if user is not None:
                pod, container = user
                alive = container.alive(cluster.slots) > 0
                busy = idle[alive[idle]]
                idle = idle[~alive[idle]]
                workload = {"namespace": pod.namespace, "pod": pod.name, "container": container.name}
                if node.dcgm_relabelled:
                    workload = {f"exported_{k}": v for k, v in workload.items()}
                assert container.gpu_utilization is not None
                labels = {**device, **workload, **{k: v for k, v in target.labels.items() if k not in workload}}
                _write(out, _series(family, labels), times[busy], container.gpu_utilization[busy])
            _write(out, _series(family, {**device, **target.labels}), times[idle], 0.0)


def _up(ctx: _Context, window: tuple[int, int], out: _Sink) -> None:
    cluster = ctx.cluster
    for target in cluster.scrape_targets:
        slots = _span(ctx, 0, cluster.slots, window, scraped(cluster, target, with_failures=False))
        times = ctx.times_of(target)
        _write(out, _series("up", target.labels), times[slots], ctx.target_ok(target)[slots].astype(float))


FAMILIES: dict[str, Callable[[_Context, tuple[int, int], str, _Sink], None]] = {
    "container_cpu_usage_seconds_total": _cadvisor,
    "container_memory_working_set_bytes": _cadvisor,
    "container_network_transmit_bytes_total": _cadvisor,
    "kube_pod_container_resource_requests": _state_metrics,
    "kube_pod_status_phase": _state_metrics,
    "kube_pod_info": _state_metrics,
    "kube_namespace_labels": _state_metrics,
    "kube_persistentvolumeclaim_resource_requests_storage_bytes": _state_metrics,
    "kube_pod_init_container_resource_requests": _state_metrics,
    "kube_pod_init_container_info": _state_metrics,
    "kube_pod_overhead_cpu_cores": _state_metrics,
    "kube_pod_overhead_memory_bytes": _state_metrics,
    "kube_pod_owner": _state_metrics,
    "kube_pod_spec_volumes_persistentvolumeclaims_info": _state_metrics,
    "kube_pod_labels": _state_metrics,
    "kube_replicaset_owner": _controllers,
    "kube_job_owner": _controllers,
    "kube_horizontalpodautoscaler_info": _autoscalers,
    "kube_node_info": _nodes,
    "kube_node_labels": _nodes,
    "kube_node_status_capacity": _nodes,
    "kube_node_status_allocatable": _nodes,
    "DCGM_FI_DEV_GPU_UTIL": _dcgm,
}


def windows(cluster: Cluster, hours_per_window: int) -> Iterator[tuple[int, int]]:
    size = hours_per_window * 3600 // cluster.step_seconds
    for lo in range(0, cluster.slots, size):
        yield lo, min(lo + size, cluster.slots)


def write_window(cluster: Cluster, window: tuple[int, int], path: Path) -> None:
    """One self-contained OpenMetrics file with every series' samples in `window` (slots [lo, hi))."""
    ctx = _Context(
        cluster,
        {t.key: scraped(cluster, t) for t in cluster.scrape_targets},
        {},
    )
    with path.open("w") as file:
        out = _Sink(file, cluster)
        _up(ctx, window, out)
        for family, render in FAMILIES.items():
            render(ctx, window, family, out)
        out.write("# EOF\n")
