"""Tables of the web console: the users' password hashes and the browser sessions.

The `users` table belongs to `members`; the console adds the one column it
needs (an argon2 hash, NULL for users who never log in through a browser)
here, so that the metadata matches migration `0006_web`.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from shieldwall.db.base import UTCDateTime, metadata
from shieldwall.members.tables import users

if "password_hash" not in users.c:
    users.append_column(Column("password_hash", String(200), nullable=True))

#: One row per logged-in browser. The cookie holds a random token; only its
#: SHA-256 is stored, so a copy of the store opens no session.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)
