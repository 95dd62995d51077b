"""Tables of the importers: what each organisation last pulled from each MISP feed."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table

from shieldwall.db.base import UTCDateTime, metadata

#: One row per (organisation, feed, event): the event timestamp last imported,
#: so that a pull fetches only the events whose timestamp changed since.
misp_feed_events = Table(
    "misp_feed_events",
    metadata,
    Column("owner_org_id", Integer, ForeignKey("organisations.id"), primary_key=True),
    Column("feed", String(1000), primary_key=True),
    Column("event_uuid", String(36), primary_key=True),
    Column("event_timestamp", BigInteger, nullable=False),
    Column("pulled_at", UTCDateTime, nullable=False),
)
