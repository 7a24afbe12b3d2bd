"""The machine-readable renderings: `chargeback.csv` (the stable contract) and `chargeback.json`.

Both are byte-for-byte reproducible from the same numbers: no timestamps of the run, fixed ordering,
fixed number formats (dot decimals, 9 places — at least the 6 the contract promises).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kubecharge.domain.charges import Chargeback, ChargeLine, TeamInfo
from kubecharge.domain.ledger import Completeness

CSV_COLUMNS = (
    "period_start", "period_end", "team", "namespace",
    "cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_charged",
    "memory_gib_hours_usage", "memory_gib_hours_request", "memory_gib_hours_charged",
    "storage_gib_hours", "network_gib",
    "cost_cpu", "cost_memory", "cost_storage", "cost_network", "cost_total", "currency",
    "cluster",  # appended: readers of the first 18 columns are unaffected
)  # fmt: skip


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _row(report: Chargeback, line: ChargeLine) -> list[str]:
    q = line.quantities
    return [
        iso(report.period_start), iso(report.period_end), line.team, line.namespace,
        number(q.cpu_core_hours_usage), number(q.cpu_core_hours_request), number(line.cpu_core_hours_charged),
        number(q.memory_gib_hours_usage), number(q.memory_gib_hours_request), number(line.memory_gib_hours_charged),
        number(q.storage_gib_hours), number(q.network_gib),
        number(line.costs.cpu), number(line.costs.memory), number(line.costs.storage), number(line.costs.network),
        number(line.costs.total), report.currency, line.cluster or report.cluster,
    ]  # fmt: skip


def chargeback_csv(report: Chargeback) -> bytes:
    return _csv([report])


def daily_csv(report: Chargeback) -> bytes:
    """`chargeback-daily.csv`: the same columns, one block of lines per UTC day (period_start/end are the day's)."""
    return _csv(report.days)


def _csv(reports: Iterable[Chargeback]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    for report in reports:
        for line in report.lines:
            writer.writerow(_row(report, line))
    return buffer.getvalue().encode()


def _quantities(source: Any, cpu_charged: float, memory_charged: float) -> dict[str, float]:
    return {
        "cpuCoreHoursUsage": source.cpu_core_hours_usage,
        "cpuCoreHoursRequest": source.cpu_core_hours_request,
        "cpuCoreHoursCharged": cpu_charged,
        "memoryGiBHoursUsage": source.memory_gib_hours_usage,
        "memoryGiBHoursRequest": source.memory_gib_hours_request,
        "memoryGiBHoursCharged": memory_charged,
        "storageGiBHours": source.storage_gib_hours,
        "networkGiB": source.network_gib,
    }


def _costs(costs: Any) -> dict[str, float]:
    return {
        "cpu": costs.cpu,
        "memory": costs.memory,
        "storage": costs.storage,
        "network": costs.network,
        "total": costs.total,
    }


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
        "coverage": report.coverage,
        "unallocatedCost": report.unallocated_cost,
        "totals": {
            **_quantities(totals, report.cpu_core_hours_charged, report.memory_gib_hours_charged),
            "cost": _costs(report.total_costs),
        },
        "teams": [
            {
                "team": team.team,
                "displayName": report.teams_info.get(team.team, TeamInfo(team.team)).display_name,
                "costCenter": report.teams_info.get(team.team, TeamInfo(team.team)).cost_center,
                "namespaces": list(team.namespaces),
                **_quantities(team.quantities, team.cpu_core_hours_charged, team.memory_gib_hours_charged),
                "cost": _costs(team.costs),
            }
            for team in report.teams()
        ],
        "lines": [
            {
                "team": line.team,
                "namespace": line.namespace,
                "cluster": line.cluster or report.cluster,
                **_quantities(line.quantities, line.cpu_core_hours_charged, line.memory_gib_hours_charged),
                "cost": _costs(line.costs),
            }
            for line in report.lines
        ],
    }


def chargeback_json(report: Chargeback) -> bytes:
    return (json.dumps(summary(report), indent=2, sort_keys=False) + "\n").encode()
