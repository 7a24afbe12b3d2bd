"""UsageSource over the Prometheus HTTP API (also Thanos, Mimir, VictoriaMetrics)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from kubecharge.collect.promql import QuerySet
from kubecharge.domain.collected import CONTAINER_KEYS, HOUR, NAMESPACE_KEYS, VALUE, empty_frame
from kubecharge.errors import PrometheusUnavailable

QueryObserver = Callable[[str, float, bool], None]  # (question, seconds, ok)


class PrometheusSource:
    """Each method sends one range query (step 1 h) and returns a frame keyed by hour start."""

    def __init__(
        self,
        url: str,
        queries: QuerySet,
        timeout_seconds: float = 300.0,
        retries: int = 2,
        observer: QueryObserver | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.queries = queries
        self.timeout_seconds = timeout_seconds
        self.observer = observer
        self.seconds_waiting = 0.0
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            backoff_factor=0.5,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=None,
        )
        try:
            self._client = PrometheusConnect(
                url=self.url, retry=retry, method="POST", timeout=int(timeout_seconds) or 1
            )
        except Exception as error:  # the client validates the URL eagerly
            raise PrometheusUnavailable(f"Prometheus URL {url!r} is not usable ({error})") from None

    # -- the questions -------------------------------------------------------------------------------

    def cpu_usage_core_hours(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self._frame("cpu_usage_core_hours", start, end, CONTAINER_KEYS)

    def cpu_request_core_hours(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self._frame("cpu_request_core_hours", start, end, CONTAINER_KEYS)

    def memory_usage_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self._frame("memory_usage_gib_hours", start, end, CONTAINER_KEYS)

    def memory_request_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self._frame("memory_request_gib_hours", start, end, CONTAINER_KEYS)

    def storage_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self._frame("storage_gib_hours", start, end, NAMESPACE_KEYS)

    def network_gib(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self._frame("network_gib", start, end, NAMESPACE_KEYS)

    def namespace_labels(self, start: datetime, end: datetime) -> Mapping[tuple[str, datetime], Mapping[str, str]]:
        """The label set each namespace had for most of each hour (kube-state-metrics' `label_*` names)."""
        counts: dict[tuple[str, datetime], dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        for series in self._range("namespace_labels", start, end):
            metric = series["metric"]
            labels = tuple(sorted((k, v) for k, v in metric.items() if k.startswith("label_")))
            for timestamp, value in series["values"]:
                key = (metric.get("namespace", ""), _hour_start(timestamp))
                # Replicas report the same label set: take the max, not the sum, of their counts.
                counts[key][labels] = max(counts[key].get(labels, 0.0), float(value))
        return {
            key: dict(max(options.items(), key=lambda item: (item[1], item[0]))[0]) for key, options in counts.items()
        }

    def missing_scrape_targets(self, start: datetime, end: datetime) -> list[str]:
        seconds = int((end - start).total_seconds())
        missing = []
        for question, what, setting in (
            ("cadvisor_targets", "cAdvisor", "KUBECHARGE_QUERY_CADVISOR_JOB_LABELS"),
            ("state_metrics_targets", "kube-state-metrics", "KUBECHARGE_QUERY_STATE_METRICS_JOB_LABELS"),
        ):
            query = getattr(self.queries, question).replace("{range}", f"{seconds}s")
            if not self._instant(question, query, end):
                missing.append(
                    f"no {what} scrape (`up`) series; either Prometheus did not scrape {what} then, "
                    f"or {setting} does not match its job labels"
                )
        return missing

    def _instant(self, question: str, query: str, moment: datetime) -> list[dict[str, Any]]:
        return self._call(question, lambda: self._client.custom_query(query, params={"time": moment.timestamp()}))

    # -- plumbing -----------------------------------------------------------------------------------

    def _range(self, question: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        query = getattr(self.queries, question)
        return self._call(
            question,
            lambda: self._client.custom_query_range(
                query, start_time=start + timedelta(hours=1), end_time=end, step="3600", timeout=self.timeout_seconds
            ),
        )

    def _call(self, question: str, send: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        began = time.perf_counter()
        ok = False
        try:
            result: list[dict[str, Any]] = send()
            ok = True
            return result
        except PrometheusApiClientException as error:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} rejected the {question} query: {_short(str(error))}"
            ) from None
        except requests.RequestException as error:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} is unreachable ({type(error).__name__}); check the URL and that it "
                "is running, then retry"
            ) from None
        finally:
            elapsed = time.perf_counter() - began
            self.seconds_waiting += elapsed
            if self.observer is not None:
                self.observer(question, elapsed, ok)

    def _frame(self, question: str, start: datetime, end: datetime, keys: tuple[str, ...]) -> pd.DataFrame:
        """Add the returned series up per `keys` and hour, exactly (fsum) and in a fixed order."""
        parts: dict[tuple[Any, ...], list[float]] = defaultdict(list)
        for series in self._range(question, start, end):
            metric = series["metric"]
            labels = tuple(metric.get(k, "") for k in keys)
            for timestamp, value in series["values"]:
                parts[(*labels, _hour_start(timestamp))].append(float(value))
        if not parts:
            return empty_frame(keys)
        rows = [(*key, math.fsum(values)) for key, values in sorted(parts.items())]
        return pd.DataFrame(rows, columns=[*keys, HOUR, VALUE])


@lru_cache(maxsize=8192)
def _hour_start(timestamp: float) -> datetime:
    """Range results repeat the same few timestamps across every series: convert each once."""
    return datetime.fromtimestamp(float(timestamp), UTC) - timedelta(hours=1)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
