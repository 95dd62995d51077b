"""Secrets of a node kept in its store, created once by the schema migration.

Kept in the store rather than a file so that every API process over one
PostgreSQL store shares them (a cursor issued by one process opens in another).
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from sqlalchemy import Column, Engine, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from shieldwall.db.base import metadata

node_secrets = Table(
    "node_secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)

CURSOR_KEY_NAME = "cursor"


class CursorBox:
    """Seals paging cursors so that they reveal nothing.

    A cursor holds a position in the commit-ordered object keys, which count the
    objects of every organisation: in clear, two cursors would tell a caller how
    many objects it may not see were stored in between. AES-SIV is
    deterministic, so one position always gives one token (equal answers stay
    equal), and authenticated, so a forged token is refused.
    """

    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(base64.urlsafe_b64decode(key))

    def seal(self, text: str) -> str:
        return base64.urlsafe_b64encode(self._siv.encrypt(text.encode(), None)).decode().rstrip("=")

    def open(self, token: str) -> str | None:
        """The sealed text, or None when the token is not one this node sealed."""
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self._siv.decrypt(sealed, None).decode()
        except (InvalidTag, ValueError, UnicodeError):
            return None


@cache
def cursor_box(engine: Engine) -> CursorBox:
    return CursorBox(_secret(engine, CURSOR_KEY_NAME).encode())


def _secret(engine: Engine, name: str) -> str:
    """The named secret; made here if the store lost it (a wiped table)."""
    query = select(node_secrets.c.value).where(node_secrets.c.name == name)
    with engine.connect() as conn:
        value = conn.execute(query).scalar_one_or_none()
    if value is not None:
        return str(value)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(node_secrets).values(name=name, value=Fernet.generate_key().decode())
            )
    except IntegrityError:
        pass  # another process made it first: use theirs
    with engine.connect() as conn:
        return str(conn.execute(query).scalar_one())
