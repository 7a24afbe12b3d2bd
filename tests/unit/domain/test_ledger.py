"""The ledger's rules: which hours are collected, which answers may replace stored hours, completeness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubecharge.domain.collected import CONTAINER_KEYS, NAMESPACE_KEYS, ChunkUsage, empty_frame
from kubecharge.domain.ledger import (
    NOTHING_OBSERVED,
    CollectionPolicy,
    HourCompleteness,
    completeness,
    hours_to_collect,
    ranges,
)
from kubecharge.domain.periods import HOUR
from kubecharge.rollup import hour_table

START = datetime(2026, 10, 1, tzinfo=UTC)
SEEN = HourCompleteness(cadvisor_targets_expected=4, cadvisor_targets_seen=4, cadvisor_scrapes_expected=240,
                        cadvisor_scrapes_seen=238, state_metrics_targets_expected=1, state_metrics_targets_seen=1,
                        state_metrics_scrapes_expected=60, state_metrics_scrapes_seen=60)  # fmt: skip


def hours(first: datetime, count: int) -> list[datetime]:
    return [first + HOUR * i for i in range(count)]


def test_the_unfinished_hour_and_the_settle_delay_are_never_collected() -> None:
    assert CollectionPolicy(START + timedelta(hours=10, minutes=30)).complete_until == START + timedelta(hours=10)
    # 10:04 is inside the 5-minute settle delay of the 09:00 hour: only up to 09:00 is complete.
    assert CollectionPolicy(START + timedelta(hours=10, minutes=4)).complete_until == START + timedelta(hours=9)
    assert CollectionPolicy(START + timedelta(hours=10, minutes=5)).complete_until == START + timedelta(hours=10)


def test_only_unknown_hours_and_the_recheck_window_are_asked_for_whatever_the_day() -> None:
    for day in (1, 15, 28):
        now = START + timedelta(days=day - 1, hours=20, minutes=7)
        policy = CollectionPolicy(now, recheck=timedelta(hours=3))
        until = policy.complete_until
        known = {hour: SEEN for hour in hours(START, int((until - START) / HOUR) - 1)}  # all but the newest hour
        wanted = hours_to_collect(START, until, known, policy)
        assert wanted == hours(until - 3 * HOUR, 3)  # the newest hour is inside the window
        assert len(wanted) <= 3


def test_a_gap_in_the_ledger_is_filled_and_recollect_asks_for_everything() -> None:
    policy = CollectionPolicy(START + timedelta(days=2, minutes=30), recheck=timedelta(hours=2))
    known = {hour: SEEN for hour in hours(START, 48) if not (START + 10 * HOUR <= hour < START + 13 * HOUR)}
    wanted = hours_to_collect(START, START + timedelta(days=2), known, policy)
    assert wanted == [*hours(START + 10 * HOUR, 3), *hours(START + 46 * HOUR, 2)]
    everything = CollectionPolicy(policy.now, recheck=timedelta(hours=2), recollect=True)
    assert hours_to_collect(START, START + timedelta(days=2), known, everything) == hours(START, 48)


def test_ranges_are_contiguous_runs_cut_into_chunks() -> None:
    wanted = [*hours(START, 5), *hours(START + 10 * HOUR, 2)]
    assert list(ranges(wanted, 2)) == [
        (START, START + 2 * HOUR),
        (START + 2 * HOUR, START + 4 * HOUR),
        (START + 4 * HOUR, START + 5 * HOUR),
        (START + 10 * HOUR, START + 12 * HOUR),
    ]
    assert list(ranges([], 24)) == []


def test_an_emptier_answer_never_replaces_a_fuller_one() -> None:
    lost = HourCompleteness(cadvisor_scrapes_seen=100)  # Prometheus lost part of the hour since
    assert NOTHING_OBSERVED.emptier_than(SEEN)
    assert lost.emptier_than(SEEN)
    assert not SEEN.emptier_than(SEEN)  # the same observation (late data inside it) replaces
    assert not SEEN.emptier_than(lost)
    assert SEEN.ratio == (238 + 60) / (240 + 60)
    assert not NOTHING_OBSERVED.observed
    assert NOTHING_OBSERVED.ratio == 0.0


def test_completeness_counts_hours_and_names_the_gaps() -> None:
    start = datetime(2026, 9, 28, tzinfo=UTC)
    end = start + timedelta(hours=120)
    observed = [*hours(start, 24), start + 29 * HOUR, *hours(datetime(2026, 10, 1, tzinfo=UTC), 48)]
    known = {hour: SEEN for hour in observed} | {start + 30 * HOUR: NOTHING_OBSERVED}  # known, but empty
    seen = completeness(start, end, end, known)
    assert (seen.hours_in_period, seen.hours_elapsed, seen.hours_collected) == (120, 120, 73)
    assert (seen.first_hour, seen.last_hour) == (start, datetime(2026, 10, 2, 23, tzinfo=UTC))
    assert [(g.start, g.end) for g in seen.gaps] == [
        (datetime(2026, 9, 29, tzinfo=UTC), datetime(2026, 9, 29, 5, tzinfo=UTC)),
        (datetime(2026, 9, 29, 6, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
    ]
    assert seen.describe() == (
        "data for 73 of 120 hours; no data 2026-09-29T00:00Z–2026-09-29T04:00Z, 2026-09-29T06:00Z–2026-09-30T23:00Z"
    )
    assert not seen.complete


def test_hours_not_yet_elapsed_are_not_gaps() -> None:
    end = START + timedelta(days=31)
    seen = completeness(START, end, START + 10 * HOUR, {hour: SEEN for hour in hours(START, 10)})
    assert (seen.hours_in_period, seen.hours_elapsed, seen.hours_collected, seen.gaps) == (744, 10, 10, ())
    assert seen.describe() == "data for 10 of 744 hours (10 elapsed so far)"


def test_a_chunk_without_any_data_rolls_up_to_nothing() -> None:
    nothing, nowhere = empty_frame(CONTAINER_KEYS), empty_frame(NAMESPACE_KEYS)
    frames = {"cpu_usage_core_hours": nothing, "memory_request_gib_hours": nothing, "network_gib": nowhere}
    empty = ChunkUsage(START, START + HOUR, frames, {}, {START: NOTHING_OBSERVED})
    assert len(hour_table(empty)) == 0
