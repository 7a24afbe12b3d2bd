"""What each workload container used over a recommendation window, asked of Prometheus one day at a time.

A day of 5-minute CPU rates at 1,000 pods is about half a million samples (its largest request peaks at 2.7 % of
Prometheus' default sample limit: `benchmarks.recommendations_window`), reduced as it arrives into
`domain.recommendations.PooledRates` (memory that does not grow with the window). Each rate sample belongs to the
workload its pod had in the hour the window ends in (`domain.workloads`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from kubecharge.collect.promql import RATE_STEP_SECONDS, QuerySet
from kubecharge.domain.collected import HOUR, POD_KEYS, VALUE
from kubecharge.domain.keys import Coder, first_of
from kubecharge.domain.recommendations import ContainerUse, DayStore, DayUse, PooledRates, WorkloadContainer
from kubecharge.domain.units import SECONDS_PER_HOUR
from kubecharge.domain.workloads import with_known_uids, workloads_of

CONTAINER_KEYS = (*POD_KEYS, "container")


class FineSource(Protocol):
    """What this module asks of a source (`collect.prometheus.PrometheusSource`): samples at a fine step, hourly
    frames of queries outside the report's set, and each pod-hour's workload."""

    def fine_samples(self, question: str, query: str, start: datetime, end: datetime, keys: tuple[str, ...],
                     step_seconds: int) -> tuple[pd.DataFrame, npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                 npt.NDArray[np.float64]]: ...  # fmt: skip

    def hourly_frame(self, question: str, query: str, start: datetime, end: datetime,
                     keys: tuple[str, ...]) -> pd.DataFrame: ...  # fmt: skip

    def pod_workloads(self, start: datetime, end: datetime) -> pd.DataFrame: ...


@dataclass
class _Found:
    """What the days so far held, per workload container (its code in `codes`)."""

    codes: dict[WorkloadContainer, int] = field(default_factory=dict)
    rates: PooledRates = field(default_factory=PooledRates)
    memory_peak_bytes: dict[int, float] = field(default_factory=dict)
    requests: dict[tuple[int, str], tuple[int, float]] = field(default_factory=dict)  # latest per resource
    hpa_targets: set[tuple[str, str, str]] = field(default_factory=set)

    def code_of(self, keys: pd.DataFrame) -> npt.NDArray[np.int64]:
        """The code of each row's (namespace, workload_kind, workload, container), new ones numbered on."""
        rows = zip(keys["namespace"], keys["workload_kind"], keys["workload"], keys["container"], strict=True)
        return np.fromiter((self.codes.setdefault(row, len(self.codes)) for row in rows), dtype=np.int64,
                           count=len(keys))  # fmt: skip

    def add(self, day: DayUse) -> None:
        """Merge a day in: its rate counts added, its peaks maxed, its requests kept where they are later."""
        codes = np.fromiter((self.codes.setdefault(key, len(self.codes)) for key in day.containers), dtype=np.int64,
                            count=len(day.containers))  # fmt: skip
        self.rates.add_counts(codes[day.rate_containers], day.rate_buckets, day.rate_counts)
        for code, peak in zip(codes.tolist(), day.memory_peak_bytes.tolist(), strict=True):
            if peak > self.memory_peak_bytes.get(code, -1.0):
                self.memory_peak_bytes[code] = peak
        for (index, resource), (hour, amount) in day.requests.items():
            key = (int(codes[index]), resource)
            if key not in self.requests or hour >= self.requests[key][0]:
                self.requests[key] = (hour, amount)
        self.hpa_targets |= day.hpa_targets


