"""`shieldwall governance ...` on both stores: the same rules, exit codes and messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, update

from shieldwall.cli import governance as cli
from shieldwall.cli.main import run
from shieldwall.governance import ledger as ledger_module
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.service import Governance
from shieldwall.governance.tables import ledger
from tests.factories import Coalition
from tests.governance.conftest import PERIOD


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def shieldwall(
    engine: Engine,
    coalition: Coalition,
    gov: Governance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Runs `shieldwall governance ARGS` against the test store and the manual clock."""
    monkeypatch.setattr(cli, "store_engine", lambda: engine)
    monkeypatch.setattr(cli, "node_governance", lambda: gov)

    def invoke(*args: str) -> Outcome:
        monkeypatch.setattr("sys.argv", ["shieldwall", "governance", *args])
        capsys.readouterr()
        try:
            run()
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


def test_an_accession_from_the_shell(shieldwall: Any, clock: ManualClock) -> None:
    applied = shieldwall("apply", "--as", "Applicant", "--tier", "sponsoring", "--statement", "hi")
    assert applied.code == 0, applied.err
    assert "awaiting-sponsors" in applied.err
    assert shieldwall("sponsor", "1", "--as", "Sponsor A").code == 0
    objected = shieldwall("object", "1", "--as", "Sponsor B", "--reason", "not yet", "--json")
    assert objected.json()["status"] == "open"
    assert shieldwall("concur", "1", "--as", "Host").code == 0
    assert shieldwall("withdraw-objection", "1", "--as", "Sponsor B").code == 0

    listed = shieldwall("list", "--status", "open", "--json").json()
    assert [(d["id"], d["subject"], d["silent"]) for d in listed] == [
        (1, "Applicant", ["Sponsor A", "Sponsor B"])
    ]
    assert "nothing due" in shieldwall("tick").err
    clock.advance(PERIOD)
    assert "closed decisions: 1" in shieldwall("tick").err
    shown = shieldwall("show", "1", "--json").json()
    assert (shown["status"], shown["closed_at"]) == ("adopted", clock.now().isoformat())
    verified = shieldwall("verify")
    assert verified.code == 0
    assert "ledger verified: 14 entries" in verified.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("vote", "1", "--as", "Applicant", "--choice", "concur"), 2, "steering-committee"),
        (("vote", "1", "--as", "Host", "--choice", "maybe"), 2, "unknown --choice"),
        (("object", "1", "--as", "Host", "--reason", " "), 2, "reason must not be empty"),
        (("sponsor", "1", "--as", "Sponsor A"), 2, "already sponsors"),
        (("show", "7"), 2, "decision 7 does not exist"),
        (("concur", "1", "--as", "Nobody"), 2, "'Nobody' does not exist"),
    ],
)
def test_refusals_are_one_line_errors(
    shieldwall: Any, args: tuple[str, ...], code: int, message: str
) -> None:
    shieldwall("apply", "--as", "Applicant", "--tier", "sponsoring", "--statement", "hi")
    shieldwall("sponsor", "1", "--as", "Sponsor A")
    refused = shieldwall(*args)
    assert refused.code == code
    assert message in refused.err
    assert "Traceback" not in refused.err


def test_verify_fails_naming_the_tampered_entry(shieldwall: Any, engine: Engine) -> None:
    shieldwall("apply", "--as", "Applicant", "--tier", "contributing", "--statement", "hi")
    shieldwall("sponsor", "1", "--as", "Sponsor A")
    with engine.begin() as conn:
        conn.execute(update(ledger).where(ledger.c.seq == 2).values(actor="Sponsor B"))
    broken = shieldwall("verify")
    assert broken.code == 1
    assert "ledger broken at entry 2: its content does not match its hash" in broken.err
    assert shieldwall("verify", "--json").json()["broken_at"] == 2


def test_export_key_prints_the_pem_alone(shieldwall: Any, tmp_path: Any) -> None:
    exported = shieldwall("export-key", "--org", "Sponsor A")
    assert exported.code == 0
    assert exported.out.startswith("-----BEGIN PRIVATE KEY-----")
    assert exported.out.rstrip().endswith("-----END PRIVATE KEY-----")
    private = serialization.load_pem_private_key(exported.out.encode(), None)
    assert isinstance(private, Ed25519PrivateKey)
    key_id = ledger_module.key_id_of(private.public_key())
    assert key_id in exported.err

    secret = tmp_path / "passphrase"
    secret.write_text("a long passphrase\n")
    encrypted = shieldwall("export-key", "--org", "Sponsor A", "--passphrase-file", str(secret))
    assert "ENCRYPTED PRIVATE KEY" in encrypted.out
    reopened = serialization.load_pem_private_key(encrypted.out.encode(), b"a long passphrase")
    assert ledger_module.key_id_of(reopened.public_key()) == key_id  # type: ignore[arg-type]

    secret.write_text("short\n")
    refused = shieldwall("export-key", "--org", "Sponsor A", "--passphrase-file", str(secret))
    assert (refused.code, refused.out) == (2, "")
    assert "at least 8 characters" in refused.err


def test_rotate_key_for_an_organisation_is_a_ledger_act(shieldwall: Any) -> None:
    first = shieldwall("export-key", "--org", "Host").out
    old_id = ledger_module.key_id_of(
        serialization.load_pem_private_key(first.encode(), None).public_key()  # type: ignore[arg-type]
    )
    rotated = shieldwall("rotate-key", "--org", "Host", "--json")
    assert rotated.code == 0
    new_id = rotated.json()["key_id"]
    assert new_id != old_id
    listed = shieldwall("keys", "--json").json()
    assert [(k["key_id"], k["retired_at"] is None) for k in listed] == [
        (old_id, False),
        (new_id, True),
    ]
    verified = shieldwall("verify", "--json").json()
    assert verified["ok"] is True
    assert shieldwall("rotate-key", "--org", "Nobody").code == 2
