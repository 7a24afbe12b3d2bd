"""The outlook stage: from the days of the ledger's history priced as the report prices them, each team's
forecast for the period in progress, its budget use, and the days whose cost looks wrong.

Only days whose every hour is in the ledger with data count — as history for a forecast, as a baseline, or to be
judged: a day of missing data is not a day of zero cost. The idle line is the cluster's, not a team's: it is in
the cluster's forecast and in no team's or namespace's series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import pandas as pd

from kubecharge.domain import forecast as forecasting
from kubecharge.domain.anomalies import AnomalyRules, detect
from kubecharge.domain.charges import IDLE, Chargeback
from kubecharge.domain.ledger import HourCompleteness
from kubecharge.domain.outlook_model import Outlook, budget_uses
from kubecharge.domain.periods import HOUR, Period

HISTORY = timedelta(days=forecasting.HISTORY_DAYS)  # before the period: four weeks of baselines and of fit
HISTORY_PROBE_HOURS = 24 * 31  # hours of `up` asked at once when looking for what Prometheus still holds
CLUSTER = ("", "")  # the key of the cluster's own series in the hourly profile


def usable_days(known: Mapping[datetime, HourCompleteness]) -> set[date]:
    """The UTC days whose 24 hours all have data."""
    hours_per_day: dict[date, int] = {}
    for hour, seen in known.items():
        if seen.observed:
            hours_per_day[hour.date()] = hours_per_day.get(hour.date(), 0) + 1
    return {day for day, count in hours_per_day.items() if count == 24}


def daily_costs(days: Sequence[Chargeback]) -> pd.DataFrame:
    """One row per cluster, team, namespace and day: the allocated cost of the line that day (idle left out)."""
    rows = [(line.cluster, line.team, line.namespace, day.period_start.date(), line.total_allocated)
            for day in days for line in day.lines if line.team != IDLE]  # fmt: skip
    return pd.DataFrame(rows, columns=["cluster", "team", "namespace", "day", "cost"])


Shapes = dict[tuple[str, str], dict[tuple[int, int], float]]


def _shape(hourly: pd.DataFrame, before: datetime) -> Shapes:
    """Per namespace (cluster, namespace) and for the cluster, cost summed per (weekday, hour of day) over the
    hours before `before`."""
    earlier = hourly[hourly["hour_start"] < before]
    if earlier.empty:
        return {}
    stamps = pd.to_datetime(earlier["hour_start"], utc=True)
    frame = earlier.assign(weekday=stamps.dt.day_of_week, hour=stamps.dt.hour)
    everyone = frame.assign(cluster=CLUSTER[0], namespace=CLUSTER[1])
    sums = pd.concat([frame, everyone]).groupby(["cluster", "namespace", "weekday", "hour"])["cost"].sum()
    shapes: Shapes = {}
    for (cluster, namespace, weekday, hour), cost in zip(sums.index.to_list(), sums.to_list(), strict=True):
        shapes.setdefault((str(cluster), str(namespace)), {})[(int(weekday), int(hour))] = float(cost)
    return shapes


def _history(costs: pd.Series, usable: set[date], today: date) -> dict[date, float]:
    """A series' cost on each usable day before today, from its first day with a cost (0 where it had none)."""
    seen = costs[costs > 0]
    if seen.empty:
        return {}
    first = min(seen.index)
    return {day: float(costs.get(day, 0.0)) for day in sorted(usable) if first <= day < today}


def outlook(
    chargeback: Chargeback,
    days: Sequence[Chargeback],
    hourly: pd.DataFrame,
    known: Mapping[datetime, HourCompleteness],
    period: Period,
    until: datetime,
    rules: AnomalyRules | None,
) -> Outlook:
    """The outlook of `chargeback` as of `until` (the end of its last complete hour). `days` are the history's
    and the period's days priced one by one; `hourly` the direct cost per namespace and hour (`hourly_costs`)."""
    usable = usable_days(known)
    daily = daily_costs(days)
    period_end = min(until, period.end)
    judged = {day for day in usable
              if period.start.date() <= day and datetime.combine(day, datetime.min.time(), until.tzinfo)
              + timedelta(days=1) <= period_end}  # fmt: skip
    anomalies = tuple(detect(daily, usable, judged, rules)) if rules is not None else ()
    actual = {team.team: team.total_allocated for team in chargeback.teams() if team.team != IDLE}
    forecasts: dict[str, forecasting.Forecast] = {}
    cluster_forecast = None
    if until < period.end:  # a period that is over has no forecast
        today = until.date()
        days_left = [today + timedelta(days=n) for n in range(1, (period.end - HOUR).date().toordinal()
                                                                 - today.toordinal() + 1)]  # fmt: skip
        shapes = _shape(hourly, datetime.combine(today, datetime.min.time(), until.tzinfo))
        projections: dict[str, list[forecasting.Projection]] = {}
        owners = set()
        latest = daily.sort_values("day").groupby(["cluster", "namespace"])
        for (cluster, namespace), rows in latest:  # the days left of a namespace go to its team(s) of now
            left = forecasting.share_left(shapes.get((str(cluster), str(namespace)), {}), today.weekday(), until.hour)
            now = sorted(set(rows.loc[rows["day"] == rows["day"].iloc[-1], "team"].astype(str)))
            # One team now: the namespace's whole history is its (a namespace that changed teams has two lines that
            # day); several at once (pods claimed by label): each team's own lines of it.
            parts = [(now[0], rows)] if len(now) == 1 else [(team, rows[rows["team"] == team]) for team in now]
            for owner, own in parts:
                owners.add(owner)
                per_day = own.groupby("day")["cost"].sum()
                found = forecasting.project(_history(per_day, usable, today), today, left, days_left)
                if found is not None:
                    projections.setdefault(owner, []).append(found)
        for team in sorted(set(actual) | set(projections)):
            if team not in owners:  # it owns no namespace now: what it spent is what it costs
                spent = actual[team]
                forecasts[team] = forecasting.Forecast(spent, spent, spent, spent, 0, "no namespace left")
                continue
            combined = forecasting.combine(actual.get(team, 0.0), projections.get(team, []))
            if combined is not None:
                forecasts[team] = combined
        totals = pd.Series({day.period_start.date(): day.total_allocated for day in days})
        left = forecasting.share_left(shapes.get(CLUSTER, {}), today.weekday(), until.hour)
        cluster_forecast = forecasting.forecast(_history(totals, usable, today), chargeback.total_allocated, today,
                                                left, days_left)  # fmt: skip
    budgets = {info.team: (info.monthly_budget, info.budget_currency or chargeback.currency, info.budget_thresholds)
               for info in chargeback.teams_info.values() if info.monthly_budget is not None}  # fmt: skip
    uses = budget_uses(budgets, actual, forecasts, chargeback.currency, period.kind, period.start, period.end)
    return Outlook(until, forecasts, cluster_forecast, uses, anomalies)
