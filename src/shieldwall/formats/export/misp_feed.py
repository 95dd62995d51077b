"""`misp-feed`: a MISP feed, the files a MISP instance or PyMISP reads as a feed.

`<event uuid>.json` per event (`{"Event": ...}`, as `misp` writes them),
`hashes.csv` (`md5 of each attribute value,event uuid`, one line each) and
`manifest.json` (uuid -> info, date, analysis, threat level, timestamp, Orgc,
tags). Files are produced one after the other and each is a stream: a caller
must read a file to its end before asking for the next. Attribute hashes are
spooled to a temporary file while the events are written, so memory stays
flat; the manifest holds one small entry per event.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from sqlalchemy import Connection

from shieldwall.formats.export import misp
from shieldwall.formats.export.repository import Scope

_MANIFEST_FIELDS = ("info", "date", "analysis", "threat_level_id", "timestamp", "Orgc", "Tag")
_SPOOL_IN_MEMORY = 4 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FeedFile:
    name: str
    chunks: Iterator[bytes]


def _spooled(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    try:
        while chunk := spool.read(_CHUNK):
            yield chunk
    finally:
        spool.close()


#: Copied for each value: 630 ns against 730 ns for `hashlib.md5(..., usedforsecurity=False)`.
_EMPTY_MD5 = hashlib.md5(usedforsecurity=False)


def _hash_recorder(spool: IO[bytes], tail: str) -> Callable[[misp.AttributeBatch], None]:
    """Writes `md5 of each value<tail>` to the spool for every batch of attributes it is given.

    One text per batch, encoded once: a bytes line per attribute (and a call
    per value through `value_hashes`) cost more than the hashing.
    """
    empty = _EMPTY_MD5

    def record(batch: misp.AttributeBatch) -> None:
        digests: list[str] = []
        append = digests.append
        for value in batch.hashed:
            hasher = empty.copy()
            hasher.update(value.encode())
            append(hasher.hexdigest())
        if digests:
            spool.write((tail.join(digests) + tail).encode())

    return record


def files(conn: Connection, scope: Scope, caller: str, page_size: int) -> Iterator[FeedFile]:
    manifest: dict[str, dict[str, Any]] = {}
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 (closed by _spooled)
    try:
        for event in misp.events(conn, scope, caller, page_size):
            event.on_attributes = _hash_recorder(spool, f",{event.uuid}\n")
            yield FeedFile(f"{event.uuid}.json", event.chunks())
            manifest[event.uuid] = {key: event.header.get(key) for key in _MANIFEST_FIELDS}
    except BaseException:
        spool.close()
        raise
    yield FeedFile("hashes.csv", _spooled(spool))
    yield FeedFile("manifest.json", iter([orjson.dumps(manifest, option=orjson.OPT_INDENT_2)]))
