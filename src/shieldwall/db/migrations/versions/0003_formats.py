"""formats: MISP feed pull state

Revision ID: 0003_formats
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shieldwall.db.base import UTCDateTime

revision = "0003_formats"
down_revision = "0001"
branch_labels = ("formats",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "misp_feed_events",
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=1000), nullable=False),
        sa.Column("event_uuid", sa.String(length=36), nullable=False),
        sa.Column("event_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("pulled_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
            name=op.f("fk_misp_feed_events_owner_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint(
            "owner_org_id", "feed", "event_uuid", name=op.f("pk_misp_feed_events")
        ),
    )


def downgrade() -> None:
    op.drop_table("misp_feed_events")
