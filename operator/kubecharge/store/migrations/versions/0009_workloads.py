"""Workloads and pod labels in the ledger: `hourly_usage` is keyed by (cluster, hour_start, namespace, node,
workload_kind, workload, pod_labels).

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


def _rebuild(key: tuple[str, ...], select: str) -> None:
    op.execute("CREATE TABLE hourly_usage_previous AS SELECT * FROM hourly_usage")
    op.drop_table("hourly_usage")
    op.create_table("hourly_usage", *_table(key), sqlite_with_rowid=False)
    op.execute(f"INSERT INTO hourly_usage ({', '.join((*key, *QUANTITIES))}) {select}")
    op.drop_table("hourly_usage_previous")


def upgrade() -> None:
    _rebuild(WORKLOAD_GRAIN, f"SELECT {', '.join(NAMESPACE_GRAIN)}, '', '', '', {', '.join(QUANTITIES)} "
                             f"FROM hourly_usage_previous")  # fmt: skip


def downgrade() -> None:
    key = ", ".join(NAMESPACE_GRAIN)
    sums = ", ".join(f"SUM({name})" for name in QUANTITIES)
    _rebuild(NAMESPACE_GRAIN, f"SELECT {key}, {sums} FROM hourly_usage_previous GROUP BY {key}")
