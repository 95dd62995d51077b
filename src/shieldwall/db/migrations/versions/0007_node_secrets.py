"""Node secrets (the key that seals paging cursors), created with the schema.

Revision ID: 0007_node_secrets
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

revision = "0007_node_secrets"
down_revision = "0001"
branch_labels = ("node",)
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "node_secrets",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_node_secrets")),
    )
    op.bulk_insert(table, [{"name": "cursor", "value": Fernet.generate_key().decode()}])


def downgrade() -> None:
    op.drop_table("node_secrets")
