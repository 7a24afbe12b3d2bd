"""A synthetic Kubernetes cluster with known usage: the ground truth that kubecharge is tested against.

The model is the truth. Every container has a CPU and memory curve per scrape slot, every pod a phase
timeline, every PVC a lifetime, every namespace a label timeline and an intended owner. `truth()` integrates
the model directly (cores × seconds, bytes × seconds), knowing nothing of PromQL; `openmetrics.py` renders
the same model as the series kube-state-metrics and cAdvisor would have exported, traps included:

- the pod-level cgroup series (`container=""`) and pause containers (`container="POD"` on docker nodes,
  `container=""` with a pause image on containerd nodes), which double CPU and memory if summed;
- container restarts (a new cgroup id, counter from zero) and an in-place counter reset;
- a pod name reused by a new pod with a new `uid` (a StatefulSet pod recreated);
- Pending pods, Succeeded and Failed pods that linger in kube-state-metrics, pods living part of an hour;
- a second kube-state-metrics replica exporting the same series for part of the time;
- hostNetwork pods whose network counters are the node's;
- failed scrapes (`up == 0`, no samples) and a window where Prometheus recorded nothing;
- unaligned scrapes: every target is scraped at its own offset within the interval, as Prometheus does;
- node-level cAdvisor series (`id="/"`, the kubepods and system cgroups, the node's NICs) with no namespace or
  pod, and the kubelet's /metrics/resource copies of container CPU and memory (same job and instance, no `id`);
- static pods (kube-apiserver, etcd: hostNetwork) whose cgroup carries the kubelet's config hash, not the mirror
  pod's API uid, and a node whose scrape config drops cAdvisor's `id` label altogether;
- init containers (run while the pod is Pending; the pod reserves the largest of them), native sidecars
  (restartable init containers, `restart_policy="Always"`) and pod overhead (a RuntimeClass);
- scrape timestamps jittered around each target's offset, at whatever interval the cluster is built with;
- kube-state-metrics resharded mid-hour (`--total-shards` 1 → 2): half the pods move to a new shard's instance;
- a second Prometheus replica (`prometheus_replica` label, Thanos without dedup) holding copies of every series
  for part of the period: more than one `up` per instance;
- the target labels kube-prometheus adds (`job`, `instance`, `endpoint`, `service`, `node`, and a `container`
  / `pod` target label on kube-state-metrics series that lack their own);
- a namespace relabelled mid-period, one created mid-period, and namespaces no team claims;
- short-lived pods (`batch-hourly`): runs of 30 s, 2-5 min, 10 min (an hourly CronJob starting a few seconds after
  the fifth minute) and 50 min that start and end between scrapes, so that the samples see each run for a whole
  number of scrape intervals while the truth is the exact run (`Pod.exact_seconds`); `Truth.low` / `Truth.high` hold
  the band the samples allow around the truth (see `truth()`);
- owners (`workloads.py`): Deployments through ReplicaSets (a rollout: a new ReplicaSet per life of a seasonal
  replica), StatefulSets, DaemonSets, CronJobs through their Jobs, Jobs of their own, bare and static pods, and a
  ReplicaSet whose owner series is missing for two hours while its pods run; PVCs mounted by a StatefulSet's pod
  (only while it runs), remounted by a recreated pod, and never mounted (`Truth.workload_values`);
- Deployments of known usage shapes for request recommendations (`rightsizing.py`): steady, diurnal, spiky, a
  memory leak restarted twice a day, under-provisioned, a HorizontalPodAutoscaler's target whose replicas change,
  and one deployed too recently to judge;
- optionally (`Size(seasonal=True)`), a team whose namespaces follow a weekly pattern, a slow ramp, and injected
  anomalies (a day at three times the cost, a day without any pod): the truth the forecasts and anomaly
  detection are judged against (`Cluster.anomalies`).
"""

from __future__ import annotations

import itertools
import math
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from kubecharge.domain.units import BYTES_PER_GIB, SECONDS_PER_HOUR
from kubecharge.synthetic import rightsizing, workloads
from kubecharge.synthetic.workloads import Controller, OwnerRef

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")
K = TypeVar("K")
MIB = 2**20


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpu_cores: float
    memory_bytes: float
    gpus: int = 0
    gpu_model: str = ""


# What the generator's nodes are (capacities as EC2 lists them): the node-price tests price them per hour.
M5_8XLARGE = InstanceType("m5.8xlarge", 32, 128 * BYTES_PER_GIB)
M5_12XLARGE = InstanceType("m5.12xlarge", 48, 192 * BYTES_PER_GIB)
R5_8XLARGE = InstanceType("r5.8xlarge", 32, 256 * BYTES_PER_GIB)
C5_4XLARGE = InstanceType("c5.4xlarge", 16, 32 * BYTES_PER_GIB)
G5_12XLARGE = InstanceType("g5.12xlarge", 48, 192 * BYTES_PER_GIB, 4, "NVIDIA A10G")


@dataclass
class Node:
    name: str
    runtime: str  # "docker" (cgroupfs, pause as container="POD") | "containerd" (systemd, pause as container="")
    ip: str
    network_bytes_per_second: float
    cgroup_id_dropped: bool = False  # a relabelling on this node's cAdvisor scrape drops the `id` label
    instance: InstanceType = M5_8XLARGE
    capacity_type: str = "on-demand"  # spot | on-demand, as the node's label says it
    capacity_label: str = "karpenter"  # karpenter (karpenter.sh/capacity-type: spot) | eks (capacityType: SPOT)
    zone: str = "us-east-1a"
    uid: str = ""
    joined_slot: int = 0  # autoscaling: the node exists in [joined_slot, left_slot)
    left_slot: int | None = None
    gpu_uuids: tuple[str, ...] = ()
    dcgm_relabelled: bool = True  # behind kube-prometheus: dcgm-exporter's pod labels become exported_*

    @property
    def kubelet_instance(self) -> str:
        return f"{self.ip}:10250"

    @property
    def provider_id(self) -> str:
        return f"aws:///{self.zone}/i-{zlib.crc32(self.name.encode()):08x}{len(self.name):09x}"

    def labels(self) -> dict[str, str]:
        """The node's Kubernetes labels kube-state-metrics is allowed to export (--metric-labels-allowlist)."""
        capacity = ({"karpenter.sh/capacity-type": self.capacity_type} if self.capacity_label == "karpenter" else
                    {"eks.amazonaws.com/capacityType": self.capacity_type.upper().replace("-", "_")})  # fmt: skip
        return {"node.kubernetes.io/instance-type": self.instance.name, "topology.kubernetes.io/zone": self.zone,
                **capacity}  # fmt: skip

    def present(self, slots: int) -> FloatArray:
        mask = np.zeros(slots)
        mask[self.joined_slot : self.left_slot if self.left_slot is not None else slots] = 1.0
        return mask


@dataclass
class Incarnation:
    """One run of a container: its own cgroup id and a counter that starts from zero."""

    container_id: str
    start_slot: int
    end_slot: int


@dataclass
class Container:
    name: str
    image: str
    cpu_request_cores: float | None
    memory_request_bytes: float | None
    cpu_cores: FloatArray  # per slot, meaningful only where an incarnation is alive
    memory_bytes: FloatArray
    incarnations: list[Incarnation] = field(default_factory=list)
    counter_reset_slot: int | None = None  # in-place reset of the CPU counter (same cgroup id)
    kind: str = "app"  # app | init (runs to completion before the app containers) | sidecar (restartable init)
    gpus: int = 0  # nvidia.com/gpu requested (and limited): whole devices
    gpu_utilization: FloatArray | None = None  # per slot, 0-100, the same on each of its GPUs

    def alive(self, slots: int) -> FloatArray:
        """1.0 in the slots where some incarnation of the container runs."""
        mask = np.zeros(slots)
        for inc in self.incarnations:
            mask[inc.start_slot : inc.end_slot] = 1.0
        return mask


@dataclass
class Pod:
    namespace: str
    name: str
    uid: str
    node: Node
    qos: str  # burstable | besteffort | guaranteed
    created_slot: int
    running_slot: int | None  # None: never left Pending
    finished_slot: int | None  # None: still running at the end
    finished_phase: str  # Succeeded | Failed
    deleted_slot: int  # kube-state-metrics stops exporting it here
    containers: list[Container]
    host_network: bool = False
    network_interfaces: tuple[str, ...] = ("eth0",)
    network_bytes_per_second: FloatArray | None = None
    sandbox_id: str = ""
    cgroup_uid: str | None = None  # static pods: the kubelet's config hash in the cgroup, not the API uid
    overhead_cpu_cores: float = 0.0  # RuntimeClass pod overhead, reserved while the pod runs
    overhead_memory_bytes: float = 0.0
    gpu_uuids: tuple[str, ...] = ()  # the devices the device plugin gave its GPU containers, in container order
    # A run that starts and ends between scrapes: Running in [start, end) seconds after the cluster's start. Its
    # containers use a constant rate (counters grow linearly from zero at `start`); the slots above enclose it.
    exact_seconds: tuple[float, float] | None = None
    owner: OwnerRef | None = None  # its controller (`kube_pod_owner`); None: `<none>`, a bare pod (workloads.py)
    adopted: tuple[int, OwnerRef] | None = None  # (from slot, controller): a bare pod a ReplicaSet adopted
    claims: tuple[str, ...] = ()  # the PVCs its spec mounts (`kube_pod_spec_volumes_persistentvolumeclaims_info`)
    template: str = ""  # its Deployment's pod template: a rollout changes it, and with it the ReplicaSet
    labels: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (from slot, labels): `kube_pod_labels`
    teams: list[tuple[int, str]] = field(default_factory=list)  # (from slot, intended team) where its labels decide

    def labels_at(self, slot: int) -> dict[str, str]:
        return _at(self.labels, slot, {})

    def team_at(self, slot: int) -> str | None:
        """The team its labels give it in `slot` (the designer's intent), None where its namespace's team applies."""
        found: str | None = None
        for start, team in self.teams:
            if slot >= start:
                found = team
        return found

    def effective_request(self, resource: str) -> float:
        """Kubernetes' effective pod request (sidecars placed before every init container, as here):
        sidecars + max(sum of app containers, largest init container) + overhead."""

        def amount(c: Container) -> float:
            value = c.cpu_request_cores if resource == "cpu" else c.memory_request_bytes
            return value or 0.0

        apps = sum(amount(c) for c in self.containers if c.kind == "app")
        sidecars = sum(amount(c) for c in self.containers if c.kind == "sidecar")
        inits = max((amount(c) for c in self.containers if c.kind == "init"), default=0.0)
        overhead = self.overhead_cpu_cores if resource == "cpu" else self.overhead_memory_bytes
        return sidecars + max(apps, inits) + overhead

    def phase_at(self, slot: int, at_seconds: float | None = None) -> str:
        """The phase in `slot`; for a run between scrapes, at the moment `at_seconds` a scrape looked."""
        if self.exact_seconds is not None and at_seconds is not None:
            begin, end = self.exact_seconds
            return "Pending" if at_seconds < begin else "Running" if at_seconds < end else self.finished_phase
        if self.running_slot is None or slot < self.running_slot:
            return "Pending"
        if self.finished_slot is not None and slot >= self.finished_slot:
            return self.finished_phase
        return "Running"

    @property
    def sandbox_end_slot(self) -> int:
        return self.finished_slot if self.finished_slot is not None else self.deleted_slot


