"""`shieldwall governance ...`: applications, votes, decisions and the ledger from a shell.

The operator of a node acts for one of its organisations with `--as ORG`
(as that organisation's org-admin), so every rule of the REST API applies
unchanged: an organisation only ever votes for itself. Due decisions are
closed before every command, as before every governance request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import Connection, Engine

from shieldwall.cli import output
from shieldwall.config import get_settings
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.errors import ShieldwallError
from shieldwall.governance import ledger, scheduler, service
from shieldwall.governance.clock import SystemClock
from shieldwall.governance.model import Choice, DecisionStatus
from shieldwall.governance.service import Governance
from shieldwall.governance.settings import get_governance_settings
from shieldwall.members import bootstrap
from shieldwall.members.model import Role, Tier, parse_enum
from shieldwall.sharing.policy import Principal

governance_app = typer.Typer(
    help="Membership governance: applications, the silence procedure, the signed ledger.",
    no_args_is_help=True,
)

AsOrg = Annotated[str, typer.Option("--as", help="Act as this organisation (its org-admin).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
DecisionId = Annotated[int, typer.Argument(help="The decision's id.")]
T = TypeVar("T")


def store_engine() -> Engine:
    """The configured store, migrated, refusing one that was never initialised."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    with read_transaction(engine) as conn:
        if bootstrap.host_org(conn) is None:
            raise ShieldwallError("this store is not initialised: run `shieldwall init` first")
    return engine


def node_governance() -> Governance:
    return Governance(SystemClock(), get_governance_settings())


def _act(org: str, work: Callable[[Connection, Governance, Principal], T]) -> T:
    """Closes due decisions, then runs `work` as ORG's org-admin in one write transaction."""
    engine, gov = store_engine(), node_governance()
    scheduler.settle_if_due(engine, gov)
    with write_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, org, Role.ORG_ADMIN)
        return work(conn, gov, principal)


def _read(org: str | None, work: Callable[[Connection, Governance, Principal], T]) -> T:
    """Reads as ORG, or as the host organisation (which sees all of governance)."""
    engine, gov = store_engine(), node_governance()
    scheduler.settle_if_due(engine, gov)
    with read_transaction(engine) as conn:
        name = org or bootstrap.host_org(conn) or ""
        return work(conn, gov, bootstrap.principal_for(conn, name, Role.ORG_ADMIN))


