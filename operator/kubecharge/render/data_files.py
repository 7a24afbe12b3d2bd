"""The machine-readable renderings: `chargeback.csv` (the stable contract), `chargeback-workloads.csv` (the same
columns per workload of each row: `workload_kind,workload` after `namespace`; a row's workload rows add up to it) and
`chargeback.json`.

Both are byte-for-byte reproducible from the same numbers: no timestamps of the run, fixed ordering,
fixed number formats (dot decimals, 9 places — at least the 6 the contract promises).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubecharge.domain import resource_table
from kubecharge.domain.charges import Chargeback, ChargeLine, Costs, TeamInfo
from kubecharge.domain.forecast import Forecast
from kubecharge.domain.ledger import Completeness
from kubecharge.domain.outlook_model import Outlook
from kubecharge.domain.periods import iso
from kubecharge.domain.recommendations import HOURS_PER_MONTH
from kubecharge.domain.resource_table import RESOURCES, Resource, Scope
from kubecharge.domain.usage import ChargeBasis, ResourceQuantities

_FIRST = tuple(resource for resource in RESOURCES if not resource.csv_appended)
_APPENDED = tuple(resource for resource in RESOURCES if resource.csv_appended)
ALLOCATION_COLUMNS = ("cost_idle_share", "cost_shared_share", "cost_total_allocated")
CSV_COLUMNS = (
    "period_start", "period_end", "team", "namespace",
    *(column for resource in _FIRST for column in resource.csv_columns),
    *(f"cost_{resource.key}" for resource in _FIRST), "cost_total", "currency",
    "cluster",  # appended: readers of the first 18 columns are unaffected
    *(column for resource in _APPENDED for column in resource.csv_columns),  # appended after `cluster` in turn
    *(f"cost_{resource.key}" for resource in _APPENDED), *ALLOCATION_COLUMNS,
    "cost_center",  # appended last: the team's TeamMapping spec.costCenter (empty where none says one)
)  # fmt: skip
WORKLOAD_COLUMNS = ("workload_kind", "workload")
WORKLOAD_CSV_COLUMNS = (*CSV_COLUMNS[:4], *WORKLOAD_COLUMNS, *CSV_COLUMNS[4:])
TOP_WORKLOADS = 100  # the workloads `top_workloads_csv` keeps (the ConfigMap's share of the workload rows)


def completeness_record(completeness: Completeness | None) -> dict[str, Any]:
    """`{hoursInPeriod, hoursCollected, firstHour, lastHour, gaps: [{start, end}]}` (end exclusive), plus
    `hoursElapsed` (less than the period while it is in progress) and the same in words."""
    if completeness is None:
        return {}
    return {
        "hoursInPeriod": completeness.hours_in_period,
        "hoursElapsed": completeness.hours_elapsed,
        "hoursCollected": completeness.hours_collected,
        "firstHour": iso(completeness.first_hour) if completeness.first_hour else None,
        "lastHour": iso(completeness.last_hour) if completeness.last_hour else None,
        "gaps": [{"start": iso(gap.start), "end": iso(gap.end)} for gap in completeness.gaps],
        "summary": completeness.describe(),
    }


def number(value: float) -> str:
    text = f"{value:.9f}"
    return "0.000000000" if text == "-0.000000000" else text


def _quantity(line: ChargeLine, resource: Resource, column: str, basis: ChargeBasis) -> float:
    if column == resource.charged_column:
        return line.quantities.charged(resource, basis)
    return float(getattr(line.quantities, column))


def _row(report: Chargeback, line: ChargeLine, workload: bool = False) -> list[str]:
    def quantities(resources: tuple[Resource, ...]) -> list[str]:
        return [number(_quantity(line, r, column, report.basis)) for r in resources for column in r.csv_columns]

    return [
        iso(report.period_start), iso(report.period_end), line.team, line.namespace,
        *((line.workload_kind, line.workload) if workload else ()),
        *quantities(_FIRST), *(number(line.costs.of(r.key)) for r in _FIRST), number(line.costs.total),
        report.currency, line.cluster or report.cluster,
        *quantities(_APPENDED), *(number(line.costs.of(r.key)) for r in _APPENDED),
        number(line.idle_share), number(line.shared_share), number(line.total_allocated),
        _cost_center(report, line.team),
    ]  # fmt: skip


def _cost_center(report: Chargeback, team: str) -> str:
    info = report.teams_info.get(team)
    return (info.cost_center if info else None) or ""


def chargeback_csv(report: Chargeback) -> bytes:
    return _csv([report])


def daily_csv(report: Chargeback) -> bytes:
    """`chargeback-daily.csv`: the same columns, one block of lines per UTC day (period_start/end are the day's)."""
    return _csv(report.days)


def workloads_csv(report: Chargeback) -> bytes:
    """`chargeback-workloads.csv`: each `chargeback.csv` row's workloads, by kind and name."""
    return _csv([report], workloads=True)


def workloads_daily_csv(report: Chargeback) -> bytes:
    """`chargeback-workloads-daily.csv`: the workload rows of each UTC day."""
    return _csv(report.days, workloads=True)


def top_workloads_csv(report: Chargeback, most: int = TOP_WORKLOADS) -> bytes:
    """The `most` workload rows of highest allocated cost (the ConfigMap's: the full file is in object storage)."""
    parts = [part for line in report.lines for part in _workloads(line)]
    top = sorted(parts, key=lambda part: (-part.total_allocated, part.team, part.namespace, part.cluster,
                                          part.workload_kind, part.workload))[:most]  # fmt: skip
    return _write(WORKLOAD_CSV_COLUMNS, (_row(report, part, workload=True) for part in top))


RECOMMENDATION_COLUMNS = (
    "team", "namespace", "workload_kind", "workload", "container", "replicas", "cpu_request_cores",
    "cpu_recommended_cores", "memory_request_gib", "memory_recommended_gib", "hpa", "monthly_saving", "currency",
    "cluster",  # appended, as in chargeback.csv
)  # fmt: skip


def recommendations_csv(report: Chargeback) -> bytes:
    """`recommendations.csv`: one row per workload container, by team, namespace, workload and container; a
    container with less than a day of data has its numbers empty ("not enough data")."""

    def cell(value: float | None) -> str:
        return "" if value is None else number(value)

    rows = (
        [found.team, found.namespace, found.workload_kind, found.workload, found.container, cell(found.replicas),
         cell(found.cpu_request_cores), cell(found.cpu_recommended_cores), cell(found.memory_request_gib),
         cell(found.memory_recommended_gib), "true" if found.hpa else "false", cell(found.monthly_saving),
         found.currency, found.cluster or report.cluster]
        for found in report.recommendations
    )  # fmt: skip
    return _write(RECOMMENDATION_COLUMNS, rows)


def recommendation_records(report: Chargeback) -> dict[str, Any]:
    """`recommendationWindow`, `recommendedSaving` (total and per team) and `recommendations[]` for the JSON."""
    if report.recommendation_window is None:
        return {"recommendationWindow": None, "recommendedSaving": None, "recommendations": []}
    start, end = report.recommendation_window
    savings = report.recommended_savings()
    return {
        "recommendationWindow": {"start": iso(start), "end": iso(end)},
        "recommendedSaving": {"total": sum(savings.values()), "teams": savings},
        "recommendations": [
            {"team": found.team, "cluster": found.cluster or report.cluster, "namespace": found.namespace,
             "workloadKind": found.workload_kind, "workload": found.workload, "container": found.container,
             "enoughData": found.enough_data, "replicas": found.replicas, "cpuRequestCores": found.cpu_request_cores,
             "cpuRecommendedCores": found.cpu_recommended_cores, "memoryRequestGiB": found.memory_request_gib,
             "memoryRecommendedGiB": found.memory_recommended_gib, "hpa": found.hpa,
             "monthlySaving": found.monthly_saving}
            for found in report.recommendations
        ],
    }  # fmt: skip


def _workloads(line: ChargeLine) -> list[ChargeLine]:
    """A line's workload rows with any quantity or cost, by kind and name."""
    return sorted((part for part in line.workloads if part.quantities != _NOTHING or part.total_allocated),
                  key=lambda part: (part.workload_kind, part.workload))  # fmt: skip


_NOTHING = ResourceQuantities()


def _csv(reports: Iterable[Chargeback], workloads: bool = False) -> bytes:
    if workloads:
        rows = (_row(report, part, workload=True) for report in reports for line in report.lines
                for part in _workloads(line))  # fmt: skip
        return _write(WORKLOAD_CSV_COLUMNS, rows)
    return _write(CSV_COLUMNS, (_row(report, line) for report in reports for line in report.lines))


def _write(header: Iterable[str], rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)  # RFC 4180
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _quantities(source: ResourceQuantities, basis: ChargeBasis, unmeasured: Mapping[str, str]) -> dict[str, Any]:
    """Per resource, its quantities under their JSON names; a usage that could not be measured is null."""
    found: dict[str, Any] = {}
    for resource in resource_table.RESOURCES:
        if resource.scope is Scope.NAMESPACE:
            found[resource.json_name] = float(getattr(source, resource.quantity))
            if resource.json_name.endswith("GiBHours"):  # storage as cloud bills state it: GiB-months of 730 hours
                found[resource.json_name.replace("GiBHours", "GiBMonths")] = found[resource.json_name] / HOURS_PER_MONTH
            continue
        usage = float(getattr(source, f"{resource.quantity}_usage"))
        found[f"{resource.json_name}Usage"] = None if resource.key in unmeasured else usage
        found[f"{resource.json_name}Request"] = float(getattr(source, f"{resource.quantity}_request"))
        found[f"{resource.json_name}Charged"] = source.charged(resource, basis)
    return found


def _costs(costs: Costs, idle_share: float = 0.0, shared_share: float = 0.0) -> dict[str, float]:
    return {**{resource.key: costs.of(resource.key) for resource in resource_table.RESOURCES}, "total": costs.total,
            "idleShare": idle_share, "sharedShare": shared_share,
            "totalAllocated": costs.total + idle_share + shared_share}  # fmt: skip


def resource_totals(report: Chargeback) -> dict[str, Any]:
    """Per resource of the table, the charged quantity (its JSON name), the cost (`costByResource`) and, for
    container resources, what was used (`<name>Used`, None where it could not be measured): status and manifest
    totals."""
    totals = report.total_quantities
    costs = report.total_costs
    found: dict[str, Any] = {}
    for r in resource_table.RESOURCES:
        found[r.json_name] = totals.charged(r, report.basis)
        if r.scope is Scope.CONTAINER:
            used = float(getattr(totals, f"{r.quantity}_usage"))
            found[f"{r.json_name}Used"] = None if r.key in report.unmeasured else used
    found["costByResource"] = {r.key: costs.of(r.key) for r in resource_table.RESOURCES}
    return found


def resource_records(report: Chargeback) -> list[dict[str, Any]]:
    """The resource table as every human view reads it: name, unit, colour, price, the summary's keys of its
    quantities, and whether its usage could be measured (`usageKnown` False: shown as unknown, never 0)."""
    return [
        {"key": r.key, "label": r.label or r.key, "unit": r.unit, "colour": r.colour, "priceKey": r.price_key,
         "price": report.prices.get(r.price_key), "chargedKey": r.charged_key,
         "perContainer": r.scope is Scope.CONTAINER,
         "usageKey": f"{r.json_name}Usage" if r.scope is Scope.CONTAINER else None,
         "requestKey": f"{r.json_name}Request" if r.scope is Scope.CONTAINER else None,
         "usageKnown": r.key not in report.unmeasured}
        for r in resource_table.RESOURCES
    ]  # fmt: skip


def cluster_cost_record(report: Chargeback) -> dict[str, Any] | None:
    """`clusterCost {nodes, storage, network, gpu, unplaced, total, idle}` under full-cost allocation."""
    cost = report.cluster_cost
    if cost is None:
        return None
    return {"nodes": cost.nodes, "storage": cost.storage, "network": cost.network, "gpu": cost.gpu,
            "unplaced": cost.unplaced, "total": cost.total, "idle": cost.idle}  # fmt: skip


def summary(report: Chargeback) -> dict[str, Any]:
    """The report as plain data: the JSON file, the template context and (later) the status all use it."""
    totals = report.total_quantities
    return {
        "period": {"name": report.period_name, "start": iso(report.period_start), "end": iso(report.period_end)},
        "cluster": report.cluster,
        "clusters": list(report.clusters or (report.cluster,)),
        "chargeBasis": str(report.basis),
        "currency": report.currency,
        "prices": report.prices,
        "completeness": completeness_record(report.completeness),
        "resources": resource_records(report),
        "unmeasured": dict(report.unmeasured),
        "coverage": report.coverage,
        "unallocatedCost": report.unallocated_cost,
        "costModel": {"idle": report.idle_mode, "sharedNamespaces": list(report.shared_namespaces)}
        if report.idle_mode
        else None,
        "clusterCost": cluster_cost_record(report),
        "nodeTypes": [
            {
                "cluster": t.cluster or report.cluster,
                "instanceType": t.instance_type,
                "capacityType": t.capacity_type,
                "nodeHours": t.node_hours,
                "cost": t.cost,
            }
            for t in report.node_types
        ],
        "bookedTotal": {
            "column": "cost_total_allocated",
            "amount": report.total_allocated,
            "why": "what the cluster costs split over the lines: the direct cost plus, under full-cost "
            "allocation, each line's share of idle capacity and shared namespaces (equal to cost_total "
            "under direct charges)",
        },
        "totals": {
            **_quantities(totals, report.basis, report.unmeasured),
            "cost": _costs(
                report.total_costs,
                report.idle_share,
                report.shared_share,
            ),
        },
        "teams": [
            {
                "team": team.team,
                "displayName": report.teams_info.get(team.team, TeamInfo(team.team)).display_name,
                "costCenter": report.teams_info.get(team.team, TeamInfo(team.team)).cost_center,
                "namespaces": [_namespace_record(report, line) for line in report.lines if line.team == team.team],
                **_quantities(team.quantities, report.basis, report.unmeasured),
                "cost": _costs(team.costs, team.idle_share, team.shared_share),
            }
            for team in report.teams()
        ],
        "lines": [
            {
                "team": line.team,
                "namespace": line.namespace,
                "cluster": line.cluster or report.cluster,
                **_quantities(line.quantities, report.basis, report.unmeasured),
                "cost": _costs(line.costs, line.idle_share, line.shared_share),
            }
            for line in report.lines
        ],
        **outlook_record(report.outlook, report.cluster),
        **recommendation_records(report),
    }


def _namespace_record(report: Chargeback, line: ChargeLine) -> dict[str, Any]:
    """One of a team's namespaces (one per cluster) with its workloads, highest cost first."""
    workloads = sorted(_workloads(line), key=lambda part: (-part.total_allocated, part.workload_kind, part.workload))
    return {
        "namespace": line.namespace,
        "cluster": line.cluster or report.cluster,
        "cost": _costs(line.costs, line.idle_share, line.shared_share),
        "workloads": [{"kind": part.workload_kind, "name": part.workload,
                       **_quantities(part.quantities, report.basis, report.unmeasured),
                       "cost": _costs(part.costs, part.idle_share, part.shared_share)} for part in workloads],
    }  # fmt: skip


def _forecast(found: Forecast) -> dict[str, Any]:
    return {"cost": found.cost, "lower": found.lower, "upper": found.upper, "actual": found.actual,
            "historyDays": found.history_days, "method": found.method}  # fmt: skip


def outlook_record(outlook: Outlook | None, cluster: str) -> dict[str, Any]:
    if outlook is None:
        return {"asOf": None, "forecast": None, "budgets": [], "anomalies": []}
    forecast = None
    if outlook.cluster_forecast is not None or outlook.forecasts:
        forecast = {
            "teams": [{"team": team, **_forecast(found)} for team, found in sorted(outlook.forecasts.items())],
            "cluster": _forecast(outlook.cluster_forecast) if outlook.cluster_forecast is not None else None,
        }
    budgets = [
        {"team": use.team, "monthly": use.monthly, "budget": use.budget, "currency": use.currency,
         "actual": use.actual, "forecast": use.forecast, "usedRatio": use.used_ratio,
         "forecastRatio": use.forecast_ratio, "thresholds": list(use.thresholds), "reached": list(use.reached),
         "forecastExceeded": use.forecast_exceeded, "problem": use.problem}
        for use in outlook.budgets
    ]  # fmt: skip
    anomalies = [
        {"cluster": found.cluster or cluster, "namespace": found.namespace, "team": found.team,
         "day": found.day.isoformat(), "cost": found.cost, "expected": found.expected, "lower": found.lower,
         "upper": found.upper}
        for found in outlook.anomalies
    ]  # fmt: skip
    return {"asOf": iso(outlook.as_of), "forecast": forecast, "budgets": budgets, "anomalies": anomalies}


def chargeback_json(report: Chargeback) -> bytes:
    return (json.dumps(summary(report), indent=2, sort_keys=False) + "\n").encode()