def _days(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    day = start
    while day < end:
        yield day, min(day + timedelta(days=1), end)
        day += timedelta(days=1)


def day_use(source: FineSource, queries: QuerySet, start: datetime, end: datetime,
            step_seconds: int = RATE_STEP_SECONDS) -> DayUse:  # fmt: skip
    """What Prometheus holds of [start, end) (a day at most: inside the default query limits at 1,000 pods)."""
    found = _Found()
    workloads = source.pod_workloads(start, end)
    _add_rates(found, source, queries, start, end, workloads, step_seconds)
    _add_hourly(found, source, queries, start, end, workloads)
    keys = len(found.codes)
    containers, buckets = np.nonzero(found.rates.counts[:keys]) if keys else (np.zeros(0, np.int64),) * 2
    peaks = np.zeros(keys)
    for code, peak in found.memory_peak_bytes.items():
        peaks[code] = peak
    return DayUse(tuple(sorted(found.codes, key=found.codes.__getitem__)), containers.astype(np.int64),
                  buckets.astype(np.int64), found.rates.counts[containers, buckets].astype(np.int64), peaks,
                  dict(found.requests), frozenset(found.hpa_targets))  # fmt: skip


def container_use(source: FineSource | None, queries: QuerySet, start: datetime, end: datetime, percentile: float,
                  days: DayStore | None = None,
                  step_seconds: int = RATE_STEP_SECONDS) -> list[ContainerUse]:  # fmt: skip
    """Per workload container over [start, end): the `percentile` of its 5-minute CPU rates (every replica's
    windows pooled), its peak working set, its latest requests, its average replicas and whether a
    HorizontalPodAutoscaler scales its workload.

    Average replicas are its windows over the windows of the days Prometheus held anything of (a retention
    shorter than the window leaves those days out, rather than counting them as no replica)."""
    found = _Found()
    held_days = 0
    for day, day_end in _days(start, end):
        whole = day_end - day == timedelta(days=1)
        found_day = days.get(queries.digest, day) if days is not None and whole else None
        if found_day is None and source is None:  # the kept days alone: a day not kept was not seen
            continue
        if found_day is None:
            assert source is not None
            found_day = day_use(source, queries, day, day_end, step_seconds)
            if days is not None and whole:  # a day without data too: before Prometheus' first, it stays so
                days.put(queries.digest, day, found_day)
        held_days += found_day.windows > 0
        found.add(found_day)
    windows_held = held_days * timedelta(days=1) / timedelta(seconds=step_seconds)
    keys = len(found.codes)
    rates, seen = found.rates.percentile(keys, percentile), found.rates.seen(keys)
    uses = []
    for (namespace, kind, workload, container), code in sorted(found.codes.items()):
        cpu_request = found.requests.get((code, "cpu"), (None, 0.0))[1]
        memory_request = found.requests.get((code, "memory"), (None, 0.0))[1]
        uses.append(ContainerUse(
            namespace, kind, workload, container, cpu_rate_cores=float(np.nan_to_num(rates[code])),
            memory_max_bytes=found.memory_peak_bytes.get(code, 0.0), cpu_request_cores=cpu_request,
            memory_request_bytes=memory_request, replicas=float(seen[code]) / max(windows_held, 1.0),
            data_hours=float(seen[code]) * step_seconds / SECONDS_PER_HOUR,
            hpa=(namespace, kind, workload) in found.hpa_targets,
        ))  # fmt: skip
    return uses


def _with_workloads(rows: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """`rows` (namespace, pod, uid, container, hour_start) with their pod-hour's workload: the one it had for
    most of the hour would be as right; the one `workloads_of` picks is used (a pod's owner rarely changes)."""
    rows = with_known_uids(rows, workloads)
    kinds, names = workloads_of(rows, workloads)
    return rows.assign(workload_kind=kinds, workload=names)


def _add_rates(found: _Found, source: FineSource, queries: QuerySet, start: datetime, end: datetime,
               workloads: pd.DataFrame, step_seconds: int) -> None:  # fmt: skip
    keys, series, stamps, values = source.fine_samples(
        "container_cpu_rates", queries.container_cpu_rates, start, end, CONTAINER_KEYS, step_seconds
    )
    if not len(values):
        return
    # the hour each window ends in (a window ending on the hour belongs to the hour before)
    hours = (stamps - 1) // SECONDS_PER_HOUR * SECONDS_PER_HOUR
    (cells,), count = Coder([pd.DataFrame({"series": series, "hour": hours})]).rows(["series", "hour"])
    first = first_of(cells, count)
    pod_hours = keys.iloc[series[first]].reset_index(drop=True)
    pod_hours[HOUR] = pd.to_datetime(hours[first], unit="s", utc=True).as_unit("ns")
    codes = found.code_of(_with_workloads(pod_hours, workloads))
    found.rates.add(codes[cells], values)


def _add_hourly(found: _Found, source: FineSource, queries: QuerySet, start: datetime, end: datetime,
                workloads: pd.DataFrame) -> None:  # fmt: skip
    peaks = _with_workloads(source.hourly_frame("container_memory_peaks", queries.container_memory_peaks, start, end,
                                                CONTAINER_KEYS), workloads)  # fmt: skip
    for code, peak in zip(found.code_of(peaks), peaks[VALUE], strict=True):
        found.memory_peak_bytes[int(code)] = max(found.memory_peak_bytes.get(int(code), 0.0), float(peak))
    requests = _with_workloads(source.hourly_frame("container_requests", queries.container_requests, start, end,
                                                   (*CONTAINER_KEYS, "resource")), workloads)  # fmt: skip
    requests = requests.sort_values([HOUR, VALUE], kind="stable")  # the latest hour last; in it, the largest
    for code, resource, hour, amount in zip(found.code_of(requests), requests["resource"], requests[HOUR],
                                            requests[VALUE], strict=True):  # fmt: skip
        found.requests[(int(code), str(resource))] = (int(hour.timestamp()), float(amount))  # cores, bytes
    targets = source.hourly_frame("hpa_targets", queries.hpa_targets, start, end,
                                  ("namespace", "scaletargetref_kind", "scaletargetref_name"))  # fmt: skip
    found.hpa_targets.update(zip(targets["namespace"], targets["scaletargetref_kind"], targets["scaletargetref_name"],
                                 strict=True))  # fmt: skip
