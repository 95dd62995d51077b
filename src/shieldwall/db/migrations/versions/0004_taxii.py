"""taxii: status resources, pull cursors and configured feeds

Revision ID: 0004_taxii
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shieldwall.db.base import UTCDateTime

revision = "0004_taxii"
down_revision = "0001"
branch_labels = ("taxii",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taxii_status",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_timestamp", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_taxii_status_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_status")),
    )
    op.create_table(
        "taxii_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("collection_id", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("added_after", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_taxii_cursors_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_cursors")),
        sa.UniqueConstraint("url", "collection_id", "org_id", name="uq_taxii_cursors_source"),
    )
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("collection_id", sa.String(length=200), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("distribution", sa.String(length=250), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_counts", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_feeds_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        # Per organisation: a node-wide name would reveal other organisations' feeds.
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_feeds_org_id_name")),
    )


def downgrade() -> None:
    op.drop_table("feeds")
    op.drop_table("taxii_cursors")
    op.drop_table("taxii_status")
