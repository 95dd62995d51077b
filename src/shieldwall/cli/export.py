"""`shieldwall export`: the API's exports, written to a file, a directory or stdout.

Files are written under a `.partial` name and renamed when complete, so an
interrupted export never leaves a truncated file that looks finished.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated

import typer
from sqlalchemy import Engine

from shieldwall.cli import output
from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput
from shieldwall.formats.export import service, suricata
from shieldwall.formats.export.model import ExportFormat
from shieldwall.formats.export.service import ExportRequest
from shieldwall.intel.service import Reader
from shieldwall.members import bootstrap
from shieldwall.members.model import Role


@contextmanager
def _target(path: Path) -> Iterator[IO[bytes]]:
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as stream:
            yield stream
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _write(chunks: Iterable[bytes], stream: IO[bytes]) -> int:
    written = 0
    for chunk in chunks:
        stream.write(chunk)
        written += len(chunk)
    return written


def _write_file(chunks: Iterable[bytes], path: Path) -> int:
    with _target(path) as stream:
        return _write(chunks, stream)


def _directory(out: Path | None, export_format: ExportFormat) -> Path:
    if out is None:
        raise BadInput(f"{export_format} writes several files: pass --out DIR", where="--out")
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out} exists and is not a directory", where="--out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _feed(engine: Engine, request: ExportRequest, out: Path | None) -> None:
    folder = _directory(out, request.format)
    count = 0
    for feed_file in service.stream_feed(engine, request):
        _write_file(feed_file.chunks, folder / feed_file.name)
        count += 1
    output.note(f"wrote a MISP feed of {max(count - 2, 0)} event(s) into {folder}")


def _txt(engine: Engine, request: ExportRequest, out: Path | None) -> None:
    folder = _directory(out, request.format)
    with ExitStack() as stack:
        streams: dict[str, IO[bytes]] = {}
        for kind, chunk in service.stream_txt_by_kind(engine, request):
            if kind not in streams:
                streams[kind] = stack.enter_context(_target(folder / f"{kind}.txt"))
            streams[kind].write(chunk)
    output.note(f"wrote {len(streams)} list(s) into {folder}: {', '.join(sorted(streams))}")


def _single(engine: Engine, request: ExportRequest, out: Path | None) -> None:
    chunks = service.stream(engine, request)
    if out is None:
        _write(chunks, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        written = _write_file(chunks, out)
        output.note(f"wrote {written:,} bytes to {out}")
    if request.format is ExportFormat.SURICATA:
        _hash_lists(engine, request, out)


def _hash_lists(engine: Engine, request: ExportRequest, out: Path | None) -> None:
    """The list files the filemd5/filesha1/filesha256 rules read, beside the rules."""
    if out is None:
        names = ", ".join(suricata.list_file(kind) for kind in suricata.HASH_KEYWORDS)
        output.note(f"hash rules read {names} from the rules directory: export with --out")
        return
    for name, list_request in service.hash_list_requests(request):
        _write_file(service.stream(engine, list_request), out.with_name(name))


def export_command(
    export_format: Annotated[
        str, typer.Option("--format", "-f", help=", ".join(f.value for f in ExportFormat))
    ],
    as_org: Annotated[str, typer.Option("--as", help="Export what this organisation may see.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="File (directory for misp-feed, txt).")
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option("--type", help="Observable types (value formats) or STIX types."),
    ] = None,
    tlp: Annotated[str | None, typer.Option(help="TLP at most.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this organisation's objects.")] = None,
    added_since: Annotated[
        datetime | None,
        typer.Option(
            help="Only objects added since (UTC).", formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
        ),
    ] = None,
    min_confidence: Annotated[int | None, typer.Option(help="Minimum confidence (0-100).")] = None,
    min_score: Annotated[
        float | None, typer.Option(help="Minimum decayed score (0-100), as matching scores.")
    ] = None,
    include_warninglisted: Annotated[
        bool | None,
        typer.Option(
            "--include-warninglisted/--exclude-warninglisted",
            help="Keep values on MISP warninglists (default: excluded from IDS formats and txt).",
        ),
    ] = None,
    sid_base: Annotated[int | None, typer.Option(help="Lowest sid (suricata, snort).")] = None,
) -> None:
    """Export what ORG may see as STIX 2.1, MISP, a MISP feed, IDS rules, Zeek intel, CSV or txt."""
    from shieldwall.cli.main import _initialised_engine

    engine = _initialised_engine()
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, as_org, Role.READER)
        request = service.prepare(
            conn,
            Reader(principal),
            export_format,
            types=type_ or (),
            tlp=tlp,
            owner=owner,
            added_since=added_since.replace(tzinfo=UTC) if added_since else None,
            min_confidence=min_confidence,
            min_score=min_score,
            include_warninglisted=include_warninglisted,
            sid_base=sid_base,
        )
    if request.format is ExportFormat.MISP_FEED:
        _feed(engine, request, out)
    elif request.format is ExportFormat.TXT:
        _txt(engine, request, out)
    else:
        _single(engine, request, out)
