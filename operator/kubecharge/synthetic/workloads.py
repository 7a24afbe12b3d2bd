"""Who owns each synthetic pod — the series kube-state-metrics exports as `kube_pod_owner`, `kube_replicaset_owner`
and `kube_job_owner` — and the workload each pod-hour belongs to, worked out from the model alone.

Deployments (through ReplicaSets; the seasonal team's pods are a rollout: each life of a replica a new
ReplicaSet), StatefulSets, DaemonSets, CronJobs (through their Jobs), Jobs of their own, bare pods and static pods.
One ReplicaSet's owner series is missing for two whole hours while its pods run: there its pods are that
ReplicaSet's. One pod starts bare (`kubectl run` with its Deployment's labels) and is adopted by that Deployment's
ReplicaSet 25 minutes into an hour, as a ReplicaSet adopts every orphan its selector matches: that hour is the bare
pod's for the scrapes before and the Deployment's for those after. Owners are drawn from a generator of their own,
so adding them changes no other number of the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Protocol

NONE = "<none>"
MISSING_OWNER_HOURS = (3, 5)  # [first, last) hour of a ReplicaSet's life in which its owner series is missing
ADOPTED_AFTER = (2, 25 / 60)  # the adopted pod's whole hours, then the part of the next hour, before its adoption


@dataclass(frozen=True)
class OwnerRef:
    kind: str
    name: str


@dataclass
class Controller:
    """A ReplicaSet or a Job, alive over [created_slot, deleted_slot), with its own owner (None: `<none>`)."""

    namespace: str
    kind: str  # ReplicaSet | Job
    name: str
    owner: OwnerRef | None
    created_slot: int
    deleted_slot: int
    owner_missing_slots: tuple[int, int] | None = None  # kube-state-metrics exports no owner series in [a, b)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class Pod(Protocol):
    """What owners are drawn from, and set on: `model.Pod` (typed here so that this module needs not import it)."""

    owner: OwnerRef | None
    adopted: tuple[int, OwnerRef] | None

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def node(self) -> _Named: ...
    @property
    def cgroup_uid(self) -> str | None: ...
    @property
    def created_slot(self) -> int: ...
    @property
    def deleted_slot(self) -> int: ...
    @property
    def template(self) -> str: ...


class Cluster(Protocol):
    @property
    def step_seconds(self) -> int: ...
    @property
    def pods(self) -> Sequence[Pod]: ...
    @property
    def controllers(self) -> Sequence[Controller]: ...


_JOB_OF_CRONJOB = re.compile(r"(?P<cronjob>.+)-(?P<schedule>\d{8})")  # a CronJob's Job: <cronjob>-<minutes>
_SHORT_RUN = re.compile(r"(?P<kind>[a-z]+)-(?P<hour>\d{5})-[0-9a-f]{5}")  # the hourly short-lived runs
_INDEXED = re.compile(r"(?P<prefix>.+)-(?P<index>\d+)-[0-9a-f]{5}")  # <prefix>-<index>-<suffix>
SCHEDULED_RUNS = frozenset({"cron", "long"})  # short runs started by a CronJob; the others are Jobs of their own


def assign(pods: Iterable[Pod], seasonal: Iterable[str], slots_per_hour: int, seed: int) -> list[Controller]:
    """Set every pod's `owner` and return the ReplicaSets and Jobs between pods and their workloads."""
    rng = Random(seed * 3571 + 17)
    seasonal = set(seasonal)
    controllers: dict[tuple[str, str, str], Controller] = {}
    hashes: dict[tuple[str, str], str] = {}

    def through(pod: Pod, kind: str, name: str, owner: OwnerRef | None) -> OwnerRef:
        key = (pod.namespace, kind, name)
        found = controllers.get(key)
        if found is None:
            found = controllers[key] = Controller(pod.namespace, kind, name, owner, pod.created_slot,
                                                  pod.deleted_slot)  # fmt: skip
        found.created_slot = min(found.created_slot, pod.created_slot)
        found.deleted_slot = max(found.deleted_slot, pod.deleted_slot)
        return OwnerRef(kind, name)

    def replica_set(pod: Pod, deployment: str, generation: str = "") -> OwnerRef:
        template = hashes.setdefault((pod.namespace, deployment + generation), f"{rng.getrandbits(40):010x}")
        return through(pod, "ReplicaSet", f"{deployment}-{template}", OwnerRef("Deployment", deployment))

    for pod in pods:
        if pod.cgroup_uid is not None:  # a static pod: its mirror is owned by the node
            pod.owner = OwnerRef("Node", pod.node.name)
        elif pod.namespace in seasonal and (match := _INDEXED.fullmatch(pod.name)):
            # <namespace>-<replica>-<life>-<suffix>: each life is a rollout's new ReplicaSet
            pod.owner = replica_set(pod, pod.namespace, generation=f"-{match['index']}")
        elif pod.name == "postgres-0":
            pod.owner = OwnerRef("StatefulSet", "postgres")
        elif pod.name.startswith("node-exporter-"):
            pod.owner = OwnerRef("DaemonSet", "node-exporter")
        elif pod.name == "crawl-once":
            pod.owner = None  # `kubectl run`: a bare pod
        elif match := _JOB_OF_CRONJOB.fullmatch(pod.name):
            pod.owner = through(pod, "Job", pod.name, OwnerRef("CronJob", match["cronjob"]))
        elif match := _SHORT_RUN.fullmatch(pod.name):
            job = pod.name.rsplit("-", 1)[0]
            cronjob = OwnerRef("CronJob", match["kind"]) if match["kind"] in SCHEDULED_RUNS else None
            pod.owner = through(pod, "Job", job, cronjob)
        elif match := _INDEXED.fullmatch(pod.name):
            prefix, index = match["prefix"], int(match["index"])
            role = index % 5  # two of five run the namespace's Deployment, then a StatefulSet, a DaemonSet, a bare pod
            if role < 2:
                pod.owner = replica_set(pod, f"{prefix}-api")
            else:
                pod.owner = {2: OwnerRef("StatefulSet", f"{prefix}-db"), 3: OwnerRef("DaemonSet", f"{prefix}-agent"),
                             4: None}[role]  # fmt: skip
        else:  # its Deployment's ReplicaSet of the pod's template (a rollout: a new template, a new ReplicaSet)
            pod.owner = replica_set(pod, pod.name.split("-")[0], generation=pod.template)
    _adopt_one(pods, controllers, seasonal, slots_per_hour)
    found = sorted(controllers.values(), key=lambda c: (c.namespace, c.kind, c.name))
    first, last = MISSING_OWNER_HOURS
    lost = next((c for c in found if c.kind == "ReplicaSet" and c.owner is not None
                 and c.deleted_slot - c.created_slot > (last + 1) * slots_per_hour), None)  # fmt: skip
    if lost is not None:
        born = -(-lost.created_slot // slots_per_hour)  # its first whole hour
        lost.owner_missing_slots = ((born + first) * slots_per_hour, (born + last) * slots_per_hour)
    return found


def _adopt_one(pods: Iterable[Pod], controllers: dict[tuple[str, str, str], Controller], seasonal: set[str],
               slots_per_hour: int) -> None:  # fmt: skip
    """The first long-lived pod of a Deployment (outside the rollouts) becomes a bare pod its ReplicaSet adopts."""
    whole_hours, part = ADOPTED_AFTER
    for pod in sorted(pods, key=lambda p: (p.namespace, p.name)):
        owner = pod.owner
        controller = controllers.get((pod.namespace, owner.kind, owner.name)) if owner is not None else None
        if owner is None or controller is None or controller.owner is None or pod.namespace in seasonal:
            continue
        if controller.owner.kind != "Deployment" or pod.deleted_slot - pod.created_slot < 6 * slots_per_hour:
            continue
        born = -(-pod.created_slot // slots_per_hour)  # its first whole hour
        pod.adopted = ((born + whole_hours) * slots_per_hour + round(part * slots_per_hour), owner)
        pod.owner = None
        return


def owner_at(pod: Pod, slot: int) -> OwnerRef | None:
    """The pod's controlling owner in `slot`."""
    if pod.adopted is not None and slot >= pod.adopted[0]:
        return pod.adopted[1]
    return pod.owner


WorkloadShares = dict[tuple[str, str], float]  # (workload kind, workload) → its share of a pod-hour


def workload_truth(cluster: Cluster) -> dict[tuple[str, str, str, int], WorkloadShares]:
    """(namespace, pod, uid, hour) → each workload's share of the hour for every hour kube-state-metrics exports the
    pod in: its slots in the hour with that owner over its slots in the hour. A ReplicaSet's or Job's owner counts
    in an hour if its series exists in any slot of it."""
    per_hour = 3600 // cluster.step_seconds
    by_name = {(c.namespace, c.kind, c.name): c for c in cluster.controllers}
    truth = {}
    for pod in cluster.pods:
        for hour in range(pod.created_slot // per_hour, (pod.deleted_slot - 1) // per_hour + 1):
            slots = range(max(hour * per_hour, pod.created_slot), min((hour + 1) * per_hour, pod.deleted_slot))
            shares: WorkloadShares = {}
            for slot in slots:
                workload = _workload(pod, owner_at(pod, slot), by_name, hour, per_hour)
                shares[workload] = shares.get(workload, 0.0) + 1 / len(slots)
            truth[(pod.namespace, pod.name, pod.uid, hour)] = shares if len(shares) > 1 else dict.fromkeys(shares, 1.0)
    return truth


def _workload(pod: Pod, owner: OwnerRef | None, controllers: dict[tuple[str, str, str], Controller], hour: int,
              per_hour: int) -> tuple[str, str]:  # fmt: skip
    if owner is None:
        return "Pod", pod.name
    if owner.kind == "Node":
        return "StaticPod", pod.name
    controller = controllers.get((pod.namespace, owner.kind, owner.name))
    if controller is None or controller.owner is None:
        return owner.kind, owner.name
    missing = controller.owner_missing_slots
    slots = range(max(hour * per_hour, controller.created_slot), min((hour + 1) * per_hour, controller.deleted_slot))
    if missing is not None and all(missing[0] <= slot < missing[1] for slot in slots):
        return owner.kind, owner.name
    return controller.owner.kind, controller.owner.name


class _Mounting(Pod, Protocol):
    claims: tuple[str, ...]


def mount_claims(pods: Iterable[_Mounting], claims: Iterable[tuple[str, str]]) -> None:
    """Set the PVCs each pod's spec mounts: a namespace's `data-<namespace>` by the first pod of its `…-db`
    StatefulSet, `pgdata-<pod>` by every pod of that name (a StatefulSet pod and its recreation); the others are
    mounted by nobody (idle storage, a row of its own)."""
    wanted = set(claims)
    pods = list(pods)
    for namespace, claim in sorted(wanted):
        if claim.startswith("pgdata-"):
            mounters = [pod for pod in pods if pod.namespace == namespace and pod.name == claim.removeprefix("pgdata-")]
        elif claim == f"data-{namespace}":
            mounters = [pod for pod in pods if pod.namespace == namespace and pod.owner is not None
                        and pod.owner.kind == "StatefulSet" and pod.owner.name.endswith("-db")][:1]  # fmt: skip
        else:
            mounters = []
        for pod in mounters:
            pod.claims = (*pod.claims, claim)
