"""Reporting periods: UTC, half-open [start, end), aligned to hours.

A period's `name` appears in ConfigMap names, object keys and labels, so it is stable and sortable:
`YYYY-MM` for a month, `YYYY-Www` for an ISO week, `YYYY-MM-DD` for a day, `START_END` for a custom range
(`YYYY-MM-DD_YYYY-MM-DD`, or `YYYY-MM-DDTHH_YYYY-MM-DDTHH` when it does not start and end at midnight).
A custom range is at most `MAX_CUSTOM_DAYS` long: longer spans are several periods, not one huge query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from kubecharge.errors import PeriodError

HOUR = timedelta(hours=1)
MAX_CUSTOM_DAYS = 366


class PeriodKind(StrEnum):
    MONTHLY = "monthly"
    WEEKLY = "weekly"
    DAILY = "daily"
    CUSTOM = "custom"


def iso(moment: datetime) -> str:
    """`2026-10-01T05:00:00Z`: the one way a time is written into files, manifests, status and messages."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, order=True)
class Period:
    start: datetime
    end: datetime
    kind: PeriodKind

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
                raise PeriodError(f"period bounds must be UTC, got {moment.isoformat()}")
            if moment.minute or moment.second or moment.microsecond:
                raise PeriodError(f"period bounds must be whole hours, got {moment.isoformat()}")
        if self.end <= self.start:
            raise PeriodError(f"period end {self.end.isoformat()} is not after its start {self.start.isoformat()}")

    @property
    def name(self) -> str:
        if self.kind is PeriodKind.MONTHLY:
            return f"{self.start:%Y-%m}"
        if self.kind is PeriodKind.WEEKLY:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind is PeriodKind.DAILY:
            return f"{self.start:%Y-%m-%d}"
        if self.start.hour or self.end.hour:  # a range that is not whole days keeps its hours in its name
            return f"{self.start:%Y-%m-%dT%H}_{self.end:%Y-%m-%dT%H}"
        return f"{self.start:%Y-%m-%d}_{self.end:%Y-%m-%d}"

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def previous(self) -> Period:
        return containing(self.kind, self.start - HOUR)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def month(year: int, month_number: int) -> Period:
    start = datetime(year, month_number, 1, tzinfo=UTC)
    end = datetime(year + (month_number == 12), month_number % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end, PeriodKind.MONTHLY)


def iso_week(year: int, week: int) -> Period:
    start = _midnight(date.fromisocalendar(year, week, 1))
    return Period(start, start + timedelta(days=7), PeriodKind.WEEKLY)


def day(value: date) -> Period:
    start = _midnight(value)
    return Period(start, start + timedelta(days=1), PeriodKind.DAILY)


def containing(kind: PeriodKind, moment: datetime) -> Period:
    """The period of `kind` that contains `moment` (used by the operator for 'the current period')."""
    moment = moment.astimezone(UTC)
    if kind is PeriodKind.MONTHLY:
        return month(moment.year, moment.month)
    if kind is PeriodKind.WEEKLY:
        year, week, _ = moment.isocalendar()
        return iso_week(year, week)
    if kind is PeriodKind.DAILY:
        return day(moment.date())
    raise PeriodError("a custom period has no 'current' period; give START/END explicitly")


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HELP = "use YYYY-MM (a month), YYYY-Www (an ISO week), YYYY-MM-DD (a day) or START/END (ISO dates, end exclusive)"


def _parse_bound(text: str, original: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"period {original!r}: {text!r} is not an ISO date; {_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse(text: str) -> Period:
    """Parse a period as the CLI accepts it; every failure names the accepted forms."""
    value = text.strip()
    try:
        if match := _MONTH.match(value):
            year, number = int(match[1]), int(match[2])
            if not 1 <= number <= 12:
                raise PeriodError(f"period {text!r}: month {number} does not exist; {_HELP}")
            return month(year, number)
        if match := _WEEK.match(value):
            return iso_week(int(match[1]), int(match[2]))
        if _DAY.match(value):
            return day(date.fromisoformat(value))
    except ValueError as error:
        raise PeriodError(f"period {text!r} is not a real date ({error}); {_HELP}") from None
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        period = Period(_parse_bound(start_text, text), _parse_bound(end_text, text), PeriodKind.CUSTOM)
        if period.end - period.start > timedelta(days=MAX_CUSTOM_DAYS):
            days = (period.end - period.start) / timedelta(days=1)
            raise PeriodError(
                f"period {text!r} spans {days:,.0f} days; a custom period is at most {MAX_CUSTOM_DAYS} days: "
                "report a longer span as several months"
            )
        return period
    raise PeriodError(f"unknown period {text!r}; {_HELP}")
