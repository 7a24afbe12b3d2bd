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
