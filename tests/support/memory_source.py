"""An in-memory usage source (the httpx "mock transport" idea): the pipeline's tests run without a Prometheus where
the point is the pipeline — the ledger, attribution, pricing — and not the queries, which the real-Prometheus tests
prove. Each container-hour is given as the figures Prometheus would have aggregated for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from kubecharge.domain.collected import (
    CLAIM_KEYS,
    CLAIM_MOUNT_KEYS,
    CONTAINER_KEYS,
    HOUR,
    POD_KEYS,
    POD_LABELS,
    VALUE,
    NodeFacts,
    UsageNote,
    empty_frame,
    empty_workloads,
)
from kubecharge.domain.ledger import HourCompleteness
from kubecharge.domain.recommendations import ContainerUse, DayStore
from kubecharge.domain.resource_table import RESOURCES, Scope
from kubecharge.errors import PrometheusUnavailable

SCRAPED = HourCompleteness(1, 1, 12, 12, 1, 1, 12, 12)  # one cAdvisor and one kube-state-metrics target, all scraped


@dataclass(frozen=True)
class ContainerHour:
    namespace: str
    pod: str
    container: str
    hour: datetime
    figures: Mapping[str, float]  # question → value, e.g. {"cpu_usage_core_hours": 0.5}


@dataclass
class MemorySource:
    """Answers every question of `domain.resources` from `containers` (container questions) and `namespaces`
    (namespace questions: (namespace, hour) → question → value); every hour in `observed` is fully scraped.
    `asked` records each question and range; `fail_from` makes every question from that hour on fail."""

    containers: list[ContainerHour]
    observed: set[datetime]
    namespaces: Mapping[tuple[str, datetime], Mapping[str, float]] = field(default_factory=dict)
    labels: Mapping[tuple[str, datetime], Mapping[str, str]] = field(default_factory=dict)
    hours_per_chunk: int = 24
    fail_from: datetime | None = None
    asked: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    uses: list[ContainerUse] = field(default_factory=list)  # what `container_use` answers, whatever the window

    def _check(self, question: str, start: datetime, end: datetime) -> None:
        self.asked.append((question, start, end))
        if self.fail_from is not None and end > self.fail_from:
            raise PrometheusUnavailable(f"Prometheus at memory:// did not answer the {question} query")

    def usage(self, question: str, start: datetime, end: datetime) -> pd.DataFrame:
        self._check(question, start, end)
        scope = next(resource.scope for resource in RESOURCES if question in resource.questions)
        if scope is Scope.CONTAINER:
            rows = [{"namespace": c.namespace, "pod": c.pod, "uid": f"uid-{c.pod}", "container": c.container,
                     HOUR: c.hour, VALUE: c.figures[question]} for c in self.containers
                    if start <= c.hour < end and question in c.figures]  # fmt: skip
            keys: tuple[str, ...] = CONTAINER_KEYS
        else:  # a namespace's PVC no pod mounts; the bytes its `network` pod sent
            keys = CLAIM_KEYS if question == "storage_gib_hours" else POD_KEYS
            rows = [{"namespace": namespace, "persistentvolumeclaim": f"data-{namespace}", "pod": "network",
                     "uid": "uid-network", HOUR: hour, VALUE: figures[question]}
                    for (namespace, hour), figures in self.namespaces.items()
                    if start <= hour < end and question in figures]  # fmt: skip
            rows = [{key: row[key] for key in (*keys, HOUR, VALUE)} for row in rows]
        if not rows:
            return empty_frame(keys)
        frame = pd.DataFrame(rows)
        frame[HOUR] = pd.to_datetime(frame[HOUR], utc=True)
        return frame

    def namespace_labels(self, start: datetime, end: datetime) -> Mapping[tuple[str, datetime], Mapping[str, str]]:
        self._check("namespace_labels", start, end)
        return {key: labels for key, labels in self.labels.items() if start <= key[1] < end}

    def nodes(self, start: datetime, end: datetime) -> NodeFacts:
        self._check("nodes", start, end)
        return NodeFacts()

    def pod_workloads(self, start: datetime, end: datetime) -> pd.DataFrame:
        """None known: each pod-hour is its own bare pod's (`domain.workloads.workloads_of`)."""
        self._check("pod_workloads", start, end)
        return empty_workloads()

    def pod_labels(self, start: datetime, end: datetime) -> pd.DataFrame:
        self._check("pod_labels", start, end)
        return empty_frame((*POD_KEYS, POD_LABELS))

    def claim_mounts(self, start: datetime, end: datetime) -> pd.DataFrame:
        self._check("claim_mounts", start, end)
        return empty_frame(CLAIM_MOUNT_KEYS)

    def scrape_completeness(self, start: datetime, end: datetime) -> Mapping[datetime, HourCompleteness]:
        self._check("scrape_completeness", start, end)
        return {hour: SCRAPED for hour in self.observed if start <= hour < end}

    def duplicate_series_ratio(self, start: datetime, end: datetime) -> float | None:
        return None

    def usage_notes(self) -> tuple[UsageNote, ...]:
        return ()

    def chunk_hours(self, most: int) -> int:
        return min(most, self.hours_per_chunk)

    def container_use(self, start: datetime, end: datetime, percentile: float,
                      days: DayStore | None = None) -> list[ContainerUse]:  # fmt: skip
        self._check("container_use", start, end)
        return list(self.uses)

    def questions_asked(self, question: str) -> list[tuple[datetime, datetime]]:
        return [(start, end) for asked, start, end in self.asked if asked == question]
