"""The ledger: hash chain, signatures by each actor's key, keys on record, and tampering."""

from __future__ import annotations

import itertools
import json
import stat
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, delete, select, update

from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.governance import keys
from shieldwall.governance import ledger as ledger_module
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.ledger import Entry, NodeKey, verify
from shieldwall.governance.model import Act
from shieldwall.governance.service import Governance, verify_ledger
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.governance.tables import ledger, org_keys
from shieldwall.members import repository as members_repository
from tests.governance.conftest import PERIOD, Api

#: In the history below, the Host's vote: an act an organisation signed with its own key.
VOTE = 9


@pytest.fixture
def history(api: Api, clock: Any) -> int:
    """A short real history: application, sponsorship, votes, adoption. Returns its length."""
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    api.ok(api.vote("Sponsor B", decision, "object", "wait"))
    api.ok(api.post("Sponsor B", f"/decisions/{decision}/withdraw-objection"))
    clock.advance(PERIOD)
    assert api.decision("Host", decision)["status"] == "adopted"
    result = api.ok(api.get("Host", "/ledger/verify"))
    assert result["ok"] is True
    return int(result["verified"])


def _verify(api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.get("Sponsor A", "/ledger/verify"))
    return result


def _row(conn: Connection, seq: int) -> dict[str, Any]:
    found = conn.execute(select(ledger).where(ledger.c.seq == seq)).mappings().one()
    return dict(found)


def _org_key(conn: Connection, org: str) -> NodeKey:
    """The organisation's current private key, as the node holds it."""
    org_row = members_repository.org_by_name(conn, org)
    assert org_row is not None
    row = keys.current_key_row(conn, org_row["id"])
    assert row is not None
    return keys.unseal(conn, row)


def test_every_act_is_chained_and_signed_by_its_actor(
    api: Api, history: int, gov_settings: GovernanceSettings
) -> None:
    entries = api.ok(api.get("Host", "/ledger"))["entries"]
    assert [(e["act"], e["actor"] or e["subject"]) for e in entries] == [
        ("ledger-opened", None),
        ("org-keys-adopted", None),
        ("key-registered", "Applicant"),
        ("application", "Applicant"),
        ("key-registered", "Sponsor A"),
        ("sponsorship", "Sponsor A"),
        ("decision-opened", "Sponsor A"),
        ("key-registered", "Host"),
        ("vote", "Host"),
        ("key-registered", "Sponsor B"),
        ("vote", "Sponsor B"),
        ("objection-withdrawn", "Sponsor B"),
        ("decision-closed", "Applicant"),
        ("accession", "Applicant"),
    ]
    assert entries[0]["prev_hash"] == "0" * 64
    for previous, entry in itertools.pairwise(entries):
        assert entry["prev_hash"] == previous["hash"]
        assert entry["seq"] == previous["seq"] + 1
    assert entries[VOTE - 1]["actor"] == "Host"
    assert entries[-1]["payload"]["tier"] == "sponsoring"
    assert history == len(entries)

    node_id = ledger_module.node_key(gov_settings).key_id
    registered = {
        e["subject"]: e["payload"]["key_id"] for e in entries if e["act"] == "key-registered"
    }
    for entry in entries:
        expected = registered[entry["actor"]] if entry["actor"] else node_id
        assert entry["signer"] == expected, entry
    # Four organisations, four distinct keys, none of them the node's.
    assert len(set(registered.values()) | {node_id}) == 5


def _set(conn: Connection, entry: int, **values: Any) -> None:
    conn.execute(update(ledger).where(ledger.c.seq == entry).values(**values))


def _edit_payload(conn: Connection) -> None:
    row = _row(conn, VOTE)
    payload = json.loads(row["payload"])
    payload["choice"] = "object"
    _set(conn, VOTE, payload=json.dumps(payload))


def _add_whitespace(conn: Connection) -> None:
    _set(conn, VOTE, payload=_row(conn, VOTE)["payload"] + " ")


