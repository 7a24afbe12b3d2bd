"""The metrics source as a typed interface, over whole hours [start, end).

The questions are those of `domain.resources` (a frame per question) plus the namespaces' labels, the nodes and
how completely each hour was observed. The Prometheus implementation lives in `prometheus.py`; tests and other
backends can supply their own without patching anything (the httpx-transport idea).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

import pandas as pd

from kubecharge.domain.collected import NodeFacts, UsageNote
from kubecharge.domain.ledger import HourCompleteness
from kubecharge.domain.recommendations import ContainerUse, DayStore


class UsageSource(Protocol):
    def usage(self, question: str, start: datetime, end: datetime) -> pd.DataFrame:
        """One resource question's per-hour answer: container questions give namespace, pod, uid, container,
        hour_start, value; storage namespace, persistentvolumeclaim, hour_start, value; network namespace, pod,
        uid, hour_start, value."""
        ...

    def namespace_labels(self, start: datetime, end: datetime) -> Mapping[tuple[str, datetime], Mapping[str, str]]: ...

    def nodes(self, start: datetime, end: datetime) -> NodeFacts:
        """Where each pod ran, and each node's share of each hour, capacity and labels."""
        ...

    def pod_workloads(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Each pod-hour's workload: namespace, pod, uid, hour_start, workload_kind, workload
        (`domain.workloads`)."""
        ...

    def pod_labels(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Per pod-hour that had any label: namespace, pod, uid, pod_labels (canonical JSON of `label_*`),
        hour_start and the share of the hour the label set held as value."""
        ...

    def claim_mounts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """The PVCs each pod mounts per hour: namespace, pod, uid, persistentvolumeclaim, hour_start and the pod's
        Running share of the hour as value (pods not Running in the hour left out)."""
        ...

    def scrape_completeness(self, start: datetime, end: datetime) -> Mapping[datetime, HourCompleteness]:
        """Per hour, cAdvisor's and kube-state-metrics' scrape targets and scrapes, expected and seen.

        Gauges and request shares are divided by those targets' successful scrapes, and the ledger decides by
        them whether a new answer may replace a stored hour; hours without any `up` sample are absent.
        """
        ...

    def duplicate_series_ratio(self, start: datetime, end: datetime) -> float | None:
        """The largest share, per hour of [start, end), of kube-state-metrics' pod series that were copies (other
        replicas, shards, Prometheus replicas) and were collapsed: a pipeline SLI. None: no such series."""
        ...

    def usage_notes(self) -> tuple[UsageNote, ...]:
        """What the source found about measuring usage (an exporter under another job, or none at all)."""
        ...

    def container_use(self, start: datetime, end: datetime, percentile: float,
                      days: DayStore | None = None) -> list[ContainerUse]:  # fmt: skip
        """What each workload container used over the whole days of [start, end): the `percentile` of its 5-minute
        CPU rates (every replica's windows pooled), its peak working set, its latest requests, its average
        replicas and whether a HorizontalPodAutoscaler scales it (request recommendations). Days kept in `days`
        are read from there; the others are asked for and kept."""
        ...

    def chunk_hours(self, most: int) -> int:
        """How many hours (at most `most`) one chunk should span so that its answers stay within a bounded number
        of samples, by what the source has seen per hour so far (1 before it has seen anything)."""
        ...
