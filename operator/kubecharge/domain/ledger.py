"""The ledger's rules, I/O-free: which hours to ask Prometheus for, which answers may replace stored hours,
and how complete a period is.

The database is the system of record and Prometheus a sensor with a short memory (10–15 days by default):
- an hour is collected once it is complete (plus a settle delay), never before, and kept;
- Prometheus is asked only for the hours the ledger lacks, plus a bounded re-check window for late data;
- an answer that saw fewer successful scrapes than the stored hour is *emptier* (retention, an outage) and
  never replaces it; an equal or fuller answer does (late data), so re-collecting never adds, only replaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kubecharge.domain.periods import HOUR


def iso_hour(moment: datetime) -> str:
    """`2026-10-01T05:00Z`: an hour as people read it in a sentence."""
    return moment.strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class HourCompleteness:
    """How completely one hour was observed, from the `up` series of the two scrape jobs.

    `*_targets_expected`: targets with an `up` series in the hour; `*_targets_seen`: those scraped successfully
    at least once; `*_scrapes_seen`: successful scrapes (the sum of `up`); `*_scrapes_expected`: attempts.
    """

    cadvisor_targets_expected: int = 0
    cadvisor_targets_seen: int = 0
    cadvisor_scrapes_expected: int = 0
    cadvisor_scrapes_seen: int = 0
    state_metrics_targets_expected: int = 0
    state_metrics_targets_seen: int = 0
    state_metrics_scrapes_expected: int = 0
    state_metrics_scrapes_seen: int = 0
    # dcgm-exporter's utilisation series seen in the hour: where GPUs were requested and none was, their use is
    # unknown (never 0), however the report is read later.
    gpu_utilisation_series: int = 0

    @property
    def scrapes_seen(self) -> int:
        return self.cadvisor_scrapes_seen + self.state_metrics_scrapes_seen

    @property
    def observed(self) -> bool:
        """Anything at all was scraped in this hour."""
        return self.scrapes_seen > 0

    @property
    def ratio(self) -> float:
        """Successful of attempted scrapes (0 for an hour nothing was scraped in)."""
        expected = self.cadvisor_scrapes_expected + self.state_metrics_scrapes_expected
        return self.scrapes_seen / expected if expected else 0.0

    def emptier_than(self, stored: HourCompleteness) -> bool:
        """An answer that must not replace `stored`: it saw fewer successful scrapes."""
        return self.scrapes_seen < stored.scrapes_seen

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)


NOTHING_OBSERVED = HourCompleteness()


@dataclass(frozen=True)
class CollectionPolicy:
    """When hours become collectable and how far back late data is looked for."""

    now: datetime
    settle: timedelta = timedelta(minutes=5)
    recheck: timedelta = timedelta(hours=6)
    recollect: bool = False  # ask again for every hour (still never replacing with an emptier answer)

    @property
    def complete_until(self) -> datetime:
        """End of the last complete, settled hour: nothing at or after it is collected or charged."""
        settled = self.now - self.settle
        return settled.replace(minute=0, second=0, microsecond=0)

    @property
    def recheck_from(self) -> datetime:
        return self.complete_until - self.recheck


def hours_to_collect(
    start: datetime, end: datetime, known: Mapping[datetime, HourCompleteness], policy: CollectionPolicy
) -> list[datetime]:
    """Hour starts in [start, end) to ask Prometheus for: unknown ones, and those inside the re-check window."""
    wanted = []
    moment = start
    while moment < end:
        if policy.recollect or moment not in known or moment >= policy.recheck_from:
            wanted.append(moment)
        moment += HOUR
    return wanted


def ranges(hours: Sequence[datetime], max_hours: int) -> Iterator[tuple[datetime, datetime]]:
    """Contiguous runs of `hours` (sorted hour starts), cut into half-open ranges of at most `max_hours`."""
    run: list[datetime] = []
    for hour in hours:
        if run and (hour != run[-1] + HOUR or len(run) >= max_hours):
            yield run[0], run[-1] + HOUR
            run = []
        run.append(hour)
    if run:
        yield run[0], run[-1] + HOUR


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime  # exclusive


@dataclass(frozen=True)
class Completeness:
    """How much of a period the report rests on: hours with data, and the elapsed hours without any."""

    hours_in_period: int
    hours_elapsed: int
    hours_collected: int
    first_hour: datetime | None
    last_hour: datetime | None
    gaps: tuple[Gap, ...]

    @property
    def complete(self) -> bool:
        return self.hours_collected == self.hours_in_period

    def describe(self) -> str:
        """In words, for reports and status: `data for 73 of 120 hours; no data 2026-09-29T00:00Z–...`."""
        text = f"data for {self.hours_collected} of {self.hours_in_period} hours"
        if self.hours_elapsed < self.hours_in_period:
            text += f" ({self.hours_elapsed} elapsed so far)"
        if self.gaps:
            shown = [f"{iso_hour(gap.start)}–{iso_hour(gap.end - HOUR)}" for gap in self.gaps[:5]]
            more = f" and {len(self.gaps) - 5} more gaps" if len(self.gaps) > 5 else ""
            text += "; no data " + ", ".join(shown) + more
        return text


def completeness(
    start: datetime, end: datetime, complete_until: datetime, known: Mapping[datetime, HourCompleteness]
) -> Completeness:
    """Completeness of [start, end) as of `complete_until`: hours after it are not elapsed, so not gaps."""
    elapsed_end = max(start, min(end, complete_until))
    observed = sorted(hour for hour, seen in known.items() if start <= hour < elapsed_end and seen.observed)
    observed_set = set(observed)
    gaps: list[Gap] = []
    moment = start
    while moment < elapsed_end:
        if moment not in observed_set:
            gap_start = moment
            while moment < elapsed_end and moment not in observed_set:
                moment += HOUR
            gaps.append(Gap(gap_start, moment))
        else:
            moment += HOUR
    return Completeness(
        hours_in_period=int((end - start) / HOUR),
        hours_elapsed=int((elapsed_end - start) / HOUR),
        hours_collected=len(observed),
        first_hour=observed[0] if observed else None,
        last_hour=observed[-1] if observed else None,
        gaps=tuple(gaps),
    )
