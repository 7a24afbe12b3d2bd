"""Workload days: each UTC day's workload rows summed exactly over its hours and nodes, and kept.

Direct charges price a period and its days from these sums. Summing a month of 1,000 pods from `hourly_usage` reads
~930,000 rows (about 7 s); the kept sums of its whole days are ~12,000. A day is kept with a digest of the stored
hours it was summed from (`ledger_hours`: hour, source, collection time); when any of them has been collected again,
removed or added, the digest differs and the day is summed anew. The digest is read before the rows it describes,
so a day collected again while it is being summed is kept under its older digest and summed again next time: a kept
day is never newer-looking than its hours. Partial days at a range's ends are summed, never kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, insert
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from kubecharge.domain.keys import exact_sums
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities
from kubecharge.store.tables import (
    HourlyUsage,
    LedgerHour,
    NamespaceHourRecord,
    WorkloadDayRecord,
    WorkloadDaySource,
)

DAY = timedelta(days=1)
_QUANTITIES = ResourceQuantities.names()
_KEY = ("namespace", "labels_json", "workload_kind", "workload", "pod_labels")


@dataclass(frozen=True)
class WorkloadDay:
    """One workload's sums over a day (or the part of it a range covers), with its namespace's labels as stored."""

    day: datetime
    namespace: str
    labels_json: str
    workload_kind: str
    workload: str
    pod_labels: str
    quantities: tuple[float, ...]

    def sort_key(self) -> tuple[datetime, str, str, str, str, str]:
        return self.day, self.namespace, self.workload_kind, self.workload, self.pod_labels, self.labels_json


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def split_range(start: datetime, end: datetime) -> tuple[list[datetime], list[tuple[datetime, datetime]]]:
    """The whole UTC days in [start, end), and the partial ranges at its ends."""
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    first = first if first == start else first + DAY
    last = end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:
        return [], [(start, end)] if start < end else []
    days = [first + DAY * i for i in range(int((last - first) / DAY))]
    edges = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
    return days, edges


def day_runs(days: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted days as half-open ranges of consecutive days."""
    found: list[tuple[datetime, datetime]] = []
    for day in days:
        if found and found[-1][1] == day:
            found[-1] = (found[-1][0], day + DAY)
        else:
            found.append((day, day + DAY))
    return found


def digests(connection: Connection, cluster: str, days: Sequence[datetime]) -> dict[datetime, str]:
    """Each day's digest of its stored hours (a day without any has the digest of nothing)."""
    if not days:
        return {}
    lines: dict[datetime, list[str]] = {day: [] for day in days}
    statement = (
        select(LedgerHour.hour_start, LedgerHour.source, LedgerHour.collected_at)
        .where(col(LedgerHour.cluster) == cluster, col(LedgerHour.hour_start) >= days[0],
               col(LedgerHour.hour_start) < days[-1] + DAY)
        .order_by(col(LedgerHour.hour_start))
    )  # fmt: skip
    for hour, source, collected_at in connection.execute(statement):
        hour = _utc(hour)
        found = lines.get(hour.replace(hour=0))
        if found is not None:
            found.append(f"{hour.isoformat()}|{source}|{_utc(collected_at).isoformat()}")
    return {day: hashlib.sha256("\n".join(found).encode()).hexdigest() for day, found in lines.items()}


def kept_digests(connection: Connection, cluster: str, days: Sequence[datetime]) -> dict[datetime, str]:
    if not days:
        return {}
    statement = select(WorkloadDaySource.day, WorkloadDaySource.hours_sha256).where(
        col(WorkloadDaySource.cluster) == cluster, col(WorkloadDaySource.day) >= days[0],
        col(WorkloadDaySource.day) < days[-1] + DAY,
    )  # fmt: skip
    return {_utc(day): digest for day, digest in connection.execute(statement)}


def kept(connection: Connection, cluster: str, days: Sequence[datetime]) -> list[WorkloadDay]:
    """The kept sums of `days` (sorted)."""
    if not days:
        return []
    wanted = set(days)
    columns = [getattr(WorkloadDayRecord, name) for name in ("day", *_KEY, *_QUANTITIES)]
    statement = select(*columns).where(
        col(WorkloadDayRecord.cluster) == cluster, col(WorkloadDayRecord.day) >= days[0],
        col(WorkloadDayRecord.day) < days[-1] + DAY,
    )  # fmt: skip
    found: list[WorkloadDay] = []
    moments: dict[Any, datetime] = {}
    for record in connection.execute(statement):
        day = moments.get(record[0]) or moments.setdefault(record[0], _utc(record[0]))
        if day in wanted:
            found.append(WorkloadDay(day, record[1], record[2], record[3], record[4], record[5], tuple(record[6:])))
    return found


