"""The ledger: hash chain, signatures, key on record, and tampering of every kind."""

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
from shieldwall.governance import ledger as ledger_module
from shieldwall.governance.ledger import Entry, NodeKey, verify
from shieldwall.governance.model import Act
from shieldwall.governance.service import Governance, verify_ledger
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.governance.tables import ledger
from tests.governance.conftest import PERIOD, Api


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


def test_every_act_is_chained_and_signed(api: Api, history: int) -> None:
    entries = api.ok(api.get("Host", "/ledger"))["entries"]
    assert [e["act"] for e in entries] == [
        "ledger-opened",
        "application",
        "sponsorship",
        "decision-opened",
        "vote",
        "vote",
        "objection-withdrawn",
        "decision-closed",
        "accession",
    ]
    assert entries[0]["prev_hash"] == "0" * 64
    for previous, entry in itertools.pairwise(entries):
        assert entry["prev_hash"] == previous["hash"]
        assert entry["seq"] == previous["seq"] + 1
    assert entries[4]["actor"] == "Host"
    assert entries[8]["payload"]["tier"] == "sponsoring"
    assert history == len(entries)


def _edit_payload(conn: Connection) -> None:
    row = _row(conn, 5)
    payload = json.loads(row["payload"])
    payload["choice"] = "object"
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(payload=json.dumps(payload)))


def _add_whitespace(conn: Connection) -> None:
    row = _row(conn, 5)
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(payload=row["payload"] + " "))


def _edit_time(conn: Connection) -> None:
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(at="2022-03-01T09:00:00.000001Z"))


def _edit_actor(conn: Connection) -> None:
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(actor="Sponsor A"))


def _delete(conn: Connection) -> None:
    conn.execute(delete(ledger).where(ledger.c.seq == 5))


def _swap(conn: Connection) -> None:
    """Entries 5 and 6 trade places: every column but the seq is exchanged."""
    fifth, sixth = _row(conn, 5), _row(conn, 6)
    for seq, row in ((5, sixth), (6, fifth)):
        values = {k: v for k, v in row.items() if k not in ("seq", "hash")}
        conn.execute(update(ledger).where(ledger.c.seq == seq).values(**values))
    # Hashes are unique: move them through a placeholder.
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(hash="x"))
    conn.execute(update(ledger).where(ledger.c.seq == 6).values(hash=fifth["hash"]))
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(hash=sixth["hash"]))


def _renumber(conn: Connection) -> None:
    """Entries 5 and 6 trade sequence numbers, rows unchanged otherwise."""
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(seq=1000))
    conn.execute(update(ledger).where(ledger.c.seq == 6).values(seq=5))
    conn.execute(update(ledger).where(ledger.c.seq == 1000).values(seq=6))


def _rehash(conn: Connection) -> None:
    """A forger edits a payload and recomputes the hash, but cannot sign."""
    _edit_payload(conn)
    entry = Entry.from_row(_row(conn, 5))
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(hash=entry.digest()))


def _bad_signature(conn: Connection) -> None:
    signature = _row(conn, 5)["signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    conn.execute(update(ledger).where(ledger.c.seq == 5).values(signature=flipped))


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
]


@pytest.mark.parametrize(("name", "tamper", "problem"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_caught_at_the_entry(
    api: Api, engine: Engine, history: int, name: str, tamper: Callable[..., None], problem: str
) -> None:
    with engine.begin() as conn:
        tamper(conn)
    result = _verify(api)
    assert result["ok"] is False
    assert result["broken_at"] == 5, result
    assert result["verified"] == 4
    assert problem in result["problem"]
    listed = api.ok(api.get("Host", "/ledger"))["verification"]
    assert listed == result


def test_a_ledger_rewritten_with_another_key_is_not_ours(
    api: Api, engine: Engine, gov_settings: GovernanceSettings, history: int
) -> None:
    forger = NodeKey(Ed25519PrivateKey.generate())
    with engine.begin() as conn:
        rows = [_row(conn, seq) for seq in range(1, history + 1)]
        conn.execute(delete(ledger))
    with write_transaction(engine) as conn:
        # Entry 1 (the forger's key on record) is written by the first append.
        for row in rows[1:]:
            ledger_module.append(
                conn,
                forger,
                at=ledger_module.parse_time(row["at"]),
                actor=row["actor"],
                act=Act(row["act"]),
                subject=row["subject"],
                payload=json.loads(row["payload"]),
            )
    with read_transaction(engine) as conn:
        consistent = verify(ledger_module.repository.iter_ledger(conn))
        ours = verify_ledger(conn, gov_settings)
    assert consistent.ok  # a chain in itself...
    assert not ours.ok  # ...but not signed by this node
    assert ours.problem is not None
    assert "not this node's key" in ours.problem


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


def test_key_rotation_hands_the_ledger_to_a_new_key(
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
    assert api.decision("Host", decision)["status"] == "open"
    last = api.ok(api.get("Host", "/ledger"))["entries"][-1]
    assert last["signer"] == new_id
    assert _verify(api)["ok"] is True


def test_the_key_file_is_private_and_encrypted_with_the_node_secret(tmp_path: Any) -> None:
    settings = GovernanceSettings(
        ledger_key_file=tmp_path / "k.pem", ledger_key_passphrase="node secret"
    )
    key = ledger_module.node_key(settings)
    path = tmp_path / "k.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED" in path.read_bytes()
    assert ledger_module.existing_node_key_id(settings) == key.key_id
