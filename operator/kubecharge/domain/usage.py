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


class ChargeBasis(StrEnum):
    MAX = "max"
    USAGE = "usage"
    REQUEST = "request"


@dataclass(frozen=True)
class ResourceQuantities:
    """Summable quantities; one definition serves hours, namespaces, teams and totals."""

    cpu_core_hours_usage: float = 0.0
    cpu_core_hours_request: float = 0.0
    cpu_core_hours_max: float = 0.0
    memory_gib_hours_usage: float = 0.0
    memory_gib_hours_request: float = 0.0
    memory_gib_hours_max: float = 0.0
    storage_gib_hours: float = 0.0
    network_gib: float = 0.0

    def __add__(self, other: ResourceQuantities) -> ResourceQuantities:
        return ResourceQuantities(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(ResourceQuantities)}
        )

    def cpu_core_hours_charged(self, basis: ChargeBasis) -> float:
        return _pick(basis, self.cpu_core_hours_usage, self.cpu_core_hours_request, self.cpu_core_hours_max)

    def memory_gib_hours_charged(self, basis: ChargeBasis) -> float:
        return _pick(basis, self.memory_gib_hours_usage, self.memory_gib_hours_request, self.memory_gib_hours_max)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _pick(basis: ChargeBasis, usage: float, request: float, maximum: float) -> float:
    if basis is ChargeBasis.USAGE:
        return usage
    if basis is ChargeBasis.REQUEST:
        return request
    return maximum


@dataclass(frozen=True)
class NamespaceHour:
    """The rollup row: one namespace, one hour (starting at `hour_start`, UTC), one cluster."""

    namespace: str
    hour_start: datetime
    quantities: ResourceQuantities
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    cluster: str = ""


@dataclass(frozen=True)
class AttributedHour:
    """A namespace-hour and the team that owned the namespace during it."""

    team: str
    row: NamespaceHour
