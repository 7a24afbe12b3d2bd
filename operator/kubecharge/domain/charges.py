"""Priced chargeback lines: one per team × namespace for a period, and their totals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from kubecharge.domain.ledger import Completeness
from kubecharge.domain.mappings import UNALLOCATED
from kubecharge.domain.outlook_model import Outlook
from kubecharge.domain.recommendations import Recommendation, team_saving
from kubecharge.domain.usage import ChargeBasis, ResourceQuantities

IDLE = "__idle__"  # the team and namespace of the idle row


@dataclass(frozen=True)
class Costs:
    """Direct cost per resource of `domain.resources` (`cost_<key>` in the CSV)."""

    cpu: float = 0.0
    memory: float = 0.0
    gpu: float = 0.0
    storage: float = 0.0
    network: float = 0.0

    @property
    def total(self) -> float:
        return self.cpu + self.memory + self.gpu + self.storage + self.network

    @property
    def compute(self) -> float:
        """What the line's containers were charged on nodes (CPU, memory, GPU): what idle is distributed by."""
        return self.cpu + self.memory + self.gpu

    def of(self, key: str) -> float:
        return float(getattr(self, key))

    def __add__(self, other: Costs) -> Costs:
        return Costs(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Costs)})


@dataclass(frozen=True)
class NodeTypeHours:
    """Node-hours and node cost per instance type and capacity type (what finance reconciles with the bill)."""

    instance_type: str
    capacity_type: str
    node_hours: float
    cost: float
    cluster: str = ""


@dataclass(frozen=True)
class ClusterCost:
    """What the cluster cost over the span: nodes (GPU part shown apart too), PVCs, network, compute that ran on no
    node kubecharge knows (at the per-resource prices), and the part of the nodes nobody was charged (idle)."""

    nodes: float
    gpu: float
    storage: float
    network: float
    unplaced: float
    idle: float

    @property
    def total(self) -> float:
        return self.nodes + self.storage + self.network + self.unplaced


@dataclass(frozen=True)
class ChargeLine:
    """What one team owes for one namespace over the period, under the report's charge basis — or, as one of a
    line's `workloads`, for one workload of it (`workload_kind`, `workload` set; the line's figures are theirs
    added up, idle and shared shares split in proportion to their direct compute cost)."""

    team: str
    namespace: str
    quantities: ResourceQuantities
    cpu_core_hours_charged: float
    memory_gib_hours_charged: float
    costs: Costs
    cluster: str = ""
    idle_share: float = 0.0  # idle node cost allocated to this line (idle: distribute)
    shared_share: float = 0.0  # shared namespaces' cost moved here (negative on the shared namespaces' own lines)
    workload_kind: str = ""
    workload: str = ""
    workloads: tuple[ChargeLine, ...] = ()  # by cost, highest first (ties by kind and name)
    pod_labels: tuple[str, ...] = ()  # a workload's: the label sets its pods carried (canonical JSON of `label_*`)

    @property
    def gpu_hours_charged(self) -> float:
        return self.quantities.gpu_hours_charged()

    @property
    def total_allocated(self) -> float:
        return self.costs.total + self.idle_share + self.shared_share


@dataclass(frozen=True)
class TeamInfo:
    team: str
    display_name: str | None = None
    cost_center: str | None = None
    owners: tuple[str, ...] = ()
    monthly_budget: float | None = None
    budget_currency: str | None = None
    budget_thresholds: tuple[int, ...] = ()


@dataclass(frozen=True)
class TeamSummary:
    team: str
    quantities: ResourceQuantities
    cpu_core_hours_charged: float
    memory_gib_hours_charged: float
    costs: Costs
    namespaces: tuple[str, ...]
    idle_share: float = 0.0
    shared_share: float = 0.0

    @property
    def total_allocated(self) -> float:
        return self.costs.total + self.idle_share + self.shared_share


