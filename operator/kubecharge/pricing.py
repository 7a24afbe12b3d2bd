"""Price: charged quantities × prices, per team × namespace, at full precision.

Direct charges (no node prices, no cost model): quantity × the report's price per resource, as always.

Full cost: every node-hour has a cost — the first `spec.pricing.nodes` rule that matches the node × the share of
the hour it existed, or what a cloud bill says it cost that hour, or, for a node neither prices, its capacity at
the per-resource prices. That cost is split into CPU, memory and GPU parts in the ratio of the per-resource
prices × the node's capacity, which gives the node's own price per core-hour, GiB-hour and GPU-hour: a
container-hour is charged at the prices of the node it ran on (a pod on a spot node costs less). A part its
containers were charged more of than the node has (usage above requests under the `max` basis) is settled: their
charges for that part are scaled down to the part's cost. What is left of each part is idle, never negative, so
direct charges plus idle are exactly the nodes' cost. Nothing is rounded here — only human-readable renderings
round — so team rows add up to the cluster total.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from operator import attrgetter
from typing import Protocol

import numpy as np
import pandas as pd

from kubecharge.domain.charges import ChargeLine, ClusterCost, Costs, NodeTypeHours
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.reports import NodeMatch, Pricing
from kubecharge.domain.resource_table import ON_NODE, RESOURCES
from kubecharge.domain.usage import AttributedHour, ChargeBasis, ResourceQuantities

NodeKey = tuple[str, str, datetime]  # cluster, node, hour start


class NodeBill(Protocol):
    def cost(self, provider_id: str, hour_start: datetime) -> float | None:
        """What the bill charged for the machine behind `provider_id` in that hour; None if it does not say."""
        ...


def list_prices(pricing: Pricing) -> dict[str, float]:
    """Every resource's price per unit as a float, looked up once (hot loops run per row)."""
    return {r.key: float(getattr(pricing, r.price_field)) for r in RESOURCES}


def line_costs(quantities: ResourceQuantities, basis: ChargeBasis, pricing: Pricing) -> Costs:
    prices = list_prices(pricing)
    return Costs(**{r.key: quantities.charged(r, basis) * prices[r.key] for r in RESOURCES})


LineKey = tuple[str, str, str]  # team, namespace, cluster
WorkloadKey = tuple[str, str]  # workload kind, workload


def price(attributed: Iterable[AttributedHour], basis: ChargeBasis, pricing: Pricing) -> list[ChargeLine]:
    """Direct charges: one line per (team, namespace, cluster), sorted in that order (a namespace of the same name
    in two clusters is two lines), each with its workloads' lines."""
    totals: dict[LineKey, dict[WorkloadKey, ResourceQuantities]] = {}
    labels: dict[tuple[LineKey, WorkloadKey], set[str]] = {}
    for item in attributed:
        row = item.row
        line = (item.team, row.namespace, row.cluster)
        workloads = totals.setdefault(line, {})
        key = (row.workload_kind, row.workload)
        workloads[key] = workloads.get(key, ResourceQuantities()) + row.quantities
        labels.setdefault((line, key), set()).add(row.pod_labels)
    return [_with_workloads(key, {workload: (quantities, line_costs(quantities, basis, pricing))
                                  for workload, quantities in workloads.items()}, basis, labels)
            for key, workloads in sorted(totals.items())]  # fmt: skip


def _with_workloads(
    key: LineKey, workloads: Mapping[WorkloadKey, tuple[ResourceQuantities, Costs]], basis: ChargeBasis,
    labels: Mapping[tuple[LineKey, WorkloadKey], set[str]],
) -> ChargeLine:  # fmt: skip
    """A line made of its workloads' lines: its quantities and costs are theirs added up; each workload says the
    pod label sets its pods carried."""
    parts = [dataclasses.replace(_line(key, quantities, basis, costs), workload_kind=kind, workload=name,
                                 pod_labels=tuple(sorted(labels.get((key, (kind, name)), set()) - {""})))
             for (kind, name), (quantities, costs) in workloads.items()]  # fmt: skip
    parts.sort(key=lambda part: (-part.costs.total, part.workload_kind, part.workload))
    quantities = sum((part.quantities for part in parts), ResourceQuantities())
    costs = Costs(**{r.key: math.fsum(part.costs.of(r.key) for part in parts) for r in RESOURCES})
    return dataclasses.replace(_line(key, quantities, basis, costs), workloads=tuple(parts))


