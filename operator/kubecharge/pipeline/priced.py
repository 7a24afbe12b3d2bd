"""Attributed hours priced over a span: the period, each of its days, the period before and the history the outlook
reads. Under full cost each span's nodes are priced and their idle allocated within it, so every span adds up to
what the cluster cost in it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from kubecharge import allocate, outlook, pricing
from kubecharge.domain.charges import Chargeback, PreviousPeriod, TeamInfo
from kubecharge.domain.ledger import Completeness, HourCompleteness
from kubecharge.domain.mappings import UNALLOCATED, TeamMapping
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.outlook_model import Outlook
from kubecharge.domain.periods import Period, PeriodKind
from kubecharge.domain.usage import AttributedHour
from kubecharge.pipeline.request import ReportRequest
from kubecharge.pricing import NodeHourCost, NodeKey


def team_info(mappings: Sequence[TeamMapping]) -> dict[str, TeamInfo]:
    """Per team, what its TeamMappings say of it: where several feed one team (`spec.team`), each field from the
    first (highest priority, then name) that sets it — a mapping that only adds namespaces takes nothing away."""
    info: dict[str, TeamInfo] = {UNALLOCATED: TeamInfo(UNALLOCATED, "Unallocated")}
    for mapping in sorted(mappings, key=lambda m: (-m.priority, m.name)):
        budget = mapping.budget
        found = TeamInfo(mapping.team, mapping.display_name, mapping.cost_center, mapping.owners,
                         float(budget.monthly) if budget else None, budget.currency if budget else None,
                         budget.thresholds if budget else ())  # fmt: skip
        known = info.get(mapping.team)
        if known is None:
            info[mapping.team] = found
            continue
        budgeted = known if known.monthly_budget is not None else found
        info[mapping.team] = TeamInfo(
            mapping.team, known.display_name or found.display_name, known.cost_center or found.cost_center,
            known.owners or found.owners, budgeted.monthly_budget, budgeted.budget_currency,
            budgeted.budget_thresholds,
        )  # fmt: skip
    return info


def price_span(request: ReportRequest, attributed: Sequence[AttributedHour], start: datetime, end: datetime,
               node_costs: Mapping[NodeKey, NodeHourCost]) -> Chargeback:  # fmt: skip
    """Attributed hours over [start, end), priced: the period's report, one of its days, or the period before.

    Under full-cost allocation the nodes of [start, end) are priced and their idle (and the shared namespaces'
    cost) allocated within that span, so every span's lines add up to what the cluster cost in it."""
    spec = request.report
    model = spec.full_cost
    full = None
    if model is None:
        lines = pricing.price(attributed, spec.charge_basis, spec.pricing)
    else:
        within = {key: cost for key, cost in node_costs.items() if start <= key[2] < end}
        full = pricing.price_full(attributed, spec.charge_basis, spec.pricing, within)
        lines = allocate.allocate(full.lines, full.idle, model)
    priced = Chargeback(
        period_name=request.period.name,
        period_start=start,
        period_end=end,
        cluster=request.cluster,
        clusters=request.cluster_names,
        basis=spec.charge_basis,
        currency=spec.pricing.currency,
        prices=dict(pricing.price_table(spec.pricing)),
        lines=tuple(lines),
        teams_info=team_info(request.mappings),
        state="final" if request.policy.now >= request.period.end + spec.finalize_after else "provisional",
    )
    if model is None or full is None:
        return priced
    return dataclasses.replace(priced, cluster_cost=full.cluster_cost, node_types=full.node_types,
                               idle_mode=str(model.idle),
                               shared_namespaces=model.shared.namespaces if model.shared else ())  # fmt: skip


def node_costs_of(request: ReportRequest, nodes: Sequence[NodeHour]) -> dict[NodeKey, NodeHourCost]:
    """The nodes' hourly costs under the report's pricing (none for direct charges: nothing needs them)."""
    if request.report.full_cost is None:
        return {}
    return pricing.node_hour_costs(nodes, request.report.pricing, request.node_bill)


def priced_period(request: ReportRequest, attributed: Sequence[AttributedHour],
                  node_costs: Mapping[NodeKey, NodeHourCost], completeness: Completeness | None = None
                  ) -> Chargeback:  # fmt: skip
    """The period priced, with the same lines per UTC day, from hours attributed once (`attributed` and
    `node_costs` may reach beyond the period)."""
    start, end = request.period.start, request.period.end
    within = [item for item in attributed if start <= item.row.hour_start < end]
    days = priced_days(request, within, node_costs, start, end)
    return dataclasses.replace(price_span(request, within, start, end, node_costs), completeness=completeness,
                               days=days, generated_at=datetime.now(UTC))  # fmt: skip


def priced_days(request: ReportRequest, attributed: Sequence[AttributedHour],
                node_costs: Mapping[NodeKey, NodeHourCost], start: datetime, end: datetime
                ) -> tuple[Chargeback, ...]:  # fmt: skip
    """Each UTC day of [start, end) with data priced on its own, as the daily CSV shows it."""
    by_day: dict[datetime, list[AttributedHour]] = {}
    for item in attributed:
        if start <= item.row.hour_start < end:
            by_day.setdefault(item.row.hour_start.replace(hour=0), []).append(item)
    for key in node_costs:  # a day with nodes but no usage still has their (idle) cost
        if start <= key[2] < end:
            by_day.setdefault(key[2].replace(hour=0), [])
    return tuple(price_span(request, items, max(day, start), min(day + timedelta(days=1), end), node_costs)
                 for day, items in sorted(by_day.items()))  # fmt: skip


def outlook_of(chargeback: Chargeback, request: ReportRequest, attributed: Sequence[AttributedHour],
               node_costs: Mapping[NodeKey, NodeHourCost], known: Mapping[datetime, HourCompleteness],
               since: datetime, until: datetime) -> Outlook:  # fmt: skip
    """Forecasts, budgets and anomalies from the ledger's attributed history [since, until): the days before the
    period are priced as the period's own days are, so baselines and forecasts speak of the same costs as the
    report."""
    attributed = [item for item in attributed if since <= item.row.hour_start]
    before = priced_days(request, attributed, node_costs, since, request.period.start)
    in_progress = until < request.period.end  # only a forecast needs the hours' shape
    hourly = pricing.hourly_costs(attributed if in_progress else (), request.report.charge_basis,
                                  request.report.pricing)  # fmt: skip
    return outlook.outlook(
        chargeback, (*before, *chargeback.days), hourly, known, request.period, until, request.report.anomalies
    )


def previous_period(period: Period) -> Period | None:
    """The period a report is compared with (none for a custom range)."""
    return None if period.kind is PeriodKind.CUSTOM else period.previous()


def previous_total(request: ReportRequest, attributed: Sequence[AttributedHour],
                   node_costs: Mapping[NodeKey, NodeHourCost]) -> PreviousPeriod | None:  # fmt: skip
    """The period before this one, priced at this report's prices from what the ledger holds of it (`attributed`
    and `node_costs` may hold more; None when it holds nothing of it, or the period is a custom range): a team
    lead's first question is "more or less than last time?"."""
    before = previous_period(request.period)
    if before is None:
        return None
    within = [item for item in attributed if before.start <= item.row.hour_start < before.end]
    if not within:
        return None
    priced = price_span(request, within, before.start, before.end, node_costs)
    return PreviousPeriod(before.name, priced.total_allocated,
                          {summary.team: summary.total_allocated for summary in priced.teams()})  # fmt: skip
