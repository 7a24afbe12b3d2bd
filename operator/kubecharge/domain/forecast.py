"""Where a period in progress will end: each team's (and the cluster's) cost at the period's end, with an interval.

The model is small on purpose, so a team lead can follow it: the daily cost of the last four weeks (complete,
fully observed days) is fitted by least squares to a level, a linear trend and a weekday effect; the days left
are that fit extrapolated, and what is left of today is the fitted day times the share of a day's cost that
usually falls after this hour on this weekday (hour of day × day of week, from the hourly history). With less
than two weeks of history the trend and weekday effect are not fitted (the mean day, its spread widening the
interval); with less than two days there is no forecast. A team's forecast is the sum of its namespaces'
(each namespace's days left go to the team that owns it now, so a namespace moving between teams is no trend of
either). The interval is the fit's prediction interval for the sum of the days left (each day's error
independent, plus the uncertainty of the fitted line, plus half a percent for the measurement), never below what
has already been spent. Kubecost fits ARIMA to 100 days; a month of chargeback needs less than that, and the
backtest in `benchmarks/forecast_backtest.py` checks this one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import numpy as np

HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 2
SEASONAL_HISTORY_DAYS = 14  # from two of each weekday on, the weekday effect and the trend are fitted
CONFIDENCE = 0.8
MEASUREMENT_ERROR = 0.005  # half the 1 % band within which attribution from samples lands


@dataclass(frozen=True)
class Forecast:
    cost: float  # at the end of the period
    lower: float
    upper: float
    actual: float  # spent so far
    history_days: int  # the days the fit rests on (the longest of its series)
    method: str  # "trend and weekday" | "mean day" | "none left" | "no namespace left"


@dataclass(frozen=True)
class Projection:
    """One series' cost still to come in the period, and the standard deviation of that sum."""

    remaining: float
    sd: float
    history_days: int
    method: str


def project(history: Mapping[date, float], today: date, today_left: float, days_left: Sequence[date]
            ) -> Projection | None:  # fmt: skip
    """The cost still to come: `history` holds daily costs of complete days before `today` (the last
    `HISTORY_DAYS` are used); `today_left` is the share of today's usual cost still to come (1 at midnight);
    `days_left` are the whole days after today up to the period's end."""
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

    method = "trend and weekday" if seasonal else "mean day"
    ahead = [(today, today_left)] * (today_left > 0) + [(day, 1.0) for day in days_left]
    if not ahead:
        return Projection(0.0, 0.0, len(days), "none left")
    x = np.array([features(day) for day in days])
    y = np.array([history[day] for day in days])
    coefficients, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    sigma = float(np.sqrt(residuals @ residuals / max(1, len(days) - int(rank))))
    weights = np.array([weight for _, weight in ahead])
    rows = np.array([features(day) for day, _ in ahead])
    spread_of_fit = float(weights @ rows @ np.linalg.pinv(x.T @ x) @ rows.T @ weights)
    remaining = float(weights @ np.clip(rows @ coefficients, 0.0, None))
    return Projection(remaining, sigma * float(np.sqrt(weights @ weights + spread_of_fit)), len(days), method)


def combine(actual: float, projections: Sequence[Projection], confidence: float = CONFIDENCE) -> Forecast | None:
    """The period's cost at its end from what was spent and the projections of its series (independent: their
    variances add). The interval also allows for the measurement itself: costs read from sampled series are
    taken as uncertain by `MEASUREMENT_ERROR` of what is still to come, however steady the history."""
    if not projections:
        return None
    remaining = math.fsum(p.remaining for p in projections)
    sd = math.sqrt(math.fsum(p.sd**2 for p in projections) + (MEASUREMENT_ERROR * remaining) ** 2)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    cost = actual + remaining
    longest = max(projections, key=lambda p: p.history_days)
    return Forecast(cost, max(actual, cost - z * sd), cost + z * sd, actual, longest.history_days, longest.method)


def forecast(history: Mapping[date, float], actual: float, today: date, today_left: float, days_left: Sequence[date],
             confidence: float = CONFIDENCE) -> Forecast | None:  # fmt: skip
    """One series' cost at the period's end (see `project`); None with less than two days of history."""
    found = project(history, today, today_left, days_left)
    return combine(actual, [found], confidence) if found is not None else None


def share_left(hourly: Mapping[tuple[int, int], float], weekday: int, hour: int) -> float:
    """The share of a `weekday`'s cost that usually falls in hours ≥ `hour`, from costs summed per (weekday, hour)
    over the history (uniform over the hours when the history has none of that weekday)."""
    day = [hourly.get((weekday, h), 0.0) for h in range(24)]
    total = sum(day)
    if total <= 0:
        return (24 - hour) / 24
    return sum(day[hour:]) / total
