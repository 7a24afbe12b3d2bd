"""Writing a chunk's rollup (`HourTable`) into the ledger: its rows by key id in batches, its namespace totals.

Nothing here holds a Python object per row for the whole chunk: rows become the driver's tuples a batch at a time,
and the namespace totals (one per namespace, pod label set and hour) are summed over arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from kubecharge.domain.collected import HOUR, POD_LABELS
from kubecharge.domain.hour_table import KEY_COLUMNS, QUANTITY_COLUMNS, HourTable
from kubecharge.domain.keys import exact_sums, first_of, row_codes

ROWS_AT_ONCE = 5_000  # rows per INSERT of a chunk: the driver's tuples of one batch alive at a time
_USAGE_COLUMNS = ("cluster", "hour_start", "key_id", *QUANTITY_COLUMNS)


def accepted(table: HourTable, hours: list[datetime]) -> HourTable:
    """The rows of `hours` only (the others keep what the ledger holds)."""
    wanted = np.array([int(hour.timestamp()) for hour in hours], dtype=np.int64)
    kept = np.isin(table.hour_seconds(), wanted)
    if kept.all():
        return table
    return HourTable(table.keys.loc[kept].reset_index(drop=True), table.quantities[kept], table.namespace_labels)


def distinct_keys(table: HourTable) -> list[tuple[str, ...]]:
    """The usage keys (`KEY_COLUMNS`) of the table's rows, each once."""
    names = list(KEY_COLUMNS)
    return list(dict.fromkeys(zip(*(table.keys[name].tolist() for name in names), strict=True)))


def insert_usage(connection: Connection, cluster: str, table: HourTable, ids: Mapping[tuple[str, ...], int]) -> None:
    """The table's rows into `hourly_usage`, `ROWS_AT_ONCE` at a time. A time is bound as the column's type
    binds it (an integer on SQLite), once per distinct hour."""
    if not len(table):
        return
    usage = SQLModel.metadata.tables["hourly_usage"]
    bind = usage.c.hour_start.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    seconds = table.hour_seconds()
    moments = {second: datetime.fromtimestamp(second, UTC) for second in np.unique(seconds).tolist()}
    bound = {second: bind(moment) if bind is not None else moment for second, moment in moments.items()}
    key_ids = [ids[key] for key in zip(*(table.keys[name].tolist() for name in KEY_COLUMNS), strict=True)]
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = (f"INSERT INTO hourly_usage ({', '.join(_USAGE_COLUMNS)}) "
                 f"VALUES ({', '.join([marker] * len(_USAGE_COLUMNS))})")  # fmt: skip
    for start in range(0, len(table), ROWS_AT_ONCE):
        part = slice(start, start + ROWS_AT_ONCE)
        rows = [(cluster, bound[second], key_id, *amounts)
                for second, key_id, amounts in zip(seconds[part].tolist(), key_ids[part],
                                                   table.quantities[part].tolist(), strict=True)]  # fmt: skip
        connection.exec_driver_sql(statement, rows)


def namespace_totals(cluster: str, table: HourTable) -> list[dict[str, Any]]:
    """One `namespace_hours` row per namespace, pod label set and hour: the namespace's labels once (not once per
    node and workload) and its quantities summed exactly — what teams are attributed by, nodes aside."""
    if not len(table):
        return []
    (groups,), count = row_codes([table.keys], [HOUR, "namespace", POD_LABELS])
    first = table.keys.iloc[first_of(groups, count)]
    sums = [exact_sums(groups, table.quantities[:, column], count).tolist() for column in range(len(QUANTITY_COLUMNS))]
    labels: dict[tuple[str, datetime], str] = {}
    totals = []
    for index, (namespace, stamp, pod_labels) in enumerate(zip(first["namespace"].tolist(), first[HOUR],
                                                               first[POD_LABELS].tolist(), strict=True)):  # fmt: skip
        hour = stamp.to_pydatetime()
        if (namespace, hour) not in labels:
            labels[(namespace, hour)] = json.dumps(dict(table.namespace_labels.get((namespace, hour), {})),
                                                   sort_keys=True)  # fmt: skip
        amounts = {name: column[index] for name, column in zip(QUANTITY_COLUMNS, sums, strict=True)}
        totals.append({"cluster": cluster, "hour_start": hour, "namespace": namespace, "pod_labels": pod_labels,
                       "labels_json": labels[(namespace, hour)], **amounts})  # fmt: skip
    return totals


def namespaces_per_hour(table: HourTable) -> dict[datetime, int]:
    """How many namespaces have rows in each hour."""
    present = table.keys[["namespace", HOUR]].drop_duplicates()
    counts = present.groupby(HOUR).size()
    return {pd.Timestamp(stamp).to_pydatetime(): int(count) for stamp, count in zip(counts.index, counts, strict=True)}
