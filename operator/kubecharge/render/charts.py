"""Chart geometry for the HTML report, computed here so the template only draws rectangles and text.

Every chart is an inline SVG in a fixed coordinate system (its viewBox) that scales to any width, with an axis
in the report's currency; colours are fixed per team (in cost order) so the same team has the same colour in
every chart of one report.
"""

from __future__ import annotations

import math
from typing import Any

from kubecharge.domain import resource_table
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.mappings import UNALLOCATED

PALETTE = ("#3b7bc8", "#5aa469", "#8e6cc1", "#d4a72c", "#3aa6a6", "#c25b8f", "#7d8b99", "#9c6b3c", "#4f5fb3")
UNALLOCATED_COLOUR = "#c8643b"


def colours(report: Chargeback) -> dict[str, str]:
    ordered = [team.team for team in report.teams() if team.team != UNALLOCATED]
    found = {team: PALETTE[index % len(PALETTE)] for index, team in enumerate(ordered)}
    found[UNALLOCATED] = UNALLOCATED_COLOUR
    return found


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round axis values from 0 to at least `top` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


def team_bars(report: Chargeback, width: float = 1000, label: float = 190, row: float = 30) -> dict[str, Any]:
    """Horizontal bars of cost by team, with an axis."""
    teams = report.teams()
    ticks = nice_ticks(max((t.costs.total for t in teams), default=0.0))
    plot = width - label - 20
    scale = plot / ticks[-1]
    palette = colours(report)
    bars = [{"team": t.team, "y": 10 + i * row, "width": t.costs.total * scale, "cost": t.costs.total,
             "colour": palette.get(t.team, PALETTE[0])} for i, t in enumerate(teams)]  # fmt: skip
    height = 10 + len(teams) * row + 30
    return {"width": width, "height": height, "label": label, "bars": bars, "axisY": height - 26,
            "ticks": [{"x": label + value * scale, "value": value} for value in ticks]}  # fmt: skip


def daily_trend(report: Chargeback, width: float = 1000, height: float = 300) -> dict[str, Any]:
    """Stacked columns of cost per day, one segment per team (most expensive team at the bottom)."""
    palette = colours(report)
    order = [team.team for team in report.teams()]
    days = []
    for day in report.days:
        costs: dict[str, float] = {}
        for line in day.lines:
            costs[line.team] = costs.get(line.team, 0.0) + line.costs.total
        days.append((day.period_start, costs))
    ticks = nice_ticks(max((sum(c.values()) for _, c in days), default=0.0))
    left, bottom, top = 70.0, 30.0, 10.0
    plot_height = height - bottom - top
    scale = plot_height / ticks[-1]
    slot = (width - left - 10) / max(len(days), 1)
    columns = []
    for index, (start, costs) in enumerate(days):
        y = height - bottom
        segments = []
        for team in order:
            cost = costs.get(team, 0.0)
            if cost <= 0:
                continue
            segments.append({"team": team, "y": y - cost * scale, "height": cost * scale, "cost": cost,
                             "colour": palette[team]})  # fmt: skip
            y -= cost * scale
        columns.append({"x": left + index * slot + slot * 0.15, "width": slot * 0.7, "day": f"{start:%m-%d}",
                        "total": sum(costs.values()), "segments": segments,
                        "label": index % max(1, math.ceil(len(days) / 10)) == 0})  # fmt: skip
    return {"width": width, "height": height, "left": left, "baseline": height - bottom, "columns": columns,
            "ticks": [{"y": height - bottom - value * scale, "value": value} for value in ticks],
            "legend": [{"team": team, "colour": palette[team]} for team in order]}  # fmt: skip


def resource_split(report: Chargeback) -> list[dict[str, Any]]:
    """Per team, the share of its direct cost each resource of the table makes (the bar is 100 % of it)."""
    rows = []
    for team in report.teams():
        total = team.costs.total
        parts = []
        offset = 0.0
        for resource in resource_table.RESOURCES:
            cost = team.costs.of(resource.key)
            share = cost / total if total > 0 else 0.0
            parts.append({"resource": resource.label or resource.key, "share": share, "offset": offset,
                          "colour": resource.colour, "cost": cost})  # fmt: skip
            offset += share
        rows.append({"team": team.team, "parts": parts})
    return rows