@dataclass(frozen=True)
class PreviousPeriod:
    """The period before a chargeback's, priced at its prices: what "more or less than last time" compares with."""

    name: str
    cost: float
    team_costs: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Chargeback:
    """A priced report: the lines plus what is needed to explain them (basis, prices, teams, coverage)."""

    period_name: str
    period_start: datetime
    period_end: datetime
    cluster: str
    basis: ChargeBasis
    currency: str
    prices: dict[str, str]
    lines: tuple[ChargeLine, ...]
    teams_info: dict[str, TeamInfo]
    completeness: Completeness | None = None  # which hours of the period the numbers rest on
    clusters: tuple[str, ...] = ()  # the clusters reported on (one line per team, cluster and namespace)
    days: tuple[Chargeback, ...] = ()  # the same lines per UTC day of the period (for finance's pivot tables)
    state: str = "provisional"  # final once the report's finalizeAfter has passed since the period ended
    generated_at: datetime | None = None  # when this rendering was made (shown in HTML only: numbers stay stable)
    version: str | None = None  # the export version it is rendered into (v3-final), once one is chosen
    restates: str | None = None  # the final version this one replaces, if it is a restatement
    previous_period: PreviousPeriod | None = None  # the period before, priced from the ledger
    cluster_cost: ClusterCost | None = None  # full-cost allocation only: what the lines add up to
    node_types: tuple[NodeTypeHours, ...] = ()
    idle_mode: str | None = None  # show | distribute under full-cost allocation, None for direct charges
    shared_namespaces: tuple[str, ...] = ()
    outlook: Outlook | None = None  # forecasts, budgets and anomalies (from the ledger's history too)
    # Resources (keys) whose usage could not be measured, and why: shown as unknown, never as 0.
    unmeasured: Mapping[str, str] = field(default_factory=dict)
    # Request recommendations per workload container over `recommendation_window` [start, end) (none: not asked)
    recommendations: tuple[Recommendation, ...] = ()
    recommendation_window: tuple[datetime, datetime] | None = None

    def recommended_savings(self) -> dict[str, float]:
        """Per team, the monthly saving of acting on its recommendations (`domain.recommendations.team_saving`);
        0.0 for a team with lines but nothing to save."""
        found = dict.fromkeys(sorted({line.team for line in self.lines}), 0.0)
        found.update(team_saving(list(self.recommendations)))
        return found

    def team_recommendations(self, team: str) -> list[Recommendation]:
        """A team's recommendations with numbers, the largest saving first; HPA-managed ones after the rest."""
        mine = [r for r in self.recommendations if r.team == team and r.monthly_saving is not None]
        return sorted(mine, key=lambda r: (r.hpa, -(r.monthly_saving or 0.0), r.namespace, r.workload, r.container))

    @property
    def incomplete(self) -> bool:
        """Final, yet resting on a period with hours without data: never to be read as plainly final."""
        return self.state == "final" and self.completeness is not None and not self.completeness.complete

    @property
    def state_label(self) -> str:
        """The state as every human view shows it: `final`, `provisional`, or `final — incomplete (data for N of M
        hours)` (amber, never green)."""
        if self.incomplete and self.completeness is not None:
            return (f"final — incomplete (data for {self.completeness.hours_collected} of "
                    f"{self.completeness.hours_in_period} hours)")  # fmt: skip
        return self.state

    @property
    def state_class(self) -> str:
        """final | provisional | incomplete: the colour a view gives the state (green, amber, amber)."""
        return "incomplete" if self.incomplete else self.state

    def teams(self) -> list[TeamSummary]:
        """Per team, most expensive first (ties by name) — the order team leads read."""
        grouped: dict[str, list[ChargeLine]] = {}
        for line in self.lines:
            grouped.setdefault(line.team, []).append(line)
        summaries = [
            TeamSummary(
                team=team,
                quantities=sum((line.quantities for line in lines), ResourceQuantities()),
                cpu_core_hours_charged=sum(line.cpu_core_hours_charged for line in lines),
                memory_gib_hours_charged=sum(line.memory_gib_hours_charged for line in lines),
                costs=sum((line.costs for line in lines), Costs()),
                namespaces=tuple(sorted({line.namespace for line in lines})),
                idle_share=sum(line.idle_share for line in lines),
                shared_share=sum(line.shared_share for line in lines),
            )
            for team, lines in grouped.items()
        ]
        return sorted(summaries, key=lambda s: (-s.total_allocated, s.team))

    @property
    def total_quantities(self) -> ResourceQuantities:
        return sum((line.quantities for line in self.lines), ResourceQuantities())

    @property
    def total_costs(self) -> Costs:
        return sum((line.costs for line in self.lines), Costs())

    @property
    def total_allocated(self) -> float:
        return math.fsum(line.total_allocated for line in self.lines)

    @property
    def idle_share(self) -> float:
        return math.fsum(line.idle_share for line in self.lines)

    @property
    def shared_share(self) -> float:
        return math.fsum(line.shared_share for line in self.lines)

    @property
    def cpu_core_hours_charged(self) -> float:
        return sum(line.cpu_core_hours_charged for line in self.lines)

    @property
    def memory_gib_hours_charged(self) -> float:
        return sum(line.memory_gib_hours_charged for line in self.lines)

    @property
    def coverage(self) -> float:
        """Attributed share of charged core-hours; 1.0 when nothing was charged at all."""
        total = self.cpu_core_hours_charged
        if total <= 0:
            return 1.0
        return (total - self.unallocated_cpu_core_hours) / total

    @property
    def unallocated_cpu_core_hours(self) -> float:
        """Charged core-hours of namespaces no TeamMapping claims: what coverage misses."""
        return math.fsum(line.cpu_core_hours_charged for line in self.lines if line.team == UNALLOCATED)

    @property
    def unallocated_cost(self) -> float:
        return math.fsum(line.costs.total for line in self.lines if line.team == UNALLOCATED)
