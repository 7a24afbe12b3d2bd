"""A chunk's rollup as columns: what the ledger stores, without a Python object per row.

A day of a 1,000-pod cluster rolls up to about 31,000 rows (namespace, node, workload, pod label set, hour). As
`NamespaceHour` objects with their quantities they were about 30 MB, alive beside the next chunk being collected:
the largest part of a report's peak memory. As columns they are under 5 MB, and the ledger writes them in batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from kubecharge.domain.collected import HOUR, POD_LABELS, WORKLOAD_COLUMNS
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities

KEY_COLUMNS = ("namespace", "node", *WORKLOAD_COLUMNS, POD_LABELS)  # what a row is of, with its hour
QUANTITY_COLUMNS = ResourceQuantities.names()
FloatArray = npt.NDArray[np.float64]
Seconds = npt.NDArray[np.int64]
NamespaceLabels = Mapping[tuple[str, datetime], Mapping[str, str]]


@dataclass(frozen=True)
class HourTable:
    """Rows of `KEY_COLUMNS` and `HOUR` (`keys`), their quantities (`quantities`: a row each, a column per
    `QUANTITY_COLUMNS`) and the labels of each namespace in each hour it has rows in."""

    keys: pd.DataFrame
    quantities: FloatArray
    namespace_labels: NamespaceLabels

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def empty(cls) -> HourTable:
        keys = pd.DataFrame({**{name: pd.Series(dtype=object) for name in KEY_COLUMNS},
                             HOUR: pd.Series(dtype="datetime64[ns, UTC]")})  # fmt: skip
        return cls(keys, np.zeros((0, len(QUANTITY_COLUMNS))), {})

    @classmethod
    def of(cls, rows: Iterable[NamespaceHour]) -> HourTable:
        """Rows given one by one (tests, small callers) as a table."""
        found = list(rows)
        if not found:
            return cls.empty()
        keys = pd.DataFrame({name: [getattr(row, name) for row in found] for name in KEY_COLUMNS}, dtype=object)
        keys[HOUR] = pd.to_datetime([row.hour_start for row in found], utc=True).as_unit("ns")
        amounts = np.array([[getattr(row.quantities, name) for name in QUANTITY_COLUMNS] for row in found],
                           dtype=np.float64)  # fmt: skip
        labels = {(row.namespace, _utc(row.hour_start)): row.namespace_labels for row in found}
        return cls(keys, amounts.reshape(len(found), len(QUANTITY_COLUMNS)), labels)

    def hour_seconds(self) -> Seconds:
        """Each row's hour as seconds since the epoch."""
        stamps = self.keys[HOUR].to_numpy(dtype="datetime64[ns]").view(np.int64)
        return np.asarray(stamps // 1_000_000_000, dtype=np.int64)

    def rows(self, cluster: str = "") -> list[NamespaceHour]:
        """The table as rows (what attribution and pricing take)."""
        hours = [datetime.fromtimestamp(second, UTC) for second in self.hour_seconds().tolist()]
        columns = [self.keys[name].tolist() for name in KEY_COLUMNS]
        return [NamespaceHour(namespace, hour, ResourceQuantities(*amounts),
                              self.namespace_labels.get((namespace, hour), {}), cluster, node, kind, workload,
                              pod_labels)
                for hour, namespace, node, kind, workload, pod_labels, amounts in zip(
                    hours, *columns, self.quantities.tolist(), strict=True)]  # fmt: skip


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
