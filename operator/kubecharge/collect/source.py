"""The metrics source as a typed interface: one method per question, each over whole hours [start, end).

The Prometheus implementation lives in `prometheus.py`; tests and other backends can supply their own
without patching anything (the httpx-transport idea).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

import pandas as pd

from kubecharge.domain.ledger import HourCompleteness


class UsageSource(Protocol):
    """Per-hour answers; container frames have namespace, pod, uid, container, hour_start, value."""

    def cpu_usage_core_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def cpu_request_core_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def memory_usage_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def memory_request_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def storage_gib_hours(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def network_gib(self, start: datetime, end: datetime) -> pd.DataFrame: ...

    def namespace_labels(self, start: datetime, end: datetime) -> Mapping[tuple[str, datetime], Mapping[str, str]]: ...

    def scrape_completeness(self, start: datetime, end: datetime) -> Mapping[datetime, HourCompleteness]:
        """Per hour, cAdvisor's and kube-state-metrics' scrape targets and scrapes, expected and seen.

        Gauges and request shares are divided by those targets' successful scrapes, and the ledger decides by
        them whether a new answer may replace a stored hour; hours without any `up` sample are absent.
        """
        ...
