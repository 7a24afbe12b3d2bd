"""What the collect stage hands to the rollup stage for one chunk of hours.

Frames, not raw samples: Prometheus has already aggregated per container-hour (where max(usage, request)
needs the container) or per namespace-hour. Every frame carries `hour_start` (UTC) and one value column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from kubecharge.domain.ledger import HourCompleteness

CONTAINER_KEYS = ("namespace", "pod", "uid", "container")
NAMESPACE_KEYS = ("namespace",)
HOUR = "hour_start"
VALUE = "value"


def empty_frame(keys: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            **{k: pd.Series(dtype=object) for k in keys},
            HOUR: pd.Series(dtype="datetime64[ns, UTC]"),
            VALUE: pd.Series(dtype="float64"),
        }
    )


@dataclass(frozen=True)
class ChunkUsage:
    start: datetime
    end: datetime
    cpu_usage_core_hours: pd.DataFrame  # CONTAINER_KEYS + hour_start + value
    cpu_request_core_hours: pd.DataFrame
    memory_usage_gib_hours: pd.DataFrame
    memory_request_gib_hours: pd.DataFrame
    storage_gib_hours: pd.DataFrame  # NAMESPACE_KEYS + hour_start + value
    network_gib: pd.DataFrame
    namespace_labels: Mapping[tuple[str, datetime], Mapping[str, str]]
    completeness: Mapping[datetime, HourCompleteness]  # every hour of [start, end), observed or not
