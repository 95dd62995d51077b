"""`shieldwall user set-role|disable|enable` and `shieldwall group add-member|remove-member`.

Run as a user's shell runs them: exit 0 on success, 2 with one line on stderr
for bad input or a name that does not exist, on both backends.
"""

from __future__ import annotations

from shieldwall.db.engine import make_engine, read_transaction
from shieldwall.errors import Unauthorized
from shieldwall.members import service as members
from tests.cli.runner import Shieldwall, assert_one_line_error, init_in_process
from tests.factories import user_key


def _users(cli: Shieldwall) -> dict[str, tuple[str, bool]]:
    return {
        u["username"]: (u["role"], u["disabled"]) for u in cli.ok("user", "list", "--json").json()
    }


def _key_of(cli: Shieldwall, username: str) -> str:
    """A new API key tied to the user, written straight into the CLI's store."""
    engine = make_engine(cli.database_url)
    try:
        return user_key(engine, username)
    finally:
        engine.dispose()


def _key_works(cli: Shieldwall, secret: str) -> bool:
    engine = make_engine(cli.database_url)
    try:
        with read_transaction(engine) as conn:
            members.authenticate(conn, secret)
    except Unauthorized:
        return False
    finally:
        engine.dispose()
    return True


def test_user_role_and_disabling(cli: Shieldwall) -> None:
    init_in_process(cli.database_url)
    cli.ok("user", "add", "alice", "--org", "Host", "--role", "analyst")
    key = _key_of(cli, "alice")

    changed = cli.ok("user", "set-role", "alice", "--role", "reader")
    assert changed.stdout == ""
    assert "reader" in changed.stderr
    assert _users(cli) == {"alice": ("reader", False)}

    cli.ok("user", "disable", "alice")
    assert _users(cli) == {"alice": ("reader", True)}
    assert not _key_works(cli, key)
    table = cli.ok("user", "list").stdout
    assert "disabled" in table

    cli.ok("user", "enable", "alice")
    assert _users(cli) == {"alice": ("reader", False)}
    assert _key_works(cli, key)


def test_user_commands_refuse_bad_input(sqlite_cli: Shieldwall) -> None:
    init_in_process(sqlite_cli.database_url)
    sqlite_cli.ok("user", "add", "alice", "--org", "Host", "--role", "analyst")
    failures = sqlite_cli.many(
        [
            ["user", "set-role", "alice", "--role", "god"],
            ["user", "set-role", "nobody", "--role", "reader"],
            ["user", "disable", "nobody"],
            ["user", "enable", "nobody"],
        ]
    )
    for failed in failures:
        assert failed.code == 2, failed.explain()
        assert_one_line_error(failed)
    assert "role" in failures[0].stderr
    assert all("'nobody' does not exist" in f.stderr for f in failures[1:])
    assert _users(sqlite_cli) == {"alice": ("analyst", False)}


def _coalition_with_group(cli: Shieldwall) -> None:
    init_in_process(cli.database_url)
    for org, tier in [("Sponsor A", "sponsoring"), ("Contributor", "contributing")]:
        cli.ok("org", "add", org, "--tier", tier)
    cli.ok("group", "add", "ics", "--member", "Sponsor A")


def _group_members(cli: Shieldwall) -> list[str]:
    [group] = cli.ok("group", "list", "--json").json()
    return list(group["members"])


def test_group_members_are_added_and_removed(cli: Shieldwall) -> None:
    _coalition_with_group(cli)
    added = cli.ok("group", "add-member", "ics", "--org", "Contributor", "--json")
    assert added.json()["members"] == ["Contributor", "Sponsor A"]
    removed = cli.ok("group", "remove-member", "ics", "--org", "Sponsor A", "--json")
    assert removed.json()["members"] == ["Contributor"]
    assert _group_members(cli) == ["Contributor"]


def test_group_member_commands_say_what_they_did_and_refuse_bad_input(
    sqlite_cli: Shieldwall,
) -> None:
    _coalition_with_group(sqlite_cli)
    added = sqlite_cli.ok("group", "add-member", "ics", "--org", "Contributor")
    removed = sqlite_cli.ok("group", "remove-member", "ics", "--org", "Sponsor A")
    assert (added.stdout, removed.stdout) == ("", "")
    assert "group ics: Contributor" in removed.stderr
    failures = sqlite_cli.many(
        [
            ["group", "remove-member", "ics", "--org", "Sponsor A"],
            ["group", "remove-member", "no-such-group", "--org", "Contributor"],
            ["group", "add-member", "ics", "--org", "Contributor"],
            ["group", "add-member", "ics", "--org", "Nobody"],
        ]
    )
    for failed in failures:
        assert failed.code == 2, failed.explain()
        assert_one_line_error(failed)
    assert "not a member" in failures[0].stderr
    assert _group_members(sqlite_cli) == ["Contributor"]
