"""UsageReport: what to report, how to price it, where to publish it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from kubecharge.domain.periods import PeriodKind
from kubecharge.domain.usage import ChargeBasis


@dataclass(frozen=True)
class Pricing:
    """Prices per unit, kept as Decimal so what the manifest says is exactly what is applied."""

    currency: str = "USD"
    cpu_core_hour: Decimal = Decimal("0.031611")
    memory_gib_hour: Decimal = Decimal("0.004237")
    storage_gib_hour: Decimal = Decimal("0.0000548")
    network_gib: Decimal = Decimal("0.01")


DEFAULT_RETENTION = timedelta(days=2555)  # 7 years, what finance records are commonly kept for


@dataclass(frozen=True)
class ConfigMapOutput:
    enabled: bool = True
    name: str | None = None


@dataclass(frozen=True)
class ObjectStorageOutput:
    url: str
    secret_ref: str | None = None
    formats: tuple[str, ...] = ("csv", "daily", "json", "focus", "parquet", "html", "markdown")
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
