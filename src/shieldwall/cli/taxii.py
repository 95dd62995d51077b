"""`shieldwall taxii ...`: pull collections from TAXII 2.1 servers into this node."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy import Engine

from shieldwall.cli import output
from shieldwall.config import get_settings
from shieldwall.db.engine import make_engine, read_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.errors import ShieldwallError
from shieldwall.intel.ingest import ImportReport
from shieldwall.members import bootstrap
from shieldwall.taxii.client import Credentials, TaxiiClient
from shieldwall.taxii.pull import PullReport, PullTarget, pull_collection

taxii_app = typer.Typer(
    help="TAXII 2.1: pull collections from other servers.", no_args_is_help=True
)


def store_engine() -> Engine:
    """The configured store, migrated, refusing one that was never initialised."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    with read_transaction(engine) as conn:
        if bootstrap.host_org(conn) is None:
            raise ShieldwallError("this store is not initialised: run `shieldwall init` first")
    return engine


def print_pull_report(result: PullReport, as_json: bool) -> None:
    if as_json:
        output.emit_json(result.as_dict())
        return
    view = result.as_dict()
    columns = ["pages", "objects", "created", "new_versions", "unchanged", "rejected"]
    output.emit_table([view], columns, f"pulled {result.url} collection {result.collection_id}")
    for rejection in view["rejections"]:
        output.note(f"objects[{rejection['index']}] {rejection['id']}: {rejection['reason']}")
    output.note(f"cursor: {result.cursor_before or 'none'} -> {result.cursor_after or 'none'}")


@taxii_app.command("pull")
def pull(
    url: Annotated[str, typer.Argument(help="The API root URL, e.g. https://hub/taxii2/intel/.")],
    collection: Annotated[str, typer.Option("--collection", help="The collection id.")],
    org: Annotated[str, typer.Option(help="Organisation that owns what is imported.")],
    tlp: Annotated[str, typer.Option(help="TLP of objects without a TLP marking.")] = "amber",
    distribution: Annotated[str, typer.Option(help="org, group:NAME, members or public.")] = "org",
    user: Annotated[
        str | None, typer.Option(help="HTTP Basic user name (else the key goes as Bearer).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="SHIELDWALL_TAXII_PASSWORD", help="Password or API key."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Page size to ask for.")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the saved cursor and pull everything.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Pull what a collection gained since the last pull, and import it."""
    engine = store_engine()
    target = PullTarget(org=org, tlp=tlp, distribution=distribution)

    def progress(pages: int, total: ImportReport) -> None:
        if sys.stderr.isatty():
            output.note(f"page {pages}: {total.objects} objects so far")

    with TaxiiClient(url, Credentials(user, password)) as client:
        result = pull_collection(
            engine,
            get_settings(),
            client,
            collection,
            target,
            from_scratch=full,
            limit=limit,
            on_page=progress,
        )
    print_pull_report(result, as_json)
