"""The `shieldwall` command: one CLI, one subcommand per task.

Exit codes: 0 success, 2 bad input or usage, 1 anything else. A command that
creates a secret prints only the secret on stdout, so that
`KEY=$(shieldwall key create --org A --role analyst)` works.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from shieldwall.cli import formats_in, output
from shieldwall.cli.detect import recorrelate_command, scan_command, sightings_app
from shieldwall.cli.export import export_command
from shieldwall.cli.feeds import feed_app
from shieldwall.cli.governance import governance_app
from shieldwall.cli.members import members_app
from shieldwall.cli.taxii import taxii_app
from shieldwall.cli.web import passwd_command
from shieldwall.config import Settings, get_settings
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.errors import BadInput, ShieldwallError
from shieldwall.formats.detect import Format
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel import service as intel
from shieldwall.intel.ingest import ImportReport, Mode
from shieldwall.members import bootstrap
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing import service as sharing

app = typer.Typer(
    name="shieldwall",
    help="shieldwall: governed sharing of threat intelligence for a cyber defence coalition.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
org_app = typer.Typer(help="Organisations of the coalition.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (stored hashed, shown once).", no_args_is_help=True)
group_app = typer.Typer(help="Sharing groups.", no_args_is_help=True)
user_app = typer.Typer(help="Users of member organisations.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(key_app, name="key")
app.add_typer(group_app, name="group")
app.add_typer(user_app, name="user")
app.add_typer(taxii_app, name="taxii")
app.add_typer(feed_app, name="feed")
app.add_typer(governance_app, name="governance")
app.add_typer(members_app, name="members")
app.command("export")(export_command)
user_app.command("passwd")(passwd_command)
app.command("scan")(scan_command)
app.command("recorrelate")(recorrelate_command)
app.add_typer(sightings_app, name="sightings")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def _initialised_engine() -> Engine:
    engine = _engine()
    with read_transaction(engine) as conn:
        if bootstrap.host_org(conn) is None:
            raise ShieldwallError("this store is not initialised: run `shieldwall init` first")
    return engine


# --------------------------------------------------------------------------- node


@app.command()
def init(
    host_org: Annotated[str, typer.Option("--host-org", help="Name of the host organisation.")],
    country: Annotated[str | None, typer.Option(help="ISO 3166 two-letter code.")] = None,
) -> None:
    """Create the schema and the host organisation; print its admin API key."""
    engine = _engine()
    with write_transaction(engine) as conn:
        key = bootstrap.init_node(conn, host_org, country)
    output.note(f"initialised; host organisation {host_org!r}; org-admin key (shown once):")
    print(key.secret)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API (and everything else) of this node."""
    import uvicorn

    from shieldwall.app import create_app

    settings = get_settings()
    engine = _initialised_engine()
    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level=settings.log_level)


@app.command()
def demo(
    keys_file: Annotated[Path, typer.Option(help="Where the demo keys are kept.")] = Path(
        "var/demo-keys.txt"
    ),
) -> None:
    """Seed a demo coalition into an empty store (once) and print its API keys."""
    from shieldwall.demo.seed import seed_demo

    engine = _engine()
    seed_demo(engine, keys_file)
    output.note(f"demo coalition ready; API keys (also in {keys_file}):")
    sys.stdout.write(keys_file.read_text())


# --------------------------------------------------------------------------- intel


def _input_files(arguments: list[str]) -> list[Path | str]:
    return formats_in.input_items(arguments)


def _import_one(engine: Engine, path: Path, request: FormatRequest) -> ImportReport:
    settings = get_settings()
    with path.open("rb") as stream:
        if not sys.stderr.isatty():
            return import_stream(engine, settings, request, stream, str(path), name=path.name)
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            console=output.stderr,
        ) as progress:
            task = progress.add_task(path.name, total=1.0)
            return import_stream(
                engine,
                settings,
                request,
                stream,
                str(path),
                name=path.name,
                on_progress=lambda done: progress.update(task, completed=done),
            )


def _pull_one(engine: Engine, location: str, request: FormatRequest) -> list[ImportReport]:
    from shieldwall.formats.misp_feed import pull_feed

    feed = pull_feed(engine, get_settings(), request, location)
    summary = feed.as_dict()
    output.note(
        f"feed {feed.feed}: {feed.listed} event(s) listed, {summary['fetched']} fetched, "
        f"{feed.skipped} unchanged since the last pull"
    )
    for failure in feed.failed:
        output.note(f"feed {feed.feed}: event {failure['event']} not imported: {failure['reason']}")
    return feed.reports


