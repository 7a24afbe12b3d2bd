"""A period's outlook: where it is heading (forecasts), what was planned (budgets), what looked wrong (anomalies).

Budgets are monthly (the TeamMapping's `spec.budget.monthly`); a weekly, daily or custom period is held to the
share of the month it covers, by hours, of the month it starts in. A budget in another currency than the report
is never converted: it is reported as a problem and compared with nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kubecharge.domain.anomalies import Anomaly
from kubecharge.domain.forecast import Forecast
from kubecharge.domain.periods import HOUR, PeriodKind

DEFAULT_THRESHOLDS = (50, 75, 90, 100)  # percent of the budget


@dataclass(frozen=True)
class BudgetUse:
    team: str
    monthly: float
    budget: float  # for this period
    currency: str
    actual: float
    forecast: float | None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    problem: str | None = None  # why the budget is not compared (another currency)

    @property
    def used_ratio(self) -> float | None:
        return self.actual / self.budget if self.problem is None and self.budget > 0 else None

    @property
    def forecast_ratio(self) -> float | None:
        if self.problem is not None or self.forecast is None or self.budget <= 0:
            return None
        return self.forecast / self.budget

    @property
    def reached(self) -> tuple[int, ...]:
        """The thresholds the cost so far has reached."""
        used = self.used_ratio
        return tuple(t for t in self.thresholds if used is not None and 100 * used >= t)

    @property
    def forecast_exceeded(self) -> bool:
        ratio = self.forecast_ratio
        return ratio is not None and ratio > 1.0


@dataclass(frozen=True)
class Outlook:
    as_of: datetime  # the end of the last complete hour the numbers rest on
    forecasts: Mapping[str, Forecast] = field(default_factory=dict)  # by team; a period that is over has none
    cluster_forecast: Forecast | None = None
    budgets: tuple[BudgetUse, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()


def period_budget(monthly: float, kind: PeriodKind, start: datetime, end: datetime) -> float:
    """The monthly budget held against a period: all of it for a calendar month, else the period's share (by
    hours) of the month it starts in."""
    if kind is PeriodKind.MONTHLY:
        return monthly
    month_hours = calendar.monthrange(start.year, start.month)[1] * 24
    return monthly * ((end - start) / HOUR) / month_hours


def budget_uses(
    budgets: Mapping[str, tuple[float, str, tuple[int, ...]]],
    actual: Mapping[str, float],
    forecasts: Mapping[str, Forecast],
    currency: str,
    kind: PeriodKind,
    start: datetime,
    end: datetime,
) -> tuple[BudgetUse, ...]:
    """Each budgeted team's use: `budgets` maps a team to (monthly amount, currency, thresholds)."""
    uses = []
    for team, (monthly, budget_currency, thresholds) in sorted(budgets.items()):
        problem = None
        if budget_currency != currency:
            problem = (f"budget is in {budget_currency} but the report prices in {currency}; kubecharge does not "
                       f"convert currencies: give the budget in {currency}")  # fmt: skip
        found = forecasts.get(team)
        uses.append(BudgetUse(team, monthly, period_budget(monthly, kind, start, end), budget_currency,
                              actual.get(team, 0.0), found.cost if found is not None else None,
                              tuple(sorted(thresholds)), problem))  # fmt: skip
    return tuple(uses)
