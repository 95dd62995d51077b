"""Tables of sharing groups and their members."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from shieldwall.db.base import UTCDateTime, metadata

sharing_groups = Table(
    "sharing_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("sharing_groups.id"), primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), primary_key=True, index=True),
    Column("added_at", UTCDateTime, nullable=False),
)
