"""A chargeback cut down to what one viewer may see: their teams' lines, days, budgets, forecasts, anomalies and
recommendations, and nothing that tells the rest (the cluster's cost and forecast, idle capacity, node types, the
previous period's cluster total: their teams' part of it instead). Every page, API answer and download is rendered
from this, so nothing can leak by one view forgetting a filter."""

from __future__ import annotations

import dataclasses

from kubecharge.domain.charges import Chargeback, PreviousPeriod
from kubecharge.portal.access import Viewer


def visible_to(chargeback: Chargeback, viewer: Viewer) -> Chargeback:
    if viewer.all_teams:
        return chargeback
    sees = viewer.sees
    outlook = chargeback.outlook
    if outlook is not None:
        outlook = dataclasses.replace(
            outlook, forecasts={team: found for team, found in outlook.forecasts.items() if sees(team)},
            cluster_forecast=None, budgets=tuple(use for use in outlook.budgets if sees(use.team)),
            anomalies=tuple(found for found in outlook.anomalies if sees(found.team)),
        )  # fmt: skip
    return dataclasses.replace(
        chargeback,
        lines=tuple(line for line in chargeback.lines if sees(line.team)),
        teams_info={team: info for team, info in chargeback.teams_info.items() if sees(team)},
        days=tuple(visible_to(day, viewer) for day in chargeback.days),
        previous_period=_previous_of(chargeback.previous_period, viewer),
        cluster_cost=None,
        node_types=(),
        outlook=outlook,
        recommendations=tuple(found for found in chargeback.recommendations if sees(found.team)),
    )


def _previous_of(previous: PreviousPeriod | None, viewer: Viewer) -> PreviousPeriod | None:
    if previous is None:
        return None
    costs = {team: cost for team, cost in previous.team_costs.items() if viewer.sees(team)}
    return PreviousPeriod(previous.name, sum(costs.values()), costs) if costs else None
