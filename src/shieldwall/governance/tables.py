"""Tables of applications, sponsorships, decisions, votes and the ledger."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shieldwall.db.base import UTCDateTime, metadata

applications = Table(
    "governance_applications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("requested_tier", String(20), nullable=False),
    Column("statement", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sponsorships = Table(
    "governance_sponsorships",
    metadata,
    Column("application_id", Integer, ForeignKey("governance_applications.id"), primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), primary_key=True),
    Column("sponsored_at", UTCDateTime, nullable=False),
)

decisions = Table(
    "governance_decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("subject_org_id", Integer, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("group_id", Integer, ForeignKey("sharing_groups.id"), nullable=True),
    Column("application_id", Integer, ForeignKey("governance_applications.id"), nullable=True),
    Column("proposer_org_id", Integer, ForeignKey("organisations.id"), nullable=True),
    Column("statement", Text, nullable=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("closed_at", UTCDateTime, nullable=True),
)

# One row per organisation per decision: its current position. Changing a vote
# updates the row; the ledger keeps every position ever taken.
votes = Table(
    "governance_votes",
    metadata,
    Column("decision_id", Integer, ForeignKey("governance_decisions.id"), primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), primary_key=True),
    Column("choice", String(10), nullable=False),
    Column("reason", Text, nullable=True),
    Column("voted_at", UTCDateTime, nullable=False),
)

# Every column but `hash` and `signature` is covered by the hash, byte for byte:
# `at` and `payload` are stored as the exact text that was hashed.
ledger = Table(
    "governance_ledger",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(200), nullable=True),
    Column("act", String(40), nullable=False),
    Column("subject", String(200), nullable=True, index=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("signer", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

# One row per key an organisation ever signed the ledger with; the key without
# `retired_at` is its current one. The private key is sealed (AES-GCM) with the
# node secret named "org-keys", bound to (org_id, key_id) as associated data.
org_keys = Table(
    "governance_org_keys",
    metadata,
    Column("org_id", Integer, ForeignKey("organisations.id"), primary_key=True),
    Column("key_id", String(64), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("sealed_private_key", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
    UniqueConstraint("key_id"),
)
