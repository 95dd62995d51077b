"""`shieldwall feed ...`: configure scheduled pulls and run them by hand."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shieldwall.cli import output
from shieldwall.cli.taxii import store_engine
from shieldwall.config import get_settings
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.feeds import runner, service
from shieldwall.feeds.schemas import FeedCreate, FeedKind, FeedUpdate

feed_app = typer.Typer(
    help="Feeds: TAXII collections and MISP feeds pulled on a schedule.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
# Feed names are unique per organisation; the operator sees every organisation's.
OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="The feed's organisation; needed where others use the name."),
]
_COLUMNS = ["name", "kind", "org", "enabled", "last_run_at", "last_status", "last_error"]


def _emit(feeds: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        output.emit_json(feeds)
    else:
        output.emit_table(feeds, _COLUMNS, title)


@feed_app.command("add")
def add(
    name: str,
    kind: Annotated[FeedKind, typer.Option(help="taxii or misp.")],
    url: Annotated[str, typer.Option(help="TAXII API root URL, or MISP feed URL.")],
    org: Annotated[str, typer.Option(help="Organisation that owns what is imported.")],
    collection: Annotated[str | None, typer.Option(help="TAXII collection id.")] = None,
    tlp: Annotated[str, typer.Option(help="TLP of objects without a TLP marking.")] = "amber",
    distribution: Annotated[str, typer.Option(help="org, group:NAME, members or public.")] = "org",
    user: Annotated[str | None, typer.Option(help="HTTP Basic user name.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="SHIELDWALL_FEED_PASSWORD", help="Password or API key."),
    ] = None,
    interval: Annotated[int, typer.Option(help="Seconds between pulls.")] = 3600,
    as_json: JsonOption = False,
) -> None:
    """Configure a feed; the scheduler pulls it at once and then every INTERVAL seconds."""
    body = FeedCreate(
        name=name,
        kind=kind,
        url=url,
        collection=collection,
        org=org,
        tlp=tlp,
        distribution=distribution,
        username=user,
        secret=password,
        interval_seconds=interval,
    )
    with write_transaction(store_engine()) as conn:
        feed = service.create_feed_as_operator(conn, body)
    _emit([feed], as_json, "feed added")


@feed_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List feeds with their last run, last error and counts."""
    with read_transaction(store_engine()) as conn:
        feeds = service.list_feeds(conn, None)
    _emit(feeds, as_json, "feeds")


@feed_app.command("remove")
def remove(name: str, org: OrgOption = None) -> None:
    """Remove a feed (what it imported stays)."""
    with write_transaction(store_engine()) as conn:
        service.delete_feed(conn, None, name, org)
    output.note(f"removed feed {name}")


@feed_app.command("enable")
def enable(
    name: str, interval: Annotated[int | None, typer.Option()] = None, org: OrgOption = None
) -> None:
    """Enable a feed (and optionally change its interval)."""
    update = FeedUpdate(enabled=True, interval_seconds=interval)
    with write_transaction(store_engine()) as conn:
        service.update_feed(conn, None, name, update, org)
    output.note(f"enabled feed {name}")


@feed_app.command("disable")
def disable(name: str, org: OrgOption = None) -> None:
    """Disable a feed: the scheduler leaves it alone."""
    with write_transaction(store_engine()) as conn:
        service.update_feed(conn, None, name, FeedUpdate(enabled=False), org)
    output.note(f"disabled feed {name}")


@feed_app.command("run")
def run(
    name: Annotated[str | None, typer.Argument(help="The feed; omitted: every due feed.")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one feed now, or every feed that is due."""
    engine = store_engine()
    settings = get_settings()
    if name is None:
        feeds = runner.run_due(engine, settings)
        _emit(feeds, as_json, f"{len(feeds)} due feed(s) run")
        return
    with read_transaction(engine) as conn:
        feed = service.manageable_feed(conn, None, name, org)
    view = runner.run_feed(engine, settings, feed)
    if not as_json:
        output.note(f"counts: {view['last_counts']}")
    _emit([view], as_json, f"feed {name}")
    if view["last_status"] == "error":
        raise typer.Exit(1)
