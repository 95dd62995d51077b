"""The ledger: an append-only, hash-chained, Ed25519-signed record of governance acts.

Each entry's hash is SHA-256 over the canonical JSON of everything the entry
says (sequence number, time, actor, act, subject, payload text, previous
hash, signer key id), so changing any stored byte of an entry, deleting one
or reordering two breaks the chain at a named entry.

Who signs: an entry with an acting organisation is signed by that
organisation's key (`keys.py`); an entry of the node itself (actor null:
opening the ledger, closing a decision and its effects, registering an
organisation's key) by the node key. Entry 1 (`ledger-opened`) puts the node
key on record and entry 2 (`org-keys-adopted`) starts per-organisation
signing; a `key-registered` entry, signed by the node, puts an
organisation's first key on record; a `key-rotation` entry signed by the old
key (the node's or an organisation's) hands over to a new one.

Ledgers written before per-organisation keys have no `org-keys-adopted`
entry until the first append after the upgrade writes one: entries before it
are legacy, and an organisation's act there is signed by the node key, as
it was. After it, an organisation's act is valid only under that
organisation's key on record.

A ledger rewritten from scratch is consistent in itself; it is caught by
comparing the node key it ends with to the node's own key (kept in a file,
outside the store). Known limit: removing the newest entries leaves a valid
shorter chain; only a copy of the head held elsewhere detects that.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, RowMapping

from shieldwall.errors import ShieldwallError
from shieldwall.governance import repository
from shieldwall.governance.model import Act
from shieldwall.governance.settings import GovernanceSettings

GENESIS_PREV_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class LedgerKeyMismatch(ShieldwallError):
    """The ledger on record was signed with a key this node does not hold."""


# --------------------------------------------------------------------------- keys


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_text(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 key that signs ledger entries: the node's or an organisation's."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def sign(self, digest: str) -> str:
        return self.private_key.sign(bytes.fromhex(digest)).hex()


#: The node's key is a signing key like any other; the name says whose it is.
NodeKey = SigningKey

_KEYS: dict[Path, NodeKey] = {}
_KEYS_LOCK = threading.Lock()


def _password(settings: GovernanceSettings) -> bytes | None:
    secret = settings.ledger_key_passphrase
    return secret.get_secret_value().encode() if secret is not None else None


def _read_key(path: Path, password: bytes | None) -> NodeKey:
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=password)
    except (ValueError, TypeError) as exc:
        raise ShieldwallError(
            f"cannot read the ledger key {path}: {exc} (check SHIELDWALL_LEDGER_KEY_PASSPHRASE)"
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ShieldwallError(f"the ledger key {path} is not an Ed25519 key")
    return NodeKey(loaded)


def _write_new_key(path: Path, password: bytes | None) -> NodeKey:
    key = NodeKey(Ed25519PrivateKey.generate())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not each write a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def node_key(settings: GovernanceSettings) -> NodeKey:
    """The node's key, generated and stored (mode 0600) on first use."""
    path = settings.ledger_key_file.resolve()
    with _KEYS_LOCK:
        if path not in _KEYS:
            password = _password(settings)
            try:
                _KEYS[path] = _write_new_key(path, password)
            except FileExistsError:
                _KEYS[path] = _read_key(path, password)
        return _KEYS[path]


def existing_node_key_id(settings: GovernanceSettings) -> str | None:
    """The id of the node's key if it exists; verification never creates one."""
    path = settings.ledger_key_file.resolve()
    if path in _KEYS:
        return _KEYS[path].key_id
    if not path.is_file():
        return None
    return _read_key(path, _password(settings)).key_id


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class Entry:
    """The hashed content of one ledger entry."""

    seq: int
    at: str
    actor: str | None
    act: str
    subject: str | None
    payload: str
    prev_hash: str
    signer: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Entry:
        return cls(
            seq=int(row["seq"]),
            at=row["at"],
            actor=row["actor"],
            act=row["act"],
            subject=row["subject"],
            payload=row["payload"],
            prev_hash=row["prev_hash"],
            signer=row["signer"],
        )

    def digest(self) -> str:
        body = canonical_json(
            {
                "seq": self.seq,
                "at": self.at,
                "actor": self.actor,
                "act": self.act,
                "subject": self.subject,
                "payload": self.payload,
                "prev_hash": self.prev_hash,
                "signer": self.signer,
            }
        )
        return hashlib.sha256(body.encode()).hexdigest()


def _store(conn: Connection, key: SigningKey, entry: Entry) -> int:
    digest = entry.digest()
    repository.insert_ledger_entry(
        conn,
        {
            "seq": entry.seq,
            "at": entry.at,
            "actor": entry.actor,
            "act": entry.act,
            "subject": entry.subject,
            "payload": entry.payload,
            "prev_hash": entry.prev_hash,
            "hash": digest,
            "signer": entry.signer,
            "signature": key.sign(digest),
        },
    )
    return entry.seq


