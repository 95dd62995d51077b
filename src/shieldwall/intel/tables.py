"""Tables of the STIX object store and the observables extracted from it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from shieldwall.db.base import UTCDateTime, metadata

stix_objects = Table(
    "stix_objects",
    metadata,
    # Assigned by the (serialised) writer in commit order: cursor pagination
    # relies on a later commit never getting a smaller key.
    # On SQLite an INTEGER primary key is the rowid itself: no second index.
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("stix_id", String(300), nullable=False),
    Column("type", String(250), nullable=False),
    # `modified` (or `created`) normalised to nanosecond precision so that
    # string order is time order whatever precision the producer used.
    Column("version_key", String(32), nullable=False),
    Column("owner_org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("tlp", SmallInteger, nullable=False),
    Column("dist", SmallInteger, nullable=False),
    Column("group_id", Integer, ForeignKey("sharing_groups.id"), nullable=True),
    Column("is_latest", Boolean, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("search_text", Text, nullable=True),
    Column("content_hash", String(32), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Column("data", Text, nullable=False),
    # stix_id first: the same index serves look-ups by id across owners. An
    # index, not a constraint: SQLite can drop and rebuild an index inside a
    # transaction (`repository.defer_indexes`), a constraint's it cannot.
    Index("uq_stix_objects_version", "stix_id", "owner_org_id", "version_key", unique=True),
    Index("ix_stix_objects_added_at", "added_at"),
)

observables = Table(
    "observables",
    metadata,
    Column(
        "object_pk",
        BigInteger,
        ForeignKey("stix_objects.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(16), primary_key=True),
    Column("value", Text, primary_key=True),
    Index("ix_observables_value", "value"),
    # Clustered on its key in SQLite: no rowid and no second index to maintain.
    sqlite_with_rowid=False,
)