def _print_decision(decision: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.emit_json(decision)
        return
    about = decision["subject"] + (f" to {decision['group']}" if decision["group"] else "")
    output.note(
        f"decision {decision['id']}: {decision['kind']} of {about}, {decision['status']} "
        f"(deadline {decision['deadline']})"
    )
    for vote in decision.get("votes", []):
        reason = f": {vote['reason']}" if vote["reason"] else ""
        output.note(f"  {vote['org']}: {vote['choice']}{reason}")
    if decision.get("silent"):
        output.note(f"  silent: {', '.join(decision['silent'])}")


def _print_application(application: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.emit_json(application)
        return
    decision = application["decision"]
    output.note(
        f"application {application['id']} of {application['org']} for {application['tier']}: "
        f"{application['status']}; sponsors {len(application['sponsors'])}/"
        f"{application['sponsors_required']}"
        + (f"; decision {decision} open" if application["status"] == "open" else "")
    )


# --------------------------------------------------------------------------- acts


@governance_app.command()
def apply(
    as_org: AsOrg,
    tier: Annotated[str, typer.Option(help="sponsoring or contributing.")],
    statement: Annotated[str, typer.Option(help="Why the organisation asks to join.")],
    as_json: JsonOption = False,
) -> None:
    """Apply for membership of the coalition."""
    wanted = parse_enum(Tier, tier, "--tier")
    _print_application(
        _act(as_org, lambda conn, gov, who: service.apply(conn, gov, who, wanted, statement)),
        as_json,
    )


@governance_app.command()
def sponsor(
    application_id: Annotated[int, typer.Argument(help="The application's id.")],
    as_org: AsOrg,
    as_json: JsonOption = False,
) -> None:
    """Sponsor an application (a steering-committee member)."""
    _print_application(
        _act(as_org, lambda conn, gov, who: service.sponsor(conn, gov, who, application_id)),
        as_json,
    )


def _vote(decision_id: int, org: str, choice: Choice, reason: str | None, as_json: bool) -> None:
    _print_decision(
        _act(org, lambda conn, gov, who: service.vote(conn, gov, who, decision_id, choice, reason)),
        as_json,
    )


@governance_app.command()
def vote(
    decision_id: DecisionId,
    as_org: AsOrg,
    choice: Annotated[str, typer.Option(help="concur, abstain or object.")],
    reason: Annotated[str | None, typer.Option(help="Why (required to object).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Vote on a decision; a later vote replaces an earlier one until it closes."""
    _vote(decision_id, as_org, parse_enum(Choice, choice, "--choice"), reason, as_json)


@governance_app.command()
def concur(decision_id: DecisionId, as_org: AsOrg, as_json: JsonOption = False) -> None:
    """Concur with a decision."""
    _vote(decision_id, as_org, Choice.CONCUR, None, as_json)


@governance_app.command()
def abstain(decision_id: DecisionId, as_org: AsOrg, as_json: JsonOption = False) -> None:
    """Abstain on a decision (counts as consent for early adoption)."""
    _vote(decision_id, as_org, Choice.ABSTAIN, None, as_json)


@governance_app.command("object")
def object_(
    decision_id: DecisionId,
    as_org: AsOrg,
    reason: Annotated[str, typer.Option(help="Why the organisation breaks silence.")],
    as_json: JsonOption = False,
) -> None:
    """Break silence: object to a decision, with a reason."""
    _vote(decision_id, as_org, Choice.OBJECT, reason, as_json)


@governance_app.command("withdraw-objection")
def withdraw_objection(decision_id: DecisionId, as_org: AsOrg, as_json: JsonOption = False) -> None:
    """Withdraw an objection: the organisation is silent again."""
    _print_decision(
        _act(
            as_org, lambda conn, gov, who: service.withdraw_objection(conn, gov, who, decision_id)
        ),
        as_json,
    )


@governance_app.command()
def suspend(
    org: Annotated[str, typer.Argument(help="The member to suspend.")],
    as_org: AsOrg,
    reason: Annotated[str, typer.Option(help="Grounds for the suspension.")],
    as_json: JsonOption = False,
) -> None:
    """Propose suspending a member (a steering-committee member)."""
    _print_decision(
        _act(
            as_org, lambda conn, gov, who: service.propose_suspension(conn, gov, who, org, reason)
        ),
        as_json,
    )


@governance_app.command()
def admit(
    org: Annotated[str, typer.Argument(help="The organisation to admit.")],
    group: Annotated[str, typer.Option(help="The sharing group.")],
    as_org: AsOrg,
    as_json: JsonOption = False,
) -> None:
    """Propose admitting an organisation to a sharing group (decided by its members)."""
    _print_decision(
        _act(
            as_org,
            lambda conn, gov, who: service.propose_group_admission(conn, gov, who, group, org),
        ),
        as_json,
    )


@governance_app.command()
def withdraw(as_org: AsOrg, as_json: JsonOption = False) -> None:
    """Withdraw an organisation from the coalition (its contributions stay)."""
    org = _act(as_org, lambda conn, gov, who: service.withdraw(conn, gov, who))
    if as_json:
        output.emit_json(org)
    else:
        output.note(f"{org['name']} has withdrawn from the coalition")


# --------------------------------------------------------------------------- reading


@governance_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="open, adopted, rejected, withdrawn.")] = None,
    as_org: Annotated[str | None, typer.Option("--as", help="Read as this organisation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List decisions."""
    wanted = parse_enum(DecisionStatus, status, "--status") if status else None
    decisions = _read(as_org, lambda conn, _gov, who: service.list_decisions(conn, who, wanted))
    if as_json:
        output.emit_json(decisions)
        return
    columns = ["id", "kind", "subject", "group", "status", "deadline", "closed_at"]
    output.emit_table(decisions, columns, "decisions")


@governance_app.command()
def applications(
    as_org: Annotated[str | None, typer.Option("--as", help="Read as this organisation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List applications."""
    found = _read(as_org, lambda conn, gov, who: service.list_applications(conn, gov, who, None))
    if as_json:
        output.emit_json(found)
        return
    rows = [{**a, "sponsors": ", ".join(a["sponsors"])} for a in found]
    output.emit_table(rows, ["id", "org", "tier", "status", "sponsors", "decision"], "applications")


@governance_app.command()
def show(
    decision_id: DecisionId,
    as_org: Annotated[str | None, typer.Option("--as", help="Read as this organisation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show one decision with its votes."""
    _print_decision(
        _read(as_org, lambda conn, _gov, who: service.get_decision(conn, who, decision_id)),
        as_json,
    )


@governance_app.command()
def status(
    decision_id: Annotated[
        int | None, typer.Argument(help="A decision's id; without it, every open decision.")
    ] = None,
    as_org: Annotated[str | None, typer.Option("--as", help="Read as this organisation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where a decision stands (votes, who is silent), or every open decision."""
    if decision_id is not None:
        show(decision_id, as_org, as_json)
    else:
        list_(DecisionStatus.OPEN.value, as_org, as_json)


@governance_app.command()
def verify(as_json: JsonOption = False) -> None:
    """Recompute the ledger's chain and signatures; exit 1 naming the first bad entry."""
    with read_transaction(store_engine()) as conn:
        result = service.verify_ledger(conn, node_governance().settings)
    if as_json:
        output.emit_json(result.as_dict())
    elif result.ok:
        output.note(f"ledger verified: {result.verified} entries, head {result.head}")
    else:
        output.note(f"ledger broken at entry {result.broken_at}: {result.problem}")
    if not result.ok:
        sys.exit(1)


@governance_app.command()
def tick() -> None:
    """Close the decisions that are due now (the node's scheduler does this on its own)."""
    gov = node_governance()
    with write_transaction(store_engine()) as conn:
        closed = scheduler.tick(conn, gov.clock, gov.settings)
    output.note(f"closed decisions: {', '.join(map(str, closed))}" if closed else "nothing due")


def _read_passphrase(path: Path) -> str:
    """The first line of a file ("-": standard input), never from the command line."""
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    lines = text.splitlines()
    return lines[0] if lines else ""


@governance_app.command("export-key")
def export_key(
    org: Annotated[str, typer.Option("--org", help="The organisation whose key to export.")],
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Encrypt the PEM with the first line of this file ('-': standard input).",
        ),
    ] = None,
) -> None:
    """Print ORG's private signing key (PKCS#8 PEM) alone on stdout, as its org-admin.

    An organisation with no key yet gets one first (registered in the ledger).
    """
    passphrase = _read_passphrase(passphrase_file) if passphrase_file is not None else None
    exported = _act(
        org, lambda conn, gov, who: service.export_signing_key(conn, gov, who, org, passphrase)
    )
    sys.stdout.write(exported.pem)
    output.note(f"exported the signing key {exported.key_id} of {exported.org}")


@governance_app.command("rotate-key")
def rotate_key(
    org: Annotated[
        str | None,
        typer.Option("--org", help="Rotate this organisation's key; without it, the node key."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Hand over to a new signing key, announced in an entry the old key signs."""
    if org is not None:
        key = _act(org, lambda conn, gov, who: service.rotate_signing_key(conn, gov, who, org))
        if as_json:
            output.emit_json(key)
        else:
            output.note(f"{key['org']} now signs with key {key['key_id']}")
        return
    gov = node_governance()
    with write_transaction(store_engine()) as conn:
        new_id = ledger.rotate_key(conn, gov.settings, gov.now())
    ledger.install_rotated_key(gov.settings)
    output.note(f"the ledger is now signed with node key {new_id}")


@governance_app.command("keys")
def keys_(
    as_org: Annotated[str | None, typer.Option("--as", help="Read as this organisation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Public signing keys on record (the committee reads every organisation's)."""
    found = _read(as_org, lambda conn, _gov, who: service.signing_keys(conn, who, None))
    if as_json:
        output.emit_json(found)
        return
    output.emit_table(found, ["org", "key_id", "created_at", "retired_at"], "signing keys")
