"""Organisation signing keys: export, who may read and export them, and legacy ledgers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select

from shieldwall.db.engine import write_transaction
from shieldwall.governance import ledger as ledger_module
from shieldwall.governance import repository
from shieldwall.governance.ledger import GENESIS_PREV_HASH, Entry, NodeKey, verify
from shieldwall.governance.model import Act
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.governance.tables import ledger
from shieldwall.members.model import Role
from tests.governance.conftest import START, Api


def _export(api: Api, caller: str, org: str, body: Any = None, role: Role = Role.ORG_ADMIN) -> Any:
    return api.client.post(
        f"/api/v1/orgs/{org}/signing-key/export", json=body, headers=api._auth(caller, role)
    )


def _registered(api: Api, org: str) -> list[dict[str, Any]]:
    entries = api.ok(api.get("Host", "/ledger"))["entries"]
    return [e for e in entries if e["act"] == "key-registered" and e["subject"] == org]


def test_an_org_admin_exports_the_key_its_acts_are_signed_with(api: Api) -> None:
    api.apply("Applicant")
    response = _export(api, "Applicant", "Applicant")
    exported = api.ok(response)
    assert response.headers["cache-control"] == "no-store"
    assert exported["encrypted"] is False
    private = serialization.load_pem_private_key(exported["private_key_pem"].encode(), None)
    assert isinstance(private, Ed25519PrivateKey)
    assert ledger_module.key_id_of(private.public_key()) == exported["key_id"]
    [registration] = _registered(api, "Applicant")
    assert registration["payload"]["key_id"] == exported["key_id"]
    application = next(
        e for e in api.ok(api.get("Host", "/ledger"))["entries"] if e["act"] == "application"
    )
    # The exported key verifies what the node signed for the Applicant.
    public = private.public_key()
    public.verify(bytes.fromhex(application["signature"]), bytes.fromhex(application["hash"]))


def test_an_export_may_be_encrypted_with_a_passphrase(api: Api) -> None:
    exported = api.ok(_export(api, "Host", "Host", {"passphrase": "correct horse"}))
    pem = exported["private_key_pem"].encode()
    assert exported["encrypted"] is True
    assert b"ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, None)
    private = serialization.load_pem_private_key(pem, b"correct horse")
    assert isinstance(private, Ed25519PrivateKey)
    assert ledger_module.key_id_of(private.public_key()) == exported["key_id"]
    short = _export(api, "Host", "Host", {"passphrase": "short"})
    assert short.status_code == 422


def test_a_first_export_registers_the_key_in_the_ledger(api: Api) -> None:
    assert _registered(api, "Contributor") == []
    first = api.ok(_export(api, "Contributor", "Contributor"))
    again = api.ok(_export(api, "Contributor", "Contributor"))
    assert first["key_id"] == again["key_id"]
    assert [e["payload"]["key_id"] for e in _registered(api, "Contributor")] == [first["key_id"]]
    assert api.ok(api.get("Host", "/ledger/verify"))["ok"] is True


def test_no_one_else_exports_or_rotates_a_key_and_learns_nothing(api: Api) -> None:
    api.ok(_export(api, "Sponsor A", "Sponsor A"))
    absent = _export(api, "Host", "Nowhere")
    assert absent.status_code == 404
    for caller in ("Host", "Sponsor B", "Applicant"):
        refused = _export(api, caller, "Sponsor A")
        assert (refused.status_code, refused.json()) == (
            404,
            {**absent.json(), "detail": absent.json()["detail"].replace("Nowhere", "Sponsor A")},
        )
        rotation = api.client.post(
            "/api/v1/orgs/Sponsor A/signing-key/rotation", headers=api._auth(caller)
        )
        assert rotation.status_code == 404
    analyst = _export(api, "Sponsor A", "Sponsor A", role=Role.ANALYST)
    assert analyst.status_code == 403
    assert "only an org-admin of Sponsor A" in analyst.json()["detail"]


def test_public_keys_are_read_by_the_committee_and_by_their_owner(api: Api) -> None:
    for org in ("Sponsor A", "Applicant"):
        api.ok(_export(api, org, org))
    committee = api.ok(api.get("Sponsor B", "/keys"))
    assert {k["org"] for k in committee} == {"Sponsor A", "Applicant"}
    assert all("private" not in json.dumps(k) for k in committee)
    own = api.ok(api.get("Applicant", "/keys"))
    assert [k["org"] for k in own] == ["Applicant"]
    by_committee = api.client.get(
        "/api/v1/orgs/Applicant/signing-key", headers=api._auth("Sponsor B")
    )
    assert [k["key_id"] for k in api.ok(by_committee)] == [own[0]["key_id"]]
    hidden = api.client.get("/api/v1/orgs/Sponsor A/signing-key", headers=api._auth("Applicant"))
    assert hidden.status_code == 404


# --------------------------------------------------------------------------- legacy ledgers


def _write_legacy(engine: Engine, node: NodeKey) -> None:
    """A ledger as the node wrote it before per-organisation keys: the node signs every act."""
    acts = [
        (None, Act.LEDGER_OPENED, None, ledger_module.key_record(node)),
        ("Applicant", Act.APPLICATION, "Applicant", {"application": 99, "tier": "sponsoring"}),
        ("Sponsor A", Act.SPONSORSHIP, "Applicant", {"application": 99}),
    ]
    prev = GENESIS_PREV_HASH
    with write_transaction(engine) as conn:
        for seq, (actor, act, subject, payload) in enumerate(acts, start=1):
            entry = Entry(
                seq=seq,
                at=ledger_module.format_time(START),
                actor=actor,
                act=act.value,
                subject=subject,
                payload=ledger_module.canonical_json(payload),
                prev_hash=prev,
                signer=node.key_id,
            )
            prev = entry.digest()
            repository.insert_ledger_entry(
                conn,
                {**_columns(entry), "hash": prev, "signature": node.sign(prev)},
            )


def _columns(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "act": entry.act,
        "subject": entry.subject,
        "payload": entry.payload,
        "prev_hash": entry.prev_hash,
        "signer": entry.signer,
    }


def test_a_legacy_ledger_verifies_and_adopts_organisation_keys_on_its_next_act(
    api: Api, engine: Engine, gov_settings: GovernanceSettings
) -> None:
    node = ledger_module.node_key(gov_settings)
    _write_legacy(engine, node)
    legacy = api.ok(api.get("Host", "/ledger/verify"))
    assert (legacy["ok"], legacy["verified"]) == (True, 3)

    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    entries = api.ok(api.get("Host", "/ledger"))["entries"]
    assert [e["act"] for e in entries[3:5]] == ["org-keys-adopted", "key-registered"]
    assert entries[3]["payload"] == {"from_seq": 5}
    assert api.ok(api.get("Host", "/ledger/verify"))["ok"] is True

    # After adoption, an organisation's act signed by the node key is a forgery.
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(ledger).order_by(ledger.c.seq)).mappings()]
    last = rows[-1]
    forged = Entry(
        seq=last["seq"] + 1,
        at=last["at"],
        actor="Sponsor B",
        act=Act.VOTE.value,
        subject="Applicant",
        payload=ledger_module.canonical_json({"decision": decision, "choice": "object"}),
        prev_hash=last["hash"],
        signer=node.key_id,
    )
    digest = forged.digest()
    rows.append({**_columns(forged), "hash": digest, "signature": node.sign(digest)})
    result = verify(rows)  # type: ignore[arg-type]
    assert (result.ok, result.broken_at) == (False, forged.seq)
    assert result.problem == "Sponsor B acts before any key of its is on record"


# --------------------------------------------------------------------------- key rules


class _Chain:
    """Ledger rows built in memory, each signed by the key the test chooses."""

    def __init__(self, node: NodeKey) -> None:
        self.rows: list[dict[str, Any]] = []
        self.add(node, None, Act.LEDGER_OPENED, None, ledger_module.key_record(node))
        self.add(node, None, Act.ORG_KEYS_ADOPTED, None, {"from_seq": 3})

    def add(
        self,
        key: NodeKey,
        actor: str | None,
        act: Act,
        subject: str | None,
        payload: dict[str, Any],
    ) -> int:
        entry = Entry(
            seq=len(self.rows) + 1,
            at=ledger_module.format_time(START),
            actor=actor,
            act=act.value,
            subject=subject,
            payload=ledger_module.canonical_json(payload),
            prev_hash=self.rows[-1]["hash"] if self.rows else GENESIS_PREV_HASH,
            signer=key.key_id,
        )
        digest = entry.digest()
        self.rows.append({**_columns(entry), "hash": digest, "signature": key.sign(digest)})
        return entry.seq

    def register(self, node: NodeKey, org: str, key: NodeKey) -> int:
        record = {"org": org, **ledger_module.key_record(key)}
        return self.add(node, None, Act.KEY_REGISTERED, org, record)

    def verify(self) -> ledger_module.Verification:
        return verify(self.rows)  # type: ignore[arg-type]


def _key() -> NodeKey:
    return NodeKey(Ed25519PrivateKey.generate())


def test_a_second_registration_cannot_replace_an_organisations_key() -> None:
    node, first, second = _key(), _key(), _key()
    chain = _Chain(node)
    chain.register(node, "Host", first)
    chain.add(first, "Host", Act.VOTE, "X", {"decision": 1})
    bad = chain.register(node, "Host", second)
    result = chain.verify()
    assert (result.broken_at, result.problem) == (
        bad,
        "Host already has a key on record; only a rotation it signs replaces it",
    )


def test_a_key_registered_under_another_name_is_refused() -> None:
    node = _key()
    chain = _Chain(node)
    record = {"org": "Sponsor A", **ledger_module.key_record(_key())}
    bad = chain.add(node, None, Act.KEY_REGISTERED, "Host", record)
    assert chain.verify().broken_at == bad


def test_a_rotation_hands_over_and_the_old_key_stops_signing() -> None:
    node, old, new = _key(), _key(), _key()
    chain = _Chain(node)
    chain.register(node, "Host", old)
    record = {"org": "Host", **ledger_module.key_record(new), "previous_key_id": old.key_id}
    chain.add(old, "Host", Act.KEY_ROTATION, "Host", record)
    chain.add(new, "Host", Act.VOTE, "X", {"decision": 1})
    assert chain.verify().ok
    bad = chain.add(old, "Host", Act.VOTE, "X", {"decision": 2})
    result = chain.verify()
    assert (result.broken_at, result.problem) == (
        bad,
        "it is signed by a key that is not Host's key on record",
    )


def test_an_organisation_without_a_key_cannot_rotate_one_in() -> None:
    node, intruder = _key(), _key()
    chain = _Chain(node)
    record = {"org": "Host", **ledger_module.key_record(intruder)}
    bad = chain.add(node, "Host", Act.KEY_ROTATION, "Host", record)
    result = chain.verify()
    assert (result.broken_at, result.problem) == (
        bad,
        "Host acts before any key of its is on record",
    )


def test_only_the_node_adopts_organisation_keys_once() -> None:
    node = _key()
    chain = _Chain(node)
    bad = chain.add(node, None, Act.ORG_KEYS_ADOPTED, None, {"from_seq": 4})
    assert chain.verify().broken_at == bad
