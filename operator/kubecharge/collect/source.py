"""The metrics source as a typed interface: one method per question, each over whole hours [start, end).

The Prometheus implementation lives in `prometheus.py`; tests and other backends can supply their own
without patching anything (the httpx-transport idea).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

import pandas as pd


class UsageSource(Protocol):
    """Per-hour answers; container frames have namespace, pod, uid, container, hour_start, value."""

    def cpu_usage_core_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def cpu_request_core_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def memory_usage_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def memory_request_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def storage_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def network_gib(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def namespace_labels(self, start: datetime, end: datetime) -> Mapping[tuple[str, datetime], Mapping[str, str]]: ...

    def missing_scrape_targets(self, start: datetime, end: datetime) -> list[str]:
        """Which of cAdvisor / kube-state-metrics has no `up` series in the range, each with what to check.

        Gauges and request shares are divided by those targets' successful scrapes: without them every memory,
        storage and request figure would silently be zero, so a run must stop instead.
        """
        ...
