"""`shieldwall user passwd`: set the password a user logs in to the web console with."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shieldwall.cli import output
from shieldwall.config import get_settings
from shieldwall.db.engine import make_engine, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.errors import BadInput
from shieldwall.web import sessions


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: what `echo "$PW" | shieldwall user passwd NAME --password-stdin` sends.
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise BadInput("no password on standard input", where="--password-stdin")
        return password
    password = typer.prompt("New password", hide_input=True)
    again = typer.prompt("Repeat it", hide_input=True)
    if password != again:
        raise BadInput("the two passwords differ", where="password")
    return str(password)


def passwd_command(
    username: Annotated[str, typer.Argument(help="The user whose password to set.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's web console password (argon2-hashed); ends the user's open sessions."""
    password = _read_password(password_stdin)
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        sessions.set_password(conn, username, password)
    output.note(f"password of {username} set; their open sessions are ended")
