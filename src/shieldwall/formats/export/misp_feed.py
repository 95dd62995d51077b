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

import functools
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

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


class _Hasher(Protocol):
    def hexdigest(self) -> str: ...


def _builtin_md5() -> Callable[[bytes], _Hasher]:
    """CPython's own MD5, else hashlib's (OpenSSL's).

    For values of some 30 bytes the work is the call, not the hashing:
    hashing and hex-encoding one cost 270 ns with the built-in `_md5` and
    460 ns with OpenSSL's (the best of them, copying a fresh `hashlib.md5`
    object), whose every call goes through EVP set-up. Same digests; a
    Python built without the module falls back to hashlib.
    """
    try:
        from _md5 import md5  # type: ignore[import-not-found]
    except ImportError:
        return functools.partial(hashlib.md5, usedforsecurity=False)
    return cast(Callable[[bytes], _Hasher], md5)


_md5 = _builtin_md5()


def _hash_recorder(spool: IO[bytes], tail: str) -> Callable[[misp.AttributeBatch], None]:
    """Writes `md5 of each value<tail>` to the spool for every batch of attributes it is given.

    One text per batch, encoded once: a bytes line per attribute (and a call
    per value through `value_hashes`) cost more than the hashing.
    """
    md5 = _md5

    def record(batch: misp.AttributeBatch) -> None:
        if batch.hashed:
            digests = [md5(value.encode()).hexdigest() for value in batch.hashed]
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
