"""Workload days: `workload_days` holds each whole UTC day's workload rows summed over its hours and nodes, and
`workload_day_sources` the digest of the stored hours each day was summed from.

Both are derived from `hourly_usage` and start empty: a report fills a day the first time it reads it, and sums it
again when its hours have been collected again. Downgrading drops them; nothing is lost.

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "gpu_hours_usage", "gpu_hours_request",
              "gpu_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "workload_days",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("day", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("workload_kind", sa.String(253), primary_key=True),
        sa.Column("workload", sa.String(253), primary_key=True),
        sa.Column("pod_labels", sa.Text(), primary_key=True),
        sa.Column("labels_json", sa.Text(), primary_key=True),
        *(sa.Column(name, sa.Float(), nullable=False) for name in QUANTITIES),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "workload_day_sources",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("day", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hours_sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workload_day_sources")
    op.drop_table("workload_days")
