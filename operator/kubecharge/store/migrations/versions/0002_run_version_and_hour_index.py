"""Record which kubecharge version made each run; index rollups by cluster and hour for period reads.

Runs recorded before this migration get `kubecharge_version = 'unknown'`.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("report_runs") as batch:
        batch.add_column(sa.Column("kubecharge_version", sa.String(32), nullable=False, server_default="unknown"))
    op.create_index("ix_hourly_usage_cluster_hour", "hourly_usage", ["cluster", "hour_start"])


def downgrade() -> None:
    op.drop_index("ix_hourly_usage_cluster_hour", table_name="hourly_usage")
    with op.batch_alter_table("report_runs") as batch:
        batch.drop_column("kubecharge_version")