def hourly_costs(attributed: Iterable[AttributedHour], basis: ChargeBasis, pricing: Pricing) -> pd.DataFrame:
    """Direct cost at list prices per namespace and hour (`cluster`, `namespace`, `hour_start`, `cost`): the shape
    of a namespace's day, which forecasts use to tell how much of today is still to come."""
    prices = list_prices(pricing)
    charged = {r.charged_columns[basis.value]: prices[r.key] for r in RESOURCES}
    quantities = attrgetter(*charged)
    rows = [(item.row.cluster, item.row.namespace, item.row.hour_start, *quantities(item.row.quantities))
            for item in attributed]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["cluster", "namespace", "hour_start", *charged])
    frame["cost"] = frame[list(charged)].to_numpy() @ np.array(list(charged.values()))
    return frame.groupby(["cluster", "namespace", "hour_start"])["cost"].sum().reset_index()


def _line(key: tuple[str, str, str], quantities: ResourceQuantities, basis: ChargeBasis, costs: Costs) -> ChargeLine:
    team, namespace, cluster = key
    return ChargeLine(team=team, namespace=namespace, quantities=quantities,
                      cpu_core_hours_charged=quantities.cpu_core_hours_charged(basis),
                      memory_gib_hours_charged=quantities.memory_gib_hours_charged(basis), costs=costs,
                      cluster=cluster)  # fmt: skip


# --------------------------------------------------------------------------------------------- full cost


@dataclass(frozen=True)
class NodeHourCost:
    node: NodeHour
    cost: float  # what the node cost in this hour
    parts: Mapping[str, float]  # the cost split per on-node resource key
    unit_prices: Mapping[str, float]  # the node's own price per unit of each on-node resource
    priced_by: str  # rule | bill | capacity


def matches(match: NodeMatch, node: NodeHour) -> bool:
    if match.instance_type is not None and node.instance_type != match.instance_type:
        return False
    if match.capacity_type is not None and node.capacity_type != match.capacity_type.lower():
        return False
    if match.zone is not None and node.zone != match.zone:
        return False
    if match.node is not None and not fnmatchcase(node.node, match.node):
        return False
    return all(node.labels.get(key) == value for key, value in match.labels)


def node_hour_costs(nodes: Iterable[NodeHour], pricing: Pricing, bill: NodeBill | None = None
                    ) -> dict[NodeKey, NodeHourCost]:  # fmt: skip
    """Each node-hour's cost and split prices (see the module docstring)."""
    found = {}
    prices = list_prices(pricing)
    for node in nodes:
        capacity_value = math.fsum(prices[r.key] * node.capacity.get(r.key, 0.0) for r in ON_NODE)
        listed = capacity_value * node.hours
        billed = bill.cost(node.provider_id, node.hour_start) if bill is not None and node.provider_id else None
        rule = next((rule for rule in pricing.nodes if matches(rule.match, node)), None)
        if billed is not None:
            cost, priced_by = billed, "bill"
        elif rule is not None:
            cost, priced_by = float(rule.hourly) * node.hours, "rule"
        else:
            cost, priced_by = listed, "capacity"
        if listed > 0:
            scale = cost / listed
            units = {r.key: prices[r.key] * scale for r in ON_NODE}
            parts = {r.key: units[r.key] * node.capacity.get(r.key, 0.0) * node.hours for r in ON_NODE}
        else:  # no capacity known: the node's containers pay list prices, and the whole cost is its CPU part
            units = {r.key: prices[r.key] for r in ON_NODE}
            parts = {r.key: cost if r.key == "cpu" else 0.0 for r in ON_NODE}
        found[(node.cluster, node.node, node.hour_start)] = NodeHourCost(node, cost, parts, units, priced_by)
    return found


@dataclass(frozen=True)
class FullCost:
    lines: list[ChargeLine]
    idle: dict[str, Costs]  # per cluster: what of the nodes' parts no container was charged
    cluster_cost: ClusterCost
    node_types: tuple[NodeTypeHours, ...]


