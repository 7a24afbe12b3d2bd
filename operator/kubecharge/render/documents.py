"""The human-readable renderings, from jinja2 templates in `reports_templates/`: Markdown and HTML.

Numbers are rounded here and only here. The HTML carries its charts as inline SVG, so the file opens
anywhere, offline, with nothing to fetch.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kubecharge import __version__
from kubecharge.domain.charges import Chargeback
from kubecharge.render import charts
from kubecharge.render.tables import summary
from kubecharge.resources import templates_dir


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = lambda value: f"{round(value, 2) or 0.0:,.2f}"  # never "-0.00"
    env.filters["qty"] = lambda value: f"{value:,.1f}"
    env.filters["pct"] = lambda value: f"{100 * value:.1f}%"
    return env


def _efficiency(used: float, requested: float) -> float | None:
    return used / requested if requested > 0 else None


def context(report: Chargeback) -> dict[str, Any]:
    data = summary(report)
    teams = data["teams"]
    top_cost = max((t["cost"]["total"] for t in teams), default=0.0) or 1.0
    for team in teams:
        team["cpuEfficiency"] = _efficiency(team["cpuCoreHoursUsage"], team["cpuCoreHoursRequest"])
        team["memoryEfficiency"] = _efficiency(team["memoryGiBHoursUsage"], team["memoryGiBHoursRequest"])
        team["barShare"] = team["cost"]["total"] / top_cost
    many = len(data["clusters"]) > 1
    for line in data["lines"]:  # over many clusters a namespace is named with its cluster
        line["where"] = f"{line['cluster']}/{line['namespace']}" if many else line["namespace"]
    namespaces = sorted(data["lines"], key=lambda line: (-line["cost"]["total"], line["where"]))
    data["topNamespaces"] = namespaces[:10]
    data["unallocatedNamespaces"] = [line for line in namespaces if line["team"] == "unallocated"]
    totals = data["totals"]
    data["cpuEfficiency"] = _efficiency(totals["cpuCoreHoursUsage"], totals["cpuCoreHoursRequest"])
    data["memoryEfficiency"] = _efficiency(totals["memoryGiBHoursUsage"], totals["memoryGiBHoursRequest"])
    data.update(_presentation(report, data))
    return data


def _slack(quantities: Any, prices: dict[str, str]) -> dict[str, float]:
    """Requested but unused, per container-hour (max(request, usage) - usage, summed): what lowering requests
    to actual use would save under the max basis."""
    cpu = max(quantities.cpu_core_hours_max - quantities.cpu_core_hours_usage, 0.0)
    memory = max(quantities.memory_gib_hours_max - quantities.memory_gib_hours_usage, 0.0)
    cost = cpu * float(prices["cpuCoreHour"]) + memory * float(prices["memoryGiBHour"])
    return {"cpuCoreHours": cpu, "memoryGiBHours": memory, "cost": cost}


def _presentation(report: Chargeback, data: dict[str, Any]) -> dict[str, Any]:
    """What only the rendered documents show: state, provenance, charts, slack, per-team sections."""
    by_team = {team.team: team for team in report.teams()}
    for team in data["teams"]:
        info = report.teams_info.get(team["team"])
        team["owners"] = list(info.owners) if info else []
        team["slack"] = _slack(by_team[team["team"]].quantities, report.prices)
        team["lines"] = []
    forecasts = {item["team"]: item for item in (data["forecast"] or {}).get("teams", [])}
    budgets = {use["team"]: use for use in data["budgets"]}
    for team in data["teams"]:
        team["forecast"] = forecasts.get(team["team"])
        team["budget"] = budgets.get(team["team"])
        team["anomalies"] = [item for item in data["anomalies"] if item["team"] == team["team"]]
    teams = {team["team"]: team for team in data["teams"]}
    for line, charge in zip(data["lines"], report.lines, strict=True):
        line["slack"] = _slack(charge.quantities, report.prices)
        teams[line["team"]]["lines"].append(line)
    return {
        "state": report.state,
        "stateLabel": report.state_label,
        "stateClass": report.state_class,
        "version": report.version,
        "restates": report.restates,
        "previousPeriod": {"name": report.previous_period[0], "cost": report.previous_period[1]}
        if report.previous_period
        else None,
        "generatedAt": report.generated_at.strftime("%Y-%m-%d %H:%M UTC") if report.generated_at else None,
        "kubechargeVersion": __version__,
        "teamBars": charts.team_bars(report),
        "trend": charts.daily_trend(report),
        "resourceSplit": charts.resource_split(report),
        "slackCost": sum(team["slack"]["cost"] for team in data["teams"]),
    }


def report_markdown(report: Chargeback) -> bytes:
    return _environment().get_template("report.md.j2").render(**context(report)).encode()


def report_html(report: Chargeback) -> bytes:
    return _environment().get_template("report.html.j2").render(**context(report)).encode()


def team_markdowns(report: Chargeback) -> dict[str, bytes]:
    """One Markdown page per team; the context is built once for all of them."""
    data = context(report)
    template = _environment().get_template("team.md.j2")
    return {
        team["team"]: template.render(**data, team=team, team_lines=team["lines"]).encode() for team in data["teams"]
    }
