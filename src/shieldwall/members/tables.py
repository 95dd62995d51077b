"""Tables of organisations, users and API keys."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from shieldwall.db.base import UTCDateTime, metadata

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("tier", String(20), nullable=False),
    Column("country", String(2), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("accession_at", UTCDateTime, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("display_name", String(200), nullable=True),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set while the user is disabled (migration 0009): no web login, and the
    # API keys tied to the user stop authenticating. NULL for an active user.
    Column("disabled_at", UTCDateTime, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("role", String(20), nullable=False),
    # SHA-256 of the key: keys are 256-bit random secrets, so a fast hash is
    # enough and lets authentication look the key up by an index.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("label", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)
