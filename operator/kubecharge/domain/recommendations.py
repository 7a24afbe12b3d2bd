"""Request recommendations per workload container, priced at the report's own rates.

CPU: a percentile (95th by default) of the container's 5-minute usage rates, every replica's windows pooled — what
the container needs in all but its busiest 5 % of windows; a request covers that, bursts above it use the node's
slack under a higher (or no) limit. Memory: the largest working set seen, plus headroom (15 % by default): memory
cannot be throttled, only killed, so the request follows the peak, not a percentile. Both are floored (0.01 cores,
16 MiB) so that an idle container is never recommended a request of zero.

A pooled percentile cannot be built from per-series or per-day percentiles, so the rates are kept in a histogram
per container with logarithmic buckets 1 % wide (`PooledRates`): any number of days and replicas merge into it in
memory that does not grow with the window, and a percentile read from it is within half a bucket (0.5 %) of the
exact one.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kubecharge.domain.units import BYTES_PER_GIB

HOURS_PER_MONTH = 730  # 8,760 / 12: the month a saving is quoted for
WINDOW_SECONDS = 300  # the 5-minute windows CPU rates are measured over
FEWEST_CPU_CORES = 0.01
FEWEST_MEMORY_BYTES = 16 * 2**20
ENOUGH_DATA_HOURS = 24.0  # less than a day of windows in the window: "not enough data", no numbers


@dataclass(frozen=True)
class RecommendationSettings:
    """`spec.recommendations`: the window and the two factors."""

    window_days: int = 14
    cpu_percentile: float = 95.0
    memory_headroom: float = 0.15  # recommended memory = max working set × (1 + headroom)
    annotate: bool = False  # the operator writes each workload's recommendation onto it (needs RBAC to patch)


class PooledRates:
    """Counts of values per key in logarithmic buckets (`ratio` wide) from `smallest` up: zero and anything smaller
    fall in bucket 0, anything larger than `largest` in the last. Keys are small integers, added as they come."""

    def __init__(self, ratio: float = 1.01, smallest: float = 1e-5, largest: float = 1e4) -> None:
        self.ratio, self.smallest = ratio, smallest
        self.buckets = 2 + math.ceil(math.log(largest / smallest) / math.log(ratio))
        self.counts = np.zeros((0, self.buckets), dtype=np.int64)

    def add(self, keys: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> None:
        """Count each value under its key (vectorised: one bincount per call)."""
        if not len(keys):
            return
        self._grow(int(keys.max()) + 1)
        buckets = self.bucket_of(values)
        flat = np.bincount(keys * self.buckets + buckets, minlength=len(self.counts) * self.buckets)
        self.counts += flat.reshape(len(self.counts), self.buckets)

    def add_counts(self, keys: npt.NDArray[np.int64], buckets: npt.NDArray[np.int64],
                   counts: npt.NDArray[np.int64]) -> None:  # fmt: skip
        """Add counts already bucketed (another histogram's, sparse: key, bucket, count)."""
        if not len(keys):
            return
        self._grow(int(keys.max()) + 1)
        np.add.at(self.counts, (keys, buckets), counts)

    def _grow(self, wanted: int) -> None:
        if wanted > len(self.counts):
            grown = np.zeros((max(wanted, 2 * len(self.counts)), self.buckets), dtype=np.int64)
            grown[: len(self.counts)] = self.counts
            self.counts = grown

    def bucket_of(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        above = np.maximum(values, self.smallest) / self.smallest
        found = 1 + np.floor(np.log(above) / math.log(self.ratio)).astype(np.int64)
        found[values < self.smallest] = 0
        return np.minimum(found, self.buckets - 1)

    def seen(self, keys: int) -> npt.NDArray[np.int64]:
        """How many values each of the first `keys` keys has."""
        seen: npt.NDArray[np.int64] = self._rows(keys).sum(axis=1)
        return seen

    def percentile(self, keys: int, percent: float) -> npt.NDArray[np.float64]:
        """The `percent`th percentile of each of the first `keys` keys (the lower-nearest rank, as the value of the
        middle of its bucket); NaN for a key with no values."""
        rows = self._rows(keys)
        totals = rows.sum(axis=1)
        rank = np.maximum(np.ceil(totals * percent / 100.0).astype(np.int64), 1)
        bucket = (rows.cumsum(axis=1) < rank[:, None]).sum(axis=1)
        middle = self.smallest * self.ratio ** (bucket - 0.5)
        found = np.where(bucket == 0, 0.0, middle)
        return np.where(totals > 0, found, np.nan)

    def _rows(self, keys: int) -> npt.NDArray[np.int64]:
        if keys <= len(self.counts):
            return self.counts[:keys]
        return np.vstack([self.counts, np.zeros((keys - len(self.counts), self.buckets), dtype=np.int64)])


WorkloadContainer = tuple[str, str, str, str]  # namespace, workload kind, workload, container
HISTOGRAM_LAYOUT = "log1.01-1e-05-1e4"  # `PooledRates`' buckets: a kept day is read back only under the same layout


@dataclass(frozen=True)
class DayUse:
    """One day's use per workload container: its 5-minute rates as counts per bucket (sparse), its working set's
    peak, its latest requests (per container index and resource: the hour, as epoch seconds, and the amount) and
    the HorizontalPodAutoscalers' targets. Small (a few hundred bytes per container) and final once the day is
    over: kept in the ledger, so a report asks Prometheus for each day of its window once."""

    containers: tuple[WorkloadContainer, ...]
    rate_containers: npt.NDArray[np.int64]  # index into `containers`, per (container, bucket) with a count
    rate_buckets: npt.NDArray[np.int64]
    rate_counts: npt.NDArray[np.int64]
    memory_peak_bytes: npt.NDArray[np.float64]  # per container (0 where none was measured)
    requests: dict[tuple[int, str], tuple[int, float]]
    hpa_targets: frozenset[tuple[str, str, str]]

    @property
    def windows(self) -> int:
        """The 5-minute windows with a rate, all containers."""
        return int(self.rate_counts.sum())

    def encode(self) -> bytes:
        """The day as compressed bytes (`numpy.savez_compressed`: arrays as they are, names and requests as JSON)."""
        texts = {"containers": [list(key) for key in self.containers], "hpa": sorted(self.hpa_targets),
                 "requests": [[index, resource, hour, amount]
                              for (index, resource), (hour, amount) in sorted(self.requests.items())]}  # fmt: skip
        buffer = io.BytesIO()
        np.savez_compressed(buffer, rate_containers=self.rate_containers, rate_buckets=self.rate_buckets,
                            rate_counts=self.rate_counts, memory_peak_bytes=self.memory_peak_bytes,
                            texts=np.frombuffer(json.dumps(texts).encode(), dtype=np.uint8))  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def decode(cls, data: bytes) -> DayUse:
        with np.load(io.BytesIO(data), allow_pickle=False) as found:
            texts = json.loads(found["texts"].tobytes())
            return cls(
                tuple((a, b, c, d) for a, b, c, d in texts["containers"]),
                found["rate_containers"].astype(np.int64), found["rate_buckets"].astype(np.int64),
                found["rate_counts"].astype(np.int64), found["memory_peak_bytes"].astype(np.float64),
                {(int(index), str(resource)): (int(hour), float(amount))
                 for index, resource, hour, amount in texts["requests"]},
                frozenset((a, b, c) for a, b, c in texts["hpa"]),
            )  # fmt: skip


class DayStore(Protocol):
    """Where days of use are kept once asked: by the recommendation queries' digest and the day's start."""

    def get(self, queries: str, day: datetime) -> DayUse | None: ...

    def put(self, queries: str, day: datetime, found: DayUse) -> None: ...


@dataclass(frozen=True)
class ContainerUse:
    """What was measured of one workload container over the window."""

    namespace: str
    workload_kind: str
    workload: str
    container: str
    cpu_rate_cores: float  # the pooled percentile of its 5-minute rates
    memory_max_bytes: float
    cpu_request_cores: float  # the latest request in the window
    memory_request_bytes: float
    replicas: float  # average Running replicas over the whole window
    data_hours: float  # its 5-minute windows × 5 minutes, all replicas: what "enough data" is judged by
    hpa: bool  # a HorizontalPodAutoscaler targets its workload


@dataclass(frozen=True)
class Recommendation:
    """A row of `recommendations.csv`. Numbers are None where there is not enough data."""

    team: str
    namespace: str
    workload_kind: str
    workload: str
    container: str
    replicas: float | None
    cpu_request_cores: float | None
    cpu_recommended_cores: float | None
    memory_request_gib: float | None
    memory_recommended_gib: float | None
    hpa: bool
    monthly_saving: float | None
    currency: str
    cluster: str = ""

    @property
    def enough_data(self) -> bool:
        return self.monthly_saving is not None


def recommend(use: ContainerUse, team: str, settings: RecommendationSettings, cpu_core_hour: Decimal,
              memory_gib_hour: Decimal, currency: str, cluster: str = "") -> Recommendation:  # fmt: skip
    """One container's recommendation and its signed monthly saving at the report's prices:
    730 × replicas × Σ (request − recommendation) × price, over CPU and memory. A recommendation above the request
    (under-provisioned) lowers the saving, so a fix that costs more than it saves shows a negative one."""
    if use.data_hours < ENOUGH_DATA_HOURS:
        return Recommendation(team, use.namespace, use.workload_kind, use.workload, use.container, None, None, None,
                              None, None, use.hpa, None, currency, cluster)  # fmt: skip
    cpu = max(use.cpu_rate_cores, FEWEST_CPU_CORES)
    memory_bytes = max(use.memory_max_bytes * (1.0 + settings.memory_headroom), FEWEST_MEMORY_BYTES)
    request_gib, recommended_gib = use.memory_request_bytes / BYTES_PER_GIB, memory_bytes / BYTES_PER_GIB
    per_replica = (use.cpu_request_cores - cpu) * float(cpu_core_hour) + (request_gib - recommended_gib) * float(
        memory_gib_hour
    )
    return Recommendation(team, use.namespace, use.workload_kind, use.workload, use.container, use.replicas,
                          use.cpu_request_cores, cpu, request_gib, recommended_gib, use.hpa,
                          HOURS_PER_MONTH * use.replicas * per_replica, currency, cluster)  # fmt: skip


def team_saving(recommendations: list[Recommendation]) -> dict[str, float]:
    """Per team, what acting on its recommendations saves a month: the positive savings of its containers that no
    HorizontalPodAutoscaler scales (changing those requests changes their scaling) and that have enough data."""
    totals: dict[str, float] = {}
    for found in recommendations:
        totals.setdefault(found.team, 0.0)
        if not found.hpa and found.monthly_saving is not None and found.monthly_saving > 0:
            totals[found.team] += found.monthly_saving
    return totals