def price_full(attributed: Sequence[AttributedHour], basis: ChargeBasis, pricing: Pricing,
               node_costs: Mapping[NodeKey, NodeHourCost]) -> FullCost:  # fmt: skip
    """Lines charged at the prices of the nodes their containers ran on, settled per node-hour and resource, and
    the idle that is left of each node-hour (see the module docstring)."""
    raw: list[dict[str, float]] = []
    charged_on: dict[tuple[NodeKey, str], list[float]] = {}
    prices = list_prices(pricing)
    for item in attributed:
        row = item.row
        known = node_costs.get((row.cluster, row.node, row.hour_start))
        costs = {}
        for resource in RESOURCES:
            quantity = row.quantities.charged(resource, basis)
            price_of = known.unit_prices[resource.key] if known is not None and resource.on_node else None
            costs[resource.key] = quantity * (price_of if price_of is not None else prices[resource.key])
            if price_of is not None and costs[resource.key]:
                charged_on.setdefault(((row.cluster, row.node, row.hour_start), resource.key), []).append(
                    costs[resource.key]
                )
        raw.append(costs)
    settle = {}
    for (key, resource_key), charges in charged_on.items():
        total, part = math.fsum(charges), node_costs[key].parts[resource_key]
        settle[(key, resource_key)] = (min(total, part), part / total if total > part else 1.0)
    totals: dict[LineKey, dict[WorkloadKey, tuple[ResourceQuantities, dict[str, list[float]]]]] = {}
    labels: dict[tuple[LineKey, WorkloadKey], set[str]] = {}
    unplaced: list[float] = []
    for item, costs in zip(attributed, raw, strict=True):
        row = item.row
        key = (row.cluster, row.node, row.hour_start)
        line = (item.team, row.namespace, row.cluster)
        workloads = totals.setdefault(line, {})
        labels.setdefault((line, (row.workload_kind, row.workload)), set()).add(row.pod_labels)
        quantities, amounts = workloads.get((row.workload_kind, row.workload), (ResourceQuantities(), {}))
        for resource in RESOURCES:
            factor = settle.get((key, resource.key), (0.0, 1.0))[1]
            amounts.setdefault(resource.key, []).append(costs[resource.key] * factor)
            if resource.on_node and key not in node_costs:
                unplaced.append(costs[resource.key])
        workloads[(row.workload_kind, row.workload)] = (quantities + row.quantities, amounts)
    lines = [_with_workloads(key, {workload: (quantities, Costs(**{k: math.fsum(v) for k, v in amounts.items()}))
                                   for workload, (quantities, amounts) in workloads.items()}, basis, labels)
             for key, workloads in sorted(totals.items())]  # fmt: skip
    idle_parts: dict[str, dict[str, list[float]]] = {}
    for key, node_cost in node_costs.items():
        for resource in ON_NODE:
            used = settle.get((key, resource.key), (0.0, 1.0))[0]
            idle_parts.setdefault(key[0], {}).setdefault(resource.key, []).append(node_cost.parts[resource.key] - used)
    idle = {cluster: Costs(**{k: max(math.fsum(v), 0.0) for k, v in parts.items()})
            for cluster, parts in sorted(idle_parts.items())}  # fmt: skip
    storage = math.fsum(line.costs.storage for line in lines)
    network = math.fsum(line.costs.network for line in lines)
    cluster_cost = ClusterCost(
        nodes=math.fsum(c.cost for c in node_costs.values()),
        gpu=math.fsum(c.parts.get("gpu", 0.0) for c in node_costs.values()),
        storage=storage, network=network, unplaced=math.fsum(unplaced),
        idle=math.fsum(c.total for c in idle.values()),
    )  # fmt: skip
    return FullCost(lines, idle, cluster_cost, node_types(node_costs.values()))


def node_types(costs: Iterable[NodeHourCost]) -> tuple[NodeTypeHours, ...]:
    grouped: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    for cost in costs:
        key = (cost.node.cluster, cost.node.instance_type, cost.node.capacity_type)
        hours, amounts = grouped.setdefault(key, ([], []))
        hours.append(cost.node.hours)
        amounts.append(cost.cost)
    return tuple(NodeTypeHours(instance, capacity, math.fsum(hours), math.fsum(amounts), cluster)
                 for (cluster, instance, capacity), (hours, amounts) in sorted(grouped.items()))  # fmt: skip


def price_table(pricing: Pricing) -> Mapping[str, str]:
    """Prices as exact decimal strings, for reports and records."""
    return {r.price_key: str(getattr(pricing, r.price_field)) for r in RESOURCES}
