"""The database behind one small interface: the ledger's hours (store a chunk, read what is known, load rollups)
and the audit trail of runs.

Every write is one transaction: a chunk's hours land whole or not at all, so an interrupted run leaves each
hour either as it was or as newly collected, never a mix; an emptier answer never replaces a stored hour.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, or_, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col, create_engine, select

from kubecharge.domain.hour_table import KEY_COLUMNS, HourTable
from kubecharge.domain.ledger import HourCompleteness, ranges
from kubecharge.domain.nodes import NodeHour
from kubecharge.domain.periods import HOUR
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities
from kubecharge.errors import InputError, StorageError
from kubecharge.store import hour_rows, schema, workload_days
from kubecharge.store.tables import (
    ContainerDay,
    HourlyUsage,
    LedgerHour,
    NamespaceHourRecord,
    NodeHourRecord,
    Notice,
    Notification,
    PortalSession,
    ReportRun,
    RunLease,
    UsageKey,
)

log = logging.getLogger(__name__)

_NODE_AMOUNTS = (("cpu", "cpu_cores"), ("memory", "memory_gib"), ("gpu", "gpus"))  # resource key → column suffix


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _reason(error: SQLAlchemyError) -> str:
    """What the database said (the driver's first line), without SQLAlchemy's statement and parameters."""
    original = getattr(error, "orig", None)
    return (str(original) if original is not None else str(error)).splitlines()[0]


def _utc(moment: datetime) -> datetime:
    """SQLite drops the zone; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_QUANTITIES = ResourceQuantities.names()
_KEYS_AT_ONCE = 500  # usage keys added (and read back) per statement


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Repository:
    def __init__(self, url: str, migrate: bool = True) -> None:
        """`migrate`: bring the schema up to date first (the CLI's own database); otherwise require it current."""
        self.url = url
        self._keys: dict[tuple[str, ...], int] = {}  # usage key → its id (`_key_ids`)
        try:
            self.engine: Engine = create_engine(url)
        except Exception as error:  # a URL SQLAlchemy cannot even read is the user's input, not a database fault
            postgresql = "postgresql+psycopg://USER:PASSWORD@HOST:5432/DB"
            hint = postgresql if url.startswith("postg") else f"sqlite:///path/to/kubecharge.db or {postgresql}"
            raise InputError(f"database URL {_without_password(url)!r} is not usable ({type(error).__name__}); "
                             f"write it like {hint}") from None  # fmt: skip
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            schema.upgrade(url)
        else:
            schema.require_current(url)

    def _lock_cluster(self, session: Session, cluster: str) -> None:
        """One writer of a cluster's hours at a time, until the transaction ends: two reports (or replicas) storing
        the same hours at once would otherwise both find them absent and both insert them. SQLite serialises
        writers itself; PostgreSQL is told with a transaction-scoped advisory lock."""
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(
                hashlib.sha256(f"kubecharge-hours/{cluster}".encode()).digest()[:8], "big", signed=True
            )
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _guard(self, action: Any, what: str) -> Any:
        try:
            return action()
        except SQLAlchemyError as error:
            raise StorageError(f"database error while trying to {what}: {_reason(error)}") from None

    def store_chunk(
        self,
        cluster: str,
        source: str,
        completeness: Mapping[datetime, HourCompleteness],
        rows: HourTable | Iterable[NamespaceHour],
        collected_at: datetime,
        nodes: Iterable[NodeHour] = (),
    ) -> int:
        """Store freshly collected hours, in one transaction; returns how many hours were written.

        An hour is the cluster's, whichever source (Prometheus, URL) observed it; `source` is recorded as
        provenance. An hour whose stored record saw more successful scrapes than the new answer (Prometheus lost it
        to retention or an outage since, or another source saw more) keeps its stored rollups. Any other hour is
        replaced whole: its old rows are deleted and the new ones inserted, so re-collecting never adds to what
        was there.
        """
        hours = sorted(_utc(hour) for hour in completeness)
        if not hours:
            return 0
        table = rows if isinstance(rows, HourTable) else HourTable.of(rows)
        by_hour = {_utc(hour): seen for hour, seen in completeness.items()}
        node_rows: dict[datetime, list[NodeHour]] = {}
        for node in nodes:
            node_rows.setdefault(_utc(node.hour_start), []).append(node)

        def write() -> int:
            with Session(self.engine) as session, session.begin():
                self._lock_cluster(session, cluster)
                stored = self._completeness(session, cluster, hours[0], hours[-1] + HOUR)
                accepted = [h for h in hours if h not in stored or not by_hour[h].emptier_than(stored[h])]
                if not accepted:
                    return 0
                for first, end in ranges(accepted, len(accepted)):
                    for kind in (HourlyUsage, NamespaceHourRecord, NodeHourRecord, LedgerHour):
                        session.execute(
                            delete(kind).where(
                                col(kind.cluster) == cluster,
                                col(kind.hour_start) >= first,
                                col(kind.hour_start) < end,
                            )
                        )
                kept = hour_rows.accepted(table, accepted)
                connection = session.connection()
                hour_rows.insert_usage(connection, cluster, kept, self._key_ids(connection, kept))
                totals = hour_rows.namespace_totals(cluster, kept)
                machines = [
                    {
                        "cluster": cluster,
                        "node": node.node,
                        "hour_start": hour,
                        "hours": node.hours,
                        "provider_id": node.provider_id,
                        "labels_json": json.dumps(dict(node.labels), sort_keys=True),
                        **{
                            f"{kind}_{column}": amounts.get(key, 0.0)
                            for kind, amounts in (("capacity", node.capacity), ("allocatable", node.allocatable))
                            for key, column in _NODE_AMOUNTS
                        },
                    }
                    for hour in accepted
                    for node in node_rows.get(hour, ())
                ]
                namespaces = hour_rows.namespaces_per_hour(kept)
                known = [
                    {
                        "cluster": cluster,
                        "source": source,
                        "hour_start": hour,
                        "collected_at": collected_at,
                        "namespaces": namespaces.get(hour, 0),
                        **{name: getattr(by_hour[hour], name) for name in HourCompleteness.names()},
                    }
                    for hour in accepted
                ]
                for kind, values in ((NamespaceHourRecord, totals), (NodeHourRecord, machines), (LedgerHour, known)):
                    if values:
                        session.execute(insert(kind), values)
                return len(accepted)

        try:
            return int(self._guard(write, "store hourly rollups"))
        except StorageError:
            self._keys.clear()  # ids taken in a transaction that did not commit
            raise

    def _key_ids(self, connection: Connection, table: HourTable) -> dict[tuple[str, ...], int]:
        """The `usage_keys` id of each key of `table`, adding those the ledger does not hold yet. Ids never change:
        they are remembered for the repository's life (a chunk asks only for its new ones)."""
        wanted = hour_rows.distinct_keys(table)
        ids = {key: known for key in wanted if (known := self._keys.get(key)) is not None}  # another thread may clear
        missing = [key for key in wanted if key not in ids]
        if missing:
            keys = SQLModel.metadata.tables["usage_keys"]
            dialect = connection.dialect.name
            adding = sqlite_insert(keys) if dialect == "sqlite" else postgresql_insert(keys)
            names = list(KEY_COLUMNS)
            for part in range(0, len(missing), _KEYS_AT_ONCE):
                batch = missing[part : part + _KEYS_AT_ONCE]
                connection.execute(adding.on_conflict_do_nothing(),
                                   [dict(zip(names, key, strict=True)) for key in batch])  # fmt: skip
                namespaces = sorted({key[0] for key in batch})
                found = connection.execute(select(keys.c.id, *(keys.c[name] for name in names))
                                           .where(keys.c.namespace.in_(namespaces)))  # fmt: skip
                added = {tuple(record[1:]): int(record[0]) for record in found}
                ids.update({key: added[key] for key in batch})
                self._keys.update(added)
        return ids

    @staticmethod
    def _completeness(
        session: Session, cluster: str, start: datetime, end: datetime
    ) -> dict[datetime, HourCompleteness]:
        statement = select(LedgerHour).where(
            LedgerHour.cluster == cluster,
            LedgerHour.hour_start >= start,
            LedgerHour.hour_start < end,
        )
        return {
            _utc(record.hour_start): HourCompleteness(
                **{name: getattr(record, name) for name in HourCompleteness.names()}
            )
            for record in session.exec(statement)
        }

    def known_hours(self, cluster: str, start: datetime, end: datetime) -> dict[datetime, HourCompleteness]:
        """The hours in [start, end) the ledger holds for the cluster, with or without data, and how complete
        (whichever source observed them)."""

        def read() -> dict[datetime, HourCompleteness]:
            with Session(self.engine) as session:
                return self._completeness(session, cluster, start, end)

        return dict(self._guard(read, "read the ledger's hours"))

    def load_hours(self, cluster: str, start: datetime, end: datetime, by_node: bool = True) -> list[NamespaceHour]:
        """The stored rollups of [start, end), by namespace and hour, and by node and workload unless `by_node` is
        False: then
        each namespace-hour is one row on node "" with its quantities summed over its nodes (stored so: direct
        charges do not depend on the node, and a month of a cluster is a few dozen times fewer rows so).
        Plain rows, not ORM objects; names, hours and label sets are shared by the rows that repeat them."""

        def read() -> list[NamespaceHour]:
            parsed: dict[str, dict[str, str]] = {}
            hours: dict[datetime, datetime] = {}
            shared: dict[str, str] = {}
            namespace_table = (NamespaceHourRecord.namespace, NamespaceHourRecord.hour_start,
                               NamespaceHourRecord.labels_json, NamespaceHourRecord.pod_labels)  # fmt: skip
            totals = [getattr(NamespaceHourRecord, name) for name in _QUANTITIES] if not by_node else []
            statement = select(*namespace_table, *totals).where(
                col(NamespaceHourRecord.cluster) == cluster, col(NamespaceHourRecord.hour_start) >= start,
                col(NamespaceHourRecord.hour_start) < end,
            )  # fmt: skip
            with self.engine.connect() as connection:
                labels: dict[tuple[str, datetime], dict[str, str]] = {}
                rows: list[NamespaceHour] = []
                ordered = statement.order_by(col(NamespaceHourRecord.namespace), col(NamespaceHourRecord.hour_start),
                                             col(NamespaceHourRecord.pod_labels))  # fmt: skip
                for record in connection.execute(ordered):
                    namespace, text = shared.setdefault(record[0], record[0]), record[2]
                    hour = hours.get(record[1]) or hours.setdefault(record[1], _utc(record[1]))
                    if text not in parsed:
                        parsed[text] = json.loads(text)
                    if by_node:
                        labels[(namespace, hour)] = parsed[text]
                    else:
                        rows.append(
                            NamespaceHour(
                                namespace,
                                hour,
                                ResourceQuantities(*record[4:]),
                                parsed[text],
                                cluster,
                                "",
                                pod_labels=shared.setdefault(record[3], record[3]),
                            )
                        )
                if not by_node:
                    return rows
                keys: list[Any] = [UsageKey.namespace, HourlyUsage.hour_start, UsageKey.node, UsageKey.workload_kind,
                                   UsageKey.workload, UsageKey.pod_labels]  # fmt: skip
                columns = [*keys, *(getattr(HourlyUsage, name) for name in _QUANTITIES)]
                by_nodes = (
                    select(*columns)
                    .join(UsageKey, col(UsageKey.id) == col(HourlyUsage.key_id))
                    .where(col(HourlyUsage.cluster) == cluster, col(HourlyUsage.hour_start) >= start,
                           col(HourlyUsage.hour_start) < end)
                    .order_by(*(col(key) for key in keys))
                )  # fmt: skip
                for found in connection.execute(by_nodes):
                    stored: tuple[Any, ...] = tuple(found)
                    hour = hours.get(stored[1]) or hours.setdefault(stored[1], _utc(stored[1]))
                    namespace = shared.setdefault(stored[0], stored[0])
                    rows.append(NamespaceHour(namespace, hour, ResourceQuantities(*stored[6:]),
                                              labels.get((namespace, hour), {}), cluster,
                                              *(shared.setdefault(name, name) for name in stored[2:6])))  # fmt: skip
                return rows

        return list(self._guard(read, "load hourly rollups"))

    def load_workload_days(self, cluster: str, start: datetime, end: datetime) -> list[NamespaceHour]:
        """The stored rollups of [start, end) per UTC day, namespace (with its labels of the hour), workload and pod
        label set, summed exactly (`math.fsum`) over the day's hours and nodes: what direct charges price a period
        and its days by. Whole days come from their kept sums (`store.workload_days`), summed and kept the first
        time they are read and again when their hours change; partial days at the ends are summed each time."""
        days, edges = workload_days.split_range(_utc(start), _utc(end))

        def read() -> list[workload_days.WorkloadDay]:
            with self.engine.connect() as connection:
                now = workload_days.digests(connection, cluster, days)  # before the rows they describe
                stored = workload_days.kept_digests(connection, cluster, days)
                fresh = [day for day in days if stored.get(day) == now[day]]
                found = workload_days.kept(connection, cluster, fresh)
                stale = {day: now[day] for day in days if stored.get(day) != now[day]}
                summed = [row for first, last in workload_days.day_runs(sorted(stale))
                          for row in workload_days.summed(connection, cluster, first, last)]  # fmt: skip
                for first, last in edges:
                    found.extend(workload_days.summed(connection, cluster, first, last))
            if stale:
                self._keep_days(cluster, summed, stale)
            return [*found, *summed]

        found: list[workload_days.WorkloadDay] = self._guard(read, "load the period's workload days")
        return workload_days.as_rows(found, cluster)

    def _keep_days(self, cluster: str, rows: list[workload_days.WorkloadDay], digest_of: dict[datetime, str]) -> None:
        """Keep freshly summed days. Best effort: a report that cannot keep them (another replica keeping the same
        days at once, a read-only database) has its figures all the same and sums them again next time."""
        try:
            with self.engine.begin() as connection:
                workload_days.keep(connection, cluster, rows, digest_of)
        except SQLAlchemyError as error:
            log.info("workload days of %s not kept (summed again next time): %s", cluster, _reason(error))

    def container_day(self, cluster: str, queries: str, layout: str, day: datetime) -> bytes | None:
        """A kept day of container use (`ContainerDay`), or None."""

        def read() -> bytes | None:
            with Session(self.engine) as session:
                found = session.get(ContainerDay, (cluster, day, queries, layout))
                return None if found is None else bytes(found.use)

        found: bytes | None = self._guard(read, "read a day of container use")
        return found

    def newest_container_day(self, cluster: str, layout: str, day: datetime) -> bytes | None:
        """The day of container use kept last, whatever queries measured it: what a reader that may not ask
        Prometheus (the portal) has, the operator's queries being unknown to it."""

        def read() -> bytes | None:
            with Session(self.engine) as session:
                found = session.exec(
                    select(ContainerDay.use).where(ContainerDay.cluster == cluster, ContainerDay.day == day,
                                                   ContainerDay.layout == layout)
                    .order_by(col(ContainerDay.collected_at).desc()).limit(1)
                ).first()  # fmt: skip
                return None if found is None else bytes(found)

        found: bytes | None = self._guard(read, "read a day of container use")
        return found

    def keep_container_day(self, cluster: str, queries: str, layout: str, day: datetime, use: bytes) -> None:
        """Keep a day of container use (replacing one kept before: the same day asked again)."""

        def write() -> None:
            with Session(self.engine) as session, session.begin():
                session.merge(ContainerDay(cluster=cluster, day=day, queries_sha256=queries, layout=layout, use=use,
                                           collected_at=datetime.now(UTC)))  # fmt: skip

        self._guard(write, "keep a day of container use")

    def load_nodes(self, cluster: str, start: datetime, end: datetime) -> list[NodeHour]:
        """The stored node-hours of [start, end), by node and hour."""

        def read() -> list[NodeHour]:
            statement = (
                select(NodeHourRecord)
                .where(
                    col(NodeHourRecord.cluster) == cluster,
                    col(NodeHourRecord.hour_start) >= start,
                    col(NodeHourRecord.hour_start) < end,
                )
                .order_by(col(NodeHourRecord.node), col(NodeHourRecord.hour_start))
            )
            with Session(self.engine) as session:
                return [
                    NodeHour(
                        record.node,
                        _utc(record.hour_start),
                        record.hours,
                        {key: getattr(record, f"capacity_{column}") for key, column in _NODE_AMOUNTS},
                        {key: getattr(record, f"allocatable_{column}") for key, column in _NODE_AMOUNTS},
                        json.loads(record.labels_json),
                        record.provider_id,
                        cluster,
                    )
                    for record in session.exec(statement)
                ]

        return list(self._guard(read, "load node hours"))

    def start_run(self, run: ReportRun) -> int:
        def write() -> int:
            with Session(self.engine) as session, session.begin():
                session.add(run)
                session.flush()
                assert run.id is not None
                return run.id

        return int(self._guard(write, "record the run"))

    def finish_run(
        self,
        run_id: int,
        result: str,
        message: str,
        totals: Mapping[str, Any],
        *,
        hours_queried: int = 0,
        hours_replaced: int = 0,
        completeness: Mapping[str, Any] | None = None,
    ) -> None:
        def write() -> None:
            with Session(self.engine) as session, session.begin():
                record = session.get(ReportRun, run_id)
                if record is None:
                    return
                record.result = result
                record.message = message
                record.finished_at = datetime.now(UTC)
                record.totals_json = json.dumps(dict(totals), sort_keys=True)
                record.completeness_json = json.dumps(dict(completeness or {}), sort_keys=True)
                record.hours_queried = hours_queried
                record.hours_replaced = hours_replaced

        self._guard(write, "record the run's result")

    def runs(self, cluster: str | None = None) -> list[ReportRun]:
        def read() -> list[ReportRun]:
            with Session(self.engine) as session:
                statement = select(ReportRun).order_by(ReportRun.id)  # type: ignore[arg-type]
                if cluster is not None:
                    statement = statement.where(ReportRun.cluster == cluster)
                return list(session.exec(statement))

        return list(self._guard(read, "read runs"))

    def take_lease(self, name: str, holder: str, seconds: float) -> str | None:
        """Take or renew lease `name` for `holder`; None when held now, else the replica that holds it.

        One conditional UPDATE (ours, or expired) or one INSERT: the database decides, so two replicas asking at
        the same moment cannot both win."""

        def write() -> str | None:
            now = datetime.now(UTC)
            until = now + timedelta(seconds=seconds)
            with Session(self.engine) as session, session.begin():
                taken = session.execute(
                    update(RunLease)
                    .where(col(RunLease.name) == name)
                    .where(or_(col(RunLease.holder) == holder, col(RunLease.expires_at) < now))
                    .values(holder=holder, expires_at=until)
                )
                if getattr(taken, "rowcount", 0) == 1:
                    return None
            try:
                with Session(self.engine) as session, session.begin():
                    session.add(RunLease(name=name, holder=holder, expires_at=until))
                return None
            except IntegrityError:
                with Session(self.engine) as session:
                    current = session.get(RunLease, name)
                    return current.holder if current is not None else "another replica"

        result: str | None = self._guard(write, f"take the run lease {name}")
        return result

    def claim_notices(self, report: str, keys: Sequence[str]) -> list[str]:
        """The keys of `keys` this call is the first to claim for `report` (in order): each is one INSERT that the
        primary key lets only one caller win, ever; raise an Event for those, and only those."""

        def write() -> list[str]:
            with Session(self.engine) as session:
                taken = set(session.exec(select(Notice.key).where(col(Notice.report) == report)))
            claimed = []
            for key in dict.fromkeys(keys):
                if key in taken:
                    continue
                try:
                    with Session(self.engine) as session, session.begin():
                        session.add(Notice(report=report, key=key, raised_at=datetime.now(UTC)))
                    claimed.append(key)
                except IntegrityError:  # another replica claimed it a moment ago
                    continue
            return claimed

        result: list[str] = self._guard(write, f"claim the notices of {report}")
        return result

    def claim_message(self, report: str, key: str, channel: str, team: str, holder: str, lease_seconds: float,
                      message_json: str = "{}") -> bool:  # fmt: skip
        """Whether `holder` may send message `key` on `channel` now: the first claim ever (one INSERT the primary
        key lets only one caller win), or a failed one whose retry time has come, or one whose sender's lease ran
        out (it died mid-send) — each one conditional UPDATE. A sent message is never claimed again."""

        def write() -> bool:
            now = datetime.now(UTC)
            until = now + timedelta(seconds=lease_seconds)
            try:
                with Session(self.engine) as session, session.begin():
                    session.add(Notification(report=report, key=key, channel=channel, team=team, state="sending",
                                             holder=holder, claimed_until=until, updated_at=now,
                                             message_json=message_json))  # fmt: skip
                return True
            except IntegrityError:
                pass
            with Session(self.engine) as session, session.begin():
                retried = session.execute(
                    update(Notification)
                    .where(
                        col(Notification.report) == report,
                        col(Notification.key) == key,
                        col(Notification.channel) == channel,
                    )
                    .where(
                        or_(
                            (col(Notification.state) == "failed") & (col(Notification.next_attempt_at) <= now),
                            (col(Notification.state) == "sending") & (col(Notification.claimed_until) < now),
                        )
                    )
                    .values(state="sending", holder=holder, claimed_until=until, updated_at=now)
                )
                return getattr(retried, "rowcount", 0) == 1

        result: bool = self._guard(write, f"claim a message of {report}")
        return result

    def finish_message(self, report: str, key: str, channel: str, holder: str, problem: str | None,
                       retry_after_seconds: float) -> None:  # fmt: skip
        """Sent (problem None) or failed, to be tried again after `retry_after_seconds`."""

        def write() -> None:
            now = datetime.now(UTC)
            with Session(self.engine) as session, session.begin():
                session.execute(
                    update(Notification)
                    .where(
                        col(Notification.report) == report,
                        col(Notification.key) == key,
                        col(Notification.channel) == channel,
                        col(Notification.holder) == holder,
                    )
                    .values(
                        state="sent" if problem is None else "failed",
                        attempts=Notification.attempts + 1,
                        problem=problem,
                        updated_at=now,
                        next_attempt_at=None if problem is None else now + timedelta(seconds=retry_after_seconds),
                    )
                )

        self._guard(write, f"record a message of {report}")

    def message_states(self, report: str) -> list[Notification]:
        """Every message of `report` not sent (failed, or being sent), and how many were sent, as status shows."""

        def read() -> list[Notification]:
            with Session(self.engine) as session:
                return list(session.exec(select(Notification).where(col(Notification.report) == report)
                                         .where(col(Notification.state) != "sent")))  # fmt: skip

        result: list[Notification] = self._guard(read, f"read the messages of {report}")
        return result

    def messages_sent(self, report: str) -> int:
        def read() -> int:
            with Session(self.engine) as session:
                return int(session.exec(select(func.count()).select_from(Notification)
                                        .where(col(Notification.report) == report)
                                        .where(col(Notification.state) == "sent")).one())  # fmt: skip

        result: int = self._guard(read, f"count the messages of {report}")
        return result

    def release_lease(self, name: str, holder: str) -> None:
        def write() -> None:
            with Session(self.engine) as session, session.begin():
                session.execute(delete(RunLease).where(col(RunLease.name) == name)
                                .where(col(RunLease.holder) == holder))  # fmt: skip

        self._guard(write, f"release the run lease {name}")

    def first_hour(self, cluster: str) -> datetime | None:
        """The earliest hour the ledger knows of the cluster (the portal's first period), or None."""

        def read() -> datetime | None:
            with Session(self.engine) as session:
                found = session.exec(select(func.min(LedgerHour.hour_start)).where(LedgerHour.cluster == cluster)).one()
                return None if found is None else _utc(found)

        first: datetime | None = self._guard(read, "read the ledger's first hour")
        return first

    def start_session(self, session_sha256: str, user: str, groups: Sequence[str], uid: str,
                      expires_at: datetime) -> None:  # fmt: skip
        """Keep a portal sign-in; expired ones are dropped on the way (nothing else writes here)."""

        def write() -> None:
            with Session(self.engine) as session, session.begin():
                session.exec(delete(PortalSession).where(col(PortalSession.expires_at) < datetime.now(UTC)))
                session.add(PortalSession(session_sha256=session_sha256, user=user, uid=uid, expires_at=expires_at,
                                          groups_json=json.dumps(list(groups))))  # fmt: skip

        self._guard(write, "keep a portal sign-in")

    def session(self, session_sha256: str) -> tuple[str, tuple[str, ...], str] | None:
        """The (user, groups, uid) of an unexpired portal sign-in, or None."""

        def read() -> tuple[str, tuple[str, ...], str] | None:
            with Session(self.engine) as session:
                found = session.get(PortalSession, session_sha256)
                if found is None or _utc(found.expires_at) <= datetime.now(UTC):
                    return None
                return found.user, tuple(json.loads(found.groups_json)), found.uid

        kept: tuple[str, tuple[str, ...], str] | None = self._guard(read, "read a portal sign-in")
        return kept

    def end_session(self, session_sha256: str) -> None:
        def write() -> None:
            with Session(self.engine) as session, session.begin():
                session.exec(delete(PortalSession).where(col(PortalSession.session_sha256) == session_sha256))

        self._guard(write, "end a portal sign-in")

    def close(self) -> None:
        self.engine.dispose()