@app.command("import")
def import_(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, directories, MISP feed directories or feed URLs."),
    ],
    org: Annotated[str, typer.Option(help="Organisation that owns what is imported.")],
    tlp: Annotated[str, typer.Option(help="TLP of objects without a TLP marking.")] = "amber",
    distribution: Annotated[
        str | None,
        typer.Option(
            help="org, group:NAME, members or public [default: a MISP event's own, else org]"
        ),
    ] = None,
    format_: Annotated[
        Format, typer.Option("--format", help="Input format; auto detects it from the content.")
    ] = Format.AUTO,
    csv_mapping: Annotated[
        str | None,
        typer.Option(help="CSV columns: COLUMN=KIND,... (KIND: ip, domain, url, sha256, ...)"),
    ] = None,
    skip_warninglisted: Annotated[
        bool, typer.Option(help="Leave out of free text what the MISP warninglists flag.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict/--lenient", help="Reject a whole file on one bad object.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import STIX 2.1/2.0, MISP events and feeds, CSV or free text; one transaction per input."""
    engine = _initialised_engine()
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, org, Role.ANALYST)
    request = FormatRequest(
        principal=principal,
        owner=org,
        tlp=tlp,
        distribution=distribution,
        mode=Mode.STRICT if strict else Mode.LENIENT,
        format=format_,
        csv_mapping=csv_mapping,
        skip_warninglisted=skip_warninglisted,
    )
    reports: list[dict[str, Any]] = []
    for item in _input_files(paths):
        if isinstance(item, Path):
            reports.append(_import_one(engine, item, request).as_dict())
        else:
            reports.extend(report.as_dict() for report in _pull_one(engine, item, request))
    if as_json:
        output.emit_json(reports)
        return
    columns = ["source", "objects", "created", "new_versions", "unchanged", "rejected"]
    output.emit_table(reports, columns, "import reports")
    for report in reports:
        for rejection in report["rejections"]:
            where = formats_in.rejection_where(rejection)
            output.note(f"{report['source']}: {where}: {rejection['reason']}")


@app.command()
def search(
    value: Annotated[str, typer.Argument(help="An IP, domain, URL, e-mail, hash, ...")],
    as_org: Annotated[str, typer.Option("--as", help="Search as this organisation.")],
    type_: Annotated[str | None, typer.Option("--type", help="Observable type.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Which objects that ORG may see contain VALUE."""
    engine = _initialised_engine()
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, as_org, Role.READER)
        found = intel.find_by_value(conn, intel.Reader(principal), value, type_, 1000)
    if as_json:
        output.emit_json(found)
        return
    rows = [
        {
            "id": o["id"],
            "type": o["type"],
            "owner": o["owner"],
            "tlp": o["tlp"],
            "distribution": o["distribution"],
            "name": o["object"].get("name", ""),
        }
        for o in found["objects"]
    ]
    title = f"{found['type']} {found['value']}: {len(rows)} object(s) visible to {as_org}"
    output.emit_table(rows, ["id", "type", "owner", "tlp", "distribution", "name"], title)


# --------------------------------------------------------------------------- members


@org_app.command("add")
def org_add(
    name: str,
    tier: Annotated[str, typer.Option(help="sponsoring, contributing or applicant.")],
    country: Annotated[str | None, typer.Option(help="ISO 3166 two-letter code.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add an organisation."""
    parsed = Tier(tier) if tier in Tier._value2member_map_ else None
    if parsed not in (Tier.SPONSORING, Tier.CONTRIBUTING, Tier.APPLICANT):
        raise BadInput(f"tier {tier!r}: use sponsoring, contributing or applicant", where="--tier")
    engine = _initialised_engine()
    with write_transaction(engine) as conn:
        org = members.create_org(conn, name, parsed, country)
    if as_json:
        output.emit_json(org)
    else:
        output.note(f"added {org['name']} ({org['tier']})")


@org_app.command("list")
def org_list(as_json: JsonOption = False) -> None:
    """List the organisations."""
    with read_transaction(_initialised_engine()) as conn:
        orgs = members.list_orgs(conn)
    if as_json:
        output.emit_json(orgs)
    else:
        output.emit_table(orgs, ["name", "tier", "country", "accession_at"], "organisations")


@key_app.command("create")
def key_create(
    org: Annotated[str, typer.Option(help="Organisation the key acts for.")],
    role: Annotated[str, typer.Option(help="org-admin, analyst, reader, sensor or sync.")],
    label: Annotated[str | None, typer.Option(help="A note on what the key is for.")] = None,
) -> None:
    """Create an API key; only the key is printed on stdout."""
    from shieldwall.members.model import parse_enum

    parsed = parse_enum(Role, role, "--role")
    with write_transaction(_initialised_engine()) as conn:
        key = members.create_key(conn, org, parsed, label)
    output.note(f"key {key.id} for {key.org} ({key.role}); it is shown once:")
    print(key.secret)


@key_app.command("list")
def key_list(
    org: Annotated[str | None, typer.Option(help="Only this organisation's keys.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys (prefixes only, never the secrets)."""
    from shieldwall.members import repository

    with read_transaction(_initialised_engine()) as conn:
        org_id = members.org_named(conn, org)["id"] if org else None
        keys = [members.key_view(row) for row in repository.list_keys(conn, org_id)]
    if as_json:
        output.emit_json(keys)
    else:
        output.emit_table(keys, ["id", "org", "role", "prefix", "label", "revoked_at"], "keys")


@key_app.command("revoke")
def key_revoke(key_id: int) -> None:
    """Revoke an API key."""
    from shieldwall.db.base import utcnow
    from shieldwall.errors import NotFound
    from shieldwall.members import repository

    with write_transaction(_initialised_engine()) as conn:
        if repository.key_by_id(conn, key_id) is None:
            raise NotFound(f"key {key_id} does not exist", where="KEY_ID")
        repository.revoke_key(conn, key_id, utcnow())
    output.note(f"revoked key {key_id}")


@group_app.command("add")
def group_add(
    name: str,
    member: Annotated[list[str], typer.Option("--member", help="A member organisation.")],
    description: Annotated[str | None, typer.Option(help="What the group is for.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a sharing group with its member organisations."""
    with write_transaction(_initialised_engine()) as conn:
        group = sharing.create_group(conn, name, member, description)
    if as_json:
        output.emit_json(group)
    else:
        output.note(f"created group {group['name']}: {', '.join(group['members'])}")


@group_app.command("add-member")
def group_add_member(
    name: str,
    org: Annotated[str, typer.Option(help="The organisation to add.")],
    as_json: JsonOption = False,
) -> None:
    """Add an organisation to a sharing group."""
    with write_transaction(_initialised_engine()) as conn:
        group = sharing.add_member(conn, name, org)
    _show_group(group, as_json)  # only once committed


@group_app.command("remove-member")
def group_remove_member(
    name: str,
    org: Annotated[str, typer.Option(help="The organisation to remove.")],
    as_json: JsonOption = False,
) -> None:
    """Remove an organisation from a sharing group; the group's intel stops reaching it."""
    with write_transaction(_initialised_engine()) as conn:
        group = sharing.remove_member(conn, name, org)
    _show_group(group, as_json)  # only once committed


def _show_group(group: dict[str, Any], as_json: bool) -> None:
    """A group's members after a change: JSON on stdout, or one line on stderr."""
    if as_json:
        output.emit_json(group)
    else:
        output.note(f"group {group['name']}: {', '.join(group['members']) or '(no members)'}")


@group_app.command("list")
def group_list(as_json: JsonOption = False) -> None:
    """List sharing groups and their members."""
    with read_transaction(_initialised_engine()) as conn:
        groups = sharing.list_groups(conn, None)
    if as_json:
        output.emit_json(groups)
    else:
        rows = [{**g, "members": ", ".join(g["members"])} for g in groups]
        output.emit_table(rows, ["name", "members", "description"], "sharing groups")


@user_app.command("add")
def user_add(
    username: str,
    org: Annotated[str, typer.Option(help="The user's organisation.")],
    role: Annotated[str, typer.Option(help="org-admin, analyst, reader, sensor or sync.")],
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
) -> None:
    """Add a user to an organisation."""
    from shieldwall.members.model import parse_enum

    parsed = parse_enum(Role, role, "--role")
    with write_transaction(_initialised_engine()) as conn:
        user = members.create_user(conn, org, username, parsed, display_name)
    output.note(f"added user {user['username']} to {user['org']} ({user['role']})")


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """List users (disabled ones too, marked)."""
    with read_transaction(_initialised_engine()) as conn:
        users = members.list_users(conn, None)
    if as_json:
        output.emit_json(users)
    else:
        output.emit_table(users, ["username", "org", "role", "display_name", "disabled"], "users")


@user_app.command("set-role")
def user_set_role(
    username: str,
    role: Annotated[str, typer.Option(help="org-admin, analyst, reader, sensor or sync.")],
) -> None:
    """Change a user's role; ends the user's open web sessions."""
    from shieldwall.members.model import parse_enum

    parsed = parse_enum(Role, role, "--role")
    with write_transaction(_initialised_engine()) as conn:
        user = members.update_user(conn, username, role=parsed)
    output.note(f"user {user['username']} of {user['org']} is now {user['role']}")


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: no web login, open sessions ended, the user's API keys refused."""
    with write_transaction(_initialised_engine()) as conn:
        user = members.update_user(conn, username, disabled=True)
    output.note(f"user {user['username']} of {user['org']} is disabled")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled user again."""
    with write_transaction(_initialised_engine()) as conn:
        user = members.update_user(conn, username, disabled=False)
    output.note(f"user {user['username']} of {user['org']} is enabled")


# --------------------------------------------------------------------------- entry


def run() -> None:
    """Entry point: maps every failure to a one-line message and an exit code.

    Usage errors are click's own (standalone mode): its message and exit code 2.
    """
    try:
        app()
    except ShieldwallError as exc:
        output.note(f"error: {exc.one_line()}")
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("SHIELDWALL_DEBUG"):
            raise
        output.note(f"error: {type(exc).__name__}: {exc}")
        sys.exit(1)
