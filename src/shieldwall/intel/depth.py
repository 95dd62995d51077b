"""A nesting limit on JSON bodies, checked as they are read, before any parser sees them.

ijson's item and event parsers build a prefix string for every level they are
in ("objects.item.item..."), so their memory and time grow with the square of
the nesting depth: 100 KB of `[` (50,000 levels) took 6 GB of memory and 4 s
of CPU in one `POST /api/v1/bundles`. No STIX or TAXII document nests more
than a few tens of levels, so anything deeper than `MAX_DEPTH` is refused as
bad input instead.

The check runs on the raw bytes with whole-buffer operations only (no Python
loop per byte): escape pairs are cut, every byte but quotes and brackets is
deleted, the strings (with the brackets inside them, as in patterns) are cut,
and the depth is a running sum over what is left. A state of three values
carries a string or an escape that a read splits.
"""

from __future__ import annotations

import io
import re
from itertools import accumulate, count
from operator import sub
from typing import IO, cast

from shieldwall.errors import BadInput

#: Deeper than any real STIX, TAXII or MISP document; a level costs ijson
#: about as many bytes of prefix as the depth, so this bounds it.
MAX_DEPTH = 100

_ESCAPE_PAIR = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
#: Kept: quotes and brackets; `[`/`{` become 2 and `]`/`}` 0, so that a level
#: is `byte - 1` and a running sum of bytes minus a count is the depth.
_STRUCTURE = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))


class DepthGuard:
    """Follows the nesting depth of a JSON text given piece by piece."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escape_pending = False
        self.offset = 0

    def feed(self, data: bytes) -> None:
        """Raises BadInput when `data`, following what was fed before, nests too deep."""
        at = self.offset
        self.offset += len(data)
        if not data:
            return
        if self.escape_pending:  # the last piece ended on a backslash: this byte is escaped
            data, self.escape_pending = data[1:], False
        if b"\\" in data:
            # Cut on the raw bytes: the escaped byte decides where a string ends.
            data = _ESCAPE_PAIR.sub(b"", data)
            if data.endswith(b"\\"):
                data, self.escape_pending = data[:-1], True
        kept = data.translate(None, _NOT_STRUCTURE)
        if self.in_string:
            kept = b'"' + kept
        # Two quotes in a row, once the rest is gone, close one string and
        # open the next, or make an empty one: cutting them leaves every
        # bracket on its side of the quotes. Most strings hold no bracket, so
        # the regex, 10x slower per match, is left a few (patterns).
        kept = _STRING.sub(b"", kept.replace(b'""', b""))
        opening = kept.find(b'"')
        self.in_string = opening >= 0
        if self.in_string:
            kept = kept[:opening]
        self._count(kept.translate(_STRUCTURE), at)

    def _count(self, levels: bytes, at: int) -> None:
        if not levels:
            return
        # depth after the k-th bracket = depth + sum(level_i - 1 for i <= k)
        deepest = self.depth + max(map(sub, accumulate(levels), count(1)))
        self.depth += sum(levels) - len(levels)
        if deepest > self.limit:
            raise BadInput(
                f"JSON nested deeper than {self.limit} levels (in the bytes after offset {at})",
                where="body",
            )


class DepthGuardedReader(io.RawIOBase):
    """A binary stream whose reads go through a `DepthGuard`; `seek(0)` starts it again."""

    def __init__(self, stream: IO[bytes], limit: int = MAX_DEPTH) -> None:
        super().__init__()
        self._stream = stream
        self._limit = limit
        self._guard = DepthGuard(limit)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(-1 if size is None else size)
        self._guard.feed(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a depth-guarded stream seeks only to its start")
        self._guard = DepthGuard(self._limit)
        return self._stream.seek(0)

    def tell(self) -> int:
        return self._stream.tell()


def guarded(stream: IO[bytes], limit: int = MAX_DEPTH) -> IO[bytes]:
    """`stream` read through a `DepthGuard`, typed as the binary stream the readers take."""
    # A RawIOBase has read, seek and tell, which is all ijson, orjson's
    # slicer and the shape peek use; typeshed does not count it an IO[bytes].
    return cast(IO[bytes], DepthGuardedReader(stream, limit))