def _edit_time(conn: Connection) -> None:
    _set(conn, VOTE, at="2022-03-01T09:00:00.000001Z")


def _edit_actor(conn: Connection) -> None:
    _set(conn, VOTE, actor="Sponsor A")


def _delete(conn: Connection) -> None:
    conn.execute(delete(ledger).where(ledger.c.seq == VOTE))


def _swap(conn: Connection) -> None:
    """The vote and the next entry trade places: every column but the seq is exchanged."""
    first, second = _row(conn, VOTE), _row(conn, VOTE + 1)
    for seq, row in ((VOTE, second), (VOTE + 1, first)):
        _set(conn, seq, **{k: v for k, v in row.items() if k not in ("seq", "hash")})
    # Hashes are unique: move them through a placeholder.
    _set(conn, VOTE, hash="x")
    _set(conn, VOTE + 1, hash=first["hash"])
    _set(conn, VOTE, hash=second["hash"])


def _renumber(conn: Connection) -> None:
    """The vote and the next entry trade sequence numbers, rows unchanged otherwise."""
    _set(conn, VOTE, seq=1000)
    _set(conn, VOTE + 1, seq=VOTE)
    _set(conn, 1000, seq=VOTE + 1)


def _rehash(conn: Connection) -> None:
    """A forger edits a payload and recomputes the hash, but cannot sign."""
    _edit_payload(conn)
    _set(conn, VOTE, hash=Entry.from_row(_row(conn, VOTE)).digest())


