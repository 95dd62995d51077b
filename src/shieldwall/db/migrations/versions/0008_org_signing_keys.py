"""Organisation signing keys of the governance ledger, and the node secret that seals them.

Revision ID: 0008_org_signing_keys
Revises: 0001
Depends on: 0007_node_secrets (the secret is a row of node_secrets)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

import shieldwall.db.base

revision = "0008_org_signing_keys"
down_revision = "0001"
branch_labels = ("org_keys",)
depends_on = ("0007_node_secrets",)

#: Must match shieldwall.governance.keys.SEAL_SECRET_NAME.
SEAL_SECRET_NAME = "org-keys"  # noqa: S105 (the name of a secret, not one)


def upgrade() -> None:
    op.create_table(
        "governance_org_keys",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("sealed_private_key", sa.Text(), nullable=False),
        sa.Column("created_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_governance_org_keys_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", "key_id", name=op.f("pk_governance_org_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_governance_org_keys_key_id")),
    )
    secrets = sa.table("node_secrets", sa.column("name"), sa.column("value"))
    op.bulk_insert(secrets, [{"name": SEAL_SECRET_NAME, "value": Fernet.generate_key().decode()}])


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM node_secrets WHERE name = :name").bindparams(name=SEAL_SECRET_NAME)
    )
    op.drop_table("governance_org_keys")
