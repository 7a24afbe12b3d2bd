"""The ledger's storage rules on SQLite and PostgreSQL: a re-collected hour replaces (never adds to) what was
stored, an emptier answer never replaces a fuller one — whichever source (Prometheus, URL) gives it: an hour is the
cluster's, its source only provenance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy

from kubecharge.domain.ledger import NOTHING_OBSERVED, HourCompleteness
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities
from kubecharge.store.repository import Repository

HOUR = datetime(2026, 10, 1, 5, tzinfo=UTC)
NEXT = HOUR + timedelta(hours=1)
FULL = HourCompleteness(cadvisor_targets_expected=2, cadvisor_targets_seen=2, cadvisor_scrapes_expected=120,
                        cadvisor_scrapes_seen=120, state_metrics_targets_expected=1, state_metrics_targets_seen=1,
                        state_metrics_scrapes_expected=60, state_metrics_scrapes_seen=60)  # fmt: skip
PARTIAL = HourCompleteness(cadvisor_targets_expected=2, cadvisor_targets_seen=2, cadvisor_scrapes_expected=40,
                           cadvisor_scrapes_seen=40)  # fmt: skip


def row(namespace: str, hour: datetime, cores: float) -> NamespaceHour:
    return NamespaceHour(namespace, hour, ResourceQuantities(cpu_core_hours_usage=cores, cpu_core_hours_max=cores),
                         {"label_team": "a"})  # fmt: skip


def cores(repository: Repository) -> dict[tuple[str, datetime], float]:
    loaded = repository.load_hours("prod", HOUR, NEXT + timedelta(hours=1))
    return {(r.namespace, r.hour_start): r.quantities.cpu_core_hours_usage for r in loaded}


def test_recollected_hours_replace_and_emptier_answers_are_refused(database_url: str) -> None:
    repository = Repository(database_url)
    try:
        written = repository.store_chunk("prod", "prom-a", {HOUR: FULL, NEXT: FULL},
                                         [row("shop", HOUR, 2.0), row("db", HOUR, 1.0), row("shop", NEXT, 3.0)],
                                         datetime.now(UTC))  # fmt: skip
        assert written == 2
        # Late data in the same observation: the hour is replaced whole (db gone, shop changed), never added to.
        assert repository.store_chunk("prod", "prom-a", {HOUR: FULL}, [row("shop", HOUR, 2.5)], datetime.now(UTC)) == 1
        assert cores(repository) == {("shop", HOUR): 2.5, ("shop", NEXT): 3.0}
        # Prometheus lost the hours since (retention): an emptier or empty answer changes nothing.
        assert repository.store_chunk("prod", "prom-a", {HOUR: PARTIAL, NEXT: NOTHING_OBSERVED},
                                      [row("shop", HOUR, 0.7)], datetime.now(UTC)) == 0  # fmt: skip
        assert cores(repository) == {("shop", HOUR): 2.5, ("shop", NEXT): 3.0}
        assert repository.known_hours("prod", HOUR, NEXT + timedelta(hours=1)) == {HOUR: FULL, NEXT: FULL}
        # Another source (a new URL, Thanos) is another witness of the same hours: emptier, it changes nothing ...
        assert repository.store_chunk("prod", "prom-b", {HOUR: PARTIAL}, [row("shop", HOUR, 9.0)],
                                      datetime.now(UTC)) == 0  # fmt: skip
        assert cores(repository) == {("shop", HOUR): 2.5, ("shop", NEXT): 3.0}
        # ... as full, it replaces the hour whole (never adds), and is recorded as the hour's source.
        assert repository.store_chunk("prod", "prom-b", {NEXT: FULL}, [row("shop", NEXT, 3.5)], datetime.now(UTC)) == 1
        assert cores(repository) == {("shop", HOUR): 2.5, ("shop", NEXT): 3.5}
        assert _sources(database_url) == {HOUR: "prom-a", NEXT: "prom-b"}
        # Another cluster's hours stay apart.
        assert repository.store_chunk("staging", "prom-b", {HOUR: FULL}, [row("shop", HOUR, 7.0)], datetime.now(UTC))
        assert cores(repository) == {("shop", HOUR): 2.5, ("shop", NEXT): 3.5}
        # An hour known to hold nothing is recorded as such (not asked for again outside the re-check window).
        empty_hour = NEXT + timedelta(hours=1)
        assert repository.store_chunk("prod", "prom-a", {empty_hour: NOTHING_OBSERVED}, [], datetime.now(UTC)) == 1
        assert repository.known_hours("prod", empty_hour, empty_hour + timedelta(hours=1)) == {
            empty_hour: NOTHING_OBSERVED
        }
    finally:
        repository.close()


def _sources(database_url: str) -> dict[datetime, str]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text(
                "SELECT hour_start, source FROM ledger_hours WHERE cluster = 'prod'")).all()  # fmt: skip
    finally:
        engine.dispose()
    return {_utc(hour): source for hour, source in rows}


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _web(hour: datetime, node: str, cores: float) -> NamespaceHour:
    return NamespaceHour("shop", hour, ResourceQuantities(cpu_core_hours_usage=cores), {"team": "a"}, "prod", node,
                         "Deployment", "web")  # fmt: skip


def _day_cores(repository: Repository, start: datetime, end: datetime) -> dict[datetime, float]:
    return {r.hour_start: r.quantities.cpu_core_hours_usage for r in repository.load_workload_days("prod", start, end)}


def _execute(database_url: str, statement: str) -> list[tuple[object, ...]]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(sqlalchemy.text(statement))
            return [tuple(found) for found in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_workload_days_are_kept_and_summed_again_when_their_hours_change(database_url: str) -> None:
    """A whole day's sums are kept once read and read back from there; an hour collected again makes the day's
    sums be worked out anew; a partial day is summed each time and never kept."""
    day = datetime(2026, 10, 1, tzinfo=UTC)
    hours = [day + timedelta(hours=i) for i in range(30)]  # the whole first day and 6 hours of the second
    repository = Repository(database_url)
    try:
        repository.store_chunk("prod", "prom-a", dict.fromkeys(hours, FULL),
                               [r for hour in hours for r in (_web(hour, "n1", 0.25), _web(hour, "n2", 0.5))],
                               datetime.now(UTC))  # fmt: skip
        end = day + timedelta(days=1, hours=6)
        # 24 hours × (0.25 + 0.5) and 6 hours of the second day from its start
        assert _day_cores(repository, day, end) == {day: 18.0, day + timedelta(days=1): 4.5}
        kept = [_utc(str(found)) for (found,) in _execute(database_url, "SELECT day FROM workload_day_sources")]
        assert kept == [day]
        # The kept day is what the next read returns (marked here so the test can tell it from a new sum).
        _execute(database_url, "UPDATE workload_days SET cpu_core_hours_usage = 99.0")
        assert _day_cores(repository, day, end) == {day: 99.0, day + timedelta(days=1): 4.5}
        # One hour of the day collected again (late data): the day is summed anew from its hours.
        repository.store_chunk("prod", "prom-a", {hours[5]: FULL}, [_web(hours[5], "n1", 1.25)], datetime.now(UTC))
        assert _day_cores(repository, day, end) == {day: 18.0 - 0.75 + 1.25, day + timedelta(days=1): 4.5}
        # A range starting within a day sums that part of it, dated at the range's start.
        assert _day_cores(repository, hours[20], end) == {hours[20]: 4 * 0.75, day + timedelta(days=1): 4.5}
    finally:
        repository.close()
