"""Review of per-organisation signing keys: who may export and rotate, and what leaks.

Only an organisation's own org-admin exports or rotates its key. Every other
key gets the answer of an organisation that does not exist, and a refusal
changes nothing (no key is made and registered on the side). The private key
appears only in the export answer: never in a listing, the ledger, an error,
a log record or the CLI's messages.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select

from shieldwall.cli import governance as cli
from shieldwall.cli.main import run
from shieldwall.db.engine import write_transaction
from shieldwall.governance.service import Governance
from shieldwall.governance.tables import org_keys
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from tests.factories import ORGS, Coalition
from tests.governance.conftest import Api

TARGET = "Contributor"
NOWHERE = "Nowhere Org"


def export(
    client: TestClient, coalition: Coalition, caller: str, org: str, role: Role, body: Any = None
) -> Response:
    response: Response = client.post(
        f"/api/v1/orgs/{org}/signing-key/export", json=body, headers=coalition.auth(caller, role)
    )
    return response


def rotate(client: TestClient, coalition: Coalition, caller: str, org: str, role: Role) -> Response:
    response: Response = client.post(
        f"/api/v1/orgs/{org}/signing-key/rotation", headers=coalition.auth(caller, role)
    )
    return response


def keys_table(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(org_keys).order_by(org_keys.c.key_id))]


def ledger_entries(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("Host", "/ledger?limit=1000"))["entries"])


def as_if_named(response: Response, name: str, instead: str) -> tuple[int, str]:
    """The answer with the organisation's name replaced: what remains must not differ."""
    return response.status_code, response.text.replace(repr(name), repr(instead))


def _set_tier(engine: Engine, org: str, tier: Tier) -> None:
    with write_transaction(engine) as conn:
        members_repository.set_tier(conn, members.org_named(conn, org)["id"], tier.value, None)


@pytest.mark.parametrize("has_key", [False, True], ids=["no-key-yet", "key-on-record"])
def test_no_other_key_exports_or_rotates_and_a_refusal_changes_nothing(
    api: Api, coalition: Coalition, engine: Engine, has_key: bool
) -> None:
    client = api.client
    if has_key:
        first = api.ok(export(client, coalition, TARGET, TARGET, Role.ORG_ADMIN))
    entries, stored = ledger_entries(api), keys_table(engine)

    for caller in ORGS:
        roles = [role for role in Role if caller != TARGET or role is not Role.ORG_ADMIN]
        for role in roles:
            for act in (export, rotate):
                refused = act(client, coalition, caller, TARGET, role)
                if caller == TARGET:
                    # Its own non-admin keys are told why, and nothing more.
                    assert refused.status_code == 403, (caller, role, act.__name__)
                    assert "PRIVATE KEY" not in refused.text
                    continue
                absent = act(client, coalition, caller, NOWHERE, role)
                assert absent.status_code == 404
                assert as_if_named(refused, TARGET, NOWHERE) == (404, absent.text), (
                    caller,
                    role,
                    act.__name__,
                )
    # Not one key made, registered, rotated or retired by the refusals.
    assert ledger_entries(api) == entries
    assert keys_table(engine) == stored
    if has_key:
        again = api.ok(export(client, coalition, TARGET, TARGET, Role.ORG_ADMIN))
        assert again["key_id"] == first["key_id"]


def test_a_withdrawn_org_admin_neither_exports_nor_rotates_its_key(
    api: Api, coalition: Coalition, engine: Engine
) -> None:
    api.ok(export(api.client, coalition, TARGET, TARGET, Role.ORG_ADMIN))
    stored = keys_table(engine)
    _set_tier(engine, TARGET, Tier.WITHDRAWN)
    for act in (export, rotate):
        refused = act(api.client, coalition, TARGET, TARGET, Role.ORG_ADMIN)
        assert refused.status_code == 401
        assert "PRIVATE KEY" not in refused.text
    assert keys_table(engine) == stored


@pytest.mark.parametrize("caller", ["Applicant", "Outsider", "Contributor"])
def test_public_keys_of_others_are_404_for_non_members_of_the_committee(
    api: Api, coalition: Coalition, caller: str
) -> None:
    api.ok(export(api.client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN))
    for role in Role:
        absent = api.client.get(
            f"/api/v1/orgs/{NOWHERE}/signing-key", headers=coalition.auth(caller, role)
        )
        assert absent.status_code == 404
        # An organisation with keys and one without answer as one that does not exist.
        for org in ("Sponsor A", "Sponsor B"):
            hidden = api.client.get(
                f"/api/v1/orgs/{org}/signing-key", headers=coalition.auth(caller, role)
            )
            assert as_if_named(hidden, org, NOWHERE) == (404, absent.text), (caller, role, org)
        listed = api.ok(
            api.client.get("/api/v1/governance/keys", headers=coalition.auth(caller, role))
        )
        assert {key["org"] for key in listed} <= {caller}


