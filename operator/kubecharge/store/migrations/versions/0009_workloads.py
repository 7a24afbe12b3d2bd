"""Workloads and pod labels in the ledger: `hourly_usage` is keyed by (cluster, hour_start, namespace, node,
workload_kind, workload, pod_labels), `namespace_hours` by (cluster, hour_start, namespace, pod_labels).

Hours stored before keep their rows as workload ("", "") without pod labels: readable as ever; new hours hold one
row per workload and label set of its pods (what TeamMapping podSelector matches). Downgrading adds each (namespace,
node) hour's rows up again. The table is rebuilt, not altered (SQLite cannot change a primary key in place), the same
way on SQLite and PostgreSQL.

Revision ID: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "gpu_hours_usage", "gpu_hours_request",
              "gpu_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip
NAMESPACE_GRAIN = ("cluster", "hour_start", "namespace", "node")
WORKLOAD_GRAIN = (*NAMESPACE_GRAIN, "workload_kind", "workload", "pod_labels")


def _table(key: tuple[str, ...]) -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = [
        sa.Column(name, sa.DateTime(timezone=True), primary_key=True) if name == "hour_start"
        else sa.Column(name, sa.Text(), primary_key=True) if name == "pod_labels"
        else sa.Column(name, sa.String(253), primary_key=True) for name in key
    ]  # fmt: skip
    return [*columns, *(sa.Column(name, sa.Float(), nullable=False) for name in QUANTITIES)]


NAMESPACE_TOTALS = ("cluster", "hour_start", "namespace")


def _rebuild(table: str, key: tuple[str, ...], select: str, extra: tuple[str, ...] = ()) -> None:
    op.execute(f"CREATE TABLE {table}_previous AS SELECT * FROM {table}")
    op.drop_table(table)
    texts = [sa.Column(name, sa.Text(), nullable=False) for name in extra]
    op.create_table(table, *_table(key), *texts, sqlite_with_rowid=False)
    op.execute(f"INSERT INTO {table} ({', '.join((*key, *QUANTITIES, *extra))}) {select}")
    op.drop_table(f"{table}_previous")


def upgrade() -> None:
    _rebuild("hourly_usage", WORKLOAD_GRAIN, f"SELECT {', '.join(NAMESPACE_GRAIN)}, '', '', '', "
                                             f"{', '.join(QUANTITIES)} FROM hourly_usage_previous")  # fmt: skip
    # the namespace's totals per label set of its pods (one set, none, for the hours before)
    _rebuild("namespace_hours", (*NAMESPACE_TOTALS, "pod_labels"),
             f"SELECT {', '.join(NAMESPACE_TOTALS)}, '', {', '.join(QUANTITIES)}, labels_json "
             "FROM namespace_hours_previous", extra=("labels_json",))  # fmt: skip


def downgrade() -> None:
    key = ", ".join(NAMESPACE_GRAIN)
    sums = ", ".join(f"SUM({name})" for name in QUANTITIES)
    _rebuild("hourly_usage", NAMESPACE_GRAIN, f"SELECT {key}, {sums} FROM hourly_usage_previous GROUP BY {key}")
    totals = ", ".join(NAMESPACE_TOTALS)
    _rebuild("namespace_hours", NAMESPACE_TOTALS, f"SELECT {totals}, {sums}, MIN(labels_json) "
             f"FROM namespace_hours_previous GROUP BY {totals}", extra=("labels_json",))  # fmt: skip
