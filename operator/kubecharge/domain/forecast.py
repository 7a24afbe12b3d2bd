"""Where a period in progress will end: each team's (and the cluster's) cost at the period's end, with an interval.

The model is small on purpose, so a team lead can follow it: the daily cost of the last four weeks (complete,
fully observed days) is fitted by least squares to a level, a linear trend and a weekday effect; the days left
are that fit extrapolated, and what is left of today is the fitted day times the share of a day's cost that
usually falls after this hour on this weekday (hour of day × day of week, from the hourly history). With less
than two weeks of history the trend and weekday effect are not fitted (the mean day, its spread widening the
interval); with less than two days there is no forecast. The interval is the fit's prediction interval for the
sum of the days left (each day's error independent, plus the uncertainty of the fitted line), never below what
has already been spent. Kubecost fits ARIMA to 100 days; a month of chargeback needs less than that, and the
backtest in `benchmarks/forecast_backtest.py` checks this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import numpy as np

HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 2
SEASONAL_HISTORY_DAYS = 14  # from two of each weekday on, the weekday effect and the trend are fitted
CONFIDENCE = 0.8


@dataclass(frozen=True)
class Forecast:
    cost: float  # at the end of the period
    lower: float
    upper: float
    actual: float  # spent so far
    history_days: int  # the days the fit rests on
    method: str  # "trend and weekday" | "mean day"


def forecast(
    history: Mapping[date, float],
    actual: float,
    today: date,
    today_left: float,
    days_left: Sequence[date],
    confidence: float = CONFIDENCE,
) -> Forecast | None:
    """The period's cost at its end. `history`: daily costs of complete days before `today` (at most the last
    `HISTORY_DAYS` are used); `today_left`: the share of today's usual cost still to come (0 when the as-of
    moment is a midnight); `days_left`: the whole days after today up to the period's end."""
    days = sorted(day for day in history if day < today)[-HISTORY_DAYS:]
    if len(days) < MIN_HISTORY_DAYS:
        return None
    seasonal = len(days) >= SEASONAL_HISTORY_DAYS
    origin = days[0]

    def features(day: date) -> list[float]:
        if not seasonal:
            return [1.0]
        weekday = [1.0 if day.weekday() == w else 0.0 for w in range(1, 7)]  # Monday is the intercept's
        return [1.0, float((day - origin).days), *weekday]

    x = np.array([features(day) for day in days])
    y = np.array([history[day] for day in days])
    coefficients, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    dof = max(1, len(days) - int(rank))
    sigma = float(np.sqrt(residuals @ residuals / dof))
    ahead = [(today, today_left)] * (today_left > 0) + [(day, 1.0) for day in days_left]
    if not ahead:
        return Forecast(actual, actual, actual, actual, len(days), "none left")
    weights = np.array([weight for _, weight in ahead])
    rows = np.array([features(day) for day, _ in ahead])
    predicted = np.clip(rows @ coefficients, 0.0, None)
    remaining = float(weights @ predicted)
    spread_of_fit = weights @ rows @ np.linalg.pinv(x.T @ x) @ rows.T @ weights
    sd = sigma * float(np.sqrt(weights @ weights + spread_of_fit))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    cost = actual + remaining
    return Forecast(cost, max(actual, cost - z * sd), cost + z * sd, actual, len(days),
                    "trend and weekday" if seasonal else "mean day")  # fmt: skip


def share_left(hourly: Mapping[tuple[int, int], float], weekday: int, hour: int) -> float:
    """The share of a `weekday`'s cost that usually falls in hours ≥ `hour`, from costs summed per (weekday, hour)
    over the history (uniform over the hours when the history has none of that weekday)."""
    day = [hourly.get((weekday, h), 0.0) for h in range(24)]
    total = sum(day)
    if total <= 0:
        return (24 - hour) / 24
    return sum(day[hour:]) / total
