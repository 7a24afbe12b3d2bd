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
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, insert
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from kubecharge.domain.keys import exact_sums
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities
from kubecharge.store.tables import (
    HourlyUsage,
    LedgerHour,
    NamespaceHourRecord,
    UsageKey,
    WorkloadDayRecord,
    WorkloadDaySource,
)

DAY = timedelta(days=1)
_QUANTITIES = ResourceQuantities.names()
_KEY = ("namespace", "labels_json", "workload_kind", "workload", "pod_labels")
_ROWS_AT_ONCE = 2_000  # hourly rows read (and held as Python objects) at a time: a SQLAlchemy row is ~1 KB


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
    summed exactly over the day's hours and nodes; a day's row is dated at its start, or `start` within the first.

    Read a batch of rows at a time and kept as arrays (a code per row, its quantities) until its day is summed:
    nothing holds a Python object per row for a whole day."""
    in_range = (col(HourlyUsage.cluster) == cluster, col(HourlyUsage.hour_start) >= start,
                col(HourlyUsage.hour_start) < end)  # fmt: skip
    labels_of = select(NamespaceHourRecord.namespace, NamespaceHourRecord.hour_start,
                       NamespaceHourRecord.labels_json).where(
        col(NamespaceHourRecord.cluster) == cluster, col(NamespaceHourRecord.hour_start) >= start,
        col(NamespaceHourRecord.hour_start) < end)  # fmt: skip
    used = select(HourlyUsage.key_id).where(*in_range).distinct()
    key_columns: list[Any] = [UsageKey.id, UsageKey.namespace, UsageKey.workload_kind, UsageKey.workload,
                              UsageKey.pod_labels]  # fmt: skip
    names_of = select(*key_columns).where(col(UsageKey.id).in_(used))
    columns: list[Any] = [HourlyUsage.hour_start, HourlyUsage.key_id,
                          *(getattr(HourlyUsage, name) for name in _QUANTITIES)]  # fmt: skip
    usage = select(*columns).where(*in_range).order_by(col(HourlyUsage.hour_start))
    hours: dict[Any, datetime] = {}
    labels = {(name, hours.setdefault(hour, _utc(hour))): text
              for name, hour, text in connection.execute(labels_of)}  # fmt: skip
    names: dict[int, tuple[str, str, str, str]] = {
        int(key): (namespace, kind, workload, pod_labels)
        for key, namespace, kind, workload, pod_labels in connection.execute(names_of)
    }
    day = _Day(_utc(start))
    for part in connection.execution_options(yield_per=_ROWS_AT_ONCE).execute(usage).partitions():
        moments = [hours.get(record[0]) or hours.setdefault(record[0], _utc(record[0])) for record in part]
        amounts = np.array([record[2:] for record in part], dtype=np.float64).reshape(len(part), len(_QUANTITIES))
        keys = [(names[record[1]], labels.get((names[record[1]][0], moment), ""))
                for record, moment in zip(part, moments, strict=True)]  # fmt: skip
        starts = [moment.replace(hour=0) for moment in moments]
        edges = [0, *(i for i in range(1, len(starts)) if starts[i] != starts[i - 1]), len(starts)]
        for first, last in itertools.pairwise(edges):
            day.add(starts[first], keys[first:last], amounts[first:last])
    return day.finished()


class _Day:
    """The rows of one day being summed: per row a code of its (workload key, namespace labels), and quantities."""

    def __init__(self, earliest: datetime) -> None:
        self.earliest = earliest  # a range's first day is dated at the range's start
        self.start: datetime | None = None
        self.index: dict[tuple[tuple[str, str, str, str], str], int] = {}
        self.codes: list[npt.NDArray[np.int64]] = []
        self.amounts: list[npt.NDArray[np.float64]] = []
        self.rows: list[WorkloadDay] = []

    def add(self, start: datetime, keys: list[tuple[tuple[str, str, str, str], str]],
            amounts: npt.NDArray[np.float64]) -> None:  # fmt: skip
        if start != self.start:
            self._flush()
            self.start = start
        index = self.index
        self.codes.append(np.fromiter((index.setdefault(key, len(index)) for key in keys), dtype=np.int64,
                                      count=len(keys)))  # fmt: skip
        self.amounts.append(amounts)

    def _flush(self) -> None:
        if self.start is None or not self.index:
            return
        codes, amounts = np.concatenate(self.codes), np.concatenate(self.amounts)
        sums = [exact_sums(codes, amounts[:, column], len(self.index)).tolist() for column in range(len(_QUANTITIES))]
        dated = max(self.start, self.earliest)
        self.rows.extend(WorkloadDay(dated, key[0], labels_json, *key[1:], tuple(column[code] for column in sums))
                         for (key, labels_json), code in self.index.items())  # fmt: skip
        self.index, self.codes, self.amounts = {}, [], []

    def finished(self) -> list[WorkloadDay]:
        self._flush()
        return self.rows


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