def summed(connection: Connection, cluster: str, start: datetime, end: datetime) -> list[WorkloadDay]:
    """The rows of [start, end) per UTC day, namespace (with its labels of the hour), workload and pod label set,
    summed exactly over the day's hours and nodes; a day's row is dated at its start, or `start` within the first."""
    labels_of = select(NamespaceHourRecord.namespace, NamespaceHourRecord.hour_start,
                       NamespaceHourRecord.labels_json).where(
        col(NamespaceHourRecord.cluster) == cluster, col(NamespaceHourRecord.hour_start) >= start,
        col(NamespaceHourRecord.hour_start) < end)  # fmt: skip
    keys = ("namespace", "hour_start", "workload_kind", "workload", "pod_labels")
    usage = (select(*(getattr(HourlyUsage, name) for name in (*keys, *_QUANTITIES)))
             .where(col(HourlyUsage.cluster) == cluster, col(HourlyUsage.hour_start) >= start,
                    col(HourlyUsage.hour_start) < end)
             .order_by(col(HourlyUsage.hour_start)))  # fmt: skip
    rows: list[WorkloadDay] = []
    hours: dict[Any, datetime] = {}
    shared: dict[str, str] = {}
    day: datetime | None = None
    found: list[tuple[Any, ...]] = []

    def flush() -> None:
        if day is None or not found:
            return
        index: dict[tuple[str, ...], int] = {}
        codes = np.fromiter((index.setdefault(row[:5], len(index)) for row in found), dtype=np.int64,
                            count=len(found))  # fmt: skip
        amounts = np.array([row[5:] for row in found], dtype=np.float64)
        sums = [exact_sums(codes, amounts[:, column], len(index)) for column in range(len(_QUANTITIES))]
        dated = max(day, _utc(start))
        rows.extend(WorkloadDay(dated, key[0], key[1], key[2], key[3], key[4],
                                tuple(float(column[code]) for column in sums))
                    for key, code in index.items())  # fmt: skip
        found.clear()

    labels = {(name, hours.setdefault(hour, _utc(hour))): text
              for name, hour, text in connection.execute(labels_of)}  # fmt: skip
    for record in connection.execution_options(yield_per=20_000).execute(usage):
        hour = hours.get(record[1]) or hours.setdefault(record[1], _utc(record[1]))
        if day is None or hour - day >= DAY:
            flush()
            day = hour.replace(hour=0)
        namespace = shared.setdefault(record[0], record[0])
        found.append((namespace, labels.get((namespace, hour), ""),
                      *(shared.setdefault(value, value) for value in record[2:5]), *record[5:]))  # fmt: skip
    flush()
    return rows


def keep(connection: Connection, cluster: str, rows: Iterable[WorkloadDay], digest_of: dict[datetime, str]) -> None:
    """Replace the kept sums of the days in `digest_of` with `rows`, under those digests (in the caller's
    transaction)."""
    days = sorted(digest_of)
    for table in (WorkloadDayRecord, WorkloadDaySource):
        connection.execute(delete(table).where(col(table.cluster) == cluster, col(table.day).in_(days)))
    records = [{"cluster": cluster, "day": row.day, **dict(zip(_KEY, (row.namespace, row.labels_json,
                row.workload_kind, row.workload, row.pod_labels), strict=True)),
                **dict(zip(_QUANTITIES, row.quantities, strict=True))} for row in rows]  # fmt: skip
    if records:
        connection.execute(insert(WorkloadDayRecord), records)
    connection.execute(insert(WorkloadDaySource),
                       [{"cluster": cluster, "day": day, "hours_sha256": digest_of[day]} for day in days])  # fmt: skip


def as_rows(found: Iterable[WorkloadDay], cluster: str) -> list[NamespaceHour]:
    """Workload days as the rows attribution and pricing read (nodes summed away: node "")."""
    parsed: dict[str, dict[str, str]] = {}
    rows = []
    for day in sorted(found, key=WorkloadDay.sort_key):
        if day.labels_json not in parsed:
            parsed[day.labels_json] = json.loads(day.labels_json) if day.labels_json else {}
        rows.append(NamespaceHour(day.namespace, day.day, ResourceQuantities(*day.quantities),
                                  parsed[day.labels_json], cluster, "", day.workload_kind, day.workload,
                                  day.pod_labels))  # fmt: skip
    return rows
