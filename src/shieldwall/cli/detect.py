"""Detection commands: `shieldwall scan`, `shieldwall recorrelate`, `shieldwall sightings`.

`scan` matches the observables of log files against the local node (as an
organisation, `--as`) or a remote node (`--url` and `--key`, through
`POST /api/v1/match`), prints the hits as a table or JSON lines, and with
`--report-sightings` files them as sightings of the indicators hit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import orjson
import typer
from sqlalchemy import Engine

from shieldwall.cli import output
from shieldwall.config import get_settings
from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput, ShieldwallError
from shieldwall.intel.observables import Observable
from shieldwall.intel.service import Reader
from shieldwall.match.scan import Matcher, Prefilter, ScanResult, local_matcher, scan
from shieldwall.match.service import IndexHolder, MatchOptions
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sightings import service as sightings
from shieldwall.sightings.service import SightingItem, SightingReport

#: Observables per remote request (the node's default limit).
REMOTE_BATCH = 10_000


def _engine() -> Engine:
    from shieldwall.cli.main import _initialised_engine

    return _initialised_engine()


# --------------------------------------------------------------------------- scan


def _local(as_org: str, options: MatchOptions) -> tuple[Matcher, Prefilter, Callable[..., Any]]:
    engine = _engine()
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, as_org, Role.SENSOR)
    holder = IndexHolder(engine)
    matcher, prefilter = local_matcher(engine, holder.current(), Reader(principal), options)

    def report(report: SightingReport) -> dict[str, Any]:
        return sightings.report(engine, get_settings(), principal, holder, report)

    return matcher, prefilter, report


def _remote(url: str, key: str, options: MatchOptions) -> tuple[Matcher, Callable[..., Any]]:
    client = httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=120
    )

    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise ShieldwallError(f"{url}: {exc}") from None
        if response.status_code != 200:
            raise ShieldwallError(
                f"{url}{path}: HTTP {response.status_code}: {response.text[:300]}"
            )
        result: dict[str, Any] = response.json()
        return result

    def matcher(observables: list[Observable]) -> list[dict[str, Any]]:
        hits: list[dict[str, Any]] = []
        for start in range(0, len(observables), REMOTE_BATCH):
            batch = observables[start : start + REMOTE_BATCH]
            body = {
                "observables": [{"type": kind, "value": value} for kind, value in batch],
                "include_warninglisted": options.include_warninglisted,
                "min_score": options.min_score,
            }
            for hit in call("/api/v1/match", body)["hits"]:
                hits.append({**hit, "index": start + hit["index"]})
        return hits

    def report(report: SightingReport) -> dict[str, Any]:
        return call("/api/v1/sightings", report.as_request())

    return matcher, report


@contextmanager
def _open_inputs(paths: list[str]) -> Iterator[tuple[list[IO[bytes]], int | None]]:
    with ExitStack() as stack:
        streams: list[IO[bytes]] = []
        total: int | None = 0
        for name in paths:
            if name == "-":
                streams.append(sys.stdin.buffer)
                total = None
                continue
            path = Path(name)
            if not path.is_file():
                raise BadInput(f"{name}: no such file", where="FILE")
            streams.append(stack.enter_context(path.open("rb")))
            total = None if total is None else total + path.stat().st_size
        yield streams, total


def _run_scan(
    streams: list[IO[bytes]], total: int | None, matcher: Matcher, prefilter: Prefilter | None
) -> ScanResult:
    if not sys.stderr.isatty():
        return scan(streams, matcher, prefilter)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(
        TextColumn("scanning"), BarColumn(), DownloadColumn(), console=output.stderr
    ) as progress:
        task = progress.add_task("scan", total=total)
        return scan(streams, matcher, prefilter, lambda done: progress.update(task, completed=done))


def _print_hits(result: ScanResult, as_json: bool) -> None:
    rows = result.rows()
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return
    table = [
        {
            "type": row["type"],
            "value": row["value"],
            "count": row["count"],
            "indicators": ", ".join(i["id"] for i in row["indicators"]),
            "owners": ", ".join(sorted({i["owner"] for i in row["indicators"]})),
            "score": max(i["score"] for i in row["indicators"]),
        }
        for row in rows
    ]
    columns = ["type", "value", "count", "score", "owners", "indicators"]
    output.emit_table(table, columns, f"{len(rows)} hit(s)")


def scan_command(
    paths: Annotated[list[str], typer.Argument(help="Log files, or - for standard input.")],
    as_org: Annotated[
        str | None, typer.Option("--as", help="Match on this node as this organisation.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Match on a remote node (with --key).")] = None,
    key: Annotated[str | None, typer.Option(help="API key for the remote node.")] = None,
    include_warninglisted: Annotated[
        bool, typer.Option(help="Also report hits on MISP warninglist values.")
    ] = False,
    min_score: Annotated[
        float | None, typer.Option(help="Leave out indicators scoring lower.")
    ] = None,
    report_sightings: Annotated[
        bool, typer.Option("--report-sightings", help="File the hits as sightings.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Match the IPs, domains, URLs, e-mail addresses and hashes of logs against the intel."""
    if (url is None) == (as_org is None):
        raise BadInput("pass either --as ORG (this node) or --url and --key", where="--as")
    options = MatchOptions(include_warninglisted, min_score)
    prefilter: Prefilter | None = None
    if url is not None:
        if not key:
            raise BadInput("--url needs --key", where="--key")
        matcher, report = _remote(url, key, options)
    else:
        assert as_org is not None
        matcher, prefilter, report = _local(as_org, options)
    with _open_inputs(paths) as (streams, total):
        result = _run_scan(streams, total, matcher, prefilter)
    _print_hits(result, as_json)
    output.note(
        f"{result.lines} line(s), {result.observables} observable(s) read, "
        f"{len(result.hits)} hit(s)"
    )
    if report_sightings and result.hits:
        filed = report(SightingReport.from_scan(result.rows()))
        output.note(f"filed {filed['created']} sighting(s)")