def key_record(key: SigningKey) -> dict[str, str]:
    return {
        "algorithm": "Ed25519",
        "key_id": key.key_id,
        "public_key": public_key_text(key.public_key),
    }


def append(
    conn: Connection,
    node: NodeKey,
    *,
    at: datetime,
    actor: str | None,
    act: Act,
    subject: str | None,
    payload: Mapping[str, Any],
    signer: SigningKey | None = None,
) -> int:
    """Appends one entry; returns its seq.

    `signer` is the acting organisation's key, required exactly when `actor`
    is set; the node's entries are signed by `node`. The ledger is opened
    first if it is empty, and per-organisation signing adopted first if this
    is the first append to a legacy ledger. Callers hold a write transaction,
    which serialises appends: the next seq and the previous hash are read and
    written under the same writer lock.
    """
    if (actor is None) != (signer is None):
        raise ValueError("an organisation's act is signed by its key, the node's by the node key")
    last_seq, last_hash = _prepare(conn, node, at)
    entry = Entry(
        seq=last_seq + 1,
        at=format_time(at),
        actor=actor,
        act=act.value,
        subject=subject,
        payload=canonical_json(dict(payload)),
        prev_hash=last_hash,
        signer=(signer or node).key_id,
    )
    return _store(conn, signer or node, entry)


def _prepare(conn: Connection, node: NodeKey, at: datetime) -> tuple[int, str]:
    """Opens the ledger or checks that `node` signs it; returns the last seq and hash."""
    last = repository.last_ledger_entry(conn)
    if last is None:
        _node_entry(conn, node, 1, GENESIS_PREV_HASH, at, Act.LEDGER_OPENED, key_record(node))
        last = repository.last_ledger_entry(conn)
        assert last is not None
    else:
        ledger_key_id = _node_key_id(conn)
        if ledger_key_id != node.key_id:
            raise LedgerKeyMismatch(
                f"the ledger is signed with key {ledger_key_id[:16]}..., but this node holds key "
                f"{node.key_id[:16]}...; restore the key file (SHIELDWALL_LEDGER_KEY_FILE)"
            )
    if not repository.ledger_has_act(conn, Act.ORG_KEYS_ADOPTED.value):
        seq = int(last["seq"]) + 1
        payload = {"from_seq": seq + 1}
        digest = _node_entry(conn, node, seq, last["hash"], at, Act.ORG_KEYS_ADOPTED, payload)
        return seq, digest
    return int(last["seq"]), str(last["hash"])


def _node_key_id(conn: Connection) -> str:
    """The node key that signs the next node entry: the last one's, or the key it handed over to."""
    last = repository.last_node_entry(conn)
    if last is None:  # only entry 1 can be missing, and it is never absent here
        raise LedgerKeyMismatch("the ledger has no entry of the node: it cannot be extended")
    if last["act"] == Act.KEY_ROTATION:
        return str(json.loads(last["payload"])["key_id"])
    return str(last["signer"])


def _node_entry(
    conn: Connection,
    node: NodeKey,
    seq: int,
    prev_hash: str,
    at: datetime,
    act: Act,
    payload: Mapping[str, Any],
) -> str:
    """Writes one entry of the node itself at `seq`; returns its hash."""
    entry = Entry(
        seq=seq,
        at=format_time(at),
        actor=None,
        act=act.value,
        subject=None,
        payload=canonical_json(dict(payload)),
        prev_hash=prev_hash,
        signer=node.key_id,
    )
    _store(conn, node, entry)
    return entry.digest()


def rotate_key(conn: Connection, settings: GovernanceSettings, at: datetime) -> str:
    """Hands the ledger over to a new node key, announced by an entry the old key signs.

    The new key is written beside the old one first and moved into place only
    after the entry is stored; the caller commits, then calls `install_rotated_key`.
    """
    old = node_key(settings)
    path = settings.ledger_key_file.resolve()
    staged = path.with_name(path.name + ".next")
    staged.unlink(missing_ok=True)
    new = _write_new_key(staged, _password(settings))
    append(
        conn,
        old,
        at=at,
        actor=None,
        act=Act.KEY_ROTATION,
        subject=None,
        payload=key_record(new),
    )
    return new.key_id


def install_rotated_key(settings: GovernanceSettings) -> None:
    """After the rotation entry is committed: the staged key becomes the node key."""
    path = settings.ledger_key_file.resolve()
    staged = path.with_name(path.name + ".next")
    with _KEYS_LOCK:
        os.replace(staged, path)
        _KEYS.pop(path, None)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    #: Entries checked good, from the first one up to the first bad one.
    verified: int
    head: str | None
    broken_at: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verified": self.verified,
            "head": self.head,
            "broken_at": self.broken_at,
            "problem": self.problem,
        }


class _Broken(Exception):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


_Key = tuple[str, Ed25519PublicKey]


