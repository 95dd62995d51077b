"""members: a user can be disabled (web login and the user's API keys refused)

Revision ID: 0009_user_disabled
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shieldwall.db.base import UTCDateTime

revision = "0009_user_disabled"
down_revision = "0001"
branch_labels = ("members",)
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # batch: SQLite drops a column by copying the table.
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
