"""Run leases, and which process ran each run.

`run_leases` holds one row per report being run: the replica that runs it and until when. A replica takes a
report's lease before computing it and renews it as the run progresses, so even when peering is briefly wrong
(a replica paused mid-run, a network split) no report is computed by two replicas at once.
`report_runs.runner` names the replica (pod) or CLI that made each run.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("holder", sa.String(253), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("report_runs") as batch:
        batch.add_column(sa.Column("runner", sa.String(253), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("report_runs") as batch:
        batch.drop_column("runner")
    op.drop_table("run_leases")
