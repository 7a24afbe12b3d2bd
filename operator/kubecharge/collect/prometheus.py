"""UsageSource over the Prometheus HTTP API (also Thanos, Mimir, VictoriaMetrics)."""

from __future__ import annotations

import gc
import itertools
import json
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from kubecharge.collect.access import Access, access_from
from kubecharge.collect.answers import Series, answer_data, range_batches
from kubecharge.collect.container_use import container_use
from kubecharge.collect.promql import (
    COUNTER_MEASURES,
    COUNTER_SERIES_LABELS,
    COUNTER_UNITS,
    RATE_STEP_SECONDS,
    REQUEST_UNITS,
    QuerySet,
)
from kubecharge.domain.collected import (
    CLAIM_KEYS,
    CLAIM_MOUNT_KEYS,
    CONTAINER_KEYS,
    HOUR,
    NODE_CAPACITY_KEYS,
    NODE_KEYS,
    POD_KEYS,
    POD_LABELS,
    POD_NODE_KEYS,
    VALUE,
    NodeFacts,
    UsageNote,
    empty_frame,
)  # fmt: skip
from kubecharge.domain.counters import hourly_increase
from kubecharge.domain.keys import exact_sums, first_of, row_codes
from kubecharge.domain.ledger import HourCompleteness
from kubecharge.domain.recommendations import ContainerUse, DayStore
from kubecharge.domain.requests import KIND, RESTART_POLICY, effective_requests
from kubecharge.domain.resource_table import RESOURCES, Scope
from kubecharge.domain.units import SECONDS_PER_HOUR
from kubecharge.domain.workloads import CONTROLLER_OWNER_KEYS, POD_OWNER_KEYS, pod_workloads
from kubecharge.errors import PrometheusUnavailable, TooManySamples
from kubecharge.settings import Settings

QueryObserver = Callable[[str, float, bool], None]  # (question, seconds, ok)
FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")
CHUNK_SAMPLES = 610_000  # a chunk's budget: its answers' samples, and SERIES_SAMPLES more for each series in it
SERIES_SAMPLES = 5  # what a series costs a chunk beyond its samples (keys, labels, groups), in samples: measured
FEWEST_CHUNK_HOURS = 6  # below this, each request's fixed cost in Prometheus outweighs the memory saved
DECODED_SAMPLES = 2_500  # samples of an answer decoded at once (≈ 0.6 MB a question) before they are reduced
_TAGGED_KEYS = (*CONTAINER_KEYS, KIND, RESTART_POLICY)  # request rows: which kind of request each is
POD_HOUR_KEYS = [*POD_KEYS, HOUR]
# What a namespace resource's amounts are kept by: a PVC's (its workloads come from the pods that mount it), a pod's.
_AMOUNT_KEYS = {"storage_gib_hours": CLAIM_KEYS, "network_gib": POD_KEYS}
# Per question of the resource table: the keys of its series, and whether they are requests of several kinds
# (app, init, sidecar, overhead) that Kubernetes' effective-request rule combines.
_QUESTION_KEYS: dict[str, tuple[tuple[str, ...], bool]] = {
    question: ((_TAGGED_KEYS, True) if index == 1 else (CONTAINER_KEYS, False))
    if resource.scope is Scope.CONTAINER
    else (_AMOUNT_KEYS[question], False)
    for resource in RESOURCES
    for index, question in enumerate(resource.questions)
}
# Who reads a chunk's Running shares: every request question and the claims' mounts.
_SHARE_READERS = len(REQUEST_UNITS) + 1


