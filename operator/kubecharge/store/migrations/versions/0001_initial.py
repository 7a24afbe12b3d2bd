"""Initial schema: hourly rollups and the audit trail of runs.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "hourly_usage",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        *(sa.Column(name, sa.Float(), nullable=False) for name in (
            "cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
            "memory_gib_hours_request", "memory_gib_hours_max", "storage_gib_hours", "network_gib")),
        sa.Column("namespace_labels_json", sa.Text(), nullable=False),
    )  # fmt: skip
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("cluster", sa.String(253), nullable=False, index=True),
        sa.Column("report", sa.String(253), nullable=False),
        sa.Column("period_name", sa.String(32), nullable=False, index=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("query_set_sha256", sa.String(64), nullable=False),
        sa.Column("query_set_json", sa.Text(), nullable=False),
        sa.Column("mappings_sha256", sa.String(64), nullable=False),
        sa.Column("mappings_json", sa.Text(), nullable=False),
        sa.Column("totals_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
    op.drop_table("hourly_usage")
