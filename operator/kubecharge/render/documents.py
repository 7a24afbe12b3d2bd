"""The human-readable renderings, from jinja2 templates in `reports_templates/`: Markdown and HTML.

Numbers are rounded here and only here. The HTML carries its charts as inline SVG, so the file opens
anywhere, offline, with nothing to fetch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kubecharge import __version__
from kubecharge.domain import resource_table
from kubecharge.domain.charges import Chargeback, ChargeLine
from kubecharge.domain.mappings import UNALLOCATED
from kubecharge.domain.recommendations import Recommendation
from kubecharge.domain.resource_table import Scope
from kubecharge.domain.units import NUMBER_FILTERS
from kubecharge.domain.usage import ResourceQuantities, used_of_requested
from kubecharge.packaged import templates_dir
from kubecharge.render import charts
from kubecharge.render.data_files import summary

TOP_WORKLOADS_SHOWN = 10  # per namespace in each team's section (the rest: "N more", all in the workloads CSV)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(NUMBER_FILTERS)
    return env


def _use(quantities: ResourceQuantities, report: Chargeback) -> dict[str, float | None]:
    """Used of requested per container resource of the table (`domain.usage.used_of_requested`)."""
    return {resource.key: used_of_requested(quantities, resource, resource.key not in report.unmeasured)
            for resource in resource_table.RESOURCES if resource.scope is Scope.CONTAINER}  # fmt: skip


def context(report: Chargeback) -> dict[str, Any]:
    data = summary(report)
    teams = data["teams"]
    resources = data["resources"]
    top_cost = max((t["cost"]["total"] for t in teams), default=0.0) or 1.0
    for team in teams:
        team["barShare"] = team["cost"]["total"] / top_cost
    many = len(data["clusters"]) > 1
    for line in data["lines"]:  # over many clusters a namespace is named with its cluster
        line["where"] = f"{line['cluster']}/{line['namespace']}" if many else line["namespace"]
    namespaces = sorted(data["lines"], key=lambda line: (-line["cost"]["total"], line["where"]))
    data["topNamespaces"] = namespaces[:10]
    data["unallocatedNamespaces"] = [line for line in namespaces if line["team"] == "unallocated"]
    data["use"] = _use(report.total_quantities, report)
    data["containerResources"] = [resource for resource in resources if resource["perContainer"]]
    data.update(_presentation(report, data))
    return data


def slack(quantities: ResourceQuantities, prices: dict[str, str], unmeasured: Mapping[str, str]) -> dict[str, Any]:
    """Reserved but unused, per container-hour and resource of the table (what is charged under the max basis
    minus what was used: requests above use, GPUs allocated and idle), at the report's prices — what lowering
    requests toward use would save. A resource whose use could not be measured has no slack figure (None)."""
    parts: dict[str, dict[str, float] | None] = {}
    for resource in resource_table.RESOURCES:
        if resource.scope is not Scope.CONTAINER:
            continue
        if resource.key in unmeasured:
            parts[resource.key] = None
            continue
        charged = float(getattr(quantities, resource.charged_columns["max"]))
        unused = max(charged - float(getattr(quantities, f"{resource.quantity}_usage")), 0.0)
        parts[resource.key] = {"hours": unused, "cost": unused * float(prices.get(resource.price_key, "0"))}
    return {"parts": parts, "cost": sum(part["cost"] for part in parts.values() if part is not None)}


def _presentation(report: Chargeback, data: dict[str, Any]) -> dict[str, Any]:
    """What only the rendered documents show: state, provenance, charts, slack, per-team sections."""
    by_team = {team.team: team for team in report.teams()}
    for team in data["teams"]:
        info = report.teams_info.get(team["team"])
        team["owners"] = list(info.owners) if info else []
        team["slack"] = slack(by_team[team["team"]].quantities, report.prices, report.unmeasured)
        team["use"] = _use(by_team[team["team"]].quantities, report)
        team["lines"] = []
    forecasts = {item["team"]: item for item in (data["forecast"] or {}).get("teams", [])}
    budgets = {use["team"]: use for use in data["budgets"]}
    for team in data["teams"]:
        team["forecast"] = forecasts.get(team["team"])
        team["budget"] = budgets.get(team["team"])
        team["anomalies"] = [item for item in data["anomalies"] if item["team"] == team["team"]]
    savings = report.recommended_savings()
    for team in data["teams"]:
        mine = report.team_recommendations(team["team"])
        young = sum(1 for found in report.recommendations if found.team == team["team"] and not found.enough_data)
        team["recommended"] = {"saving": savings.get(team["team"], 0.0),
                               "top": [_recommendation_row(found, len(report.clusters) > 1)
                                       for found in mine[:TOP_RECOMMENDATIONS_SHOWN]],
                               "more": max(0, len(mine) - TOP_RECOMMENDATIONS_SHOWN),
                               "notEnoughData": young}  # fmt: skip
    teams = {team["team"]: team for team in data["teams"]}
    unallocated: list[dict[str, Any]] = []
    for line, charge in zip(data["lines"], report.lines, strict=True):
        line["slack"] = slack(charge.quantities, report.prices, report.unmeasured)
        line["use"] = _use(charge.quantities, report)
        shown = _workload_rows(charge, report)
        line["workloads"], line["moreWorkloads"] = shown[:TOP_WORKLOADS_SHOWN], len(shown[TOP_WORKLOADS_SHOWN:])
        if charge.team == UNALLOCATED:
            unallocated.extend({**row, "where": line["where"], **_claimed_by(charge.namespace, row["podLabels"])}
                               for row in shown)  # fmt: skip
        teams[line["team"]]["lines"].append(line)
    unallocated.sort(key=lambda row: (-row["cost"], row["where"], row["kind"], row["name"]))
    return {
        "state": report.state,
        "stateLabel": report.state_label,
        "stateClass": report.state_class,
        "version": report.version,
        "restates": report.restates,
        "previousPeriod": {"name": report.previous_period.name, "cost": report.previous_period.cost}
        if report.previous_period
        else None,
        "generatedAt": report.generated_at.strftime("%Y-%m-%d %H:%M UTC") if report.generated_at else None,
        "kubechargeVersion": __version__,
        "teamBars": charts.team_bars(report),
        "trend": charts.daily_trend(report),
        "resourceSplit": charts.resource_split(report),
        "slackCost": sum(team["slack"]["cost"] for team in data["teams"]),
        "slackTotals": _slack_totals(data["teams"]),
        "unallocatedWorkloads": unallocated[:TOP_WORKLOADS_SHOWN],
        "recommendationsShown": report.recommendation_window is not None,
        "recommendedSavingTotal": sum(savings.values()),
    }


TOP_RECOMMENDATIONS_SHOWN = 5


def _recommendation_row(found: Recommendation, many: bool) -> dict[str, Any]:
    """A recommendation as the documents show it (numbers present: only those with enough data are shown)."""
    return {"where": f"{found.cluster}/{found.namespace}" if many else found.namespace,
            "workload": f"{found.workload_kind}/{found.workload}", "container": found.container,
            "replicas": found.replicas, "cpuRequest": found.cpu_request_cores,
            "cpuRecommended": found.cpu_recommended_cores, "memoryRequest": found.memory_request_gib,
            "memoryRecommended": found.memory_recommended_gib,
            "saving": found.monthly_saving, "hpa": found.hpa}  # fmt: skip


def _labels(sets: tuple[str, ...]) -> dict[str, str]:
    """The pod labels a workload's pods carried (kube-state-metrics' names without `label_`), the first set's
    value where sets differ."""
    found: dict[str, str] = {}
    for text in sets:
        for key, value in json.loads(text).items():
            found.setdefault(key.removeprefix("label_"), value)
    return dict(sorted(found.items()))


def _claimed_by(namespace: str, labels: Mapping[str, str]) -> dict[str, str]:
    """What would claim an unallocated workload: its namespace by name, or a podSelector on one of its labels."""
    pods = next(iter(labels.items()), None)
    selector = f" — or its pods: podSelector: {{matchLabels: {{{pods[0]}: {pods[1]}}}}}" if pods else ""
    return {
        "labels": ", ".join(f"{key}={value}" for key, value in labels.items()) or "none exported",
        "claim": f"namespaces: [{namespace}]{selector}",
    }


def _workload_rows(line: ChargeLine, report: Chargeback) -> list[dict[str, Any]]:
    """A line's workloads, highest cost first: kind, name, cost (allocated) and slack."""
    rows = [{"kind": part.workload_kind or "(before workloads)", "name": part.workload or "—",
             "cost": part.total_allocated, "slack": slack(part.quantities, report.prices, report.unmeasured),
             "podLabels": _labels(part.pod_labels)}
            for part in line.workloads if part.total_allocated or part.quantities != ResourceQuantities()]  # fmt: skip
    return sorted(rows, key=lambda row: (-row["cost"], row["kind"], row["name"]))


def _slack_totals(teams: list[dict[str, Any]]) -> dict[str, dict[str, float] | None]:
    """The teams' slack added up per resource (None where the use could not be measured)."""
    totals: dict[str, dict[str, float] | None] = {}
    for team in teams:
        for key, part in team["slack"]["parts"].items():
            into = totals.setdefault(key, None if part is None else {"hours": 0.0, "cost": 0.0})
            if part is not None and into is not None:
                into["hours"] += part["hours"]
                into["cost"] += part["cost"]
    return totals


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
