"""The ledger: rollups keyed by their metrics source, a table of collected hours with their completeness, and
what each run asked Prometheus for.

`hourly_usage` gains `source` in its primary key; rows stored before this migration cannot say which
Prometheus they came from and are kept under source `unknown` (not read by reports, which re-collect what
Prometheus still holds). The table is rebuilt rather than altered, the same way on SQLite and PostgreSQL.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip
MEASURES = ("targets_expected", "targets_seen", "scrapes_expected", "scrapes_seen")
COMPLETENESS = tuple(f"{job}_{measure}" for job in ("cadvisor", "state_metrics") for measure in MEASURES)


def _hourly_usage(name: str, with_source: bool) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("cluster", sa.String(253), primary_key=True),
        *([sa.Column("source", sa.String(512), primary_key=True)] if with_source else []),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        *(sa.Column(column, sa.Float(), nullable=False) for column in QUANTITIES),
        sa.Column("namespace_labels_json", sa.Text(), nullable=False),
    )


def upgrade() -> None:
    op.drop_index("ix_hourly_usage_cluster_hour", table_name="hourly_usage")
    op.rename_table("hourly_usage", "hourly_usage_0002")
    _hourly_usage("hourly_usage", with_source=True)
    columns = ", ".join(("cluster", "namespace", "hour_start", *QUANTITIES, "namespace_labels_json"))
    op.execute(f"INSERT INTO hourly_usage (source, {columns}) SELECT 'unknown', {columns} FROM hourly_usage_0002")
    op.drop_table("hourly_usage_0002")
    op.create_index("ix_hourly_usage_cluster_source_hour", "hourly_usage", ["cluster", "source", "hour_start"])
    op.create_table(
        "ledger_hours",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("source", sa.String(512), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("namespaces", sa.Integer(), nullable=False),
        *(sa.Column(column, sa.Integer(), nullable=False) for column in COMPLETENESS),
    )
    with op.batch_alter_table("report_runs") as batch:
        batch.add_column(sa.Column("source", sa.String(512), nullable=False, server_default="unknown"))
        batch.add_column(sa.Column("hours_queried", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("hours_replaced", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("completeness_json", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("report_runs") as batch:
        for column in ("completeness_json", "hours_replaced", "hours_queried", "source"):
            batch.drop_column(column)
    op.drop_table("ledger_hours")
    op.drop_index("ix_hourly_usage_cluster_source_hour", table_name="hourly_usage")
    op.rename_table("hourly_usage", "hourly_usage_0003")
    _hourly_usage("hourly_usage", with_source=False)
    columns = ", ".join(("cluster", "namespace", "hour_start", *QUANTITIES, "namespace_labels_json"))
    # Two sources' rows for one hour cannot both survive the old key: keep one, deterministically.
    op.execute(f"INSERT INTO hourly_usage ({columns}) SELECT {columns} FROM hourly_usage_0003 AS newer "
               "WHERE newer.source = (SELECT MIN(other.source) FROM hourly_usage_0003 AS other WHERE "
               "other.cluster = newer.cluster AND other.namespace = newer.namespace "
               "AND other.hour_start = newer.hour_start)")  # fmt: skip
    op.drop_table("hourly_usage_0003")
    op.create_index("ix_hourly_usage_cluster_hour", "hourly_usage", ["cluster", "hour_start"])