def _bad_signature(conn: Connection) -> None:
    signature = _row(conn, VOTE)["signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    _set(conn, VOTE, signature=flipped)


def _resign(conn: Connection, key: NodeKey) -> None:
    """The vote edited, rehashed and validly signed, but with `key` rather than the Host's."""
    _edit_payload(conn)
    entry = Entry.from_row({**_row(conn, VOTE), "signer": key.key_id})
    digest = entry.digest()
    _set(conn, VOTE, signer=key.key_id, hash=digest, signature=key.sign(digest))


def _resign_with_the_node_key(conn: Connection) -> None:
    """Someone holding the node key (not the Host's) forges the Host's vote."""
    _resign(conn, _NODE_KEY[0])


def _resign_with_another_org_key(conn: Connection) -> None:
    """Sponsor B signs a vote that says it is the Host's."""
    _resign(conn, _org_key(conn, "Sponsor B"))


def _replace_registered_key(conn: Connection) -> None:
    """The Host's key on record swapped for a forger's (entry rehashed; no node key to sign)."""
    registration = VOTE - 1
    payload = json.loads(_row(conn, registration)["payload"])
    forged = NodeKey(Ed25519PrivateKey.generate())
    payload.update(ledger_module.key_record(forged))
    _set(conn, registration, payload=ledger_module.canonical_json(payload))
    _set(conn, registration, hash=Entry.from_row(_row(conn, registration)).digest())


#: The node key of the running test, for the tampering that needs it.
_NODE_KEY: list[NodeKey] = []


TAMPERING: list[tuple[str, Callable[[Connection], None], str]] = [
    ("payload edited", _edit_payload, "altered"),
    ("payload reformatted", _add_whitespace, "altered"),
    ("time edited", _edit_time, "altered"),
    ("actor edited", _edit_actor, "altered"),
    ("entry deleted", _delete, "missing"),
    ("two entries swapped", _swap, "does not follow"),
    ("two entries renumbered", _renumber, "does not follow"),
    ("hash recomputed after an edit", _rehash, "signature"),
    ("signature altered", _bad_signature, "signature"),
    ("re-signed with the node key", _resign_with_the_node_key, "not Host's key on record"),
    ("signed with another org's key", _resign_with_another_org_key, "not Host's key on record"),
]


@pytest.mark.parametrize(("name", "tamper", "problem"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_caught_at_the_entry(
    api: Api,
    engine: Engine,
    history: int,
    gov_settings: GovernanceSettings,
    name: str,
    tamper: Callable[..., None],
    problem: str,
) -> None:
    _NODE_KEY[:] = [ledger_module.node_key(gov_settings)]
    with engine.begin() as conn:
        tamper(conn)
    result = _verify(api)
    assert result["ok"] is False
    assert result["broken_at"] == VOTE, result
    assert result["verified"] == VOTE - 1
    assert problem in result["problem"]
    listed = api.ok(api.get("Host", "/ledger"))["verification"]
    assert listed == result


def test_a_forged_key_registration_is_caught_at_that_entry(
    api: Api, engine: Engine, history: int
) -> None:
    with engine.begin() as conn:
        _replace_registered_key(conn)
    result = _verify(api)
    assert (result["broken_at"], result["problem"]) == (VOTE - 1, "its signature is not valid")


_NODE_ACTS = {"ledger-opened", "org-keys-adopted", "key-registered"}


def test_a_ledger_rewritten_with_other_keys_is_not_ours(
    api: Api, engine: Engine, gov_settings: GovernanceSettings, history: int, tmp_path: Any
) -> None:
    """A forger with the store but not the node key file rebuilds everything with its own keys."""
    forger = Governance(
        ManualClock(ledger_module.parse_time(_verify_rows(engine)[0]["at"])),
        GovernanceSettings(ledger_key_file=tmp_path / "forger.pem"),
    )
    rows = _verify_rows(engine)
    with write_transaction(engine) as conn:
        conn.execute(delete(ledger))
        conn.execute(delete(org_keys))
        # The node's own entries (opening, keys on record) are made again by the appends.
        for row in (r for r in rows if r["act"] not in _NODE_ACTS):
            assert isinstance(forger.clock, ManualClock)
            forger.clock.set(ledger_module.parse_time(row["at"]))
            forger.record(
                conn,
                actor=row["actor"],
                act=Act(row["act"]),
                subject=row["subject"],
                payload=json.loads(row["payload"]),
            )
    with read_transaction(engine) as conn:
        consistent = verify(ledger_module.repository.iter_ledger(conn))
        ours = verify_ledger(conn, gov_settings)
    assert consistent.ok  # a chain in itself, every act signed by a key on record...
    assert consistent.verified == history
    assert not ours.ok  # ...but not anchored in this node's key
    assert ours.problem is not None
    assert "not this node's key" in ours.problem


def _verify_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(ledger).order_by(ledger.c.seq)).mappings()]


def test_a_node_with_a_lost_key_refuses_to_append(
    api: Api, gov_settings: GovernanceSettings, history: int, tmp_path: Any
) -> None:
    original = gov_settings.ledger_key_file
    gov_settings.ledger_key_file = tmp_path / "replacement.pem"
    refused = api.post("Outsider", "/applications", {"tier": "sponsoring", "statement": "x"})
    assert refused.status_code == 500
    assert "restore the key file" in refused.json()["detail"]
    assert "not this node's key" in _verify(api)["problem"]

    gov_settings.ledger_key_file = original
    assert _verify(api) == {**_verify(api), "ok": True, "verified": history}
    assert api.ok(api.get("Outsider", "/applications")) == []


def test_node_key_rotation_hands_the_node_entries_to_a_new_key(
    engine: Engine, gov: Governance, gov_settings: GovernanceSettings, api: Api, history: int
) -> None:
    old_id = ledger_module.node_key(gov_settings).key_id
    with write_transaction(engine) as conn:
        new_id = ledger_module.rotate_key(conn, gov_settings, gov.now())
    ledger_module.install_rotated_key(gov_settings)
    assert ledger_module.node_key(gov_settings).key_id == new_id != old_id
    entries = api.ok(api.get("Host", "/ledger"))["entries"]
    assert entries[-1]["act"] == "key-rotation"
    assert entries[-1]["signer"] == old_id
    decision = api.open_accession("Outsider")
    for member in ("Host", "Sponsor A", "Sponsor B", "Applicant"):  # the whole committee
        api.ok(api.vote(member, decision, "concur"))  # unanimous: the node closes it
    last = api.ok(api.get("Host", "/ledger"))["entries"]
    assert [e["act"] for e in last[-2:]] == ["decision-closed", "accession"]
    assert {e["signer"] for e in last[-2:]} == {new_id}
    assert _verify(api)["ok"] is True


def test_an_organisation_rotates_its_own_key(
    api: Api, engine: Engine, history: int, gov_settings: GovernanceSettings
) -> None:
    before = api.ok(api.client.get("/api/v1/orgs/Host/signing-key", headers=api._auth("Host")))
    assert [k["retired_at"] for k in before] == [None]
    old_id = before[0]["key_id"]
    rotated = api.client.post("/api/v1/orgs/Host/signing-key/rotation", headers=api._auth("Host"))
    new = api.ok(rotated)
    assert new["key_id"] != old_id
    entries = api.ok(api.get("Host", "/ledger"))["entries"]
    announcement = entries[-1]
    assert (announcement["act"], announcement["actor"]) == ("key-rotation", "Host")
    assert announcement["signer"] == old_id  # the old key vouches for the new one
    assert announcement["payload"]["key_id"] == new["key_id"]
    assert announcement["payload"]["previous_key_id"] == old_id

    decision = api.open_accession("Outsider")
    api.ok(api.vote("Host", decision, "concur"))
    vote = api.ok(api.get("Host", "/ledger"))["entries"][-1]
    assert (vote["act"], vote["signer"]) == ("vote", new["key_id"])
    assert _verify(api)["ok"] is True
    both = api.ok(api.client.get("/api/v1/orgs/Host/signing-key", headers=api._auth("Host")))
    assert [(k["key_id"], k["retired_at"] is None) for k in both] == [
        (old_id, False),
        (new["key_id"], True),
    ]

    # The retired key can no longer sign for the Host.
    with engine.begin() as conn:
        old_row = conn.execute(select(org_keys).where(org_keys.c.key_id == old_id)).mappings().one()
        old_key = keys.unseal(conn, old_row)
        seq = vote["seq"]
        entry = Entry.from_row({**_row(conn, seq), "signer": old_id})
        digest = entry.digest()
        _set(conn, seq, signer=old_id, hash=digest, signature=old_key.sign(digest))
    result = _verify(api)
    assert (result["broken_at"], result["problem"]) == (
        seq,
        "it is signed by a key that is not Host's key on record",
    )


def test_private_keys_are_sealed_at_rest(api: Api, engine: Engine, history: int) -> None:
    with engine.begin() as conn:
        rows = list(conn.execute(select(org_keys)).mappings())
        host = _org_key(conn, "Host")
        raw = host.private_key.private_bytes(
            ledger_module.serialization.Encoding.Raw,
            ledger_module.serialization.PrivateFormat.Raw,
            ledger_module.serialization.NoEncryption(),
        )
        assert len(rows) == 4
        for row in rows:
            assert raw.hex() not in row["sealed_private_key"]
            assert keys.unseal(conn, row).key_id == row["key_id"]
        # Sealed under one organisation's id, a key does not open under another's.
        host_row = next(r for r in rows if r["key_id"] == host.key_id)
        moved = {**host_row, "org_id": host_row["org_id"] + 1}
        with pytest.raises(ledger_module.ShieldwallError, match="does not open"):
            keys.unseal(conn, moved)


def test_the_key_file_is_private_and_encrypted_with_the_node_secret(tmp_path: Any) -> None:
    settings = GovernanceSettings(
        ledger_key_file=tmp_path / "k.pem", ledger_key_passphrase="node secret"
    )
    key = ledger_module.node_key(settings)
    path = tmp_path / "k.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED" in path.read_bytes()
    assert ledger_module.existing_node_key_id(settings) == key.key_id
