"""All SQL of the importers: the MISP feed pull state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, insert, select, update

from shieldwall.formats.tables import misp_feed_events as events


def feed_timestamps(conn: Connection, owner_org_id: int, feed: str) -> dict[str, int]:
    """Event uuid -> the event timestamp last imported from `feed` for this owner."""
    rows = conn.execute(
        select(events.c.event_uuid, events.c.event_timestamp).where(
            events.c.owner_org_id == owner_org_id, events.c.feed == feed
        )
    )
    return {str(uuid): int(timestamp) for uuid, timestamp in rows}


def record_feed_event(
    conn: Connection, owner_org_id: int, feed: str, event_uuid: str, timestamp: int, at: datetime
) -> None:
    key = and_(
        events.c.owner_org_id == owner_org_id,
        events.c.feed == feed,
        events.c.event_uuid == event_uuid,
    )
    changed = conn.execute(
        update(events).where(key).values(event_timestamp=timestamp, pulled_at=at)
    ).rowcount
    if not changed:
        conn.execute(
            insert(events).values(
                owner_org_id=owner_org_id,
                feed=feed,
                event_uuid=event_uuid,
                event_timestamp=timestamp,
                pulled_at=at,
            )
        )
