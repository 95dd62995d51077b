"""`shieldwall members ...`: the coalition's membership as governance leaves it.

Read-only: tiers change only through governance decisions
(`shieldwall governance ...`); organisations are added with `shieldwall org add`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shieldwall.cli import governance as governance_cli
from shieldwall.cli import output
from shieldwall.db.engine import read_transaction
from shieldwall.governance import scheduler
from shieldwall.members import service as members

members_app = typer.Typer(
    help="Members of the coalition: tier, country, accession.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@members_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every organisation with its tier, country and accession date."""
    engine = governance_cli.store_engine()
    # A decision past its deadline changes a tier: close it first, as governance commands do.
    scheduler.settle_if_due(engine, governance_cli.node_governance())
    with read_transaction(engine) as conn:
        orgs = members.list_orgs(conn)
    if as_json:
        output.emit_json(orgs)
    else:
        output.emit_table(orgs, ["name", "tier", "country", "accession_at"], "members")