# --------------------------------------------------------------------------- recorrelate


def recorrelate_command() -> None:
    """Rebuild every correlation key and the sighting index (one transaction)."""
    from shieldwall.correlate.service import recorrelate

    engine = _engine()
    if not sys.stderr.isatty():
        written = recorrelate(engine)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("recorrelating"), BarColumn(), MofNCompleteColumn(), console=output.stderr
        ) as progress:
            task = progress.add_task("recorrelate", total=None)
            written = recorrelate(
                engine, lambda done, total: progress.update(task, completed=done, total=total)
            )
    output.note(f"recorrelated: {written} correlation key(s) written")


# --------------------------------------------------------------------------- sightings

sightings_app = typer.Typer(help="Sightings of indicators.", no_args_is_help=True)


@sightings_app.command("add")
def sightings_add(
    as_org: Annotated[str, typer.Option("--as", help="The reporting organisation.")],
    object_id: Annotated[str | None, typer.Option(help="The object seen.")] = None,
    value: Annotated[
        str | None, typer.Option(help="Or a value: every visible indicator it hits.")
    ] = None,
    count: Annotated[int, typer.Option(help="How many times.")] = 1,
    first_seen: Annotated[str | None, typer.Option(help="STIX timestamp.")] = None,
    last_seen: Annotated[str | None, typer.Option(help="STIX timestamp.")] = None,
    where: Annotated[str | None, typer.Option(help="Sensor, network or site.")] = None,
    tlp: Annotated[str, typer.Option(help="TLP of the sighting.")] = "amber",
    distribution: Annotated[
        str, typer.Option(help="org, group:NAME, members or public.")
    ] = "members",
) -> None:
    """Report a sighting of an object or of a value."""
    engine = _engine()
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, as_org, Role.SENSOR)
    item = SightingItem(object_id, value, None, count, first_seen, last_seen, where)
    report = SightingReport([item], tlp=tlp, distribution=distribution)
    filed = sightings.report(engine, get_settings(), principal, IndexHolder(engine), report)
    output.note(f"filed {filed['created']} sighting(s)")
    for sighting_id in filed["sightings"]:
        print(sighting_id)


@sightings_app.command("list")
def sightings_list(
    object_id: Annotated[str, typer.Argument(help="The sighted object.")],
    as_org: Annotated[str, typer.Option("--as", help="List as this organisation.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The sightings of an object that ORG may see."""
    engine = _engine()
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, as_org, Role.READER)
        found = sightings.list_sightings(conn, Reader(principal), object_id)
    if as_json:
        output.emit_json(found)
        return
    columns = ["id", "by", "tlp", "count", "first_seen", "last_seen", "where"]
    output.emit_table(found["sightings"], columns, f"sightings of {object_id}")
