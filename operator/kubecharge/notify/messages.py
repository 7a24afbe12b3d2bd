"""What each team is told about a period: its cost, the change, its budget, where the money went, what it could
save, and where to look — one `TeamMessage`, whatever channel carries it.

Every figure comes from the chargeback the report published (the same numbers as its CSV and portal), so a message
can never disagree with the export it announces. Keys make each message unique per report: the ledger sends a key
once per channel, ever."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from kubecharge.domain import resource_table
from kubecharge.domain.charges import Chargeback, TeamSummary
from kubecharge.domain.mappings import UNALLOCATED
from kubecharge.domain.notices import notices_of
from kubecharge.domain.notifications import MessageEvent, Notifications, ProvisionalSchedule
from kubecharge.domain.periods import HOUR, iso

TOP_SHOWN = 3  # namespaces and workloads named in a message (the link has the rest)
_NOTICE_EVENTS = {"BudgetThresholdReached": MessageEvent.BUDGET, "BudgetForecastExceeded": MessageEvent.BUDGET,
                  "CostAnomaly": MessageEvent.ANOMALY}  # fmt: skip


@dataclass(frozen=True)
class TeamMessage:
    key: str  # unique per report, e.g. published/2026-10/v3-final/payments
    event: MessageEvent
    title: str  # one line: what happened
    team: str
    display_name: str
    period: str
    state: str  # the state label every human view shows (final, provisional, final — incomplete …)
    version: str
    currency: str
    cost: float
    cost_by_resource: tuple[tuple[str, float], ...]  # (resource label, cost), each resource the report prices
    previous: tuple[str, float] | None  # (period, the team's cost then)
    budget: float | None
    budget_used_ratio: float | None
    forecast: float | None
    forecast_budget_ratio: float | None
    top_namespaces: tuple[tuple[str, float], ...]
    top_workloads: tuple[tuple[str, float], ...]  # ("Deployment payments-api/checkout", cost)
    monthly_saving: float
    notice: str | None  # the budget or anomaly notice itself
    link: str | None
    cost_center: str | None = None
    hours: tuple[int, int] | None = None  # (hours with data, hours in the period)
    through: str | None = None  # the end of the newest hour with data (ISO-8601)

    def to_json(self) -> str:
        """Kept with its claim in the ledger: a message that failed is sent again as it was first made."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TeamMessage:
        found = json.loads(text)
        pairs = ("cost_by_resource", "top_namespaces", "top_workloads")
        return cls(**{**found, "event": MessageEvent(found["event"]),
                      **{name: tuple((label, float(cost)) for label, cost in found[name]) for name in pairs},
                      "previous": tuple(found["previous"]) if found["previous"] else None,
                      "hours": tuple(found["hours"]) if found["hours"] else None})  # fmt: skip

    @property
    def change_ratio(self) -> float | None:
        if self.previous is None or self.previous[1] <= 0:
            return None
        return self.cost / self.previous[1] - 1.0


def published_version(chargeback: Chargeback, schedule: ProvisionalSchedule, now: datetime) -> str | None:
    """The version a team is told about: a final once per export version (a restatement is a new one), a
    provisional once per day or ISO week; None when provisional messages are not wanted."""
    if chargeback.state == "final":
        return chargeback.version or "final"
    if schedule is ProvisionalSchedule.NEVER:
        return None
    if schedule is ProvisionalSchedule.DAILY:
        return f"provisional-{now.date().isoformat()}"
    year, week, _ = now.isocalendar()
    return f"provisional-{year}-W{week:02d}"


def team_link(settings: Notifications, chargeback: Chargeback, team: str, fallback: str | None) -> str | None:
    if settings.link:
        return f"{settings.link.rstrip('/')}/periods/{chargeback.period_name}/teams/{team}"
    return fallback


