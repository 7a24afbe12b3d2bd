"""Price: charged quantities × the report's prices, per team × namespace, at full precision.

Quantities are floats from Prometheus; prices are the manifest's decimals. Nothing is rounded here — only
human-readable renderings round — so team rows add up to the cluster total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kubecharge.domain.charges import ChargeLine, Costs
from kubecharge.domain.reports import Pricing
from kubecharge.domain.usage import AttributedHour, ChargeBasis, ResourceQuantities


def line_costs(quantities: ResourceQuantities, basis: ChargeBasis, pricing: Pricing) -> Costs:
    return Costs(
        cpu=quantities.cpu_core_hours_charged(basis) * float(pricing.cpu_core_hour),
        memory=quantities.memory_gib_hours_charged(basis) * float(pricing.memory_gib_hour),
        storage=quantities.storage_gib_hours * float(pricing.storage_gib_hour),
        network=quantities.network_gib * float(pricing.network_gib),
    )


def price(attributed: Iterable[AttributedHour], basis: ChargeBasis, pricing: Pricing) -> list[ChargeLine]:
    """One line per (team, namespace, cluster), sorted in that order: a namespace of the same name in two
    clusters is two lines."""
    totals: dict[tuple[str, str, str], ResourceQuantities] = {}
    for item in attributed:
        key = (item.team, item.row.namespace, item.row.cluster)
        totals[key] = totals.get(key, ResourceQuantities()) + item.row.quantities
    return [
        ChargeLine(
            team=team,
            namespace=namespace,
            quantities=quantities,
            cpu_core_hours_charged=quantities.cpu_core_hours_charged(basis),
            memory_gib_hours_charged=quantities.memory_gib_hours_charged(basis),
            costs=line_costs(quantities, basis, pricing),
            cluster=cluster,
        )
        for (team, namespace, cluster), quantities in sorted(totals.items())
    ]


def price_table(pricing: Pricing) -> Mapping[str, str]:
    """Prices as exact decimal strings, for reports and records."""
    return {
        "cpuCoreHour": str(pricing.cpu_core_hour),
        "memoryGiBHour": str(pricing.memory_gib_hour),
        "storageGiBHour": str(pricing.storage_gib_hour),
        "networkGiB": str(pricing.network_gib),
    }
