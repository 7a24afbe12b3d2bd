from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubecharge.domain import periods
from kubecharge.domain.periods import PeriodKind
from kubecharge.errors import PeriodError


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc, arg-type]


@pytest.mark.parametrize(
    ("text", "start", "end", "name"),
    [
        ("2026-10", utc(2026, 10, 1), utc(2026, 11, 1), "2026-10"),
        ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1), "2026-12"),
        ("2026-02-28", utc(2026, 2, 28), utc(2026, 3, 1), "2026-02-28"),
        ("2026-W01", utc(2025, 12, 29), utc(2026, 1, 5), "2026-W01"),
        ("2026-10-01/2026-10-03", utc(2026, 10, 1), utc(2026, 10, 3), "2026-10-01_2026-10-03"),
        # Ranges that are not whole days keep their hours: two halves of a day are two names, not one.
        ("2026-10-01T00:00/2026-10-01T06:00", utc(2026, 10, 1), utc(2026, 10, 1, 6), "2026-10-01T00_2026-10-01T06"),
        ("2026-10-01T06:00/2026-10-01T12:00", utc(2026, 10, 1, 6), utc(2026, 10, 1, 12), "2026-10-01T06_2026-10-01T12"),
        ("2026-10-01T18:00/2026-10-03", utc(2026, 10, 1, 18), utc(2026, 10, 3), "2026-10-01T18_2026-10-03T00"),
        ("2026-01-01/2027-01-01", utc(2026, 1, 1), utc(2027, 1, 1), "2026-01-01_2027-01-01"),  # a year: allowed
    ],
)
def test_parse(text: str, start: datetime, end: datetime, name: str) -> None:
    period = periods.parse(text)
    assert (period.start, period.end, period.name) == (start, end, name)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-02-30",
        "yesterday",
        "2026-10-03/2026-10-01",
        "2026-10-01T00:30/2026-10-02",
        "2010-01-01/2030-01-01",
        "2026-01-01/2027-01-03",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(PeriodError):
        periods.parse(text)


def test_hours_count_the_period_exactly() -> None:
    assert periods.parse("2026-10").hours == 31 * 24
    assert periods.parse("2026-03").hours == 31 * 24  # UTC: no daylight-saving hour is lost or gained


def test_containing_and_previous() -> None:
    assert periods.containing(PeriodKind.MONTHLY, utc(2026, 11, 27, 10)).name == "2026-11"
    assert periods.containing(PeriodKind.MONTHLY, utc(2026, 11, 27)).previous().name == "2026-10"
    assert periods.containing(PeriodKind.WEEKLY, utc(2026, 11, 27)).name == "2026-W48"
    assert periods.containing(PeriodKind.DAILY, utc(2026, 11, 27, 23)).previous().name == "2026-11-26"
