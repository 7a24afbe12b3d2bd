"""FinOps FOCUS 1.2 cost-and-usage rows: one per period × team × namespace × workload × SKU (`domain.resources`),
plus, under full-cost allocation, an `Adjustment` row per workload for its idle share and its shared-cost share
(`x_AllocationKind` says which: direct, idle, shared; FOCUS 1.2 has no allocation columns of its own).

Mapping: the report's cluster (or clusters, joined by `+`) is the billing account, a team in a cluster is a
SubAccount (`<cluster>/<team>`), a workload is a Resource (`<cluster>/<namespace>/<kind>/<name>`, its type the
workload's kind; a namespace's hours stored before workloads were kept are the namespace, type `Namespace`), named
in `x_WorkloadKind` and `x_Workload` too; the row's cluster, namespace, team and workload are also in `Tags` under
`kubecharge.io/`. This is internal
chargeback, so ProviderName = PublisherName = InvoiceIssuerName, and list, contracted, effective and billed cost
are the same amount. Amounts are written unrounded (shortest exact decimal of the computed float).
Rows whose quantity and cost are both zero (a namespace without PVCs has no storage row) are left out.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from kubecharge.domain.charges import IDLE, Chargeback, ChargeLine
from kubecharge.domain.periods import iso
from kubecharge.domain.resource_table import RESOURCES, Resource

PROVIDER = "kubecharge"
TAG_PREFIX = "kubecharge.io/"


COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountStatus", "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
    "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType",
    "Tags", "x_AllocationKind", "x_ChargeBasis", "x_CostCenter", "x_WorkloadKind", "x_Workload",
)  # fmt: skip
AMOUNTS = ("BilledCost", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "ListCost", "ListUnitPrice",
           "ConsumedQuantity", "PricingQuantity")  # fmt: skip


def decimal_text(value: float | Decimal) -> str:
    """The shortest exact decimal for a float, never in exponent form, always with a decimal point."""
    text = format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    if "." not in text:
        text += ".0"
    return "0.0" if text in {"-0.0", "-0"} else text


def _base(report: Chargeback, line: ChargeLine) -> dict[str, Any]:
    """The columns every row of a line shares: account, period, resource (the namespace), team, tags."""
    info = report.teams_info.get(line.team)
    cluster = line.cluster or report.cluster  # the line's own cluster: a report may span many
    tags = {f"{TAG_PREFIX}cluster": cluster, f"{TAG_PREFIX}namespace": line.namespace,
            f"{TAG_PREFIX}team": line.team}  # fmt: skip
    resource_id, name, kind = f"{cluster}/{line.namespace}", line.namespace, "Namespace"
    if line.workload_kind:
        tags |= {f"{TAG_PREFIX}workload-kind": line.workload_kind, f"{TAG_PREFIX}workload": line.workload}
        resource_id, name, kind = (
            f"{resource_id}/{line.workload_kind}/{line.workload}",
            line.workload,
            line.workload_kind,
        )
    return {
        "BillingAccountId": f"{PROVIDER}:{report.cluster}", "BillingAccountName": report.cluster,
        "BillingAccountType": "Kubernetes Cluster", "BillingCurrency": report.currency,
        "BillingPeriodEnd": iso(report.period_end), "BillingPeriodStart": iso(report.period_start),
        "ChargeClass": None, "ChargePeriodEnd": iso(report.period_end), "ChargePeriodStart": iso(report.period_start),
        "CommitmentDiscountStatus": None, "InvoiceId": f"{report.cluster}-{report.period_name}",
        "InvoiceIssuerName": PROVIDER, "ProviderName": PROVIDER, "PublisherName": PROVIDER,
        "ResourceId": resource_id, "ResourceName": name, "ResourceType": kind,
        "SkuPriceDetails": None, "SubAccountId": f"{cluster}/{line.team}",
        "SubAccountName": (info.display_name if info and info.display_name else line.team),
        "SubAccountType": "Team", "Tags": json.dumps(tags, sort_keys=True), "x_ChargeBasis": str(report.basis),
        "x_CostCenter": info.cost_center if info else None, "x_WorkloadKind": line.workload_kind or None,
        "x_Workload": line.workload or None,
    }  # fmt: skip


def _direct(report: Chargeback, line: ChargeLine, resource: Resource) -> dict[str, Any] | None:
    quantity, cost = line.quantities.charged(resource, report.basis), line.costs.of(resource.key)
    if quantity == 0 and cost == 0:
        return None
    sku = resource.sku
    price = Decimal(report.prices[resource.price_key])
    idle = line.team == IDLE  # the nodes' idle part: a cost without a quantity anyone consumed
    what = f"{sku.description} by namespace {line.namespace}" + (f" ({report.basis} basis)" if resource.by_basis
                                                                    else "")  # fmt: skip
    return {
        "BilledCost": cost, "ChargeCategory": "Adjustment" if idle else "Usage",
        "ChargeDescription": f"Idle node capacity ({sku.meter})" if idle else what,
        "ChargeFrequency": "Usage-Based", "ConsumedQuantity": None if idle else quantity,
        "ConsumedUnit": None if idle else sku.unit, "ContractedCost": cost,
        "ContractedUnitPrice": None if idle else float(price), "EffectiveCost": cost, "ListCost": cost,
        "ListUnitPrice": None if idle else float(price), "PricingCategory": None if idle else "Standard",
        "PricingQuantity": None if idle else quantity, "PricingUnit": None if idle else sku.unit,
        "ServiceCategory": sku.service_category, "ServiceName": sku.service_name,
        "ServiceSubcategory": sku.service_subcategory, "SkuId": f"kubecharge-{resource.key}",
        "SkuMeter": sku.meter, "SkuPriceId": f"kubecharge-{resource.key}:{report.currency}:{price}",
        "x_AllocationKind": "idle" if idle else "direct",
    }  # fmt: skip


def _allocation(kind: str, amount: float, line: ChargeLine, shared: tuple[str, ...]) -> dict[str, Any] | None:
    """An idle or shared-cost allocation moved onto (or, negative, off) a line: an adjustment, no quantity."""
    if amount == 0:
        return None
    description = (f"Share of idle node capacity allocated to namespace {line.namespace}" if kind == "idle" else
                   f"Shared namespaces' cost ({', '.join(shared)}) " +
                   ("handed on by" if amount < 0 else "allocated to") + f" namespace {line.namespace}")  # fmt: skip
    return {
        "BilledCost": amount, "ChargeCategory": "Adjustment", "ChargeDescription": description,
        "ChargeFrequency": "Usage-Based", "ConsumedQuantity": None, "ConsumedUnit": None, "ContractedCost": amount,
        "ContractedUnitPrice": None, "EffectiveCost": amount, "ListCost": amount, "ListUnitPrice": None,
        "PricingCategory": None, "PricingQuantity": None, "PricingUnit": None, "ServiceCategory": "Compute",
        "ServiceName": "Kubernetes Cost Allocation", "ServiceSubcategory": "Containers",
        "SkuId": f"kubecharge-{kind}-share", "SkuMeter": "Idle share" if kind == "idle" else "Shared cost share",
        "SkuPriceId": None, "x_AllocationKind": kind,
    }  # fmt: skip


def focus_rows(report: Chargeback) -> list[dict[str, Any]]:
    """FOCUS rows with typed values (floats, strings, None); `focus_csv` and `focus_parquet` render them."""
    rows: list[dict[str, Any]] = []
    parts = [part for line in report.lines for part in (line.workloads or (line,))]
    for line in parts:
        base = _base(report, line)
        found = [_direct(report, line, resource) for resource in RESOURCES]
        found += [_allocation("idle", line.idle_share, line, report.shared_namespaces),
                  _allocation("shared", line.shared_share, line, report.shared_namespaces)]  # fmt: skip
        rows.extend({**base, **row} for row in found if row is not None)
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
