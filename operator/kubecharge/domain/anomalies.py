"""Cost anomalies: a day that departs from what the same weekday usually costs — the runaway job or the leaked
load test a platform team wants to hear about the next morning, not at invoicing.

Each series (a namespace, or a team) is judged day by day against a robust baseline: the median of the same
weekday over the previous four weeks, with the median absolute deviation (scaled by 1.4826 to estimate a
standard deviation) as its spread. A day is anomalous only when it departs from the baseline by more than
`spread_factor` × the spread AND by more than `min_change_ratio` of the baseline AND by more than `min_cost`:
the spread ignores the usual noise, the ratio ignores small relative wobbles of a big series, the minimum ignores
big relative wobbles of a tiny one. A slow ramp never trips all three, since the baseline follows it. A series
is judged from its `min_history_days`-th day on, and only on days observed completely (a day of missing data
is not a day of zero cost).
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

MAD_TO_SIGMA = 1.4826  # the MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class AnomalyRules:
    spread_factor: float = 3.0
    min_change_ratio: float = 0.5
    min_cost: float = 1.0
    baseline_weeks: int = 4
    min_history_days: int = 10


@dataclass(frozen=True)
class Anomaly:
    cluster: str
    namespace: str | None  # None: the team's whole cost
    team: str
    day: date
    cost: float
    expected: float  # the baseline
    lower: float  # the band a day must leave to be flagged
    upper: float

    @property
    def change(self) -> float:
        return self.cost - self.expected

    @property
    def subject(self) -> str:
        """What is unusual, in the words of an Event: `namespace shop-api (team shop)` or `team shop`."""
        return f"namespace {self.namespace} (team {self.team})" if self.namespace is not None else f"team {self.team}"


def detect(
    daily: pd.DataFrame, usable_days: Collection[date], judged: Collection[date], rules: AnomalyRules
) -> list[Anomaly]:
    """Anomalies on the `judged` days. `daily` has one row per cluster, team, namespace and day with a `cost`
    (the namespace's cost that day, charged to the team that owned it then); `usable_days` are the days whose
    every hour has data: only they serve as baselines or are judged, and within them a namespace without a row
    cost nothing that day."""
    days = sorted(set(usable_days))
    if daily.empty or not days or not judged:
        return []
    found = _series(daily, ["cluster", "namespace"], days, rules, judged, namespace=True)
    teams = daily.groupby(["team", "day"])["cost"].sum().reset_index()
    teams["cluster"] = "+".join(sorted(set(daily["cluster"])))
    found += _series(teams, ["cluster", "team"], days, rules, judged, namespace=False)
    return sorted(found, key=lambda a: (a.day, a.team, a.namespace or ""))


def _series(
    daily: pd.DataFrame, keys: list[str], days: list[date], rules: AnomalyRules, judged: Collection[date],
    namespace: bool,
) -> list[Anomaly]:  # fmt: skip
    """Judge every series of `daily` keyed by `keys`, vectorised over series × days."""
    index = pd.DatetimeIndex(pd.to_datetime(days))
    costs = daily.pivot_table(index=keys, columns="day", values="cost", aggfunc="sum")
    costs.columns = pd.DatetimeIndex(pd.to_datetime(costs.columns))
    first_seen = costs.notna().to_numpy().argmax(axis=1)
    first_day = costs.columns[first_seen]
    grid = costs.reindex(columns=index).fillna(0.0)  # a usable day without a row: nothing ran, nothing cost
    values = grid.to_numpy()
    back = []
    for week in range(1, rules.baseline_weeks + 1):  # the same weekday, 1..N weeks before, where usable
        shifted = grid.reindex(columns=index - pd.Timedelta(weeks=week)).to_numpy()
        valid = (index - pd.Timedelta(weeks=week)).to_numpy()[None, :] >= first_day.to_numpy()[:, None]
        back.append(np.where(valid, shifted, np.nan))
    baseline_values = np.stack(back)  # weeks × series × days
    with warnings.catch_warnings():  # a median of nothing (no usable baseline day) is NaN, and that is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(baseline_values, axis=0)
        spread = MAD_TO_SIGMA * np.nanmedian(np.abs(baseline_values - expected[None]), axis=0)
    history_days = (index.to_numpy()[None, :] - first_day.to_numpy()[:, None]) / np.timedelta64(1, "D")
    margin = np.maximum.reduce([rules.spread_factor * spread, rules.min_change_ratio * np.abs(expected),
                                np.full_like(expected, rules.min_cost)])  # fmt: skip
    wanted = np.isin(index.date, np.asarray(sorted(judged), dtype=object))[None, :]
    flagged = wanted & (history_days >= rules.min_history_days) & ~np.isnan(expected)
    flagged &= np.abs(values - np.nan_to_num(expected)) > np.nan_to_num(margin)
    teams = _owners(daily, keys) if namespace else None
    found = []
    for row, column in zip(*np.nonzero(flagged), strict=True):
        key = grid.index[row]
        day = index[column].date()
        cluster, name = key
        team = teams.get((cluster, name, day), teams.get((cluster, name), "")) if teams is not None else name
        found.append(Anomaly(cluster, name if namespace else None, team, day, float(values[row, column]),
                             float(expected[row, column]), max(0.0, float(expected[row, column] - margin[row, column])),
                             float(expected[row, column] + margin[row, column])))  # fmt: skip
    return found


def _owners(daily: pd.DataFrame, keys: list[str]) -> dict[tuple[object, ...], str]:
    """The team of a namespace on a day, and (for a day it has no row: it cost nothing) its latest team."""
    owners: dict[tuple[object, ...], str] = {}
    for cluster, namespace, day, team in daily.sort_values("day")[[*keys, "day", "team"]].itertuples(index=False):
        owners[(cluster, namespace, day)] = team
        owners[(cluster, namespace)] = team
    return owners