def messages_of(chargeback: Chargeback, settings: Notifications, now: datetime,
                fallback_link: str | None = None) -> list[TeamMessage]:  # fmt: skip
    """Every message this chargeback calls for under `settings`, one per team and event (unallocated cost and the
    cluster's idle capacity are nobody's message). Each team's figures are worked out once; its notices reuse them."""
    version = published_version(chargeback, settings.provisional, now)
    summaries = {summary.team: summary for summary in chargeback.teams()}
    savings = chargeback.recommended_savings()
    teams = {team: message for team in sorted(set(chargeback.teams_info) & set(summaries) - {UNALLOCATED})
             if (message := _team_message(chargeback, settings, summaries[team], savings, version or chargeback.state,
                                          fallback_link)) is not None}  # fmt: skip
    found = list(teams.values()) if MessageEvent.PUBLISHED in settings.events and version is not None else []
    for notice in notices_of(chargeback):
        event = _NOTICE_EVENTS.get(notice.reason)
        if event is not None and event in settings.events and notice.team in teams:
            found.append(_as_notice(teams[notice.team], event, notice.key, notice.message))
    return found


def _as_notice(message: TeamMessage, event: MessageEvent, key: str, notice: str) -> TeamMessage:
    kind = "Budget" if event is MessageEvent.BUDGET else "Cost anomaly"
    return replace(message, key=key, event=event, notice=notice,
                   title=f"{kind}: {message.display_name}, {message.period}")  # fmt: skip


def _team_message(chargeback: Chargeback, settings: Notifications, summary: TeamSummary, savings: dict[str, float],
                  version: str, fallback_link: str | None) -> TeamMessage | None:  # fmt: skip
    team = summary.team
    lines = [line for line in chargeback.lines if line.team == team]
    if not lines:
        return None
    info = chargeback.teams_info[team]
    display = info.display_name or team
    by_namespace: dict[str, float] = defaultdict(float)
    workloads: dict[str, float] = defaultdict(float)
    for line in lines:
        by_namespace[line.namespace] += line.total_allocated
        for workload in line.workloads:
            workloads[f"{workload.workload_kind} {line.namespace}/{workload.workload}"] += workload.total_allocated
    cost = sum(by_namespace.values())
    priced = [r for r in resource_table.RESOURCES if r.key not in chargeback.unmeasured]
    by_resource = tuple((r.label, summary.costs.of(r.key)) for r in priced if summary.costs.of(r.key))
    previous = chargeback.previous_period
    before = previous.team_costs.get(team) if previous is not None else None
    outlook = chargeback.outlook
    use = next((u for u in outlook.budgets if u.team == team and u.problem is None), None) if outlook else None
    forecast = outlook.forecasts.get(team) if outlook else None
    done = chargeback.completeness
    return TeamMessage(
        key=f"published/{chargeback.period_name}/{version}/{team}", event=MessageEvent.PUBLISHED,
        title=f"{display}: {chargeback.period_name} {chargeback.state_label}, {cost:,.2f} {chargeback.currency}",
        team=team, display_name=display, period=chargeback.period_name, state=chargeback.state_label,
        version=version, currency=chargeback.currency, cost=cost, cost_by_resource=by_resource,
        previous=(previous.name, before) if previous is not None and before is not None else None,
        budget=use.budget if use else None, budget_used_ratio=use.used_ratio if use else None,
        forecast=forecast.cost if forecast else None,
        forecast_budget_ratio=use.forecast_ratio if use else None,
        top_namespaces=_top(by_namespace), top_workloads=_top(workloads),
        monthly_saving=savings.get(team, 0.0), notice=None,
        link=team_link(settings, chargeback, team, fallback_link), cost_center=info.cost_center,
        hours=(done.hours_collected, done.hours_in_period) if done else None,
        through=iso(done.last_hour + HOUR) if done and done.last_hour else None,
    )  # fmt: skip


def _top(costs: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(costs.items(), key=lambda item: (-item[1], item[0]))[:TOP_SHOWN])
