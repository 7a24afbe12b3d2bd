"""Notices: the Events a report has raised once and must never raise again (budget thresholds, forecasts over
budget, cost anomalies), whatever reruns, restarts or a second replica do.

`notices` holds one row per report and notice key (`BudgetThresholdReached/2026-10/payments/75`); a replica
raises the Event only after its INSERT of that row succeeded.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("report", sa.String(512), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notices")
