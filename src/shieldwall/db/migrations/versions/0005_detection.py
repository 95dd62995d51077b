"""detection: correlation keys and the sighting index

Revision ID: 0005_detection
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_detection"
down_revision = "0001"
branch_labels = ("detection",)
depends_on = None

_KEY_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "correlation_keys",
        sa.Column("key", _KEY_TEXT, nullable=False),
        sa.Column("object_pk", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_pk"],
            ["stix_objects.pk"],
            name=op.f("fk_correlation_keys_object_pk_stix_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "object_pk", name=op.f("pk_correlation_keys")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sighting_refs",
        sa.Column("object_pk", sa.BigInteger(), nullable=False),
        sa.Column("sighting_of_ref", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_pk"],
            ["stix_objects.pk"],
            name=op.f("fk_sighting_refs_object_pk_stix_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("object_pk", name=op.f("pk_sighting_refs")),
    )
    op.create_index("ix_sighting_refs_sighting_of_ref", "sighting_refs", ["sighting_of_ref"])


def downgrade() -> None:
    op.drop_index("ix_sighting_refs_sighting_of_ref", table_name="sighting_refs")
    op.drop_table("sighting_refs")
    op.drop_table("correlation_keys")