@dataclass
class PersistentVolumeClaim:
    namespace: str
    name: str
    size_bytes: float
    created_slot: int
    deleted_slot: int


@dataclass
class Namespace:
    name: str
    created_slot: int
    labels: list[tuple[int, dict[str, str]]]  # (from slot, Kubernetes labels)
    owners: list[tuple[int, str]]  # (from slot, intended team): the designer's intent, not derived from mappings

    def labels_at(self, slot: int) -> dict[str, str]:
        return _at(self.labels, slot, {})

    def owner_at(self, slot: int) -> str:
        return _at(self.owners, slot, "unallocated")


def _at(timeline: list[tuple[int, T]], slot: int, default: T) -> T:
    value = default
    for start, item in timeline:
        if slot >= start:
            value = item
    return value


@dataclass
class ScrapeTarget:
    """A scrape target and the slots where its scrape failed (`up` = 0, nothing else recorded)."""

    job: str
    instance: str
    labels: dict[str, str]
    failed_slots: frozenset[int]
    first_slot: int = 0
    last_slot: int | None = None  # exclusive; None = to the end
    offset_seconds: int = 0  # where in each scrape interval this target is scraped (Prometheus spreads targets)
    jitter_seconds: float = 0.0  # each scrape lands up to this far either side of its slot's offset
    shard: int = 0  # kube-state-metrics' shard (automated sharding: its StatefulSet ordinal)
    shard_totals: tuple[tuple[int, int], ...] = ((0, 1),)  # (from slot, total shards): the StatefulSet's scale

    def exported(self, object_uid: str, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of `slots` this kube-state-metrics exported the object in: those where the object hashes to its
        shard under the total shard count of the moment (autosharding follows a scale change without a restart)."""
        mask = np.zeros(len(slots), dtype=bool)
        bounds = [start for start, _ in self.shard_totals[1:]] + [1 << 62]
        for (start, total), end in zip(self.shard_totals, bounds, strict=True):
            if shard_of(object_uid, total) == self.shard:
                mask |= (slots >= start) & (slots < end)
        return mask

    @property
    def reshard_slots(self) -> list[int]:
        return [start for start, _ in self.shard_totals[1:]]

    @property
    def key(self) -> str:
        """Targets are told apart by job, instance and path: one kubelet serves two endpoints on one instance."""
        return f"{self.job}|{self.instance}|{self.labels.get('metrics_path', '')}"


def sample_times(cluster: Cluster, target: ScrapeTarget) -> npt.NDArray[np.float64]:
    """Epoch seconds of the target's scrape in each slot: the slot shifted by the target's own scrape offset, each
    scrape jittered (to the millisecond) by a draw seeded from the target, so every window sees the same times."""
    times = int(cluster.start.timestamp()) + np.arange(cluster.slots, dtype=np.int64) * cluster.step_seconds
    if target.jitter_seconds == 0:
        return (times + target.offset_seconds).astype(np.float64)
    draws = np.random.default_rng(zlib.crc32(target.key.encode())).uniform(
        -target.jitter_seconds, target.jitter_seconds, len(times)
    )
    return np.asarray(np.round(times + target.offset_seconds + draws, 3), dtype=np.float64)


def scraped(cluster: Cluster, target: ScrapeTarget, *, with_failures: bool = True) -> npt.NDArray[np.bool_]:
    """Slots where the target was scraped; `with_failures=False` keeps failed scrapes (they still write `up`)."""
    mask = np.zeros(cluster.slots, dtype=bool)
    mask[target.first_slot : target.last_slot if target.last_slot is not None else cluster.slots] = True
    for slot in target.failed_slots if with_failures else ():
        mask[slot] = False
    for slot in cluster.prometheus_down_slots:
        if slot < cluster.slots:
            mask[slot] = False
    return mask


def shard_of(object_uid: str, total_shards: int) -> int:
    """kube-state-metrics assigns an object to a shard by a hash of its uid."""
    return zlib.crc32(object_uid.encode()) % total_shards


@dataclass(frozen=True)
class Replica:
    """Another Prometheus scraping the same targets, its copies visible side by side (Thanos without dedup)."""

    label: str  # the external label, e.g. prometheus_replica
    name: str
    first_slot: int
    last_slot: int


@dataclass(frozen=True)
class InjectedAnomaly:
    """A day the generator made unusual on purpose: `spike` (three times the usual cost) or `outage` (no pods)."""

    namespace: str
    day: date
    kind: str


@dataclass
class Cluster:
    start: datetime
    step_seconds: int
    slots: int
    nodes: list[Node]
    namespaces: list[Namespace]
    pods: list[Pod]
    pvcs: list[PersistentVolumeClaim]
    state_metrics_targets: list[ScrapeTarget]
    kubelet_targets: dict[str, ScrapeTarget]  # by node name: the kubelet's cAdvisor endpoint
    resource_targets: dict[str, ScrapeTarget]  # by node name: the kubelet's /metrics/resource endpoint
    prometheus_down_slots: frozenset[int]
    team_mappings: list[dict[str, object]]
    cluster_name: str = "synthetic"
    replicas: list[Replica] = field(default_factory=list)
    external_labels: dict[str, str] = field(default_factory=dict)  # e.g. {"cluster": "east"} in a shared querier
    dcgm_targets: dict[str, ScrapeTarget] = field(default_factory=dict)  # by GPU node name: dcgm-exporter
    anomalies: list[InjectedAnomaly] = field(default_factory=list)  # the seasonal team's injected unusual days
    controllers: list[Controller] = field(default_factory=list)  # ReplicaSets and Jobs, with their owners
    autoscalers: list[rightsizing.Autoscaler] = field(default_factory=list)  # HorizontalPodAutoscalers

    @property
    def scrape_targets(self) -> list[ScrapeTarget]:
        return [*self.state_metrics_targets, *self.kubelet_targets.values(), *self.resource_targets.values(),
                *self.dcgm_targets.values()]  # fmt: skip

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.step_seconds * self.slots)

    def slot_time(self, slot: int) -> int:
        return int(self.start.timestamp()) + slot * self.step_seconds

    def slot_of(self, moment: datetime) -> int:
        return int((moment - self.start).total_seconds()) // self.step_seconds

    def teams(self) -> list[str]:
        return sorted({str(m["spec"]["team"]) for m in self.team_mappings})  # type: ignore[index]


# --------------------------------------------------------------------------------------------- truth


@dataclass
class Truth:
    """Exact quantities per (namespace, hour start), integrated from the model."""

    values: dict[tuple[str, datetime], dict[str, float]]
    owners: dict[tuple[str, datetime], str]
    # The same per (namespace, node, hour): node "" holds PVCs and network, which run on no node.
    node_values: dict[tuple[str, str, datetime], dict[str, float]] = field(default_factory=dict)
    node_hours: dict[tuple[str, datetime], float] = field(default_factory=dict)  # share of each hour a node existed
    # The band the samples allow, per (namespace, hour) where it differs from the truth (runs between scrapes):
    # any estimator that sees only the scraped samples can be held to [low, high], not to the exact truth.
    low: dict[tuple[str, datetime], dict[str, float]] = field(default_factory=dict)
    high: dict[tuple[str, datetime], dict[str, float]] = field(default_factory=dict)
    # The same per (namespace, workload kind, workload, hour) (`workloads.workload_truth`; a PVC no Running pod
    # mounts is kind PersistentVolumeClaim), with its band where the samples allow one.
    workload_values: dict[WorkloadHour, dict[str, float]] = field(default_factory=dict)
    workload_low: dict[WorkloadHour, dict[str, float]] = field(default_factory=dict)
    workload_high: dict[WorkloadHour, dict[str, float]] = field(default_factory=dict)
    # Per (team, namespace, hour): a namespace's hours by its team, a pod's whose labels claim it by its labels' team
    # (split by the slots each held), with its band.
    team_values: dict[tuple[str, str, datetime], dict[str, float]] = field(default_factory=dict)
    team_low: dict[tuple[str, str, datetime], dict[str, float]] = field(default_factory=dict)
    team_high: dict[tuple[str, str, datetime], dict[str, float]] = field(default_factory=dict)

    def by_workload(self, start: datetime, end: datetime) -> dict[tuple[str, str, str], dict[str, float]]:
        """Per (namespace, workload kind, workload) over [start, end): the exact quantities."""
        return _summed((key[:3], values) for key, values in self.workload_values.items() if start <= key[3] < end)

    def band_by_workload(
        self, start: datetime, end: datetime
    ) -> dict[tuple[str, str, str], dict[str, tuple[float, float]]]:
        """Per (namespace, workload kind, workload) and quantity over [start, end): (low, high) of the band."""
        sides = [_summed((key[:3], moves.get(key, values)) for key, values in self.workload_values.items()
                         if start <= key[3] < end) for moves in (self.workload_low, self.workload_high)]  # fmt: skip
        return {key: {q: (sides[0][key][q], sides[1][key][q]) for q in sides[0][key]} for key in sides[0]}

    def by_team(self, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        return _summed((key[0], values) for key, values in self.team_values.items() if start <= key[2] < end)

    def by_team_and_namespace(self, start: datetime, end: datetime) -> dict[tuple[str, str], dict[str, float]]:
        return _summed((key[:2], values) for key, values in self.team_values.items() if start <= key[2] < end)

    def by_namespace(self, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        return self._grouped(start, end, lambda namespace, _hour: namespace)

    def band_by_namespace(self, start: datetime, end: datetime) -> dict[str, dict[str, tuple[float, float]]]:
        """Per namespace and quantity over [start, end): (low, high) of the band the samples allow."""
        return self._band(start, end, lambda namespace, _hour: namespace)

    def band_by_team(self, start: datetime, end: datetime) -> dict[str, dict[str, tuple[float, float]]]:
        sides = [_summed((key[0], moves.get(key, values)) for key, values in self.team_values.items()
                         if start <= key[2] < end) for moves in (self.team_low, self.team_high)]  # fmt: skip
        return {key: {q: (sides[0][key][q], sides[1][key][q]) for q in sides[0][key]} for key in sides[0]}

    def _band(
        self, start: datetime, end: datetime, group: Callable[[str, datetime], str]
    ) -> dict[str, dict[str, tuple[float, float]]]:
        lows = self._grouped(start, end, group, self.low)
        highs = self._grouped(start, end, group, self.high)
        return {key: {q: (lows[key][q], highs[key][q]) for q in lows[key]} for key in lows}

    def _grouped(
        self, start: datetime, end: datetime, group: Callable[[str, datetime], str],
        instead: dict[tuple[str, datetime], dict[str, float]] | None = None,
    ) -> dict[str, dict[str, float]]:  # fmt: skip
        groups: dict[str, dict[str, float]] = {}
        for (namespace, hour), exact in self.values.items():
            quantities = (instead or {}).get((namespace, hour), exact)
            if start <= hour < end:
                row = groups.setdefault(group(namespace, hour), {})
                for key, value in quantities.items():
                    row[key] = row.get(key, 0.0) + value
        return groups


WorkloadHour = tuple[str, str, str, datetime]  # namespace, workload kind, workload, hour


def _summed(items: Iterable[tuple[K, dict[str, float]]]) -> dict[K, dict[str, float]]:
    found: dict[K, dict[str, float]] = {}
    for key, values in items:
        row = found.setdefault(key, {})
        for quantity, value in values.items():
            row[quantity] = row.get(quantity, 0.0) + value
    return found


QUANTITIES = (
    "cpu_core_hours_usage",
    "cpu_core_hours_request",
    "cpu_core_hours_max",
    "memory_gib_hours_usage",
    "memory_gib_hours_request",
    "memory_gib_hours_max",
    "gpu_hours_usage",
    "gpu_hours_request",
    "gpu_hours_max",
    "storage_gib_hours",
    "network_gib",
)


def truth(cluster: Cluster) -> Truth:
    """Integrate the model per namespace, node, pod (or unmounted PVC) and hour, then group the pods' hours by
    namespace and by workload. Slot k covers [t_k, t_k + step)."""
    step_hours = cluster.step_seconds / SECONDS_PER_HOUR
    slots_per_hour = SECONDS_PER_HOUR // cluster.step_seconds
    hours = math.ceil(cluster.slots / slots_per_hour)
    slot_hour = np.arange(cluster.slots) // slots_per_hour
    per_node: dict[tuple[str, str, str], dict[str, FloatArray]] = {}  # (namespace, node, who): a pod uid or pvc:<name>

    def target(namespace: str, node: str, who: str = "") -> dict[str, FloatArray]:
        return per_node.setdefault((namespace, node, who), {q: np.zeros(hours) for q in QUANTITIES})

    def hourly(values: FloatArray) -> FloatArray:
        return np.bincount(slot_hour, weights=values, minlength=hours)[:hours].astype(np.float64)

    for namespace in cluster.namespaces:
        target(namespace.name, "")
    low: dict[_Who, dict[str, float]] = {}
    high: dict[_Who, dict[str, float]] = {}
    scrapes = _Scrapes(cluster)
    running_of: dict[str, FloatArray] = {}
    for pod in cluster.pods:
        on_node = target(pod.namespace, pod.node.name, pod.uid)
        if pod.exact_seconds is not None:
            _exact_run(cluster, pod, on_node, target(pod.namespace, "", pod.uid), scrapes, low, high)
            continue
        running = np.array([pod.phase_at(s) == "Running" for s in range(cluster.slots)], dtype=float)
        running_of[pod.uid] = running
        for container in pod.containers:
            alive = container.alive(cluster.slots)
            # An init container's own request is never charged directly: the pod reserves the largest of them
            # (the `reserved` row below); sidecars and app containers reserve theirs while the pod runs.
            charged = 0.0 if container.kind == "init" else 1.0
            cpu_usage = hourly(container.cpu_cores * alive * step_hours)
            memory_usage = hourly(container.memory_bytes * alive * step_hours / BYTES_PER_GIB)
            cpu_request = hourly(running * charged * (container.cpu_request_cores or 0.0) * step_hours)
            memory_request = hourly(
                running * charged * (container.memory_request_bytes or 0.0) * step_hours / BYTES_PER_GIB
            )
            on_node["cpu_core_hours_usage"] += cpu_usage
            on_node["cpu_core_hours_request"] += cpu_request
            on_node["cpu_core_hours_max"] += np.maximum(cpu_usage, cpu_request)
            on_node["memory_gib_hours_usage"] += memory_usage
            on_node["memory_gib_hours_request"] += memory_request
            on_node["memory_gib_hours_max"] += np.maximum(memory_usage, memory_request)
            # A counter shows usage up to its last sample: what an ended cgroup used after it, nobody saw.
            unseen = hourly(_unseen_after_last_sample(cluster, scrapes, pod, container.incarnations,
                                                      container.cpu_cores) * step_hours)  # fmt: skip
            if unseen.any():
                _lower(cluster, low, (pod.namespace, pod.uid), "cpu_core_hours_usage", -unseen)
                kept = np.maximum(cpu_usage - unseen, cpu_request)
                _lower(
                    cluster,
                    low,
                    (pod.namespace, pod.uid),
                    "cpu_core_hours_max",
                    kept - np.maximum(cpu_usage, cpu_request),
                )
            if container.gpus:
                utilization = container.gpu_utilization if container.gpu_utilization is not None else 0.0
                gpu_usage = hourly(container.gpus * utilization / 100 * alive * step_hours)
                gpu_request = hourly(running * container.gpus * step_hours)
                on_node["gpu_hours_usage"] += gpu_usage
                on_node["gpu_hours_request"] += gpu_request
                on_node["gpu_hours_max"] += np.maximum(gpu_usage, gpu_request)
        # What the pod reserves beyond its containers' own requests (largest init container over the app
        # containers, pod overhead): a request nobody uses, charged as such under every basis.
        for resource, divisor, name in (("cpu", 1.0, "cpu_core_hours"), ("memory", BYTES_PER_GIB, "memory_gib_hours")):
            own = sum(
                (c.cpu_request_cores if resource == "cpu" else c.memory_request_bytes) or 0.0
                for c in pod.containers
                if c.kind != "init"
            )
            reserved = hourly(running * (pod.effective_request(resource) - own) * step_hours / divisor)
            on_node[f"{name}_request"] += reserved
            on_node[f"{name}_max"] += reserved
        _sampling_band(cluster, pod, running, scrapes, low, high)
        if pod.network_bytes_per_second is not None and not pod.host_network:
            sandbox = np.zeros(cluster.slots)
            sandbox[pod.running_slot or 0 : pod.sandbox_end_slot] = 1.0
            target(pod.namespace, "", pod.uid)["network_gib"] += hourly(
                pod.network_bytes_per_second * sandbox * cluster.step_seconds / BYTES_PER_GIB
            )
            sandbox_run = [Incarnation(pod.sandbox_id, pod.running_slot or 0, pod.sandbox_end_slot)]
            unseen = _unseen_after_last_sample(cluster, scrapes, pod, sandbox_run, pod.network_bytes_per_second)
            if unseen.any():
                unseen_gib = hourly(unseen * cluster.step_seconds / BYTES_PER_GIB)
                _lower(cluster, low, (pod.namespace, pod.uid), "network_gib", -unseen_gib)
    split: dict[str, dict[_Who, dict[str, float]]] = {"low": {}, "high": {}}  # moves that leave namespaces whole
    for pvc in cluster.pvcs:
        _storage(cluster, pvc, running_of, target, scrapes, split["low"], split["high"])

    values: dict[tuple[str, datetime], dict[str, float]] = {}
    node_values: dict[tuple[str, str, datetime], dict[str, float]] = {}
    workload_values: dict[WorkloadHour, dict[str, float]] = {}
    owners: dict[tuple[str, datetime], str] = {}
    spaces = {ns.name: ns for ns in cluster.namespaces}
    starts = [cluster.start + timedelta(hours=hour) for hour in range(hours)]
    workload_of = _workload_resolver(cluster)
    for name in spaces:
        for hour, hour_start in enumerate(starts):
            # The hour belongs to whoever owned the namespace for most of it.
            owner_slots = [spaces[name].owner_at(hour * slots_per_hour + i) for i in range(slots_per_hour)]
            owners[(name, hour_start)] = max(set(owner_slots), key=owner_slots.count)
    team_of = _team_resolver(cluster, owners)
    team_values: dict[tuple[str, str, datetime], dict[str, float]] = {}
    for (name, node, who), series in per_node.items():
        for hour, hour_start in enumerate(starts):
            amounts = {q: float(series[q][hour]) for q in QUANTITIES}
            total = values.setdefault((name, hour_start), dict.fromkeys(QUANTITIES, 0.0))
            placed = node_values.setdefault((name, node, hour_start), dict.fromkeys(QUANTITIES, 0.0))
            if not who or not any(amounts.values()):
                continue
            for q, amount in amounts.items():
                total[q] += amount
                placed[q] += amount
            for workload_key, workload_share in workload_of(who, hour):
                workload = workload_values.setdefault((name, *workload_key, hour_start), dict.fromkeys(QUANTITIES, 0.0))
                for q, amount in amounts.items():
                    workload[q] += amount * workload_share
            for team, share in team_of(name, who, hour):
                into = team_values.setdefault((team, name, hour_start), dict.fromkeys(QUANTITIES, 0.0))
                for q, amount in amounts.items():
                    into[q] += amount * share
    node_hours = {}
    for machine in cluster.nodes:
        for hour, share in enumerate(hourly(machine.present(cluster.slots) * step_hours)):
            if share > 0:
                node_hours[(machine.name, starts[hour])] = float(share)
    bands: dict[str, dict[tuple[str, datetime], dict[str, float]]] = {}
    workload_bands: dict[str, dict[WorkloadHour, dict[str, float]]] = {}
    team_bands: dict[str, dict[tuple[str, str, datetime], dict[str, float]]] = {}
    for side, moves in (("low", low), ("high", high)):
        by_namespace: dict[tuple[str, datetime], dict[str, float]] = {}
        by_workload: dict[WorkloadHour, dict[str, float]] = {}
        by_team: dict[tuple[str, str, datetime], dict[str, float]] = {}
        everywhere = [(key, move, True) for key, move in moves.items()]
        for (space, who, hour_start), move, whole in [*everywhere, *((k, m, False) for k, m in split[side].items())]:
            hour = round((hour_start - cluster.start) / timedelta(hours=1))
            grains: list[tuple[Any, Any, Any, float]] = [
                ((space, *workload_key, hour_start), workload_values, by_workload, workload_share)
                for workload_key, workload_share in workload_of(who, hour)
            ]
            if whole:
                grains.append(((space, hour_start), values, by_namespace, 1.0))
            for key, exact, into, share in grains:
                # the band edge = the exact value moved by what the samples allow
                edge = into.setdefault(key, dict(exact.get(key) or dict.fromkeys(QUANTITIES, 0.0)))
                for q, amount in move.items():
                    edge[q] += amount * share
            for team, share in team_of(space, who, hour):
                edge = by_team.setdefault((team, space, hour_start),
                                          dict(team_values.get((team, space, hour_start))
                                               or dict.fromkeys(QUANTITIES, 0.0)))  # fmt: skip
                for q, amount in move.items():
                    edge[q] += amount * share
        bands[side], workload_bands[side], team_bands[side] = by_namespace, by_workload, by_team
    return Truth(values, owners, node_values, node_hours, bands["low"], bands["high"], workload_values,
                 workload_bands["low"], workload_bands["high"], team_values, team_bands["low"],
                 team_bands["high"])  # fmt: skip


def _team_resolver(
    cluster: Cluster, owners: dict[tuple[str, datetime], str]
) -> Callable[[str, str, int], list[tuple[str, float]]]:
    """(namespace, who, hour index) → the teams its hour belongs to, with each one's share: a pod whose labels claim it
    by the slots each team held (its namespace's team in the others), anything else its namespace's team."""
    per_hour = SECONDS_PER_HOUR // cluster.step_seconds
    labelled = {pod.uid: pod for pod in cluster.pods if pod.teams}

    def resolve(namespace: str, who: str, hour: int) -> list[tuple[str, float]]:
        home = owners[(namespace, cluster.start + timedelta(hours=hour))]
        pod = labelled.get(who)
        if pod is None:
            return [(home, 1.0)]
        slots = [pod.team_at(slot) or home for slot in range(hour * per_hour, (hour + 1) * per_hour)]
        return [(team, slots.count(team) / per_hour) for team in sorted(set(slots))]

    return resolve


_Who = tuple[str, str, datetime]  # namespace, pod uid (or pvc:<claim>), hour: what a band's moves are kept by


def _workload_resolver(cluster: Cluster) -> Callable[[str, int], list[tuple[tuple[str, str], float]]]:
    """(who, hour index) → each (workload kind, workload) with its share of the hour: a pod's from
    `workloads.workload_truth` (its own name as a bare pod where kube-state-metrics exports it in no part of the
    hour), an unmounted PVC's own."""
    owned = workloads.workload_truth(cluster)
    pods = {pod.uid: pod for pod in cluster.pods}

    def resolve(who: str, hour: int) -> list[tuple[tuple[str, str], float]]:
        if who.startswith("pvc:"):
            return [(("PersistentVolumeClaim", who.removeprefix("pvc:")), 1.0)]
        pod = pods[who]
        return sorted(owned.get((pod.namespace, pod.name, pod.uid, hour), {("Pod", pod.name): 1.0}).items())

    return resolve


def _storage(
    cluster: Cluster, pvc: PersistentVolumeClaim, running_of: dict[str, FloatArray],
    target: Callable[[str, str, str], dict[str, FloatArray]], scrapes: _Scrapes, low: dict[_Who, dict[str, float]],
    high: dict[_Who, dict[str, float]],
) -> None:  # fmt: skip
    """A PVC's GiB-hours: in each slot to the pods that mount it and run (equal parts), else to the claim's own row
    (idle storage). Where a mounting pod starts or stops within an hour, its Running share is sampled as for its
    requests: the pod's part and the claim's move by the difference, in opposite directions."""
    per_hour = SECONDS_PER_HOUR // cluster.step_seconds
    hours = math.ceil(cluster.slots / per_hour)
    slot_hour = np.arange(cluster.slots) // per_hour
    step_hours = cluster.step_seconds / SECONDS_PER_HOUR
    exists = np.zeros(cluster.slots)
    exists[pvc.created_slot : pvc.deleted_slot] = 1.0
    size_gib = pvc.size_bytes / BYTES_PER_GIB
    mounters = [pod for pod in cluster.pods if pod.namespace == pvc.namespace and pvc.name in pod.claims
                and pod.uid in running_of]  # fmt: skip
    running = [running_of[pod.uid] for pod in mounters]
    sharing = np.sum(running, axis=0) if running else np.zeros(cluster.slots)
    idle = exists * (sharing == 0)
    target(pvc.namespace, "", f"pvc:{pvc.name}")["storage_gib_hours"] += np.bincount(
        slot_hour, weights=idle * size_gib * step_hours, minlength=hours)[:hours]  # fmt: skip
    for pod, mask in zip(mounters, running, strict=True):
        part = exists * mask / np.maximum(sharing, 1.0)
        target(pvc.namespace, "", pod.uid)["storage_gib_hours"] += np.bincount(
            slot_hour, weights=part * size_gib * step_hours, minlength=hours)[:hours]  # fmt: skip
        true_running = np.bincount(slot_hour, weights=mask, minlength=hours)[:hours] * step_hours
        sampled = _sampled_running(cluster, pod, mask, scrapes)
        for hour in np.flatnonzero((true_running > 0) & (true_running < 1 - 1e-9)):
            move = (float(sampled[hour]) - float(true_running[hour])) * size_gib
            hour_start = cluster.start + timedelta(hours=int(hour))
            for who, sign in ((pod.uid, 1.0), (f"pvc:{pvc.name}", -1.0)):
                for side, edge in ((low, min(0.0, sign * move)), (high, max(0.0, sign * move))):
                    into = side.setdefault((pvc.namespace, who, hour_start), {})
                    into["storage_gib_hours"] = into.get("storage_gib_hours", 0.0) + edge


def _unseen_after_last_sample(
    cluster: Cluster, scrapes: _Scrapes, pod: Pod, runs: list[Incarnation], rate: FloatArray
) -> FloatArray:
    """Per slot, the rate of a counter after the last successful scrape of each run that ended: a sample shows the
    counter as of its slot's start, so the slot of the last sample and those after it stay unseen."""
    ok, _ = scrapes.of(cluster.kubelet_targets[pod.node.name])
    unseen = np.zeros(cluster.slots)
    for run in runs:
        if run.end_slot >= cluster.slots or run.end_slot <= run.start_slot:
            continue
        seen = np.flatnonzero(ok[run.start_slot : run.end_slot])
        first = run.start_slot + (int(seen[-1]) if len(seen) else 0)
        unseen[first : run.end_slot] = rate[first : run.end_slot]
    return unseen


def _widen(
    low: dict[str, float], high: dict[str, float], quantity: str, exact: float, candidates: list[float]
) -> tuple[float, float]:
    """Move a quantity's band edges (as moves from its exact value) to span the exact value and `candidates`."""
    lo, hi = min(exact, *candidates), max(exact, *candidates)
    low[quantity] = low.get(quantity, 0.0) + lo - exact
    high[quantity] = high.get(quantity, 0.0) + hi - exact
    return lo, hi


def _lower(
    cluster: Cluster, low: dict[_Who, dict[str, float]], who: tuple[str, str], quantity: str, moves: FloatArray
) -> None:
    """Add per-hour moves of the band's low edge."""
    for hour in np.flatnonzero(moves):
        into = low.setdefault((*who, cluster.start + timedelta(hours=int(hour))), {})
        into[quantity] = into.get(quantity, 0.0) + float(moves[hour])


class _Scrapes:
    """Per scrape target: which slots it scraped, and per hour the successful scrapes a sampling estimator divides by
    (with the scrapes a target missed by not existing yet, as `collect.promql.per_scrape` counts them)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.per_hour = SECONDS_PER_HOUR // cluster.step_seconds
        self._ok: dict[str, tuple[npt.NDArray[np.bool_], FloatArray]] = {}
        self._times: dict[str, FloatArray] = {}
        self._densest: dict[tuple[str, str | None], FloatArray] = {}

    def of(self, target: ScrapeTarget) -> tuple[npt.NDArray[np.bool_], FloatArray]:
        if target.key not in self._ok:
            ok = scraped(self.cluster, target)
            successes = self._hourly(ok)
            attempts = self._hourly(scraped(self.cluster, target, with_failures=False))
            densest = self._densest_of(target)
            short = densest - attempts
            divisor = successes + np.where(short > densest / 10, short, 0.0)
            self._ok[target.key] = ok, divisor
        return self._ok[target.key]

    def times(self, target: ScrapeTarget) -> FloatArray:
        """The target's sample times (`sample_times`), seconds after the cluster's start."""
        if target.key not in self._times:
            self._times[target.key] = sample_times(self.cluster, target) - self.cluster.start.timestamp()
        return self._times[target.key]

    def _densest_of(self, target: ScrapeTarget) -> FloatArray:
        """Per hour, the most scrape attempts any target of the same job had (what `per_scrape` calls full)."""
        job = (target.job, target.labels.get("metrics_path"))
        if job not in self._densest:
            peers = [t for t in self.cluster.scrape_targets if (t.job, t.labels.get("metrics_path")) == job]
            self._densest[job] = np.max([self._hourly(scraped(self.cluster, t, with_failures=False)) for t in peers],
                                        axis=0)  # fmt: skip
        return self._densest[job]

    def _hourly(self, mask: npt.NDArray[np.bool_]) -> FloatArray:
        hours = math.ceil(self.cluster.slots / self.per_hour)
        slot_hour = np.arange(self.cluster.slots) // self.per_hour
        return np.bincount(slot_hour, weights=mask.astype(float), minlength=hours).astype(np.float64)

    def sampled(
        self, values: FloatArray, target: ScrapeTarget, seen: npt.NDArray[np.bool_] | None = None
    ) -> FloatArray:
        """Per hour, the mean of `values` (per slot) over the target's successful scrapes, where `seen`: what a
        sampling estimator makes of them, in value-hours."""
        ok, divisor = self.of(target)
        mask = ok if seen is None else ok & seen
        slot_hour = np.arange(self.cluster.slots) // self.per_hour
        sums = np.bincount(slot_hour, weights=np.where(mask, values, 0.0), minlength=len(divisor))
        return np.divide(sums, divisor, out=np.zeros_like(sums), where=divisor > 0)


def _sampled_running(cluster: Cluster, pod: Pod, running: FloatArray, scrapes: _Scrapes) -> FloatArray:
    """Per hour, the pod's Running share as its samples show it: each exporter's running samples over its scrapes,
    scaled by how many exporters had the pod at once (shards hand over, replicas double)."""
    per_hour = scrapes.per_hour
    hours = math.ceil(cluster.slots / per_hour)
    slot_hour = np.arange(cluster.slots) // per_hour
    slots = np.arange(cluster.slots, dtype=np.int64)
    shares, counts = np.zeros(hours), np.zeros(hours)
    union = np.zeros(cluster.slots, dtype=bool)
    for ksm in cluster.state_metrics_targets:
        ok, _ = scrapes.of(ksm)
        exported = ksm.exported(pod.uid, slots) & (running > 0)
        shares += scrapes.sampled(running, ksm, exported)
        counts += np.bincount(slot_hour, weights=(ok & exported).astype(float), minlength=hours)
        union |= ok & exported
    overlap = np.bincount(slot_hour, weights=union.astype(float), minlength=hours)
    return np.divide(shares * overlap, counts, out=np.zeros(hours), where=counts > 0)


def _sampling_band(
    cluster: Cluster, pod: Pod, running: FloatArray, scrapes: _Scrapes, low: dict[_Who, dict[str, float]],
    high: dict[_Who, dict[str, float]],
) -> None:  # fmt: skip
    """Where a pod starts, stops or restarts in an hour with failed scrapes (or an outage), its samples show only
    part of that hour: an estimator that averages what was scraped can be held to the band between the truth and
    that average, not to the truth. Requests: each exporter's running samples over its scrapes, scaled by how many
    exporters had the pod at once (shards hand over, replicas double); memory: the container's samples."""
    per_hour = scrapes.per_hour
    hours = math.ceil(cluster.slots / per_hour)
    step_hours = cluster.step_seconds / SECONDS_PER_HOUR
    slot_hour = np.arange(cluster.slots) // per_hour
    true_running = np.bincount(slot_hour, weights=running, minlength=hours) * step_hours
    alive = [c.alive(cluster.slots) for c in pod.containers]
    partial = (true_running > 0) & (true_running < 1 - 1e-9)
    for mask in alive:
        alive_hours = np.bincount(slot_hour, weights=mask, minlength=hours) * step_hours
        partial |= (alive_hours > 0) & (alive_hours < 1 - 1e-9)
    if not partial.any():
        return
    sampled_running = _sampled_running(cluster, pod, running, scrapes)
    kubelet = cluster.kubelet_targets[pod.node.name]
    for hour in np.flatnonzero(partial):
        key = (pod.namespace, pod.uid, cluster.start + timedelta(hours=int(hour)))
        moves_low, moves_high = low.setdefault(key, {}), high.setdefault(key, {})
        t_run, s_run = float(true_running[hour]), float(sampled_running[hour])
        for resource, divisor, name in (("cpu", 1.0, "cpu_core_hours"), ("memory", BYTES_PER_GIB, "memory_gib_hours")):
            own = 0.0
            for container, mask in zip(pod.containers, alive, strict=True):
                if container.kind == "init":
                    continue
                amount = ((container.cpu_request_cores if resource == "cpu" else container.memory_request_bytes)
                          or 0.0) / divisor  # fmt: skip
                own += amount
                rate = container.cpu_cores if resource == "cpu" else container.memory_bytes / BYTES_PER_GIB
                exact_usage = float(np.sum((rate * mask)[slot_hour == hour])) * step_hours
                usage_lo = usage_hi = exact_usage
                if resource == "memory":  # a gauge, averaged over the scrapes; CPU is a counter
                    usage_lo, usage_hi = _widen(moves_low, moves_high, f"{name}_usage", exact_usage,
                                                [float(scrapes.sampled(rate * mask, kubelet)[hour])])  # fmt: skip
                request_lo, request_hi = _widen(moves_low, moves_high, f"{name}_request", amount * t_run,
                                                [amount * s_run])  # fmt: skip
                exact_max = max(exact_usage, amount * t_run)
                moves_low[f"{name}_max"] = moves_low.get(f"{name}_max", 0.0) + max(usage_lo, request_lo) - exact_max
                moves_high[f"{name}_max"] = moves_high.get(f"{name}_max", 0.0) + max(usage_hi, request_hi) - exact_max
            reserved = pod.effective_request(resource) / divisor - own
            if reserved:
                lo, hi = _widen(moves_low, moves_high, f"{name}_request", reserved * t_run, [reserved * s_run])
                moves_low[f"{name}_max"] = moves_low.get(f"{name}_max", 0.0) + lo - reserved * t_run
                moves_high[f"{name}_max"] = moves_high.get(f"{name}_max", 0.0) + hi - reserved * t_run


def _exact_run(
    cluster: Cluster, pod: Pod, on_node: dict[str, FloatArray], off_node: dict[str, FloatArray], scrapes: _Scrapes,
    low: dict[_Who, dict[str, float]], high: dict[_Who, dict[str, float]],
) -> None:  # fmt: skip
    """The truth of a run between scrapes (within one hour: constant rates, exact seconds), and the band its samples
    allow, as moves of the band's edges away from the truth:

    - requests and gauges (memory): a sampling estimator sees the run in n scrapes of its exporter, i.e. for n/s of
      the hour (s: the exporter's successful scrapes that hour); the band spans the truth and every exporter's n/s;
    - counters (CPU, network), which start at zero with the container: the last sample shows everything used up to
      it, and the run ended before the next successful scrape: [rate × (last − start), rate × (next − start)];
      a run no scrape saw is [0, truth];
    - charged (max of usage and request): max of the usage and request edges."""
    assert pod.exact_seconds is not None
    begin, end = pod.exact_seconds
    hour = int(begin // SECONDS_PER_HOUR)
    assert hour == int((end - 1e-9) // SECONDS_PER_HOUR), "a run between scrapes stays within one hour"
    key = (pod.namespace, pod.uid, cluster.start + timedelta(hours=hour))

    def seen(target: ScrapeTarget, exported: npt.NDArray[np.bool_] | None = None) -> tuple[FloatArray, float]:
        """Relative times of the target's successful scrapes that saw the run, and what the estimator divides by."""
        ok, divisor = scrapes.of(target)
        times = scrapes.times(target)
        during = ok & (times >= begin) & (times < end)
        if exported is not None:
            during &= exported
        return times[during], float(divisor[hour])

    def counter_band(target: ScrapeTarget) -> tuple[float, float]:
        """Seconds of the run the samples prove, and at most."""
        ok, _ = scrapes.of(target)
        times = scrapes.times(target)
        during = times[ok & (times >= begin) & (times < end)]
        if len(during) == 0:
            return 0.0, end - begin
        after = times[ok & (times >= end)]
        following = float(after[0]) if len(after) else end
        return float(during[-1]) - begin, following - begin

    duration = end - begin
    kubelet = cluster.kubelet_targets[pod.node.name]
    samples, successes = seen(kubelet)
    gauge_share = len(samples) / successes if successes else 0.0
    proven, at_most = counter_band(kubelet)
    shares: list[float] = []
    slots = np.arange(cluster.slots, dtype=np.int64)
    for ksm in cluster.state_metrics_targets:
        running, ksm_successes = seen(ksm, ksm.exported(pod.uid, slots))
        if len(running) and ksm_successes:
            shares.append(len(running) / ksm_successes)
    shares = shares or [0.0]
    moves_low, moves_high = low.setdefault(key, {}), high.setdefault(key, {})

    def move(quantity: str, exact: float, candidates: list[float]) -> tuple[float, float]:
        return _widen(moves_low, moves_high, quantity, exact, candidates)

    hour_share = duration / SECONDS_PER_HOUR
    for container in pod.containers:
        cores = float(container.cpu_cores[pod.running_slot or 0])
        memory_gib = float(container.memory_bytes[pod.running_slot or 0]) / BYTES_PER_GIB
        request_cores = container.cpu_request_cores or 0.0
        request_gib = (container.memory_request_bytes or 0.0) / BYTES_PER_GIB
        for name, usage_rate, request_rate, usage_band in (
            ("cpu_core_hours", cores, request_cores, [cores * proven / SECONDS_PER_HOUR,
                                                      cores * at_most / SECONDS_PER_HOUR]),
            ("memory_gib_hours", memory_gib, request_gib, [memory_gib * gauge_share]),
        ):  # fmt: skip
            usage, request = usage_rate * hour_share, request_rate * hour_share
            for quantity, amount in ((f"{name}_usage", usage), (f"{name}_request", request),
                                     (f"{name}_max", max(usage, request))):  # fmt: skip
                on_node[quantity][hour] += amount
            usage_lo, usage_hi = move(f"{name}_usage", usage, usage_band)
            request_lo, request_hi = move(f"{name}_request", request, [request_rate * share for share in shares])
            move(f"{name}_max", max(usage, request), [max(usage_lo, request_lo), max(usage_hi, request_hi)])
    if pod.network_bytes_per_second is not None and not pod.host_network:
        rate_gib = float(pod.network_bytes_per_second[pod.running_slot or 0]) / BYTES_PER_GIB
        network = rate_gib * duration
        off_node["network_gib"][hour] += network
        move("network_gib", network, [rate_gib * proven, rate_gib * at_most])


# --------------------------------------------------------------------------------------------- building


class _Ids:
    def __init__(self, rng: Random) -> None:
        self.rng = rng

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def container_id(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"


def _curve(rng: Random, slots: int, step_seconds: int, mean: float, swing: float) -> FloatArray:
    """A daily cycle with noise around `mean`, never negative."""
    np_rng = np.random.default_rng(rng.getrandbits(32))
    t = np.arange(slots) * step_seconds
    phase = rng.uniform(0, 2 * math.pi)
    curve = mean * (1 + swing * np.sin(2 * math.pi * t / 86400 + phase))
    noise = np_rng.normal(1.0, 0.08, slots)
    return np.clip(curve * noise, 0.0, None).astype(np.float64)


@dataclass(frozen=True)
class Size:
    """How big a cluster to build; the default is the test cluster (small enough for a 60 s step)."""

    extra_namespaces: int = 0  # plain namespaces beyond the designed 24
    pods_per_namespace: int = 3
    nodes: int = 4
    gpu_nodes: int = 2  # a GPU node pool (g5.12xlarge, dcgm-exporter) with training pods on it
    autoscaled_node: bool = True  # a spot node that joins and leaves mid-period, with pods of its own
    seasonal: bool = False  # the `shop` team: weekly patterns, a slow ramp and injected anomalies (`SEASONAL`)
    short_lived: bool = True  # `batch-hourly`: runs shorter than an hour that start and end between scrapes
    dcgm_job: str = "nvidia-dcgm-exporter"  # the GPU operator names it so; dcgm-exporter's own chart `dcgm-exporter`
    shared_namespace: bool = True  # `apps`: teams told apart by a `team` pod label (one pod relabelled mid-hour)
    rightsizing: bool = True  # `platform-portal`: Deployments of known usage shapes and an autoscaler (`rightsizing`)


# Instance type, capacity type, capacity label and zone of the i-th general-purpose node.
NODE_LAYOUT = (
    (M5_8XLARGE, "on-demand", "eks", "us-east-1a"),
    (M5_12XLARGE, "on-demand", "karpenter", "us-east-1b"),
    (M5_8XLARGE, "spot", "karpenter", "us-east-1a"),
    (R5_8XLARGE, "on-demand", "eks", "us-east-1b"),
)


def build_cluster(start: datetime, days: float, step_seconds: int = 60, seed: int = 7, size: Size = Size()) -> Cluster:
    """The designed test cluster: 24+ namespaces, 7 teams, every trap in the module docstring."""
    rng = Random(seed)
    ids = _Ids(rng)
    slots = int(days * 86400) // step_seconds
    slots_per_hour = SECONDS_PER_HOUR // step_seconds
    mid = slots // 2
    nodes = [
        Node(f"node-{i}", "docker" if i % 2 == 0 else "containerd", f"10.0.0.{10 + i}", 40e6 + 5e6 * i,
             instance=NODE_LAYOUT[i % 4][0], capacity_type=NODE_LAYOUT[i % 4][1],
             capacity_label=NODE_LAYOUT[i % 4][2], zone=NODE_LAYOUT[i % 4][3], uid=f"node-uid-{i}")
        for i in range(size.nodes)
    ]  # fmt: skip

    def ns(name: str, owner: str, labels: dict[str, str] | None = None, created: int = 0) -> Namespace:
        base = {"kubernetes.io/metadata.name": name, **(labels or {})}
        return Namespace(name, created, [(created, base)], [(0, owner)])

    namespaces = [
        # payments: exact names
        ns("payments-api", "payments", {"env": "prod"}),
        ns("payments-db", "payments", {"env": "prod"}),
        ns("payments-batch", "payments"),
        # search: glob "search-*"
        ns("search-indexer", "search"),
        ns("search-frontend", "search"),
        ns("search-crawler", "search"),
        # data: selector matchLabels kubecharge.io/team=data (priority 10, wins the shared-analytics overlap)
        ns("warehouse", "data", {"kubecharge.io/team": "data"}),
        ns("etl", "data", {"kubecharge.io/team": "data", "tier": "batch"}),
        ns("shared-analytics", "data", {"kubecharge.io/team": "data"}),
        # web: exact names plus glob "shared-*" at priority 0 (loses shared-analytics to data)
        ns("web-frontend", "web"),
        ns("web-backend", "web"),
        ns("shared-cdn", "web"),
        # ml: selector matchExpressions team In (ml, ml-research)
        ns("ml-training", "ml", {"kubecharge.io/team": "ml"}),
        ns("ml-serving", "ml", {"kubecharge.io/team": "ml-research"}),
        # platform: glob "platform-*" plus exact "monitoring"; exact beats web's glob "*-gateway" on a tie
        ns("platform-ingress", "platform"),
        ns("platform-dns", "platform"),
        ns("monitoring", "platform"),
        ns("edge-gateway", "platform"),
        # identity: exact names
        ns("identity", "identity"),
        ns("identity-sso", "identity"),
        # nobody's
        ns("default", "unallocated"),
        ns("legacy-batch", "unallocated"),
        ns("sandbox-alice", "unallocated", {"tier": "batch"}),
    ]
    # Relabelled mid-period: ml until `mid`, then data.
    relabelled = Namespace(
        "ml-sandbox",
        0,
        [
            (0, {"kubernetes.io/metadata.name": "ml-sandbox", "kubecharge.io/team": "ml"}),
            (mid, {"kubernetes.io/metadata.name": "ml-sandbox", "kubecharge.io/team": "data"}),
        ],
        [(0, "ml"), (mid, "data")],
    )
    # Created a third of the way in, claimed by the data selector from then on.
    created_late_slot = (slots // 3) // slots_per_hour * slots_per_hour
    late = ns("data-lake", "data", {"kubecharge.io/team": "data"}, created=created_late_slot)
    namespaces += [relabelled, late]
    namespaces += [ns(f"tenant-{i:03d}", "unallocated") for i in range(size.extra_namespaces)]

    pods: list[Pod] = []
    pvcs: list[PersistentVolumeClaim] = []

    def container(
        name: str,
        cpu_req: float | None,
        mem_req_mib: float | None,
        cpu_mean: float,
        mem_mean_mib: float,
        start: int,
        end: int,
        restarts: int = 0,
    ) -> Container:
        c = Container(
            name=name,
            image=f"registry.example.com/{name}:1.{rng.randint(0, 9)}",
            cpu_request_cores=cpu_req,
            memory_request_bytes=mem_req_mib * MIB if mem_req_mib is not None else None,
            cpu_cores=_curve(rng, slots, step_seconds, cpu_mean, 0.4),
            memory_bytes=_curve(rng, slots, step_seconds, mem_mean_mib * MIB, 0.15),
        )
        bounds = sorted(rng.randint(start + 1, end - 1) for _ in range(restarts)) if end - start > 2 else []
        edges = [start, *bounds, end]
        c.incarnations = [Incarnation(ids.container_id(), a, b) for a, b in itertools.pairwise(edges) if b > a]
        return c

    def pod(
        namespace: Namespace,
        name: str,
        *,
        created: int | None = None,
        pending_slots: int = 2,
        finished: int | None = None,
        phase: str = "Succeeded",
        linger: int | None = None,
        never_runs: bool = False,
        host_network: bool = False,
        containers: int | None = None,
        restarts: int = 0,
        burst: bool | None = None,
    ) -> Pod:
        created = namespace.created_slot if created is None else created
        running = None if never_runs else created + pending_slots
        end_of_life = finished if finished is not None else slots
        deleted = min(slots, end_of_life + linger) if (finished is not None and linger is not None) else slots
        node = rng.choice(nodes)
        count = containers if containers is not None else rng.choice([1, 1, 2])
        cs = []
        for i in range(count):
            cpu_req = rng.choice([0.1, 0.25, 0.5, 1.0])
            mem_req = rng.choice([128.0, 256.0, 512.0, 1024.0])
            bursty = rng.random() < 0.4 if burst is None else burst
            cpu_mean = cpu_req * (rng.uniform(1.2, 2.0) if bursty else rng.uniform(0.15, 0.8))
            mem_mean = mem_req * (rng.uniform(1.1, 1.6) if bursty else rng.uniform(0.3, 0.9))
            no_requests = rng.random() < 0.1
            cs.append(
                container(
                    "app" if i == 0 else f"sidecar-{i}",
                    None if no_requests else cpu_req,
                    None if no_requests else mem_req,
                    cpu_mean,
                    mem_mean,
                    running if running is not None else slots,
                    end_of_life if running is not None else slots,
                    restarts,
                )
            )
        qos = "besteffort" if all(c.cpu_request_cores is None for c in cs) else "burstable"
        p = Pod(
            namespace=namespace.name,
            name=name,
            uid=ids.uid(),
            node=node,
            qos=qos,
            created_slot=created,
            running_slot=running,
            finished_slot=finished,
            finished_phase=phase,
            deleted_slot=deleted,
            containers=cs,
            host_network=host_network,
            network_interfaces=("eth0", "net1") if rng.random() < 0.15 else ("eth0",),
            network_bytes_per_second=_curve(rng, slots, step_seconds, rng.uniform(2e4, 5e5), 0.5),
            sandbox_id=ids.container_id(),
        )
        if never_runs:
            p.network_bytes_per_second = None
        pods.append(p)
        return p

    by_name = {n.name: n for n in namespaces}
    for namespace in namespaces:
        for i in range(size.pods_per_namespace):
            suffix = f"{rng.getrandbits(20):05x}"
            pod(namespace, f"{namespace.name.split('-')[0]}-{i}-{suffix}")
        if rng.random() < 0.5:
            pvcs.append(
                PersistentVolumeClaim(
                    namespace.name,
                    f"data-{namespace.name}",
                    rng.choice([1, 5, 10, 50]) * BYTES_PER_GIB,
                    namespace.created_slot,
                    slots,
                )
            )

    # --- the traps, placed on purpose -------------------------------------------------------------------
    third = slots // 3
    # A StatefulSet pod recreated under the same name with a new uid; old and new share an hour.
    old = pod(by_name["payments-db"], "postgres-0", finished=third + 20, phase="Failed", linger=5, containers=1)
    new = pod(by_name["payments-db"], "postgres-0", created=third + 25, containers=1)
    assert old.uid != new.uid
    # Jobs: Succeeded and lingering for an hour; a Failed one lingering for two.
    pod(by_name["etl"], "nightly-load-28791440", created=third, finished=third + 95, linger=slots_per_hour, restarts=1)
    pod(
        by_name["legacy-batch"],
        "report-28791500",
        created=mid,
        finished=mid + 40,
        phase="Failed",
        linger=2 * slots_per_hour,
    )
    # Pending forever (unschedulable) and a long Pending before Running.
    pod(by_name["ml-training"], "trainer-gpu-0", never_runs=True, containers=1)
    pod(by_name["ml-serving"], "model-server-0", pending_slots=3 * slots_per_hour + 17)
    # A pod that lives 25 minutes in the middle of an hour.
    pod(by_name["search-crawler"], "crawl-once", created=mid + 13, pending_slots=1, finished=mid + 38, linger=2)
    # Crash-looping containers: several restarts, new cgroup ids.
    pod(by_name["web-backend"], "api-crashloop", restarts=4, burst=True)
    # hostNetwork pods (node-exporter-like): their network counters are the node's.
    for node in nodes:
        hn = pod(by_name["monitoring"], f"node-exporter-{node.name}", host_network=True, containers=1)
        hn.node = node
    # An in-place CPU counter reset on a long-running container.
    long_runner = pod(by_name["warehouse"], "warehouse-compactor", containers=1)
    long_runner.containers[0].counter_reset_slot = mid + 7
    # A PVC deleted half-way and one created late.
    pvcs.append(PersistentVolumeClaim("search-indexer", "index-scratch", 20 * BYTES_PER_GIB, 0, mid))
    pvcs.append(PersistentVolumeClaim("data-lake", "lake-0", 100 * BYTES_PER_GIB, created_late_slot + 30, slots))
    # The StatefulSet's volume, mounted by postgres-0 and, once it is recreated, by the new postgres-0.
    pvcs.append(PersistentVolumeClaim("payments-db", "pgdata-postgres-0", 8 * BYTES_PER_GIB, 0, slots))

    # --- scrape targets ----------------------------------------------------------------------------------
    def failures(count: int) -> frozenset[int]:
        return frozenset(rng.randrange(slots) for _ in range(count))

    ksm_common = {"endpoint": "https-main", "service": "kube-state-metrics", "job": "kube-state-metrics"}
    state_metrics = [
        ScrapeTarget(
            "kube-state-metrics",
            "10.1.0.5:8443",
            {
                **ksm_common,
                "instance": "10.1.0.5:8443",
                "container": "kube-rbac-proxy-main",
                "pod": "kube-state-metrics-6c9d8f7b5-x2x7q",
                "namespace": "monitoring",
            },
            failures(max(3, slots // 400)),
        ),
        # A second replica exporting the same series for the middle third (an HA pair or a rollout).
        ScrapeTarget(
            "kube-state-metrics",
            "10.1.0.9:8443",
            {
                **ksm_common,
                "instance": "10.1.0.9:8443",
                "container": "kube-rbac-proxy-main",
                "pod": "kube-state-metrics-6c9d8f7b5-k8p2m",
                "namespace": "monitoring",
            },
            failures(2),
            first_slot=third,
            last_slot=2 * third,
        ),
    ]
    kubelets = {
        node.name: ScrapeTarget(
            "kubelet",
            node.kubelet_instance,
            {
                "job": "kubelet",
                "instance": node.kubelet_instance,
                "endpoint": "https-metrics",
                "service": "kubelet",
                "node": node.name,
                "metrics_path": "/metrics/cadvisor",
            },
            failures(max(3, slots // 500)),
        )
        for node in nodes
    }
    # kube-prometheus-stack with `kubelet.serviceMonitor.resource=true` also scrapes the kubelet's /metrics/resource:
    # the same instance and job, copies of container CPU and memory without `id` (draws of their own, so the
    # draws above stay as they were).
    resource_rng = Random(seed * 7919 + 13)
    resources = {
        node.name: ScrapeTarget(
            "kubelet",
            node.kubelet_instance,
            {**kubelets[node.name].labels, "metrics_path": "/metrics/resource"},
            frozenset(resource_rng.randrange(slots) for _ in range(max(3, slots // 500))),
        )
        for node in nodes
    }
    outage_start = rng.randrange(slots // 4, 3 * slots // 4)
    prometheus_down = frozenset(range(outage_start, outage_start + max(2, 600 // step_seconds)))

    # --- traps drawn from their own generator, so the draws above (and the cluster they make) stay as they were
    traps = Random(seed * 104729 + 3)
    trap_ids = _Ids(traps)

    def extra(name: str, kind: str, cpu: float, memory_mib: float, start: int, end: int) -> Container:
        cores = _curve(traps, slots, step_seconds, cpu * traps.uniform(0.3, 0.9), 0.3)
        return Container(name, f"registry.example.com/{name}:2.{traps.randint(0, 9)}", cpu, memory_mib * MIB, cores,
                         _curve(traps, slots, step_seconds, memory_mib * MIB * 0.6, 0.1),
                         [Incarnation(trap_ids.container_id(), start, end)], kind=kind)  # fmt: skip

    for candidate in list(pods):
        if candidate.running_slot is None or candidate.running_slot <= candidate.created_slot:
            continue
        end_of_life = candidate.finished_slot if candidate.finished_slot is not None else slots
        draw = traps.random()
        if draw < 0.3:  # an init container (migrations, config fetch) larger than the app containers
            cpu, memory = traps.choice([1.0, 2.0]), traps.choice([1024.0, 2048.0])
            candidate.containers.append(
                extra("init-migrate", "init", cpu, memory, candidate.created_slot, candidate.running_slot)
            )
        if 0.2 < draw < 0.45:  # a native sidecar: a restartable init container, running as long as the app
            sidecar = extra("istio-proxy", "sidecar", 0.1, 128.0, candidate.running_slot, end_of_life)
            candidate.containers.append(sidecar)
    for candidate in pods:
        if candidate.namespace == "ml-serving":  # a sandboxed RuntimeClass (Kata) with a pod overhead
            candidate.overhead_cpu_cores, candidate.overhead_memory_bytes = 0.25, 160 * MIB
    # Static pods (the control plane): hostNetwork, mirror pods with an API uid of their own, while the cgroup
    # path carries the kubelet's config hash (32 hex digits, no dashes).
    kube_system = ns("kube-system", "platform")
    namespaces.append(kube_system)
    for node in nodes[:2]:
        for component, cpu, memory_mib in (("kube-apiserver", 0.25, 512.0), ("etcd", 0.1, 100.0)):
            static = Pod("kube-system", f"{component}-{node.name}", trap_ids.uid(), node, "burstable", 0, 0, None,
                         "Succeeded", slots, [], host_network=True, sandbox_id=trap_ids.container_id(),
                         cgroup_uid=f"{traps.getrandbits(128):032x}")  # fmt: skip
            app = extra(component, "app", cpu, memory_mib, 0, slots)
            app.cpu_cores = _curve(traps, slots, step_seconds, cpu * 1.3, 0.3)
            static.containers.append(app)
            static.network_bytes_per_second = _curve(traps, slots, step_seconds, 1e5, 0.5)
            pods.append(static)
    if len(nodes) >= 3:
        nodes[-1].cgroup_id_dropped = True
    # kube-state-metrics with automated sharding: two shards, scaled to three in the middle of an hour in the last
    # third. The running shards follow the new count without a restart, so a third of the objects move between
    # two shards that both run all hour, and another third to the new shard.
    reshard = (2 * third // slots_per_hour) * slots_per_hour + slots_per_hour // 2 + 1
    totals = ((0, 2), (reshard, 3))
    state_metrics[0].shard_totals = totals
    for shard in (1, 2):
        instance = f"10.1.0.{5 + shard}:8443"
        state_metrics.append(
            ScrapeTarget(
                "kube-state-metrics",
                instance,
                {**state_metrics[0].labels, "instance": instance, "pod": f"kube-state-metrics-{shard}"},
                frozenset(traps.randrange(slots) for _ in range(2)),
                first_slot=0 if shard == 1 else min(reshard, slots),
                shard=shard,
                shard_totals=totals,
            )
        )
    # A second Prometheus replica whose copies a querier without dedup shows side by side, for a quarter of the time.
    replicas = [Replica("prometheus_replica", "prometheus-k8s-1", slots // 6, slots // 6 + slots // 4)]

    mappings: list[dict[str, object]] = [
        _mapping(
            "payments",
            "payments",
            namespaces=["payments-api", "payments-db", "payments-batch"],
            cost_center="CC-1001",
            budget=500,
        ),
        _mapping("search", "search", patterns=["search-*"], cost_center="CC-1002"),
        _mapping(
            "data", "data", selector={"matchLabels": {"kubecharge.io/team": "data"}}, priority=10, cost_center="CC-1003"
        ),
        _mapping(
            "web",
            "web",
            namespaces=["web-frontend", "web-backend"],
            patterns=["shared-*", "*-gateway"],
            cost_center="CC-1004",
        ),
        _mapping(
            "ml",
            "ml",
            selector={
                "matchExpressions": [{"key": "kubecharge.io/team", "operator": "In", "values": ["ml", "ml-research"]}]
            },
            cost_center="CC-1005",
        ),
        _mapping(
            "platform",
            "platform",
            namespaces=["monitoring", "edge-gateway", "kube-system"],
            patterns=["platform-*"],
            cost_center="CC-1000",
        ),
        _mapping("identity", "identity", namespaces=["identity", "identity-sso"], cost_center="CC-1006"),
    ]
    # --- node pools added last, with draws of their own (the cluster above stays as it was) ----------------------
    pools = Random(seed * 7727 + 5)
    pool_ids = _Ids(pools)
    dcgm: dict[str, ScrapeTarget] = {}

    def kubelet_targets_for(node: Node) -> None:
        labels = {**kubelets[nodes[0].name].labels, "instance": node.kubelet_instance, "node": node.name}
        last = node.left_slot
        kubelets[node.name] = ScrapeTarget(
            "kubelet",
            node.kubelet_instance,
            labels,
            frozenset(pools.randrange(slots) for _ in range(2)),
            node.joined_slot,
            last,
        )
        resources[node.name] = ScrapeTarget("kubelet", node.kubelet_instance,
                                            {**labels, "metrics_path": "/metrics/resource"}, frozenset(),
                                            node.joined_slot, last)  # fmt: skip

    def workload(namespace: Namespace, name: str, node: Node, cpu: float, memory_gib: float, start: int, end: int,
                 gpus: int = 0, utilization: float = 0.0) -> Pod:  # fmt: skip
        """A pod of one app container pinned to `node`, running from `start` to `end` (then Succeeded)."""
        app = Container(name.split("-")[0], f"registry.example.com/{name.split('-')[0]}:3.{pools.randint(0, 9)}",
                        cpu, memory_gib * BYTES_PER_GIB, _curve(pools, slots, step_seconds, cpu * 0.7, 0.3),
                        _curve(pools, slots, step_seconds, memory_gib * BYTES_PER_GIB * 0.6, 0.1),
                        [Incarnation(pool_ids.container_id(), start, end)], gpus=gpus)  # fmt: skip
        if gpus:
            app.gpu_utilization = np.clip(_curve(pools, slots, step_seconds, utilization, 0.2), 0.0, 100.0)
        finished = end if end < slots else None
        p = Pod(namespace.name, name, pool_ids.uid(), node, "burstable", start - 2, start, finished, "Succeeded",
                min(slots, end + 1) if finished is not None else slots, [app], sandbox_id=pool_ids.container_id(),
                network_bytes_per_second=_curve(pools, slots, step_seconds, 2e5, 0.5))  # fmt: skip
        pods.append(p)
        return p

    if size.autoscaled_node:  # a Karpenter spot node that joins and leaves in the middle of hours
        joined = (2 * slots // 5) // slots_per_hour * slots_per_hour + slots_per_hour // 3
        left = (3 * slots // 5) // slots_per_hour * slots_per_hour + 2 * slots_per_hour // 3
        # Its edges stay out of the hour Prometheus was down in: each trap on its own (an outage right after pods
        # stop is extrapolated over as if they ran on, a limit of the outage trap, not of autoscaling).
        outage_hours = {slot // slots_per_hour for slot in prometheus_down}
        while {joined // slots_per_hour, left // slots_per_hour} & outage_hours and joined > slots_per_hour:
            joined, left = joined - slots_per_hour, left - slots_per_hour
        burst = Node("node-burst", "containerd", "10.0.0.50", 30e6, instance=C5_4XLARGE, capacity_type="spot",
                     capacity_label="eks", zone="us-east-1b", uid="node-uid-burst", joined_slot=joined,
                     left_slot=left)  # fmt: skip
        nodes.append(burst)
        kubelet_targets_for(burst)
        for i in range(3):
            workload(by_name["search-crawler"], f"crawler-burst-{i}", burst, 2.0, 4.0, joined + 2 + i, left - 3)
    for g in range(size.gpu_nodes):
        gpu_node = Node(f"gpu-{g}", "containerd", f"10.0.2.{10 + g}", 60e6, instance=G5_12XLARGE, zone="us-east-1a",
                        uid=f"node-uid-gpu-{g}", dcgm_relabelled=g % 2 == 0,
                        gpu_uuids=tuple(f"GPU-{pool_ids.uid()}" for _ in range(G5_12XLARGE.gpus)))  # fmt: skip
        nodes.append(gpu_node)
        kubelet_targets_for(gpu_node)
        instance = f"{gpu_node.ip}:9400"
        dcgm[gpu_node.name] = ScrapeTarget(
            size.dcgm_job, instance,
            {"job": size.dcgm_job, "instance": instance, "namespace": "gpu-operator",
             "pod": f"{size.dcgm_job}-{gpu_node.name}", "container": size.dcgm_job,
             "service": size.dcgm_job, "endpoint": "gpu-metrics"},
            frozenset(pools.randrange(slots) for _ in range(2)),
        )  # fmt: skip
        trainers = ((2, 70.0, 0, slots), (1, 40.0, slots // 4, 3 * slots // 4)) if g % 2 == 0 else \
            ((4, 85.0, 0, slots),)  # fmt: skip
        used = 0
        for t, (count, utilization, first, last) in enumerate(trainers):
            trainer = workload(
                by_name["ml-training"],
                f"trainer-{g}{t}-{pools.getrandbits(16):04x}",
                gpu_node,
                4.0 * count,
                16.0 * count,
                max(first, 2),
                last,
                gpus=count,
                utilization=utilization,
            )
            trainer.gpu_uuids = gpu_node.gpu_uuids[used : used + count]
            used += count

    if size.shared_namespace:
        # One namespace, teams told apart by a `team` pod label: web's label claims web's pods there (tying with the
        # namespace's own mapping, and winning it as a pod rule), search's anywhere; an unlabelled pod stays the
        # namespace's team's, and one pod moves from web to search in the middle of an hour.
        apps = ns("apps", "platform")
        namespaces.append(apps)
        labelled = Random(seed * 8191 + 29)
        relabel = mid + slots_per_hour // 2 + 1
        # apps-web-1 is rolled out a third of the way in, in the middle of an hour: its new pod (a new template, so
        # a new ReplicaSet of the same Deployment) starts as the old one stops.
        rollout = slots // 3 + slots_per_hour // 2 + 3
        for name, timeline, first, last, template in (
            ("apps-web-0", [(0, "web")], 2, slots, ""), ("apps-web-1", [(0, "web")], 2, rollout, ""),
            ("apps-web-2", [(0, "web")], rollout, slots, "v2"), ("apps-search-0", [(0, "search")], 2, slots, ""),
            ("apps-tools-0", [], 2, slots, ""), ("apps-mover-0", [(0, "web"), (relabel, "search")], 2, slots, ""),
        ):  # fmt: skip
            shared = workload(apps, name, labelled.choice(nodes[: size.nodes]), 0.5, 1.0, first, last)
            shared.labels = [(slot, {"team": team, "app.kubernetes.io/name": name.rsplit("-", 1)[0]})
                             for slot, team in timeline] or [(0, {"app.kubernetes.io/name": "apps-tools"})]  # fmt: skip
            shared.teams, shared.template = list(timeline), template
        mappings.append(_mapping("apps", "platform", namespaces=["apps"]))
        mappings.append(
            _mapping("web-apps-pods", "web", namespaces=["apps"], pod_selector={"matchLabels": {"team": "web"}})
        )
        mappings.append(_mapping("search-labelled-pods", "search",
                                 pod_selector={"matchExpressions": [{"key": "team", "operator": "In",
                                                                     "values": ["search"]}]}))  # fmt: skip

    if size.short_lived:
        batch = ns("batch-hourly", "data", {"kubecharge.io/team": "data", "tier": "batch"})
        namespaces.append(batch)
        _short_lived_runs(batch, nodes[: size.nodes], slots, step_seconds, Random(seed * 3301 + 17), pods)

    anomalies: list[InjectedAnomaly] = []
    if size.seasonal:
        shop = [ns(name, "shop") for name in SEASONAL]
        namespaces.extend(shop)
        anomalies = _seasonal_workloads(shop, nodes, start, slots, step_seconds, Random(seed * 6007 + 11), pods)
        mappings.append(_mapping("shop", "shop", namespaces=list(SEASONAL), cost_center="CC-1007"))

    autoscalers: list[rightsizing.Autoscaler] = []
    if size.rightsizing:
        namespaces.append(ns(rightsizing.NAMESPACE, "platform"))
        autoscalers = _rightsizing_workloads(nodes[: size.nodes], slots, step_seconds, Random(seed * 9391 + 41), pods)

    jitter = min(2.0, step_seconds / 8)
    for target in [*state_metrics, *kubelets.values(), *resources.values(), *dcgm.values()]:
        # Prometheus scrapes each target at its own offset in the interval (from a hash of the target), so
        # samples never sit on hour boundaries, and each scrape lands a little early or late (jitter).
        margin = math.ceil(jitter) + 1
        target.offset_seconds = margin + zlib.crc32(target.key.encode()) % max(1, step_seconds - 2 * margin)
        target.jitter_seconds = jitter
    controllers = workloads.assign(pods, SEASONAL if size.seasonal else (), slots_per_hour, seed)
    workloads.mount_claims(pods, [(pvc.namespace, pvc.name) for pvc in pvcs])
    return Cluster(
        start, step_seconds, slots, nodes, namespaces, pods, pvcs, state_metrics, kubelets, resources, prometheus_down,
        mappings, replicas=replicas, dcgm_targets=dcgm, anomalies=anomalies, controllers=controllers,
        autoscalers=autoscalers,
    )  # fmt: skip


def _rightsizing_workloads(nodes: list[Node], slots: int, step_seconds: int, rng: Random,
                           pods: list[Pod]) -> list[rightsizing.Autoscaler]:  # fmt: skip
    """The Deployments of known usage shapes (`rightsizing`): a pod per replica, its container restarted where the
    design says."""
    ids = _Ids(rng)
    designed, autoscalers = rightsizing.designs(slots, step_seconds, rng)
    for design in designed:
        template = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))
        for replica in design.replicas:
            suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            edges = [replica.start_slot, *replica.restart_slots, replica.end_slot]
            runs = [Incarnation(ids.container_id(), a, b) for a, b in itertools.pairwise(edges) if b > a]
            app = Container("app", f"registry.example.com/{design.deployment}:4.{rng.randint(0, 9)}",
                            design.cpu_request_cores, design.memory_request_bytes, replica.cpu_cores,
                            replica.memory_bytes, runs)  # fmt: skip
            # a replica scaled away stops (its containers exit 0) and its pod is deleted a scrape later
            finished = replica.end_slot if replica.end_slot < slots else None
            pods.append(Pod(rightsizing.NAMESPACE, f"{design.deployment}-{template}-{suffix}", ids.uid(),
                            rng.choice(nodes), "burstable", replica.start_slot - 2, replica.start_slot, finished,
                            "Succeeded", min(slots, replica.end_slot + 1) if finished is not None else slots, [app],
                            sandbox_id=ids.container_id(),
                            network_bytes_per_second=_curve(rng, slots, step_seconds, 1e5, 0.5)))  # fmt: skip
    return autoscalers


# Runs of the short-lived namespace, each hour: (name, shortest and longest run in seconds, first start in the hour,
# every how many hours). The CronJob starts a few seconds after the fifth minute, as the controller fires it.
SHORT_RUNS = (
    ("cron", 585.0, 615.0, (303.0, 309.0), 1),
    ("blip", 30.0, 30.0, (60.0, 3480.0), 1),
    ("task", 120.0, 300.0, (60.0, 3240.0), 1),
    ("long", 2970.0, 3030.0, (60.0, 450.0), 3),
)


def _short_lived_runs(
    namespace: Namespace, nodes: list[Node], slots: int, step_seconds: int, rng: Random, pods: list[Pod]
) -> None:
    """Runs shorter than an hour at arbitrary offsets between scrapes, each inside one hour (a run's edges are at
    least a minute from the hour's), one container at a constant rate."""
    ids = _Ids(rng)
    for hour in range(slots * step_seconds // SECONDS_PER_HOUR):
        for name, shortest, longest, (first, last), every in SHORT_RUNS:
            if hour % every:
                continue
            duration = rng.uniform(shortest, longest)
            begin = hour * SECONDS_PER_HOUR + rng.uniform(first, min(last, SECONDS_PER_HOUR - 60 - duration))
            end = begin + duration
            running, finished = int(begin // step_seconds), math.ceil(end / step_seconds)
            request = rng.choice([0.25, 0.5, 1.0])
            memory = rng.choice([256.0, 512.0, 1024.0]) * MIB
            cores = np.full(slots, request * rng.uniform(0.3, 1.6))
            used = np.full(slots, memory * rng.uniform(0.4, 1.5))
            app = Container(name, f"registry.example.com/{name}:4.{rng.randint(0, 9)}", request, memory, cores, used,
                            [Incarnation(ids.container_id(), running, finished)])  # fmt: skip
            pod_name = f"{name}-{hour:05d}-{rng.getrandbits(20):05x}"
            pods.append(Pod(namespace.name, pod_name, ids.uid(), rng.choice(nodes), "burstable", max(0, running - 1),
                            running, finished, "Succeeded", min(slots, finished + 2), [app],
                            sandbox_id=ids.container_id(), exact_seconds=(begin, end),
                            network_bytes_per_second=np.full(slots, rng.uniform(2e4, 5e5))))  # fmt: skip


# The seasonal team's namespaces: (weekly pattern?, growth per day, injected anomalies as (day index, kind)).
# Anomalies fall on weekdays (one drawn on a weekend moves to the Monday) from the third week on, so each is
# judged against at least one earlier same weekday (a series is judged from its tenth day).
SEASONAL: dict[str, tuple[bool, float, tuple[tuple[int, str], ...]]] = {
    "shop-web": (True, 0.0, ()),  # only its weekly pattern: never anomalous
    "shop-api": (True, 0.0, ((16, "spike"), (36, "outage"))),
    "shop-batch": (False, 0.015, ()),  # a slow ramp (+1.5 % of its first day per day): never anomalous
    "shop-jobs": (True, 0.005, ((22, "outage"), (31, "spike"), (39, "spike"))),
}
ANOMALY_CYCLE_DAYS = 42  # a longer cluster has the same anomalies again every six weeks
WEEKDAY_FACTORS = (1.0, 1.05, 1.1, 1.05, 0.95, 0.5, 0.4)  # Monday .. Sunday: quiet weekends
SPIKE_FACTOR = 3.0


def _seasonal_workloads(
    namespaces: list[Namespace], nodes: list[Node], start: datetime, slots: int, step_seconds: int, rng: Random,
    pods: list[Pod],
) -> list[InjectedAnomaly]:  # fmt: skip
    """Two replicas per namespace whose usage (far above their small requests, so usage is what they cost)
    follows the namespace's weekly pattern and ramp; on a spike day it is three times that, on an outage day the
    namespace has no pod at all (the old pods end at midnight, new ones start the next midnight)."""
    ids = _Ids(rng)
    slots_per_day = 86400 // step_seconds
    first_day = (start - datetime(1970, 1, 1, tzinfo=start.tzinfo)).days
    day_of_slot = np.arange(slots) // slots_per_day
    weekday = (first_day + day_of_slot + 3) % 7  # 1970-01-01 was a Thursday
    days = max(1, math.ceil(slots / slots_per_day))
    injected = []
    for namespace in namespaces:
        weekly, growth, events = SEASONAL[namespace.name]
        factor = np.asarray(WEEKDAY_FACTORS)[weekday] if weekly else np.ones(slots)
        factor = factor * (1.0 + growth * day_of_slot)
        outages = []
        for day, kind in ((day + cycle, kind) for cycle in range(0, days, ANOMALY_CYCLE_DAYS) for day, kind in events):
            weekday_of = (first_day + day + 3) % 7
            day += 7 - weekday_of if weekday_of >= 5 else 0
            if day >= days:  # a shorter cluster has fewer of them
                continue
            injected.append(InjectedAnomaly(namespace.name, (start + timedelta(days=day)).date(), kind))
            if kind == "spike":
                factor = np.where(day_of_slot == day, factor * SPIKE_FACTOR, factor)
            else:
                outages.append(day)
        bounds = [0, *sorted({b for day in outages for b in (day * slots_per_day, (day + 1) * slots_per_day)}), slots]
        lives = [(a, b) for a, b in itertools.pairwise(bounds) if b > a and a // slots_per_day not in outages]
        for replica in range(2):
            cpu = _curve(rng, slots, step_seconds, 2.0, 0.3) * factor
            memory = _curve(rng, slots, step_seconds, 4.0 * BYTES_PER_GIB, 0.1) * factor
            for life, (first, last) in enumerate(lives):
                app = Container("app", f"registry.example.com/{namespace.name}:4.{rng.randint(0, 9)}", 0.05,
                                64 * MIB, cpu, memory, [Incarnation(ids.container_id(), first, last)])  # fmt: skip
                finished = last if last < slots else None
                pods.append(Pod(namespace.name, f"{namespace.name}-{replica}-{life}-{rng.getrandbits(20):05x}",
                                ids.uid(), nodes[replica % len(nodes)], "burstable", first, first, finished,
                                "Succeeded", last, [app], sandbox_id=ids.container_id(),
                                network_bytes_per_second=_curve(rng, slots, step_seconds, 1e5, 0.5)))  # fmt: skip
    return sorted(injected, key=lambda a: (a.day, a.namespace))


def _mapping(
    name: str,
    team: str,
    *,
    namespaces: list[str] | None = None,
    patterns: list[str] | None = None,
    selector: dict[str, object] | None = None,
    priority: int | None = None,
    cost_center: str | None = None,
    budget: float | None = None,
    pod_selector: dict[str, object] | None = None,
) -> dict[str, object]:
    spec: dict[str, object] = {"team": team, "displayName": team.title(), "owners": [f"{team}-lead@example.com"]}
    if namespaces:
        spec["namespaces"] = namespaces
    if patterns:
        spec["namespacePatterns"] = patterns
    if selector:
        spec["namespaceSelector"] = selector
    if pod_selector:
        spec["podSelector"] = pod_selector
    if priority is not None:
        spec["priority"] = priority
    if cost_center:
        spec["costCenter"] = cost_center
    if budget is not None:
        spec["budget"] = {"monthly": budget, "currency": "USD"}
    return {"apiVersion": "kubecharge.io/v1alpha1", "kind": "TeamMapping", "metadata": {"name": name}, "spec": spec}