class PrometheusSource:
    """Each method sends one range query (step 1 h) and returns a frame keyed by hour start."""

    def __init__(
        self,
        url: str,
        queries: QuerySet,
        timeout_seconds: float = 300.0,
        retries: int = 2,
        observer: QueryObserver | None = None,
        access: Access | None = None,
        recommendation_queries: QuerySet | None = None,
        rate_window_seconds: int = RATE_STEP_SECONDS,
    ) -> None:
        self.url = url.rstrip("/")
        self.queries = queries
        self.recommendation_queries = recommendation_queries  # `promql.recommendation_queries`; None: not asked
        self.rate_window_seconds = rate_window_seconds  # the windows (and step) of its CPU rates
        self.timeout_seconds = timeout_seconds
        self.observer = observer
        self.access = access or Access()
        self.seconds_waiting = 0.0
        self.splits = 0  # queries split in time for a backend's sample limit
        self.notes: tuple[UsageNote, ...] = ()  # what was found about measuring usage (see collect.clusters)
        self._retries = retries
        self._waiting_lock = threading.Lock()
        self._shares: dict[tuple[datetime, datetime], Future[pd.DataFrame]] = {}
        self._shares_lock = threading.Lock()
        self._share_uses: dict[tuple[datetime, datetime], int] = {}
        self._density: dict[str, float] = {}  # samples per hour each question's answers held (`_reduced`)
        self._local = threading.local()
        self._keys = _Keys()
        self._client()  # the client validates the URL: fail here, not in a worker thread

    @classmethod
    def from_settings(
        cls, url: str, queries: QuerySet, settings: Settings, observer: QueryObserver | None = None
    ) -> PrometheusSource:
        return cls(url, queries, settings.prometheus_timeout_seconds, settings.prometheus_retries, observer,
                   access_from(settings))  # fmt: skip

    def _client(self) -> PrometheusConnect:
        """One HTTP client per thread: chunks are fetched concurrently and a requests Session is not shared."""
        client: PrometheusConnect | None = getattr(self._local, "client", None)
        if client is None:
            retry = Retry(
                total=self._retries,
                connect=self._retries,
                read=self._retries,
                backoff_factor=0.5,
                status_forcelist=(429, 502, 503, 504),
                allowed_methods=None,
            )
            try:
                client = PrometheusConnect(
                    url=self.url, headers=self.access.headers or None, retry=retry, method="POST",
                    timeout=int(self.timeout_seconds) or 1, auth=self.access.auth,
                )  # fmt: skip
            except Exception as error:  # the client validates the URL eagerly
                raise PrometheusUnavailable(f"Prometheus URL {self.url!r} is not usable ({error})") from None
            client._session.verify = self.access.verify
            self._local.client = client
        return client

    # -- the questions -------------------------------------------------------------------------------

    def usage(self, question: str, start: datetime, end: datetime) -> pd.DataFrame:
        keys, requests_of_kinds = _QUESTION_KEYS[question]
        if question in COUNTER_UNITS:
            return self._counter_frame(question, start, end, keys, COUNTER_UNITS[question])
        frame = self._frame(question, start, end, keys)
        if not requests_of_kinds:
            return frame
        shares = self._running_share(start, end)
        (pod_of_row, pod_of_share), pods = row_codes([frame, shares], POD_HOUR_KEYS)
        share = np.full(pods, np.nan)
        share[pod_of_share] = shares[VALUE].to_numpy(dtype=np.float64)  # one row per pod-hour
        running = share[pod_of_row]
        kept = ~np.isnan(running)  # a pod never Running in the hour reserves nothing
        frame = frame.loc[kept].reset_index(drop=True)
        frame[VALUE] = frame[VALUE].to_numpy(dtype=np.float64) * running[kept] / REQUEST_UNITS.get(question, 1)
        return effective_requests(frame)

    def _running_share(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Each pod's Running share of each hour of [start, end): asked once per chunk, shared by every request
        question of it (chunks run in several threads) and dropped once the last of them has it."""
        with self._shares_lock:
            pending = self._shares.get((start, end))
            owner = pending is None
            if pending is None:
                pending = self._shares[(start, end)] = Future()
                self._share_uses[(start, end)] = 0
                while len(self._shares) > 8:  # chunks whose questions failed half-way
                    oldest = next(iter(self._shares))
                    self._shares.pop(oldest)
                    self._share_uses.pop(oldest, None)
        if owner:
            try:
                pending.set_result(self._frame("pod_running_share", start, end, POD_KEYS))
            except BaseException as error:
                with self._shares_lock:
                    self._shares.pop((start, end), None)
                    self._share_uses.pop((start, end), None)
                pending.set_exception(error)
        shares = pending.result()
        with self._shares_lock:
            uses = self._share_uses.get((start, end))
            if uses is not None:
                self._share_uses[(start, end)] = uses + 1
                if uses + 1 >= _SHARE_READERS:  # every reader of the chunk has it
                    self._shares.pop((start, end), None)
                    self._share_uses.pop((start, end), None)
        return shares

    def namespace_labels(self, start: datetime, end: datetime) -> Mapping[tuple[str, datetime], Mapping[str, str]]:
        """The label set each namespace had for most of each hour (kube-state-metrics' `label_*` names)."""
        return self._label_sets("namespace_labels", "namespace", start, end, lambda _, key: key.startswith("label_"))

    def pod_labels(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Each pod's label sets per hour (`label_*` as canonical JSON) with the share of the pod-hour each held (its
        scrapes over all the pod's scrapes in the hour, the most of any copy of a set), for the pod-hours that had any
        label: the rest have none, and need no row.

        Reduced on integer codes as the answer is read: a pandas group-by over the label texts of every sample
        was the largest allocation of a month's collection."""
        keys: dict[tuple[str, str, str, str], int] = {}

        def reduce(answer: list[Series]) -> _Samples:
            series_codes = np.fromiter((keys.setdefault(_labelled_pod(s["metric"]), len(keys)) for s in answer),
                                       dtype=np.int64, count=len(answer))  # fmt: skip
            return _Samples.of(answer, series_codes)

        with _collector_paused():
            found = _Samples.joined(self._query_range("pod_labels", self.queries.pod_labels, start, end, reduce))
        if not len(found.values):
            return empty_frame((*POD_KEYS, POD_LABELS))
        table = np.empty((len(keys), 4), dtype=object)
        table[:] = list(keys)
        pods: dict[tuple[str, ...], int] = {}
        pod_of_key = np.fromiter((pods.setdefault(key[:3], len(pods)) for key in keys), dtype=np.int64,
                                 count=len(keys))  # fmt: skip
        labelled_key = table[:, 3] != ""
        # copies of one label set (another kube-state-metrics or Prometheus replica) are one: the most scrapes of any
        span = int(found.stamps.max()) + 1
        cells, cell_of = pd.factorize(found.series * span + found.stamps)
        cells = np.asarray(cells, dtype=np.int64)
        scrapes = np.full(len(cell_of), -np.inf)
        np.maximum.at(scrapes, cells, found.values)
        cell_key, cell_stamp = np.asarray(cell_of, dtype=np.int64) // span, np.asarray(cell_of, dtype=np.int64) % span
        pod_hours, pod_hour_of = pd.factorize(pod_of_key[cell_key] * span + cell_stamp)
        pod_hours = np.asarray(pod_hours, dtype=np.int64)
        share = scrapes / exact_sums(pod_hours, scrapes, len(pod_hour_of))[pod_hours]
        labelled = np.bincount(pod_hours, weights=labelled_key[cell_key], minlength=len(pod_hour_of)) > 0
        kept = labelled[pod_hours]
        rows = pd.DataFrame(table[cell_key[kept]], columns=[*POD_KEYS, POD_LABELS])
        rows[HOUR] = pd.to_datetime(cell_stamp[kept] - SECONDS_PER_HOUR, unit="s", utc=True).as_unit("ns")
        rows[VALUE] = share[kept]
        return rows.sort_values([*POD_KEYS, HOUR, POD_LABELS], kind="stable", ignore_index=True)

    def nodes(self, start: datetime, end: datetime) -> NodeFacts:
        """Node labels (`label_*`, from `kube_node_labels`) and `provider_id` (from `kube_node_info`) per hour,
        with where each pod ran and each node's share of the hour and capacity."""

        def kept(series: str, key: str) -> bool:
            return key.startswith("label_") if series == "labels" else key == "provider_id"

        labels = self._label_sets("node_labels", "node", start, end, kept, by="kubecharge_series")
        return NodeFacts(
            pod_nodes=self._frame("pod_nodes", start, end, POD_NODE_KEYS),
            node_hours=self._frame("node_hours", start, end, NODE_KEYS),
            node_capacity=self._frame("node_capacity", start, end, NODE_CAPACITY_KEYS),
            node_labels=labels,
        )

    def pod_workloads(self, start: datetime, end: datetime) -> pd.DataFrame:
        """The workload of every pod-hour (`domain.workloads`), from kube-state-metrics' owner series."""
        pods = self._frame("pod_owners", start, end, POD_OWNER_KEYS)
        controllers = self._frame("controller_owners", start, end, ("controller_kind", *CONTROLLER_OWNER_KEYS))
        return pod_workloads(pods, controllers)

    def claim_mounts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """The PVCs each pod mounts, per hour, valued at the share of the hour the pod was Running (pods never
        Running in the hour left out): what a claim's GiB-hours are split by."""
        mounts = self._frame("claim_mounts", start, end, CLAIM_MOUNT_KEYS)
        shares = self._running_share(start, end)
        (pod_of_row, pod_of_share), pods = row_codes([mounts, shares], POD_HOUR_KEYS)
        share = np.full(pods, np.nan)
        share[pod_of_share] = shares[VALUE].to_numpy(dtype=np.float64)
        running = share[pod_of_row]
        kept = ~np.isnan(running)
        found: pd.DataFrame = mounts.loc[kept].reset_index(drop=True)
        found[VALUE] = running[kept]
        return found

    def _label_sets(
        self, question: str, owner: str, start: datetime, end: datetime, kept: Callable[[str, str], bool],
        by: str | None = None,
    ) -> dict[tuple[str, datetime], dict[str, str]]:  # fmt: skip
        """Per (owner, hour), the labels it had for most of the hour; series of different kinds (`by`) each
        contribute their own most frequent set. Replicas report the same set: the max of their counts, not the sum."""
        counts: dict[tuple[str, datetime, str], dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        for series in self._range(question, start, end):
            metric = series["metric"]
            kind = metric.get(by, "") if by else ""
            labels = tuple(sorted((k, v) for k, v in metric.items() if kept(kind, k)))
            for timestamp, value in series["values"]:
                key = (metric.get(owner, ""), _hour_start(timestamp), kind)
                counts[key][labels] = max(counts[key].get(labels, 0.0), float(value))
        result: dict[tuple[str, datetime], dict[str, str]] = {}
        for (name, hour, _kind), options in sorted(counts.items()):
            chosen = max(options.items(), key=lambda item: (item[1], item[0]))[0]
            result.setdefault((name, hour), {}).update(chosen)
        return result

    def scrape_completeness(self, start: datetime, end: datetime) -> Mapping[datetime, HourCompleteness]:
        """Targets and scrapes expected / seen per hour; hours without any `up` sample are absent.

        An hour's counters start from the last sample of the hour before (`domain.counters`): where that hour has
        no cAdvisor scrape at all (beyond retention, a long outage), each target's first interval of the hour went
        unseen, and the hour counts one scrape per target fewer — so an answer from a Prometheus that has since
        lost the hour before never replaces one that had it."""
        measures: dict[datetime, dict[str, int]] = defaultdict(dict)
        wanted = set(HourCompleteness.names())
        for series in self._range("scrape_completeness", start - timedelta(hours=1), end):
            measure = series["metric"].get("measure", "")
            if measure not in wanted:
                continue
            for timestamp, value in series["values"]:
                measures[_hour_start(timestamp)][measure] = round(float(value))
        found = {}
        for hour, seen in measures.items():
            if hour < start:
                continue
            if not measures.get(hour - timedelta(hours=1), {}).get("cadvisor_scrapes_seen"):
                unseen = min(seen.get("cadvisor_targets_seen", 0), seen.get("cadvisor_scrapes_seen", 0))
                seen = {**seen, "cadvisor_scrapes_seen": seen.get("cadvisor_scrapes_seen", 0) - unseen}
            found[hour] = HourCompleteness(**seen)
        return found

    def usage_notes(self) -> tuple[UsageNote, ...]:
        return self.notes

    def chunk_hours(self, most: int) -> int:
        """Hours per chunk that keep a chunk within `CHUNK_SAMPLES`: its samples (per hour, what the chunks before
        it held) and `SERIES_SAMPLES` for each of its series — at one sample per series and hour, a chunk holds
        about an hour's worth of series. A day at 1,000 pods, 9 hours at 2,000: a chunk's memory stays flat.

        Measured at 2,000 pods: chunks of 500,000 samples (12 hours) peaked 11 % above 1,000 pods' day (more series
        of fewer hours each, and each series costs its keys, labels and groups), 400,000 at 2 %, in the same time.
        Never fewer than `FEWEST_CHUNK_HOURS` (from about 4,600 pods on, where memory grows again): every request
        makes Prometheus look up each series and decode its chunks anew, measured at 10,000 pods as +33 % of
        Prometheus' time for 6-hour requests and +130 % for 2-hour ones, against one day."""
        with self._waiting_lock:
            per_hour = sum(self._density.values())
        if not per_hour:
            return 1  # nothing seen yet: one hour to learn from
        return max(1, min(most, max(FEWEST_CHUNK_HOURS, int(CHUNK_SAMPLES // per_hour) - SERIES_SAMPLES)))

    def duplicate_series_ratio(self, start: datetime, end: datetime) -> float | None:
        return self.largest_value("duplicate_series_ratio", self.queries.duplicate_series_ratio, start, end)

    def largest_value(self, question: str, query: str, start: datetime, end: datetime) -> float | None:
        """The largest value of an hourly range query over the whole hours of [start, end), if it has any."""
        if end - start < timedelta(hours=1):
            return None
        series = self._query_range(question, query, start, end, _kept)
        values = [float(value) for batch in series for s in batch for _, value in s["values"]]
        return max(values) if values else None

    def label_values(
        self, label: str, series: str, start: datetime, end: datetime, question: str = "cluster_names"
    ) -> list[str]:
        """The values `label` takes on `series` in [start, end) (the label-values API, which Thanos, Mimir and
        VictoriaMetrics serve too): how the clusters a querier holds are found."""
        params = {"match[]": series, "start": start.timestamp(), "end": end.timestamp(), **self.access.parameters}

        def send() -> list[Series]:
            client = self._client()
            response = client._session.get(
                f"{self.url}/api/v1/label/{label}/values", params=params, headers=client.headers, auth=client.auth,
                verify=client._session.verify, timeout=self.timeout_seconds,
            )  # fmt: skip
            values = answer_data(self.url, f"{label} label", response)
            if not isinstance(values, list):
                raise PrometheusUnavailable(f"Prometheus at {self.url} answered the label-values query with data "
                                            "that is not a list of values; check the URL")  # fmt: skip
            return [{"value": value} for value in values]

        return sorted(str(item["value"]) for item in self._call(question, send))

    def container_use(self, start: datetime, end: datetime, percentile: float,
                      days: DayStore | None = None) -> list[ContainerUse]:  # fmt: skip
        if self.recommendation_queries is None:
            raise ValueError("this source was made without recommendation queries")
        return container_use(self, self.recommendation_queries, start, end, percentile, days, self.rate_window_seconds)

    def hourly_frame(self, question: str, query: str, start: datetime, end: datetime,
                     keys: tuple[str, ...]) -> pd.DataFrame:  # fmt: skip
        """A query outside the report's own set, one row per `keys` × hour (as every question of the set)."""
        return self._frame(question, start, end, keys, query=query)

    def fine_samples(self, question: str, query: str, start: datetime, end: datetime, keys: tuple[str, ...],
                     step_seconds: int) -> tuple[pd.DataFrame, npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                 FloatArray]:  # fmt: skip
        """Every sample of `query` over [start, end) at `step_seconds` (5-minute rates, say), not summed per
        hour: the distinct `keys` of its series (a frame, one row per code), and per sample its series' code, its
        stamp (seconds, the end of its step) and its value. Series sharing `keys` share a code."""
        codes: dict[tuple[str, ...], int] = {}

        def reduce(answer: list[Series]) -> _Samples:
            series_codes = np.fromiter((codes.setdefault(self._keys.of(s["metric"], keys), len(codes))
                                        for s in answer), dtype=np.int64, count=len(answer))  # fmt: skip
            return _Samples.of(answer, series_codes)

        with _collector_paused():
            parts = self._query_range(question, query, start, end, reduce, step_seconds)
        found = _Samples.joined(parts)
        frame = pd.DataFrame(list(codes), columns=list(keys), dtype=object)
        return frame, found.series, found.stamps, found.values

    # -- plumbing -----------------------------------------------------------------------------------

    def _range(self, question: str, start: datetime, end: datetime) -> list[Series]:
        """Every series of a small answer (labels, completeness), whole."""
        batches = self._query_range(question, getattr(self.queries, question), start, end, _kept)
        return [series for batch in batches for series in batch]

    def _query_range(
        self, question: str, query: str, start: datetime, end: datetime, reduce: Callable[[list[Series]], T],
        step_seconds: int = SECONDS_PER_HOUR,
    ) -> list[T]:  # fmt: skip
        """One range query over [start, end) (evaluated at the end of each step: an hour, or `step_seconds`), its
        series reduced batch by batch as they are read, split in two halves (again and again) when the backend
        refuses it for loading too many samples: at a large cluster's scale one day can exceed Prometheus' default
        sample limit, and the halves' series simply add up (each hour is in exactly one half)."""
        form = {"query": query, "start": (start + timedelta(seconds=step_seconds)).timestamp(),
                "end": end.timestamp(), "step": str(step_seconds),
                "timeout": f"{max(1, round(self.timeout_seconds * 1000))}ms", **self.access.parameters}  # fmt: skip
        try:
            return self._call(question, lambda: self._post(question, form, reduce))
        except TooManySamples as error:
            hours = int((end - start) / timedelta(hours=1))
            if hours <= 1:
                raise PrometheusUnavailable(
                    f"{error}; even one hour is too large for this backend's sample limit: select fewer series "
                    "per query (KUBECHARGE_QUERY_SERIES_LABELS) or raise the limit"
                ) from None
            with self._waiting_lock:
                self.splits += 1
            middle = start + timedelta(hours=hours // 2)
            return (self._query_range(question, query, start, middle, reduce, step_seconds)
                    + self._query_range(question, query, middle, end, reduce, step_seconds))  # fmt: skip

    def _post(self, question: str, form: Mapping[str, Any], reduce: Callable[[list[Series]], T]) -> list[T]:
        """One range query on the client's session (its retries, auth and CA), its answer streamed
        (`collect.answers`). prometheus-api-client's own query_range decodes the whole answer at once and drops
        `warnings`, which is how Thanos says an answer is partial."""
        client = self._client()
        with client._session.post(
            f"{self.url}/api/v1/query_range", data=form, headers=client.headers, auth=client.auth,
            verify=client._session.verify, timeout=self.timeout_seconds, stream=True,
        ) as response:  # fmt: skip
            return range_batches(self.url, question, response, reduce, DECODED_SAMPLES)

    def _call(self, question: str, send: Callable[[], T]) -> T:
        """`send` timed (with the reading of its answer, which is streamed) and its faults said in one line."""
        began = time.perf_counter()
        ok = False
        try:
            result = send()
            ok = True
            return result
        except requests.exceptions.SSLError:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url}: its TLS certificate is not trusted; set KUBECHARGE_PROMETHEUS_CA_FILE to "
                "the CA that signed it"
            ) from None
        except requests.RequestException as error:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} is unreachable ({type(error).__name__}); check the URL and that it "
                "is running, then retry"
            ) from None
        finally:
            elapsed = time.perf_counter() - began
            with self._waiting_lock:
                self.seconds_waiting += elapsed
            if self.observer is not None:
                self.observer(question, elapsed, ok)

    def _reduced(self, question: str, start: datetime, end: datetime, reduce: Callable[[list[Series]], T],
                 query: str | None = None) -> list[T]:  # fmt: skip
        """`question` over [start, end) in one request, its series reduced (to arrays) in batches of
        `DECODED_SAMPLES` as they are read, and how many samples it held per hour remembered (`chunk_hours`).

        Python's cyclic garbage collector stays off from decoding to reduction: the answer's objects hold no
        cycles and are freed by reference counting, yet allocating them would trigger collections that walk every
        live object again and again (measured: 3-5 × the decoding itself)."""
        samples = 0

        def counted(batch: list[Series]) -> T:
            nonlocal samples
            samples += sum(len(series["values"]) for series in batch)
            return reduce(batch)

        with _collector_paused():
            asked = query if query is not None else getattr(self.queries, question)
            reduced = self._query_range(question, asked, start, end, counted)
        with self._waiting_lock:
            seen = samples / ((end - start) / timedelta(hours=1))
            self._density[question] = max(self._density.get(question, 0.0), seen)
        return reduced

    def _frame(self, question: str, start: datetime, end: datetime, keys: tuple[str, ...],
               query: str | None = None) -> pd.DataFrame:  # fmt: skip
        """One row per `keys` × hour. Series that share `keys` (restarts: one per cgroup `id`) are added with
        `math.fsum` (exact, order-free); everything else is vectorised, never a Python loop per sample."""
        codes: dict[tuple[str, ...], int] = {}

        def reduce(answer: list[Series]) -> _Samples:
            if "namespace" in keys:  # series of no namespace (a GPU no pod uses) belong to nobody
                answer = [s for s in answer if s["metric"].get("namespace")]
            series_codes = np.fromiter((codes.setdefault(self._keys.of(s["metric"], keys), len(codes))
                                        for s in answer), dtype=np.int64, count=len(answer))  # fmt: skip
            return _Samples.of(answer, series_codes)

        found = _Samples.joined(self._reduced(question, start, end, reduce, query))
        if not len(found.values):
            return empty_frame(keys)
        return _keyed(keys, codes, found.series, found.stamps, found.values)

    def _counter_frame(
        self, question: str, start: datetime, end: datetime, keys: tuple[str, ...], unit: float
    ) -> pd.DataFrame:
        """The hourly increase of every counter series (`domain.counters`), in the ledger's unit, added up per
        `keys`. The hour before `start` is asked for too: its last values are where the first hour starts from."""
        labels = COUNTER_SERIES_LABELS[question]
        series: dict[tuple[str, ...], int] = {}
        names = list(COUNTER_MEASURES)

        def reduce(answer: list[Series]) -> tuple[_Samples, npt.NDArray[np.int64]]:
            answer = [s for s in answer if s["metric"].get("namespace")]
            series_codes = np.fromiter((series.setdefault(self._keys.of(s["metric"], labels), len(series))
                                        for s in answer), dtype=np.int64, count=len(answer))  # fmt: skip
            part = _Samples.of(answer, series_codes)
            measures = np.fromiter((names.index(s["metric"].get("measure", "last")) for s in answer), dtype=np.int64,
                                   count=len(answer))  # fmt: skip
            return part, np.repeat(measures, part.lengths)

        pieces = self._reduced(question, start - timedelta(hours=1), end, reduce)
        found = _Samples.joined([part for part, _ in pieces])
        if not len(found.values):
            return empty_frame(keys)
        # A grid of series × hour (the hour before `start` first), one layer per measure: no sorting of samples.
        hours = round((end - start) / timedelta(hours=1)) + 1
        first_stamp = start.timestamp()  # the range query's first evaluation: the end of the hour before `start`
        hour_of = np.rint((found.stamps - first_stamp) / SECONDS_PER_HOUR).astype(np.int64)
        wide = np.full((len(names), len(series), hours), np.nan)
        wide[np.concatenate([measures for _, measures in pieces]), found.series, hour_of] = found.values
        last, low, high, samples = (wide[names.index(m)] for m in ("last", "low", "high", "samples"))
        previous_last = np.full_like(last, np.nan)
        previous_last[:, 1:] = last[:, :-1]
        increase = hourly_increase(last, low, high, samples, previous_last)[:, 1:]  # the hour before only leads in
        series_of, hour_index = np.nonzero(~np.isnan(increase))
        stamp_of = first_stamp + SECONDS_PER_HOUR * (hour_index + 1)
        values = increase[series_of, hour_index]
        key_codes: dict[tuple[str, ...], int] = {}
        positions = [labels.index(k) if k in labels else None for k in keys]
        per_series = np.array([key_codes.setdefault(tuple(identity[i] if i is not None else "" for i in positions),
                                                    len(key_codes)) for identity in series],
                              dtype=np.int64)  # fmt: skip
        return _keyed(keys, key_codes, per_series[series_of], stamp_of.astype(np.int64), values / unit)


class _Keys:
    """One tuple (of one copy of each string) per series key, shared by every question and chunk.

    Each answer decodes its labels anew; keeping those copies for a chunk's frames cost 25 MB a chunk at 10,000
    pods, and, being allocated among the answer's short-lived objects, kept the memory around them from being
    reused. Canonical keys are allocated once, when first seen. Forgotten all at once past `most` keys, so pod
    churn over a long report does not grow it without bound."""

    def __init__(self, most: int = 1_000_000) -> None:
        self._most = most
        self._seen: dict[tuple[str, ...], tuple[str, ...]] = {}

    def of(self, metric: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, ...]:
        key = tuple(sys.intern(metric.get(name, "")) for name in names)
        if len(self._seen) > self._most:
            self._seen = {}
        return self._seen.setdefault(key, key)


@dataclass(frozen=True)
class _Samples:
    """Every sample of one or more range answers as flat arrays: its series' code, stamp and value; `lengths`
    is each series' sample count."""

    series: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.int64]
    values: FloatArray
    lengths: npt.NDArray[np.int64]

    @classmethod
    def of(cls, answer: list[Series], series_codes: npt.NDArray[np.int64]) -> _Samples:
        stamps, values, lengths = _samples(answer)
        return cls(np.repeat(series_codes, lengths), stamps, values, lengths)

    @classmethod
    def joined(cls, parts: list[_Samples]) -> _Samples:
        if len(parts) == 1:
            return parts[0]
        empty = np.zeros(0, dtype=np.int64)
        return cls(*(np.concatenate([getattr(part, name) for part in parts] or [empty])
                     for name in ("series", "stamps", "values", "lengths")))  # fmt: skip


def _samples(result: list[Series]) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[np.int64]]:
    """Every sample of a range answer as flat arrays (stamps, values) and each series' sample count."""
    lengths = np.fromiter((len(s["values"]) for s in result), dtype=np.int64, count=len(result))
    samples = list(itertools.chain.from_iterable(s["values"] for s in result))
    stamps = np.fromiter((p[0] for p in samples), dtype=np.float64, count=len(samples)).astype(np.int64)
    values = np.array([p[1] for p in samples], dtype=np.float64)
    return stamps, values, lengths


def _keyed(
    keys: tuple[str, ...], codes: dict[tuple[str, ...], int], key_codes: npt.NDArray[np.int64],
    stamps: npt.NDArray[np.int64], values: FloatArray,
) -> pd.DataFrame:  # fmt: skip
    """Rows of `keys` × hour; values sharing both (restarts, interfaces) are added with `math.fsum`."""
    cells, found = pd.factorize(key_codes * (int(stamps.max(initial=0)) + 1) + stamps)  # one per key and hour
    cells = np.asarray(cells, dtype=np.int64)
    first = first_of(cells, len(found))
    labels = pd.DataFrame(list(codes), columns=list(keys), dtype=object).iloc[key_codes[first]]
    labels = labels.reset_index(drop=True)
    labels[HOUR] = pd.to_datetime(stamps[first] - SECONDS_PER_HOUR, unit="s", utc=True).as_unit("ns")
    labels[VALUE] = exact_sums(cells, values, len(found))
    return labels


_decoding = 0  # threads decoding an answer now
_decoding_lock = threading.Lock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while any thread decodes an answer. Decoding allocates a list, a
    number and a string per sample and no reference cycles, yet those allocations trigger collections that walk
    every live object (the answers other threads hold): measured, 3-5 × the decoding itself."""
    global _decoding
    with _decoding_lock:
        _decoding += 1
        if _decoding == 1:
            gc.disable()
    try:
        yield
    finally:
        with _decoding_lock:
            _decoding -= 1
            if _decoding == 0:
                gc.enable()


def _labelled_pod(metric: Mapping[str, str]) -> tuple[str, str, str, str]:
    """A pod-labels series' pod (namespace, pod, uid) and its `label_*` as canonical JSON ("" for none)."""
    labels = {key: value for key, value in metric.items() if key.startswith("label_")}
    text = json.dumps(labels, sort_keys=True, separators=(",", ":")) if labels else ""
    return (sys.intern(metric.get("namespace", "")), sys.intern(metric.get("pod", "")), metric.get("uid", ""),
            sys.intern(text))  # fmt: skip


def _kept(batch: list[Series]) -> list[Series]:
    return batch


@lru_cache(maxsize=8192)
def _hour_start(timestamp: float) -> datetime:
    """Range results repeat the same few timestamps across every series: convert each once."""
    return datetime.fromtimestamp(float(timestamp), UTC) - timedelta(hours=1)
