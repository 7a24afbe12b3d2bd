"""The database behind one small interface: replace hours, load hours, record runs.

Every write is one transaction: a run's rollups land whole or not at all, so an interrupted run leaves the
previous numbers, never a mix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine, select

from kubecharge.domain.usage import NamespaceHour, ResourceQuantities
from kubecharge.errors import StorageError
from kubecharge.store import schema
from kubecharge.store.tables import HourlyUsage, ReportRun


def _utc(moment: datetime) -> datetime:
    """SQLite drops the zone; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Repository:
    def __init__(self, url: str, migrate: bool = True) -> None:
        """`migrate`: bring the schema up to date first (the CLI's own database); otherwise require it current."""
        self.url = url
        try:
            self.engine: Engine = create_engine(url)
        except Exception as error:
            raise StorageError(f"database URL {url!r} is not usable ({error}); give an SQLAlchemy URL") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            schema.upgrade(url)
        else:
            schema.require_current(url)

    def _guard(self, action: Any, what: str) -> Any:
        try:
            return action()
        except SQLAlchemyError as error:
            original = getattr(error, "orig", None)
            reason = str(original) if original is not None else str(error)
            raise StorageError(f"database error while trying to {what}: {reason.splitlines()[0]}") from None

    def replace_hours(self, cluster: str, start: datetime, end: datetime, rows: Iterable[NamespaceHour]) -> int:
        """Delete the cluster's rollups in [start, end) and insert `rows`, in one transaction."""
        records = [
            HourlyUsage(
                cluster=cluster,
                namespace=row.namespace,
                hour_start=_utc(row.hour_start),
                namespace_labels_json=json.dumps(dict(row.namespace_labels), sort_keys=True),
                **{name: getattr(row.quantities, name) for name in ResourceQuantities.names()},
            )
            for row in rows
        ]

        def write() -> int:
            with Session(self.engine) as session, session.begin():
                session.execute(
                    delete(HourlyUsage).where(
                        HourlyUsage.cluster == cluster,  # type: ignore[arg-type]
                        HourlyUsage.hour_start >= start,  # type: ignore[arg-type]
                        HourlyUsage.hour_start < end,  # type: ignore[arg-type]
                    )
                )
                session.add_all(records)
            return len(records)

        return int(self._guard(write, "store hourly rollups"))

    def load_hours(self, cluster: str, start: datetime, end: datetime) -> list[NamespaceHour]:
        def read() -> list[NamespaceHour]:
            with Session(self.engine) as session:
                statement = (
                    select(HourlyUsage)
                    .where(
                        HourlyUsage.cluster == cluster,
                        HourlyUsage.hour_start >= start,
                        HourlyUsage.hour_start < end,
                    )
                    .order_by(HourlyUsage.namespace, HourlyUsage.hour_start)  # type: ignore[arg-type]
                )
                return [
                    NamespaceHour(
                        namespace=record.namespace,
                        hour_start=_utc(record.hour_start),
                        quantities=ResourceQuantities(
                            **{name: getattr(record, name) for name in ResourceQuantities.names()}
                        ),
                        namespace_labels=json.loads(record.namespace_labels_json),
                    )
                    for record in session.exec(statement)
                ]

        return list(self._guard(read, "load hourly rollups"))

    def start_run(self, run: ReportRun) -> int:
        def write() -> int:
            with Session(self.engine) as session, session.begin():
                session.add(run)
                session.flush()
                assert run.id is not None
                return run.id

        return int(self._guard(write, "record the run"))

    def finish_run(self, run_id: int, result: str, message: str, totals: Mapping[str, Any]) -> None:
        def write() -> None:
            with Session(self.engine) as session, session.begin():
                record = session.get(ReportRun, run_id)
                if record is None:
                    return
                record.result = result
                record.message = message
                record.finished_at = datetime.now(UTC)
                record.totals_json = json.dumps(dict(totals), sort_keys=True)

        self._guard(write, "record the run's result")

    def runs(self, cluster: str | None = None) -> list[ReportRun]:
        def read() -> list[ReportRun]:
            with Session(self.engine) as session:
                statement = select(ReportRun).order_by(ReportRun.id)  # type: ignore[arg-type]
                if cluster is not None:
                    statement = statement.where(ReportRun.cluster == cluster)
                return list(session.exec(statement))

        return list(self._guard(read, "read runs"))

    def close(self) -> None:
        self.engine.dispose()
