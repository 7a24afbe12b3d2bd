"""Nodes and GPUs in the ledger: rollups per namespace *and node*, GPU-hours, and the nodes' hours.

`hourly_usage` gains `node` in its primary key (a container-hour is priced at the prices of the node it ran on)
and the GPU columns; rows stored before keep node "" (what ran on no known node) and zero GPU-hours. `node_hours`
holds each node's share of each hour, capacity, allocatable, labels and provider id: what the node cost is
computed from. The table is rebuilt rather than altered, the same way on SQLite and PostgreSQL.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip
GPU = ("gpu_hours_usage", "gpu_hours_request", "gpu_hours_max")
AMOUNTS = tuple(f"{kind}_{resource}" for kind in ("capacity", "allocatable") for resource in ("cpu_cores",
                "memory_gib", "gpus"))  # fmt: skip


def _hourly_usage(with_nodes: bool) -> None:
    op.create_table(
        "hourly_usage",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        *([sa.Column("node", sa.String(253), primary_key=True)] if with_nodes else []),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        *(sa.Column(column, sa.Float(), nullable=False) for column in QUANTITIES + (GPU if with_nodes else ())),
        sa.Column("namespace_labels_json", sa.Text(), nullable=False),
    )


def upgrade() -> None:
    op.drop_index("ix_hourly_usage_cluster_source_hour", table_name="hourly_usage")
    op.rename_table("hourly_usage", "hourly_usage_0004")
    _hourly_usage(with_nodes=True)
    columns = ", ".join(("cluster", "source", "namespace", "hour_start", *QUANTITIES, "namespace_labels_json"))
    op.execute(f"INSERT INTO hourly_usage (node, {', '.join(GPU)}, {columns}) SELECT '', 0, 0, 0, {columns} "
               "FROM hourly_usage_0004")  # fmt: skip
    op.drop_table("hourly_usage_0004")
    op.create_index("ix_hourly_usage_cluster_source_hour", "hourly_usage", ["cluster", "source", "hour_start"])
    op.create_table(
        "node_hours",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("node", sa.String(253), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hours", sa.Float(), nullable=False),
        *(sa.Column(column, sa.Float(), nullable=False) for column in AMOUNTS),
        sa.Column("provider_id", sa.Text(), nullable=False),
        sa.Column("labels_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_hours")
    op.drop_index("ix_hourly_usage_cluster_source_hour", table_name="hourly_usage")
    op.rename_table("hourly_usage", "hourly_usage_0005")
    _hourly_usage(with_nodes=False)
    columns = ", ".join(("cluster", "source", "namespace", "hour_start"))
    sums = ", ".join(f"SUM({column})" for column in QUANTITIES)
    # A namespace's rows on several nodes fold back into one (the old key has no node).
    op.execute(
        f"INSERT INTO hourly_usage ({columns}, {', '.join(QUANTITIES)}, namespace_labels_json) "
        f"SELECT {columns}, {sums}, MIN(namespace_labels_json) FROM hourly_usage_0005 GROUP BY {columns}"
    )
    op.drop_table("hourly_usage_0005")
    op.create_index("ix_hourly_usage_cluster_source_hour", "hourly_usage", ["cluster", "source", "hour_start"])