def test_a_suspended_member_of_the_committee_reads_only_its_own_keys(
    api: Api, coalition: Coalition, engine: Engine
) -> None:
    for org in ("Sponsor A", "Sponsor B"):
        api.ok(export(api.client, coalition, org, org, Role.ORG_ADMIN))
    committee = api.ok(api.get("Sponsor B", "/keys"))
    assert {key["org"] for key in committee} == {"Sponsor A", "Sponsor B"}
    _set_tier(engine, "Sponsor B", Tier.SUSPENDED)
    own = api.ok(api.get("Sponsor B", "/keys"))
    assert {key["org"] for key in own} == {"Sponsor B"}
    hidden = api.client.get("/api/v1/orgs/Sponsor A/signing-key", headers=api._auth("Sponsor B"))
    assert hidden.status_code == 404


# --------------------------------------------------------------------------- no private material


@dataclass(frozen=True)
class Secrets:
    """Forms a private key could leak in: raw hex, base64, the PEM body, the sealed blob."""

    texts: tuple[str, ...]

    @classmethod
    def of(cls, pem: str, sealed: list[str], also: tuple[str, ...] = ()) -> Secrets:
        """The forms of the key of an unencrypted `pem`, and `also` (a passphrase)."""
        private = serialization.load_pem_private_key(pem.encode(), None)
        assert isinstance(private, Ed25519PrivateKey)
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        forms = [
            raw.hex(),
            raw.hex().upper(),
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            body[:40],
            *(blob[:40] for blob in sealed),
            *also,
        ]
        return cls(tuple(forms))

    def absent_from(self, where: str, text: str) -> None:
        for form in self.texts:
            assert form not in text, f"private material ({form[:8]}...) in {where}"


def _sealed(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(v) for v in conn.execute(select(org_keys.c.sealed_private_key)).scalars()]


def test_the_private_key_appears_only_in_its_export(
    api: Api, coalition: Coalition, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = api.client
    passphrase = "a passphrase nobody logs"
    plain = api.ok(export(client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN))
    encrypted = api.ok(
        export(
            client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN, {"passphrase": passphrase}
        )
    )
    assert plain["key_id"] == encrypted["key_id"]
    old = Secrets.of(plain["private_key_pem"], _sealed(engine), (passphrase,))
    rotated = rotate(client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN)
    assert rotated.status_code == 200
    new_pem = api.ok(export(client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN))
    assert new_pem["key_id"] == rotated.json()["key_id"] != plain["key_id"]
    new = Secrets.of(new_pem["private_key_pem"], _sealed(engine))
    # What anyone else may read about keys, and every error on the way.
    answers = {
        "rotation": rotated,
        "committee listing": api.get("Host", "/keys"),
        "own listing": api.get("Sponsor A", "/keys"),
        "org's keys": client.get("/api/v1/orgs/Sponsor A/signing-key", headers=api._auth("Host")),
        "ledger": api.get("Host", "/ledger?limit=1000"),
        "ledger verify": api.get("Host", "/ledger/verify"),
        "activity": api.get("Host", "/activity"),
        "short passphrase": export(
            client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN, {"passphrase": "short"}
        ),
        "unknown field": export(
            client, coalition, "Sponsor A", "Sponsor A", Role.ORG_ADMIN, {"pass": passphrase}
        ),
        "refused": export(client, coalition, "Host", "Sponsor A", Role.ORG_ADMIN),
        "analyst": export(client, coalition, "Sponsor A", "Sponsor A", Role.ANALYST),
    }
    for where, response in answers.items():
        assert response.status_code in (200, 403, 404, 422), (where, response.text)
        old.absent_from(where, response.text)
        new.absent_from(where, response.text)
    old.absent_from("the log", caplog.text)
    new.absent_from("the log", caplog.text)
    # The seal really hides the key: no raw form in the stored row either.
    stored = json.dumps([list(map(str, row)) for row in keys_table(engine)])
    for form in (old.texts[0], old.texts[2], new.texts[0], new.texts[2]):
        assert form not in stored


# --------------------------------------------------------------------------- the CLI


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def shieldwall(
    engine: Engine,
    coalition: Coalition,
    gov: Governance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
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


def test_the_cli_prints_a_private_key_only_as_export_keys_stdout(
    shieldwall: Any, engine: Engine, tmp_path: Path
) -> None:
    exported = shieldwall("export-key", "--org", "Applicant")
    assert exported.code == 0, exported.err
    secrets = Secrets.of(exported.out, _sealed(engine))
    secrets.absent_from("export-key's stderr", exported.err)

    short = tmp_path / "short"
    short.write_text("s3cret!\n")
    refused = shieldwall("export-key", "--org", "Applicant", "--passphrase-file", str(short))
    assert (refused.code, refused.out) == (2, "")
    assert len(refused.err.strip().splitlines()) == 1
    assert "s3cret!" not in refused.err

    rotated = shieldwall("rotate-key", "--org", "Applicant", "--json")
    assert rotated.code == 0, rotated.err
    listed = shieldwall("keys", "--json")
    own = shieldwall("keys", "--as", "Applicant", "--json")
    for where, outcome in {"rotate-key": rotated, "keys": listed, "keys --as": own}.items():
        secrets.absent_from(where, outcome.out + outcome.err)
    # An applicant reads its own keys only, the host (the default reader) every key.
    assert {key["org"] for key in json.loads(own.out)} == {"Applicant"}
    assert [key["retired_at"] is None for key in json.loads(own.out)] == [False, True]
    missing = shieldwall("export-key", "--org", NOWHERE)
    assert (missing.code, missing.out) == (2, "")
