"""The misp-feed archives: a valid zip (deflate by ISA-L) and tar.gz whatever the sizes."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import shutil
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from isal import isal_zlib

from shieldwall.formats.export import archive
from shieldwall.formats.export.archive import ArchiveKind, stream
from shieldwall.formats.export.misp_feed import FeedFile
from tests.conftest import IN_CI


def _feed_like(size: int, seed: int) -> bytes:
    """Lines like a feed's hashes.csv: compressible, not trivially so."""
    rng = random.Random(seed)
    lines = (f"{rng.getrandbits(128):032x},{rng.getrandbits(32):08x}\n" for _ in range(size))
    return "".join(lines).encode()


#: name -> the chunks it is streamed in: empty, one byte, many small, several MB
#: (more than one flush of the zip's drain), and incompressible bytes.
CONTENTS: dict[str, list[bytes]] = {
    "empty.json": [],
    "one.json": [b"{"],
    "small.csv": [b"a,b\n"] * 1000,
    "large.json": [_feed_like(20_000, seed) for seed in range(8)],
    "random.bin": [random.Random(7).randbytes(300_000)],
}


def _files() -> Iterator[FeedFile]:
    for name, chunks in CONTENTS.items():
        yield FeedFile(name, iter(chunks))


def _zip_bytes() -> bytes:
    return b"".join(stream(_files(), ArchiveKind.ZIP))


def test_zip_members_are_deflated_and_unpack_to_the_bytes_streamed() -> None:
    with zipfile.ZipFile(io.BytesIO(_zip_bytes())) as unpacked:
        assert unpacked.testzip() is None
        infos = unpacked.infolist()
        assert [info.filename for info in infos] == [f"misp-feed/{name}" for name in CONTENTS]
        for info in infos:
            assert info.compress_type == zipfile.ZIP_DEFLATED
            expected = b"".join(CONTENTS[info.filename.removeprefix("misp-feed/")])
            assert hashlib.sha256(unpacked.read(info)).digest() == hashlib.sha256(expected).digest()


def test_large_member_is_compressed() -> None:
    with zipfile.ZipFile(io.BytesIO(_zip_bytes())) as unpacked:
        info = unpacked.getinfo("misp-feed/large.json")
    assert info.compress_size < info.file_size / 1.5


def _tool(name: str) -> str:
    """The path of an outside checker; skipped loudly on a user's machine, required in CI."""
    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is needed in CI to check the archive from outside")
        pytest.skip(f"{name} is not installed: the archive is not checked by it here")
    return found


def test_info_zip_accepts_the_archive(tmp_path: Path) -> None:
    unzip = _tool("unzip")
    path = tmp_path / "feed.zip"
    path.write_bytes(_zip_bytes())
    checked = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No errors detected" in checked.stdout


def test_members_are_deflated_by_isal() -> None:
    """Fails if zipfile no longer lets the deflate be swapped (the export would be 4x slower)."""
    with zipfile.ZipFile(io.BytesIO(), "w", compression=zipfile.ZIP_DEFLATED) as written:
        opened = written.open("a.json", "w", force_zip64=True)
        with archive._deflated_by_isal(opened) as member:
            assert isinstance(member._compressor, isal_zlib.Compress)  # type: ignore[attr-defined]
            member.write(b"{}")


def test_tar_gz_members_unpack_to_the_bytes_streamed() -> None:
    body = b"".join(stream(_files(), ArchiveKind.TAR_GZ))
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as unpacked:
        members = unpacked.getmembers()
        assert [member.name for member in members] == [f"misp-feed/{name}" for name in CONTENTS]
        for member in members:
            extracted = unpacked.extractfile(member)
            assert extracted is not None
            expected = b"".join(CONTENTS[member.name.removeprefix("misp-feed/")])
            assert extracted.read() == expected


def test_gzip_accepts_the_tar_gz(tmp_path: Path) -> None:
    gzip_tool = _tool("gzip")
    path = tmp_path / "feed.tar.gz"
    path.write_bytes(b"".join(stream(_files(), ArchiveKind.TAR_GZ)))
    checked = subprocess.run([gzip_tool, "-t", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_tar_is_the_one_tarfile_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers, padding and end written by hand: byte for byte what `TarFile.addfile` gives."""
    monkeypatch.setattr(time, "time", lambda: 1_764_000_000.5)
    reference = io.BytesIO()
    with tarfile.open(fileobj=reference, mode="w|") as written:
        for name, chunks in CONTENTS.items():
            data = b"".join(chunks)
            info = tarfile.TarInfo(f"misp-feed/{name}")
            info.size, info.mtime = len(data), 1_764_000_000
            written.addfile(info, io.BytesIO(data))
    body = b"".join(stream(_files(), ArchiveKind.TAR_GZ))
    assert gzip.decompress(body) == reference.getvalue()
