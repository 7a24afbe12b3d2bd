"""Container days: `container_days` keeps each UTC day of every workload container's use as request
recommendations read it (rate histograms, peaks, requests, autoscaler targets), asked of Prometheus once.

Derived from Prometheus and starts empty; downgrading drops it (the next report asks Prometheus again).

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "container_days",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("day", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("queries_sha256", sa.String(64), primary_key=True),
        sa.Column("layout", sa.String(64), primary_key=True),
        sa.Column("use", sa.LargeBinary(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("container_days")
