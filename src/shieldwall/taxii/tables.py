"""Tables of the TAXII feature: status resources of POSTs, and pull cursors."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from shieldwall.db.base import UTCDateTime, metadata

taxii_status = Table(
    "taxii_status",
    metadata,
    Column("id", String(36), primary_key=True),
    # Only the organisation that posted may read its status resource.
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("collection_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request_timestamp", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("pending_count", Integer, nullable=False),
    # JSON list of TAXII status-details ({id, version, message}) of rejected objects.
    Column("failures", Text, nullable=False),
)

taxii_cursors = Table(
    "taxii_cursors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(1000), nullable=False),
    Column("collection_id", String(200), nullable=False),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    # The remote server's X-TAXII-Date-Added-Last of the last complete pull,
    # kept as the server wrote it: it goes back verbatim as `added_after`.
    Column("added_after", String(64), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("url", "collection_id", "org_id", name="uq_taxii_cursors_source"),
)
