"""UsageReport: what to report, how to price it, where to publish it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from kubecharge.domain.anomalies import AnomalyRules
from kubecharge.domain.notifications import Notifications
from kubecharge.domain.periods import PeriodKind
from kubecharge.domain.recommendations import RecommendationSettings
from kubecharge.domain.usage import ChargeBasis


@dataclass(frozen=True)
class NodeMatch:
    """Which nodes a node price applies to; every field given must match (an empty match matches every node)."""

    instance_type: str | None = None
    capacity_type: str | None = None
    zone: str | None = None
    node: str | None = None  # a glob on the node name
    labels: tuple[tuple[str, str], ...] = ()  # Kubernetes label keys (sanitized as kube-state-metrics does)


@dataclass(frozen=True)
class NodePrice:
    match: NodeMatch
    hourly: Decimal


@dataclass(frozen=True)
class Pricing:
    """Prices per unit, kept as Decimal so what the manifest says is exactly what is applied.

    The defaults are OpenCost's list prices. `nodes` prices whole nodes per hour (first match wins) and
    `node_costs_from` names a FOCUS bill whose `EffectiveCost` prices the nodes it lists."""

    currency: str = "USD"
    cpu_core_hour: Decimal = Decimal("0.031611")
    memory_gib_hour: Decimal = Decimal("0.004237")
    gpu_hour: Decimal = Decimal("0.95")
    storage_gib_hour: Decimal = Decimal("0.0000548")
    network_gib: Decimal = Decimal("0.01")
    nodes: tuple[NodePrice, ...] = ()
    node_costs_from: str | None = None  # s3://bucket/key of a FOCUS 1.2 CSV or Parquet export


class IdleMode(StrEnum):
    SHOW = "show"  # a row of its own, team and namespace `__idle__`
    DISTRIBUTE = "distribute"  # to the teams in proportion to their direct compute cost


class ShareMode(StrEnum):
    PROPORTIONAL = "proportional"  # in proportion to each receiving line's direct cost
    EVEN = "even"  # the same amount to every receiving team


@dataclass(frozen=True)
class SharedCosts:
    namespaces: tuple[str, ...]  # names or globs
    distribute: ShareMode = ShareMode.PROPORTIONAL


@dataclass(frozen=True)
class CostModel:
    """Full-cost allocation: nodes are paid for whole, so what their containers are not charged (idle) and what
    the shared namespaces cost are allocated too, and the charges add up to what the cluster costs."""

    idle: IdleMode = IdleMode.SHOW
    shared: SharedCosts | None = None


DEFAULT_RETENTION = timedelta(days=2555)  # 7 years, what finance records are commonly kept for


@dataclass(frozen=True)
class ConfigMapOutput:
    enabled: bool = True
    name: str | None = None


@dataclass(frozen=True)
class ObjectStorageOutput:
    url: str
    secret_ref: str | None = None
    formats: tuple[str, ...] = (
        "csv",
        "daily",
        "workloads",
        "recommendations",
        "json",
        "focus",
        "parquet",
        "html",
        "markdown",
    )
    retention: timedelta = DEFAULT_RETENTION  # S3 Object Lock on finals; zero: no lock asked for


@dataclass(frozen=True)
class UsageReportSpec:
    name: str = "chargeback"
    namespace: str = "default"
    period: PeriodKind = PeriodKind.MONTHLY
    charge_basis: ChargeBasis = ChargeBasis.MAX
    pricing: Pricing = field(default_factory=Pricing)
    finalize_after: timedelta = timedelta(hours=48)
    config_map: ConfigMapOutput = field(default_factory=ConfigMapOutput)
    object_storage: ObjectStorageOutput | None = None
    prometheus_url: str | None = None
    clusters: tuple[str, ...] = ()  # cluster label values to report on; empty: the operator's own cluster
    suspend: bool = False
    cost_model: CostModel | None = None
    anomalies: AnomalyRules | None = field(default_factory=AnomalyRules)  # None: not looked for
    recommendations: RecommendationSettings | None = field(default_factory=RecommendationSettings)  # None: off
    notifications: Notifications | None = None  # showback messages; None: none sent

    @property
    def full_cost(self) -> CostModel | None:
        """The cost model in force: the report's, or the default one as soon as nodes are priced; None: direct
        charges at the per-resource prices only (the figures of reports without either)."""
        if self.cost_model is not None:
            return self.cost_model
        return CostModel() if self.pricing.nodes or self.pricing.node_costs_from else None
