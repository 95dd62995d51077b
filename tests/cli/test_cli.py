"""The `shieldwall` command as scripts use it: stdout, stderr and exit codes.

Exit codes: 0 success, 2 bad input or usage, 1 anything else. A command that
creates a secret prints only the secret on stdout. Errors are one line on
stderr, never a traceback. Each command is a fresh Python process (about a
second), so the tests chain many steps of one story rather than one step each.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from shieldwall.db.engine import make_engine, read_transaction
from shieldwall.demo import generate
from shieldwall.members import service as members
from tests.cli.runner import (
    Shieldwall,
    assert_one_line_error,
    assert_usage_error,
    init_in_process,
)

KEY_LINE = re.compile(r"sw_[A-Za-z0-9_-]{20,}")
KEY_FIELDS = {"id", "org", "role", "prefix", "label", "created_at", "revoked_at"}


def _init(cli: Shieldwall, host: str = "Host") -> str:
    """Runs `init` and returns the key: the one and only line on stdout."""
    result = cli.ok("init", "--host-org", host, "--country", "EE")
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.explain()
    assert KEY_LINE.fullmatch(lines[0]), result.explain()
    return lines[0]


def _key_owner(cli: Shieldwall, secret: str) -> tuple[str | None, str | None]:
    """Who the store says a key belongs to: proof the printed secret is the stored one."""
    engine = make_engine(cli.database_url)
    try:
        with read_transaction(engine) as conn:
            principal = members.authenticate(conn, secret)
    finally:
        engine.dispose()
    return principal.org_name, principal.role


def _write_bundle(path: Path, objects: list[dict[str, object]]) -> Path:
    path.write_bytes(orjson.dumps(generate.bundle(objects)))  # type: ignore[arg-type]
    return path


def _value_of(generated: dict[str, object]) -> str:
    """The observable value of a generated indicator (its name is `KIND VALUE`)."""
    return str(generated["name"]).split(" ", 1)[1]


# --------------------------------------------------------------------------- both backends


def test_setup_import_and_search_tour(cli: Shieldwall, tmp_path: Path) -> None:
    host_key = _init(cli)
    assert _key_owner(cli, host_key) == ("Host", "org-admin")
    again = cli("init", "--host-org", "Other")
    assert again.code == 2, again.explain()
    assert_one_line_error(again)

    added = cli.ok("org", "add", "Sponsor A", "--tier", "sponsoring", "--country", "fi", "--json")
    assert (added.json()["name"], added.json()["country"]) == ("Sponsor A", "FI")
    cli.ok("org", "add", "Contributor", "--tier", "contributing")

    # KEY=$(shieldwall key create ...): stdout is the secret and nothing else.
    created = cli.ok("key", "create", "--org", "Sponsor A", "--role", "analyst")
    assert KEY_LINE.fullmatch(created.stdout.rstrip("\n")), created.explain()
    assert created.stdout.count("\n") == 1
    secret = created.stdout.strip()
    assert _key_owner(cli, secret) == ("Sponsor A", "analyst")

    group = cli.ok(
        "group", "add", "ics", "--member", "Sponsor A", "--member", "Contributor", "--json"
    )
    assert sorted(group.json()["members"]) == ["Contributor", "Sponsor A"]

    objects = list(generate.indicators(30, seed=5))
    bundle_file = _write_bundle(tmp_path / "intel.json", objects)
    imported = cli.ok(
        "import",
        str(bundle_file),
        "--org",
        "Host",
        "--tlp",
        "amber",
        "--distribution",
        "members",
        "--json",
    )
    [report] = imported.json()
    assert (report["created"], report["rejected"], report["committed"]) == (30, 0, True)

    # Read-only steps, run side by side.
    value = _value_of(objects[0])
    seen, hidden, orgs, groups, keys = cli.many(
        [
            ["search", value, "--as", "Sponsor A", "--json"],
            ["search", value, "--as", "Contributor", "--json"],
            ["org", "list", "--json"],
            ["group", "list", "--json"],
            ["key", "list", "--json"],
        ]
    )
    # `members` reaches the steering committee, not a contributing participant.
    assert [(o["id"], o["owner"], o["tlp"]) for o in seen.json()["objects"]] == [
        (objects[0]["id"], "Host", "amber")
    ]
    assert hidden.json()["objects"] == []

    # The refused second init changed nothing: one host, one host key.
    assert {o["name"]: o["tier"] for o in orgs.json()} == {
        "Host": "host",
        "Sponsor A": "sponsoring",
        "Contributor": "contributing",
    }
    assert [(g["name"], sorted(g["members"])) for g in groups.json()] == [
        ("ics", ["Contributor", "Sponsor A"])
    ]
    assert host_key not in keys.stdout
    assert secret not in keys.stdout
    assert sorted((k["org"], k["role"]) for k in keys.json()) == [
        ("Host", "org-admin"),
        ("Sponsor A", "analyst"),
    ]
    assert all(set(k) == KEY_FIELDS for k in keys.json())


# --------------------------------------------------------------------------- SQLite only


def test_import_files_and_directories(sqlite_cli: Shieldwall, tmp_path: Path) -> None:
    cli = sqlite_cli
    init_in_process(cli.database_url)
    folder = tmp_path / "feeds"
    (folder / "nested").mkdir(parents=True)
    _write_bundle(folder / "a.json", list(generate.indicators(12, seed=1)))
    _write_bundle(folder / "nested" / "b.json", list(generate.indicators(8, seed=2)))
    mixed = list(generate.indicators(3, seed=3))
    mixed[1] = {**mixed[1], "pattern": "[ipv4-addr:value = '1.2.3.4'"}
    mixed_file = _write_bundle(tmp_path / "mixed.json", mixed)

    first = cli.ok("import", str(folder), "--org", "Host", "--json").json()
    names = sorted((Path(r["source"]).name, r["created"]) for r in first)
    assert names == [("a.json", 12), ("b.json", 8)]

    # A directory and a file again, and a file with one bad object (lenient is the default).
    table = cli.ok("import", str(folder), str(folder / "a.json"), str(mixed_file), "--org", "Host")
    assert table.stdout.startswith("import reports")
    assert "objects[1].pattern" in table.stderr
    listed = cli.ok("import", str(folder), str(mixed_file), "--org", "Host", "--json").json()
    assert [(r["created"], r["unchanged"], r["rejected"]) for r in listed] == [
        (0, 12, 0),
        (0, 8, 0),
        (0, 2, 1),
    ]
    assert listed[2]["rejections"][0]["index"] == 1
    assert listed[2]["rejections"][0]["field"] == "pattern"

    strict = cli("import", str(mixed_file), "--org", "Host", "--strict")
    assert strict.code == 2, strict.explain()
    assert_one_line_error(strict)
    assert "objects[1].pattern" in strict.stderr


def test_command_before_init_exits_1(sqlite_cli: Shieldwall) -> None:
    result = sqlite_cli("org", "list")
    assert result.code == 1, result.explain()
    assert_one_line_error(result)
    assert "init" in result.stderr


def test_bad_input_exits_2_with_one_line(sqlite_cli: Shieldwall, tmp_path: Path) -> None:
    cli = sqlite_cli
    host_key = init_in_process(cli.database_url)
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [{"type": "indic')
    good = _write_bundle(tmp_path / "good.json", list(generate.indicators(2)))

    bad_inputs = [
        ["org", "add", "X", "--tier", "emperor"],  # unknown tier
        ["org", "add", "Host", "--tier", "sponsoring"],  # exists already
        ["key", "create", "--org", "Host", "--role", "boss"],  # unknown role
        ["key", "create", "--org", "Nobody", "--role", "analyst"],  # unknown org
        ["import", str(tmp_path / "missing.json"), "--org", "Host"],  # missing file
        ["import", str(good), "--org", "Host", "--tlp", "purple"],
        ["import", str(broken), "--org", "Host"],
        ["search", "not a value", "--as", "Host"],
    ]
    usage_errors = [["frobnicate"], ["org", "add"], ["key", "revoke", "not-a-number"]]
    results = cli.many([*bad_inputs, *usage_errors, ["org", "list", "--json"], ["key", "list"]])

    for result in results[: len(bad_inputs)]:
        assert result.code == 2, result.explain()
        assert_one_line_error(result)
    for result in results[len(bad_inputs) : -2]:
        assert_usage_error(result)
    # Nothing of the above was stored, and a listing never shows a secret.
    orgs, keys = results[-2:]
    assert [o["name"] for o in orgs.json()] == ["Host"]
    assert host_key not in keys.stdout
    assert "org-admin" in keys.stdout