def _introduced_key(entry: Entry) -> _Key:
    try:
        record = json.loads(entry.payload)
        public_key = public_key_from_text(record["public_key"])
    except (ValueError, KeyError, TypeError):
        raise _Broken(entry.seq, "the key it puts on record is unreadable") from None
    if key_id_of(public_key) != record.get("key_id"):
        raise _Broken(entry.seq, "the key id it puts on record does not match the key")
    if entry.actor is not None or entry.act == Act.KEY_REGISTERED:
        owner = entry.actor or entry.subject
        if record.get("org") != owner or entry.subject != owner:
            raise _Broken(entry.seq, f"the key it puts on record is not named as {owner}'s")
    return record["key_id"], public_key


class _Walker:
    """Checks entries one after another, keeping the chain and the keys on record between them."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev_hash = GENESIS_PREV_HASH
        self.node: _Key | None = None
        #: Each organisation's current key, as the entries so far put it on record.
        self.orgs: dict[str, _Key] = {}
        #: Whether per-organisation signing has started (legacy entries come before).
        self.adopted = False

    @property
    def node_key_id(self) -> str | None:
        return self.node[0] if self.node else None

    def check(self, row: RowMapping) -> None:
        entry = Entry.from_row(row)
        if entry.seq != self.expected_seq:
            raise _Broken(
                self.expected_seq,
                f"entry {self.expected_seq} is missing (the next stored entry is {entry.seq})",
            )
        if entry.prev_hash != self.prev_hash:
            raise _Broken(entry.seq, f"it does not follow entry {entry.seq - 1} (prev_hash)")
        if entry.digest() != row["hash"]:
            raise _Broken(entry.seq, "its content does not match its hash (altered)")
        if entry.seq == 1:
            if entry.act != Act.LEDGER_OPENED or entry.actor is not None:
                raise _Broken(1, "the first entry does not open the ledger")
            self.node = _introduced_key(entry)
        self._check_signature(entry, row)
        self._take_keys(entry)
        self.prev_hash = row["hash"]
        self.expected_seq += 1

    def _expected_signer(self, entry: Entry) -> tuple[_Key, str]:
        """The key that must have signed `entry`, and whose it is (for the message)."""
        assert self.node is not None
        if entry.actor is None:
            return self.node, "the node's key"
        if entry.actor in self.orgs:
            return self.orgs[entry.actor], f"{entry.actor}'s key"
        if not self.adopted:
            return self.node, "the node's key (legacy entry)"
        raise _Broken(entry.seq, f"{entry.actor} acts before any key of its is on record")

    def _check_signature(self, entry: Entry, row: RowMapping) -> None:
        (key_id, public_key), whose = self._expected_signer(entry)
        if entry.signer != key_id:
            raise _Broken(entry.seq, f"it is signed by a key that is not {whose} on record")
        try:
            public_key.verify(bytes.fromhex(row["signature"]), bytes.fromhex(row["hash"]))
        except (InvalidSignature, ValueError):
            raise _Broken(entry.seq, "its signature is not valid") from None

    def _take_keys(self, entry: Entry) -> None:
        """Applies what a (validly signed) entry says about keys."""
        act = entry.act
        if act == Act.KEY_ROTATION:
            if entry.actor is None:
                self.node = _introduced_key(entry)
            elif entry.actor in self.orgs:
                self.orgs[entry.actor] = _introduced_key(entry)
            else:
                raise _Broken(entry.seq, f"{entry.actor} rotates a key it never had on record")
        elif act == Act.KEY_REGISTERED:
            self._register(entry)
        elif act == Act.ORG_KEYS_ADOPTED:
            if entry.actor is not None or self.adopted:
                problem = "per-organisation keys are adopted twice, or not by the node"
                raise _Broken(entry.seq, problem)
            self.adopted = True

    def _register(self, entry: Entry) -> None:
        if entry.actor is not None or entry.subject is None:
            raise _Broken(entry.seq, "only the node registers an organisation's key")
        if entry.subject in self.orgs:
            raise _Broken(
                entry.seq,
                f"{entry.subject} already has a key on record; "
                "only a rotation it signs replaces it",
            )
        self.orgs[entry.subject] = _introduced_key(entry)


def verify(rows: Iterable[RowMapping], node_key_id: str | None = None) -> Verification:
    """Recomputes the chain and every signature; names the first bad entry.

    `node_key_id`, when known, must be the node key the ledger ends with: a
    ledger rebuilt with a forger's keys is consistent in itself but not
    signed by us.
    """
    walker = _Walker()
    count = 0
    try:
        for row in rows:
            walker.check(row)
            count += 1
        if count and node_key_id is not None and walker.node_key_id != node_key_id:
            raise _Broken(count, "the ledger's current key is not this node's key")
    except _Broken as broken:
        return Verification(False, count, None, broken.seq, broken.problem)
    return Verification(True, count, walker.prev_hash if count else None)
