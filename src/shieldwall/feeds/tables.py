"""Table of configured feeds: what the scheduler pulls, how often, and how it went."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shieldwall.db.base import UTCDateTime, metadata

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", String(1000), nullable=False),
    Column("collection_id", String(200), nullable=True),
    # The organisation that owns what the feed imports. Its index is the unique
    # constraint's below, whose leading column it is.
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("distribution", String(250), nullable=False),
    Column("username", String(200), nullable=True),
    # The remote server's credential: write-only through the API and CLI.
    Column("secret", Text, nullable=True),
    Column("interval_seconds", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_run_at", UTCDateTime, nullable=False),
    Column("last_run_at", UTCDateTime, nullable=True),
    Column("last_status", String(16), nullable=True),
    Column("last_error", Text, nullable=True),
    # JSON of the last run's import counts.
    Column("last_counts", Text, nullable=True),
    # Names are unique per organisation, not node-wide: a node-wide name would
    # tell one organisation (by a 409) the names of another's feeds.
    UniqueConstraint("org_id", "name", name="uq_feeds_org_id_name"),
)
