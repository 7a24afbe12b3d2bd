"""FinOps FOCUS 1.2 cost-and-usage rows: one per period × team × namespace × SKU (cpu, memory, storage, network).

Mapping: the report's cluster (or clusters, joined by `+`) is the billing account, a team in a cluster is a
SubAccount (`<cluster>/<team>`), a namespace is a Resource (`<cluster>/<namespace>`, type `Namespace`); the line's
cluster, namespace and team are also in `Tags` under `kubecharge.io/`. This is internal
chargeback, so ProviderName = PublisherName = InvoiceIssuerName, and list, contracted, effective and billed cost
are the same amount. Amounts are written unrounded (shortest exact decimal of the computed float).
Rows whose quantity and cost are both zero (a namespace without PVCs has no storage row) are left out.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubecharge.domain.charges import Chargeback, ChargeLine
from kubecharge.render.tables import iso

PROVIDER = "kubecharge"
TAG_PREFIX = "kubecharge.io/"


@dataclass(frozen=True)
class Sku:
    key: str
    service_name: str
    meter: str
    unit: str
    service_category: str
    service_subcategory: str
    price_key: str
    description: str


SKUS = (
    Sku("cpu", "Kubernetes Compute", "CPU", "Core-Hours", "Compute", "Containers", "cpuCoreHour",
        "CPU core-hours charged"),
    Sku("memory", "Kubernetes Compute", "Memory", "GiB-Hours", "Compute", "Containers", "memoryGiBHour",
        "Memory GiB-hours charged"),
    Sku("storage", "Kubernetes Persistent Storage", "Persistent Volume Claims", "GiB-Hours", "Storage",
        "Block Storage", "storageGiBHour", "PVC storage GiB-hours requested"),
    Sku("network", "Kubernetes Networking", "Network Egress", "GiB", "Networking", "Network Connectivity",
        "networkGiB", "Network GiB transmitted"),
)  # fmt: skip

COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountStatus", "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
    "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType",
    "Tags", "x_ChargeBasis", "x_CostCenter",
)  # fmt: skip
AMOUNTS = ("BilledCost", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "ListCost", "ListUnitPrice",
           "ConsumedQuantity", "PricingQuantity")  # fmt: skip


def decimal_text(value: float | Decimal) -> str:
    """The shortest exact decimal for a float, never in exponent form, always with a decimal point."""
    text = format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if "." not in text:
        text += ".0"
    return "0.0" if text in {"-0.0", "-0"} else text


def _quantity_and_cost(line: ChargeLine, sku: Sku) -> tuple[float, float]:
    q, c = line.quantities, line.costs
    return {
        "cpu": (line.cpu_core_hours_charged, c.cpu),
        "memory": (line.memory_gib_hours_charged, c.memory),
        "storage": (q.storage_gib_hours, c.storage),
        "network": (q.network_gib, c.network),
    }[sku.key]


def focus_rows(report: Chargeback) -> list[dict[str, Any]]:
    """FOCUS rows with typed values (floats, strings, None); `focus_csv` and `focus_parquet` render them."""
    account = f"{PROVIDER}:{report.cluster}"
    invoice = f"{report.cluster}-{report.period_name}"
    rows = []
    for line in report.lines:
        info = report.teams_info.get(line.team)
        cluster = line.cluster or report.cluster  # the line's own cluster: a report may span many
        tags = {f"{TAG_PREFIX}cluster": cluster, f"{TAG_PREFIX}namespace": line.namespace,
                f"{TAG_PREFIX}team": line.team}  # fmt: skip
        for sku in SKUS:
            quantity, cost = _quantity_and_cost(line, sku)
            if quantity == 0 and cost == 0:
                continue
            price = Decimal(report.prices[sku.price_key])
            rows.append({
                "BilledCost": cost, "BillingAccountId": account, "BillingAccountName": report.cluster,
                "BillingAccountType": "Kubernetes Cluster", "BillingCurrency": report.currency,
                "BillingPeriodEnd": iso(report.period_end), "BillingPeriodStart": iso(report.period_start),
                "ChargeCategory": "Usage", "ChargeClass": None,
                "ChargeDescription": f"{sku.description} by namespace {line.namespace} ({report.basis} basis)"
                if sku.key in {"cpu", "memory"} else f"{sku.description} by namespace {line.namespace}",
                "ChargeFrequency": "Usage-Based", "ChargePeriodEnd": iso(report.period_end),
                "ChargePeriodStart": iso(report.period_start), "CommitmentDiscountStatus": None,
                "ConsumedQuantity": quantity,
                "ConsumedUnit": sku.unit, "ContractedCost": cost, "ContractedUnitPrice": float(price),
                "EffectiveCost": cost, "InvoiceId": invoice, "InvoiceIssuerName": PROVIDER, "ListCost": cost,
                "ListUnitPrice": float(price), "PricingCategory": "Standard", "PricingQuantity": quantity,
                "PricingUnit": sku.unit, "ProviderName": PROVIDER, "PublisherName": PROVIDER,
                "ResourceId": f"{cluster}/{line.namespace}", "ResourceName": line.namespace,
                "ResourceType": "Namespace", "ServiceCategory": sku.service_category, "ServiceName": sku.service_name,
                "ServiceSubcategory": sku.service_subcategory, "SkuId": f"kubecharge-{sku.key}",
                "SkuMeter": sku.meter, "SkuPriceDetails": None,
                "SkuPriceId": f"kubecharge-{sku.key}:{report.currency}:{price}",
                "SubAccountId": f"{cluster}/{line.team}",
                "SubAccountName": (info.display_name if info and info.display_name else line.team),
                "SubAccountType": "Team", "Tags": json.dumps(tags, sort_keys=True),
                "x_ChargeBasis": str(report.basis), "x_CostCenter": info.cost_center if info else None,
            })  # fmt: skip
    return rows


def focus_csv(report: Chargeback) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in focus_rows(report):
        writer.writerow(["" if row[c] is None else decimal_text(row[c]) if c in AMOUNTS else row[c] for c in COLUMNS])
    return buffer.getvalue().encode()


def focus_parquet(report: Chargeback) -> bytes:
    """The same rows, typed: amounts float64, dates UTC timestamps, the rest strings."""
    import pyarrow as pa  # heavy: loaded only when a Parquet export is asked for
    import pyarrow.parquet as pq

    rows = focus_rows(report)
    timestamp = pa.timestamp("s", tz="UTC")
    fields = []
    arrays = []
    for column in COLUMNS:
        values = [row[column] for row in rows]
        if column in AMOUNTS:
            fields.append(pa.field(column, pa.float64()))
            arrays.append(pa.array(values, type=pa.float64()))
        elif column.endswith(("PeriodStart", "PeriodEnd")):
            fields.append(pa.field(column, timestamp))
            arrays.append(pa.array([pa.scalar(v.replace("Z", "+00:00")).as_py() for v in values], type=pa.string())
                          .cast(timestamp) if values else pa.array([], type=timestamp))  # fmt: skip
        else:
            fields.append(pa.field(column, pa.string()))
            arrays.append(pa.array(values, type=pa.string()))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
