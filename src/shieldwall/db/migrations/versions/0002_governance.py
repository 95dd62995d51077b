"""governance: applications, sponsorships, decisions, votes and the ledger

Revision ID: 0002_governance
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shieldwall.db.base

revision = "0002_governance"
down_revision = "0001"
branch_labels = ("governance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "governance_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("requested_tier", sa.String(length=20), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_governance_applications_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_applications")),
    )
    op.create_index(
        op.f("ix_governance_applications_org_id"), "governance_applications", ["org_id"]
    )

    op.create_table(
        "governance_sponsorships",
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("sponsored_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["governance_applications.id"],
            name=op.f("fk_governance_sponsorships_application_id_governance_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_governance_sponsorships_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint(
            "application_id", "org_id", name=op.f("pk_governance_sponsorships")
        ),
    )

    op.create_table(
        "governance_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_org_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("proposer_org_id", sa.Integer(), nullable=True),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("opened_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", shieldwall.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_org_id"],
            ["organisations.id"],
            name=op.f("fk_governance_decisions_subject_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sharing_groups.id"],
            name=op.f("fk_governance_decisions_group_id_sharing_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["governance_applications.id"],
            name=op.f("fk_governance_decisions_application_id_governance_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["proposer_org_id"],
            ["organisations.id"],
            name=op.f("fk_governance_decisions_proposer_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_decisions")),
    )
    op.create_index(
        op.f("ix_governance_decisions_subject_org_id"), "governance_decisions", ["subject_org_id"]
    )
    op.create_index(op.f("ix_governance_decisions_status"), "governance_decisions", ["status"])

    op.create_table(
        "governance_votes",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("voted_at", shieldwall.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["governance_decisions.id"],
            name=op.f("fk_governance_votes_decision_id_governance_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_governance_votes_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("decision_id", "org_id", name=op.f("pk_governance_votes")),
    )

    op.create_table(
        "governance_ledger",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("act", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_governance_ledger")),
        sa.UniqueConstraint("hash", name=op.f("uq_governance_ledger_hash")),
    )
    op.create_index(op.f("ix_governance_ledger_subject"), "governance_ledger", ["subject"])


def downgrade() -> None:
    op.drop_index(op.f("ix_governance_ledger_subject"), table_name="governance_ledger")
    op.drop_table("governance_ledger")
    op.drop_table("governance_votes")
    op.drop_index(op.f("ix_governance_decisions_status"), table_name="governance_decisions")
    op.drop_index(op.f("ix_governance_decisions_subject_org_id"), table_name="governance_decisions")
    op.drop_table("governance_decisions")
    op.drop_table("governance_sponsorships")
    op.drop_index(op.f("ix_governance_applications_org_id"), table_name="governance_applications")
    op.drop_table("governance_applications")
