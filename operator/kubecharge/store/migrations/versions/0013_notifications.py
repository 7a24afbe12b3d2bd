"""Notifications: `notifications` keeps each showback message per report, key and channel — claimed (with a
lease, so a replica that dies mid-send leaves it to another after the lease), sent, or failed with its problem and
when to try again, with the message itself (a failed final is sent again without computing its
period again). A row is never deleted: it is what keeps a message from arriving twice.

Downgrading drops it: the messages of periods already sent would be sent again.

Revision ID: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("report", sa.String(512), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("channel", sa.String(63), primary_key=True),
        sa.Column("team", sa.String(253), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(253), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.String(400), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_notifications_report_state", "notifications", ["report", "state"])


def downgrade() -> None:
    op.drop_index("ix_notifications_report_state", "notifications")
    op.drop_table("notifications")
