"""Reading the ledger's hourly rows in SQL as a person would: each row with the names of its usage key and its hour.

`hourly_usage` refers to `usage_keys` by id and keeps its hour as seconds since the epoch on SQLite; tests that
look at stored rows directly read them through this join.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "gpu_hours_usage", "gpu_hours_request",
              "gpu_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip
HOURLY_ROWS = (
    "(SELECT usage.cluster, usage.hour_start, keys.namespace, keys.node, keys.workload_kind, keys.workload, "
    f"keys.pod_labels, {', '.join(f'usage.{name}' for name in QUANTITIES)} FROM hourly_usage AS usage "
    "JOIN usage_keys AS keys ON keys.id = usage.key_id) AS hourly_rows"
)  # use as a table: SELECT … FROM {HOURLY_ROWS} WHERE …


def hour_of(stored: Any) -> pd.Timestamp:
    """A stored `hour_start` (seconds on SQLite, a timestamp on PostgreSQL) as a UTC timestamp."""
    if isinstance(stored, int):
        return pd.Timestamp(datetime.fromtimestamp(stored, UTC))
    moment = pd.Timestamp(stored)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
