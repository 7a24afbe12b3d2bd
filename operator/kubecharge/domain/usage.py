"""Usage facts: what one namespace consumed in one hour, in the units finance is billed in.

`*_max` holds the sum over containers of max(usage, request) for that hour. It cannot be derived from the
namespace-level usage and request sums, so it is computed per container at collection time and stored
beside them; the report's `chargeBasis` then picks usage, request or max without going back to Prometheus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum

from kubecharge.domain.resource_table import BY_KEY, Resource, Scope


class ChargeBasis(StrEnum):
    MAX = "max"
    USAGE = "usage"
    REQUEST = "request"


@dataclass(frozen=True, slots=True)
class ResourceQuantities:
    """Summable quantities; one definition serves hours, namespaces, teams and totals."""

    cpu_core_hours_usage: float = 0.0
    cpu_core_hours_request: float = 0.0
    cpu_core_hours_max: float = 0.0
    memory_gib_hours_usage: float = 0.0
    memory_gib_hours_request: float = 0.0
    memory_gib_hours_max: float = 0.0
    gpu_hours_usage: float = 0.0  # Σ per GPU of its utilisation × the share of the hour it was seen (dcgm-exporter)
    gpu_hours_request: float = 0.0
    gpu_hours_max: float = 0.0
    storage_gib_hours: float = 0.0
    network_gib: float = 0.0

    def __add__(self, other: ResourceQuantities) -> ResourceQuantities:
        return ResourceQuantities(*(getattr(self, name) + getattr(other, name) for name in _NAMES))

    def charged(self, resource: Resource, basis: ChargeBasis) -> float:
        """The quantity of `resource` charged under `basis` (its request where the basis does not apply)."""
        return float(getattr(self, resource.charged_columns[basis.value]))

    def cpu_core_hours_charged(self, basis: ChargeBasis) -> float:
        return self.charged(BY_KEY["cpu"], basis)

    def memory_gib_hours_charged(self, basis: ChargeBasis) -> float:
        return self.charged(BY_KEY["memory"], basis)

    def gpu_hours_charged(self) -> float:
        return self.charged(BY_KEY["gpu"], ChargeBasis.REQUEST)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


_NAMES = ResourceQuantities.names()


def used_of_requested(quantities: ResourceQuantities, resource: Resource, measured: bool = True) -> float | None:
    """Used over requested of a container resource (over 1: more used than requested); None where nothing was
    requested, for a namespace resource, or where the use could not be measured."""
    requested = float(getattr(quantities, f"{resource.quantity}_request", 0.0))
    if not measured or not requested or resource.scope is not Scope.CONTAINER:
        return None
    return float(getattr(quantities, f"{resource.quantity}_usage")) / requested


@dataclass(frozen=True, slots=True)
class NamespaceHour:
    """The rollup row: one workload of a namespace on one node, one hour (starting at `hour_start`, UTC), one
    cluster.

    `node` is where the namespace's containers ran ("" for what runs on no node: PVCs, network, and usage whose
    pod kube-state-metrics placed on no node), so a container-hour can be priced at its node's prices."""

    namespace: str
    hour_start: datetime
    quantities: ResourceQuantities
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    cluster: str = ""
    node: str = ""
    # The workload it ran as (`domain.workloads`): Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet,
    # Pod, StaticPod, or PersistentVolumeClaim for a claim no Running pod mounted; "" for hours stored at namespace
    # grain (before the ledger kept workloads) and for namespace totals.
    workload_kind: str = ""
    workload: str = ""
    # The `label_*` of its pods in the hour (canonical JSON; "" for none): what TeamMapping podSelector matches.
    pod_labels: str = ""


@dataclass(frozen=True, slots=True)
class AttributedHour:
    """A namespace-hour and the team that owned the namespace during it."""

    team: str
    row: NamespaceHour
