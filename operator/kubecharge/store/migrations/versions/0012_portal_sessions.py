"""Portal sessions: `portal_sessions` keeps each portal sign-in (the user and groups a TokenReview named, the
session id's SHA-256, the expiry); never a token.

Downgrading drops it: everyone signed in to the portal signs in again.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("session_sha256", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(512), nullable=False),
        sa.Column("groups_json", sa.Text(), nullable=False),
        sa.Column("uid", sa.String(253), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_portal_sessions_expires_at", "portal_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_expires_at", "portal_sessions")
    op.drop_table("portal_sessions")
