"""A counter's increase per hour from the per-hour facts every backend evaluates alike, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from kubecharge.domain.counters import hourly_increase

NAN = float("nan")


def increase(last: float, low: float, high: float, samples: float, previous: float) -> float:
    return float(hourly_increase(*(np.array([value]) for value in (last, low, high, samples, previous)))[0])


@pytest.mark.parametrize(
    ("facts", "expected", "why"),
    [
        ((500.0, 440.0, 500.0, 60, 430.0), 70.0, "from the last value of the hour before"),
        ((500.0, 440.0, 500.0, 50, 300.0), 200.0, "a gap between the hours is counted here, not lost"),
        ((30.0, 3.0, 30.0, 10, NAN), 30.0, "a new cgroup starts at zero: its first value is usage since it began"),
        ((7.0, 7.0, 7.0, 1, NAN), 7.0, "a cgroup seen once: from zero"),
        ((9030.0, 9000.0, 9030.0, 10, NAN), 30.0, "back after more than an hour: only what it gained in the hour"),
        ((40.0, 0.0, 900.0, 60, 850.0), 90.0, "a reset in the hour: 50 before it, 40 after"),
        ((40.0, 10.0, 40.0, 60, 850.0), 40.0, "a reset between the hours: counted from zero"),
        ((160.0, 120.0, 200.0, 4, 100.0), 260.0, "100 → 150, 200, reset, 120, 160: seen by the highest value alone"),
        ((950.0, 0.0, 950.0, 60, 850.0), 950.0, "after a reset the last value is the highest: the part before it "
         "is unknown, none is made up"),
    ],
)  # fmt: skip
def test_increase(facts: tuple[float, ...], expected: float, why: str) -> None:
    assert increase(*facts) == pytest.approx(expected), why


def test_consecutive_hours_add_up_to_the_counter() -> None:
    """Hours split anywhere: their increases add up to the counter's last value (a cgroup that began at zero)."""
    lasts = np.array([12.0, 75.0, 140.0, 141.0])
    previous = np.array([NAN, 12.0, 75.0, 140.0])
    hours = hourly_increase(lasts, np.array([3.0, 15.0, 80.0, 141.0]), lasts, np.full(4, 60.0), previous)
    assert hours.sum() == pytest.approx(141.0)
