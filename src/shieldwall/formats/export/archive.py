"""A sequence of streamed files as one zip or tar.gz stream (misp-feed over HTTP).

zip entries are written with data descriptors, so a file of unknown size
streams straight through; a tar header needs the size first, so each tar
member is spooled to a temporary file before it is added. Either way the
archive leaves memory flat.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import IO

from isal import igzip, isal_zlib

from shieldwall.formats.export.misp_feed import FeedFile

_SPOOL_IN_MEMORY = 4 * 1024 * 1024
#: ISA-L's level 1 (of 0-3). On the 1,000,000-indicator feed (400 MB) it took
#: 0.46 CPU s and 75 MB where zlib's level 1 took 2.04 s and 82.7 MB.
_ZIP_LEVEL = 1
#: Compressed bytes collected before they are handed on.
_FLUSH_BYTES = 1024 * 1024


class ArchiveKind(StrEnum):
    ZIP = "zip"
    TAR_GZ = "tar.gz"

    @property
    def media_type(self) -> str:
        return "application/zip" if self is ArchiveKind.ZIP else "application/gzip"


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are collected and handed out between writes."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.pending.append(bytes(data))
        self.pending_bytes += len(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out, self.pending, self.pending_bytes = b"".join(self.pending), [], 0
        return out


def _deflated_by_isal(member: IO[bytes]) -> IO[bytes]:
    """The member, its deflate done by ISA-L instead of zlib (same raw deflate stream).

    zipfile has no public way to choose the deflate implementation: its
    writer calls `compress`/`flush` on the object in `_compressor` (Python
    3.6 to 3.13), so that object is replaced before the first write. Were the
    attribute gone, the member would stay zlib's: slower, still valid
    (`test_archive` fails then, so it is noticed).
    """
    if getattr(member, "_compressor", None) is not None:
        member._compressor = isal_zlib.compressobj(  # type: ignore[attr-defined]
            _ZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS
        )
    return member


def _zip(files: Iterable[FeedFile], folder: str) -> Iterator[bytes]:
    drain = _Drain()
    # A low level: deflate at zlib's level 6 took a third of a feed export's
    # time to save 11% of the size (100,000 attributes); a feed is served as
    # it is made.
    with zipfile.ZipFile(drain, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for feed_file in files:
            # Opened by name, the member takes the archive's compression (deflate, 8).
            opened = archive.open(f"{folder}/{feed_file.name}", "w", force_zip64=True)
            with _deflated_by_isal(opened) as member:
                for chunk in feed_file.chunks:
                    member.write(chunk)
                    # By size, not by count: sixteen deflated batches of a
                    # large event held 20 MB more at 1,000,000 attributes.
                    if drain.pending_bytes >= _FLUSH_BYTES:
                        yield drain.take()
            yield drain.take()
    yield drain.take()


def _gzip_writer(sink: _Drain) -> gzip.GzipFile:
    """A gzip stream into `sink`, deflated by ISA-L at the zip's level.

    tarfile's own "w|gz" is zlib at level 9: 3.4 CPU s for the feed of
    200,000 indicators (14.6 MB) where this takes 1.3 s (15.0 MB).
    """
    writer: gzip.GzipFile = igzip.IGzipFile(  # type: ignore[no-untyped-call]
        fileobj=sink, mode="wb", compresslevel=_ZIP_LEVEL
    )
    return writer


def _tar_header(name: str, size: int) -> bytes:
    """The header block(s) `tarfile` writes for a regular file of `size` bytes."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(time.time())
    return info.tobuf(tarfile.DEFAULT_FORMAT, tarfile.ENCODING, "surrogateescape")


def _tar_end(written: int) -> bytes:
    """Two empty blocks, then zeros to the end of the record, as `TarFile.close` writes."""
    written += 2 * tarfile.BLOCKSIZE
    return tarfile.NUL * (2 * tarfile.BLOCKSIZE + -written % tarfile.RECORDSIZE)


def _tar_gz(files: Iterable[FeedFile], folder: str) -> Iterator[bytes]:
    """The same tar `tarfile` writes, with each member's data written here.

    `TarFile.addfile` copies a whole member before it returns, so the
    compressed bytes of a member could only be handed on after it: 55 MB
    held for the event of 1,000,000 attributes.
    """
    drain = _Drain()
    written = 0
    with _gzip_writer(drain) as gzipped:
        for feed_file in files:
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
                for chunk in feed_file.chunks:
                    spool.write(chunk)
                size = spool.tell()
                header = _tar_header(f"{folder}/{feed_file.name}", size)
                gzipped.write(header)
                spool.seek(0)
                while chunk := spool.read(_FLUSH_BYTES):
                    gzipped.write(chunk)
                    if drain.pending_bytes >= _FLUSH_BYTES:
                        yield drain.take()
                padding = tarfile.NUL * (-size % tarfile.BLOCKSIZE)
                gzipped.write(padding)
                written += len(header) + size + len(padding)
            yield drain.take()
        gzipped.write(_tar_end(written))
    yield drain.take()


def stream(
    files: Iterable[FeedFile], kind: ArchiveKind, folder: str = "misp-feed"
) -> Iterator[bytes]:
    chunks = _zip(files, folder) if kind is ArchiveKind.ZIP else _tar_gz(files, folder)
    return (chunk for chunk in chunks if chunk)
