"""Forecasts, anomalies, budgets and their notices on hand-made series, with every expected value worked out by
hand from the rules in the modules' docstrings."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from kubecharge.domain.anomalies import MAD_TO_SIGMA, AnomalyRules, detect
from kubecharge.domain.charges import Chargeback, ChargeLine, Costs
from kubecharge.domain.forecast import Projection, combine, forecast, share_left
from kubecharge.domain.ledger import HourCompleteness
from kubecharge.domain.notices import notices_of
from kubecharge.domain.outlook_model import Outlook, budget_uses, period_budget
from kubecharge.domain.periods import Period, PeriodKind
from kubecharge.domain.usage import ChargeBasis, ResourceQuantities
from kubecharge.outlook import outlook

MONDAY = date(2026, 9, 7)
Z80 = 1.2815515655446004  # the standard normal's 90th percentile: an 80 % two-sided interval


def days(count: int, first: date = MONDAY) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


def frame(costs: dict[date, float], namespace: str = "api", team: str = "shop") -> pd.DataFrame:
    return pd.DataFrame([("c", team, namespace, day, cost) for day, cost in costs.items()],
                        columns=["cluster", "team", "namespace", "day", "cost"])  # fmt: skip


def test_a_spike_against_four_identical_weekdays_is_flagged_with_its_band() -> None:
    every = days(35)
    costs = {day: 10.0 for day in every}
    costs[every[28]] = 30.0  # the fifth Monday at three times the usual
    found = detect(frame(costs), every, {every[28]}, AnomalyRules())
    namespace = [a for a in found if a.namespace == "api"]
    assert len(namespace) == 1
    item = namespace[0]
    # Baseline: median of the four Mondays before = 10, MAD 0; margin = max(3 × 0, 50 % of 10, 1) = 5.
    assert (item.day, item.cost, item.expected, item.lower, item.upper) == (every[28], 30.0, 10.0, 5.0, 15.0)
    assert [a.namespace for a in found] == [None, "api"]  # the team's series (the same cost) too


@pytest.mark.parametrize(
    ("value", "flagged"),
    [
        (14.9, False),  # +49 %: not more than half the baseline
        (15.1, True),
        (4.9, True),  # −51 %
        (0.0, True),  # nothing ran: an outage day
    ],
)
def test_the_relative_limit_decides_on_a_quiet_series(value: float, flagged: bool) -> None:
    every = days(35)
    costs = {day: 10.0 for day in every}
    costs[every[30]] = value
    if value == 0.0:
        del costs[every[30]]  # a usable day without a row: the namespace cost nothing
    found = detect(frame(costs), every, {every[30]}, AnomalyRules())
    assert bool([a for a in found if a.namespace]) is flagged


def test_the_spread_and_the_minimum_cost_limits() -> None:
    every = days(35)
    # Wednesdays 8, 10, 12, 10 (median 10, MAD 1 → spread 1.4826): 3 × spread = 4.45 beats 50 % only below 8.9
    noisy = {day: 10.0 for day in every}
    for week, value in enumerate((8.0, 10.0, 12.0, 10.0)):
        noisy[every[2 + 7 * week]] = value
    noisy[every[30]] = 15.2  # +52 %: more than 3 × spread (4.45), 50 % (5) and 1
    found = detect(frame(noisy), every, {every[30]}, AnomalyRules())
    assert [a.namespace for a in found] == [None, "api"]
    assert found[1].upper == pytest.approx(15.0)
    # At 4 × spread (5.93) the spread is the widest limit, and the same day is within it.
    assert detect(frame(noisy), every, {every[30]}, AnomalyRules(spread_factor=4.0)) == []
    wide = detect(frame({**noisy, every[30]: 16.0}), every, {every[30]}, AnomalyRules(spread_factor=4.0))
    assert wide[1].upper == pytest.approx(10 + 4 * MAD_TO_SIGMA)
    # A series of cents tripling is not worth a morning's attention: under the minimum cost.
    cents = {day: 0.2 for day in every}
    cents[every[28]] = 0.6
    assert detect(frame(cents), every, {every[28]}, AnomalyRules()) == []
    assert len(detect(frame(cents), every, {every[28]}, AnomalyRules(min_cost=0.1))) == 2


def test_young_series_and_days_without_data_are_not_judged() -> None:
    every = days(35)
    costs = {day: 10.0 for day in every[25:]}  # a namespace that appeared on day 25
    costs[every[33]] = 50.0  # 8 days old: not judged
    assert detect(frame(costs), every, {every[33]}, AnomalyRules()) == []
    costs = {day: 10.0 for day in every}
    del costs[every[28]]
    usable = [day for day in every if day != every[28]]  # Prometheus saw nothing that day: not a zero-cost day
    assert detect(frame(costs), usable, {every[28]}, AnomalyRules()) == []


def test_a_slow_ramp_is_never_flagged() -> None:
    every = days(42)
    costs = {day: 10.0 * (1 + 0.02 * n) for n, day in enumerate(every)}
    assert detect(frame(costs), every, set(every), AnomalyRules()) == []


def test_the_mean_day_forecast_and_its_interval_by_hand() -> None:
    history = dict(zip(days(5), (10.0, 12.0, 8.0, 10.0, 10.0), strict=True))
    today = MONDAY + timedelta(days=5)
    found = forecast(history, actual=4.0, today=today, today_left=0.5, days_left=days(2, today + timedelta(days=1)))
    assert found is not None
    assert found.method == "mean day"
    # Mean 10, so 0.5 + 2 days ahead cost 25; σ = sqrt(8 / 4); weights (0.5, 1, 1): Σw² = 2.25, (Σw)² / n = 1.25.
    # The measurement's half percent of the 25 still to come is added in quadrature.
    sd = math.sqrt(2.0 * (2.25 + 2.5**2 / 5) + (0.005 * 25) ** 2)
    assert found.cost == pytest.approx(29.0)
    assert found.upper == pytest.approx(29.0 + Z80 * sd)
    assert found.lower == pytest.approx(29.0 - Z80 * sd)


def test_a_weekly_pattern_with_a_trend_is_extrapolated_exactly() -> None:
    weekday = (10.0, 11.0, 12.0, 11.0, 10.0, 4.0, 3.0)
    every = days(28)
    history = {day: weekday[day.weekday()] + 0.25 * n for n, day in enumerate(every)}
    today = every[-1] + timedelta(days=1)  # a Monday, day 28
    ahead = days(6, today + timedelta(days=1))
    found = forecast(history, actual=100.0, today=today, today_left=1.0, days_left=ahead)
    assert found is not None
    assert found.method == "trend and weekday"
    expected = sum(weekday[day.weekday()] + 0.25 * (28 + n) for n, day in enumerate([today, *ahead]))
    assert found.cost == pytest.approx(100.0 + expected)
    # An exact fit leaves only the measurement's half percent of what is to come.
    assert found.upper - found.lower == pytest.approx(2 * Z80 * 0.005 * expected, rel=1e-6)


def test_no_forecast_without_two_days_and_none_needed_when_nothing_is_left() -> None:
    assert forecast({MONDAY: 5.0}, 3.0, MONDAY + timedelta(days=1), 1.0, []) is None
    found = forecast(dict.fromkeys(days(3), 5.0), 7.0, MONDAY + timedelta(days=3), 0.0, [])
    assert found is not None
    assert (found.cost, found.lower, found.upper) == (7.0, 7.0, 7.0)


def test_share_left_follows_the_hours_of_the_weekday() -> None:
    hourly = {(0, hour): (3.0 if 8 <= hour < 20 else 1.0) for hour in range(24)}  # Mondays: busy by day
    assert share_left(hourly, 0, 0) == 1.0
    assert share_left(hourly, 0, 20) == pytest.approx(4 / (12 * 3 + 12))
    assert share_left(hourly, 3, 18) == pytest.approx(6 / 24)  # no Thursday seen: the hours are even


def test_budgets_are_prorated_and_another_currency_is_not_compared() -> None:
    october = datetime(2026, 10, 1, tzinfo=UTC)
    assert period_budget(310.0, PeriodKind.MONTHLY, october, october + timedelta(days=31)) == 310.0
    assert period_budget(310.0, PeriodKind.WEEKLY, october, october + timedelta(days=7)) == pytest.approx(70.0)
    assert period_budget(310.0, PeriodKind.DAILY, october, october + timedelta(days=1)) == pytest.approx(10.0)
    uses = budget_uses({"shop": (100.0, "USD", (50, 75, 90, 100)), "web": (100.0, "EUR", (50,))},
                       {"shop": 80.0, "web": 99.0}, {}, "USD", PeriodKind.MONTHLY, october,
                       october + timedelta(days=31))  # fmt: skip
    shop, web = uses
    assert (shop.used_ratio, shop.reached, shop.forecast_ratio, shop.forecast_exceeded) == (0.8, (50, 75), None, False)
    assert web.used_ratio is None
    assert web.reached == ()
    assert "EUR" in (web.problem or "")


def test_notices_are_keyed_by_period_team_threshold_and_day() -> None:
    october = datetime(2026, 10, 1, tzinfo=UTC)
    uses = budget_uses({"shop": (100.0, "USD", (50, 75, 90, 100))}, {"shop": 95.0}, {}, "USD",
                       PeriodKind.MONTHLY, october, october + timedelta(days=31))  # fmt: skip
    chargeback = Chargeback("2026-10", october, october + timedelta(days=31), "east", ChargeBasis.MAX, "USD", {}, (),
                            {}, outlook=Outlook(october + timedelta(days=10), budgets=uses))  # fmt: skip
    keys = [notice.key for notice in notices_of(chargeback)]
    assert keys == [f"BudgetThresholdReached/2026-10/shop/{t}" for t in (50, 75, 90)]


def test_namespaces_projections_add_up_and_their_variances_add() -> None:
    found = combine(10.0, [Projection(5.0, 3.0, 20, "mean day"), Projection(15.0, 4.0, 28, "trend and weekday")])
    assert found is not None
    sd = math.sqrt(3.0**2 + 4.0**2 + (0.005 * 20.0) ** 2)
    assert (found.cost, found.history_days, found.method) == (30.0, 28, "trend and weekday")
    assert found.lower == pytest.approx(30.0 - Z80 * sd)
    assert found.upper == pytest.approx(30.0 + Z80 * sd)
    assert combine(10.0, []) is None
    # The lower end never goes below what was already spent.
    assert combine(10.0, [Projection(1.0, 50.0, 28, "mean day")]).lower == 10.0  # type: ignore[union-attr]


def test_a_namespace_that_changed_teams_is_forecast_for_its_team_of_now() -> None:
    """Namespace `api` costs 10 a day; team x owned it until noon on 5 October, team y since (two lines that day).
    As of the 15th at midnight, y's forecast is what y spent plus the 17 days left (its history is api's, whole);
    x spent its part and is forecast nothing more."""
    october = datetime(2026, 10, 1, tzinfo=UTC)
    start = october - timedelta(days=28)

    def day(moment: datetime, shares: dict[str, float]) -> Chargeback:
        lines = tuple(ChargeLine(team, "api", ResourceQuantities(), 0.0, 0.0, Costs(cpu=10.0 * share))
                      for team, share in shares.items())  # fmt: skip
        return Chargeback("d", moment, moment + timedelta(days=1), "c", ChargeBasis.MAX, "USD", {}, lines, {})

    days = [day(start + timedelta(days=n), {"x": 1.0}) for n in range(28 + 4)]
    days.append(day(october + timedelta(days=4), {"x": 0.5, "y": 0.5}))
    days += [day(october + timedelta(days=n), {"y": 1.0}) for n in range(5, 14)]
    in_period = [d for d in days if d.period_start >= october]
    period_lines = (ChargeLine("x", "api", ResourceQuantities(), 0, 0, Costs(cpu=45.0)),
                    ChargeLine("y", "api", ResourceQuantities(), 0, 0, Costs(cpu=95.0)))  # fmt: skip
    chargeback = Chargeback("2026-10", october, october + timedelta(days=31), "c", ChargeBasis.MAX, "USD", {},
                            period_lines, {}, days=tuple(in_period))  # fmt: skip
    seen = HourCompleteness(cadvisor_scrapes_seen=1)
    known = {start + timedelta(hours=h): seen for h in range(24 * (28 + 14))}
    until = october + timedelta(days=14)
    hourly = pd.DataFrame(columns=["cluster", "namespace", "hour_start", "cost"])
    found = outlook(chargeback, days, hourly, known, Period(october, october + timedelta(days=31),
                                                            PeriodKind.MONTHLY), until, None)  # fmt: skip
    assert found.forecasts["y"].cost == pytest.approx(95.0 + 17 * 10.0)
    assert found.forecasts["x"].cost == pytest.approx(45.0)
    assert found.forecasts["x"].upper == pytest.approx(45.0)
    assert found.cluster_forecast is not None
    assert found.cluster_forecast.cost == pytest.approx(140.0 + 170.0)
