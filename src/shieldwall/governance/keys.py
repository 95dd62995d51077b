"""Organisation signing keys: one Ed25519 pair per organisation, held sealed by the node.

Every ledger entry an organisation acts in is signed with that
organisation's key. On a single node the node keeps the private keys of the
organisations it hosts, sealed with AES-GCM under the node secret named
"org-keys" (a row of `node_secrets`, made by migration 0008), with
"org_id:key_id" as associated data so that a sealed key moved to another
organisation's row no longer opens.

A key is made lazily, in the transaction of the organisation's first ledger
act (or its first export or rotation): the node then appends a
`key-registered` entry, signed by the node key, that puts the public key on
record. Nothing in members/ had to change, organisations that existed before
per-organisation keys get theirs the same way, and one that never acts never
needs one. A rotation is an act of the organisation itself, signed by its old
key and announcing the new one.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, RowMapping, insert, select, update

from shieldwall.db.secrets import node_secrets
from shieldwall.errors import BadInput, ShieldwallError
from shieldwall.governance import ledger
from shieldwall.governance.ledger import SigningKey
from shieldwall.governance.model import Act
from shieldwall.governance.tables import org_keys
from shieldwall.members import repository as members_repository
from shieldwall.members.tables import organisations

SEAL_SECRET_NAME = "org-keys"  # noqa: S105 (the name of a secret, not one)
_NONCE_BYTES = 12
#: Export passphrases shorter than this protect nothing worth the name.
MIN_PASSPHRASE = 8


# --------------------------------------------------------------------------- sealing


def _seal_key(conn: Connection) -> AESGCM:
    """The node's sealing cipher, read in the caller's transaction.

    Made here only if the store lost it (migration 0008 makes it): keys sealed
    under a lost secret then fail to open, loudly, rather than being replaced.
    """
    query = select(node_secrets.c.value).where(node_secrets.c.name == SEAL_SECRET_NAME)
    value = conn.execute(query).scalar_one_or_none()
    if value is None:
        value = Fernet.generate_key().decode()
        conn.execute(insert(node_secrets).values(name=SEAL_SECRET_NAME, value=value))
    return AESGCM(base64.urlsafe_b64decode(str(value)))


def _associated(org_id: int, key_id: str) -> bytes:
    return f"{org_id}:{key_id}".encode()


def seal(conn: Connection, org_id: int, key: SigningKey) -> str:
    raw = key.private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _seal_key(conn).encrypt(nonce, raw, _associated(org_id, key.key_id))
    return base64.b64encode(nonce + sealed).decode()


def unseal(conn: Connection, row: RowMapping) -> SigningKey:
    try:
        blob = base64.b64decode(row["sealed_private_key"], validate=True)
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        raw = _seal_key(conn).decrypt(nonce, sealed, _associated(row["org_id"], row["key_id"]))
        key = SigningKey(Ed25519PrivateKey.from_private_bytes(raw))
    except (InvalidTag, ValueError):
        raise ShieldwallError(
            f"the signing key {row['key_id'][:16]}... of organisation {row['org_id']} does not "
            "open with this node's secret (node_secrets 'org-keys' changed or the row was moved)"
        ) from None
    if key.key_id != row["key_id"]:
        raise ShieldwallError(f"the sealed key {row['key_id'][:16]}... is not the key on record")
    return key


# --------------------------------------------------------------------------- the keys table


def current_key_row(conn: Connection, org_id: int) -> RowMapping | None:
    query = select(org_keys).where(org_keys.c.org_id == org_id, org_keys.c.retired_at.is_(None))
    return conn.execute(query).mappings().first()


def _insert(conn: Connection, org_id: int, key: SigningKey, at: datetime) -> None:
    conn.execute(
        insert(org_keys).values(
            org_id=org_id,
            key_id=key.key_id,
            public_key=ledger.public_key_text(key.public_key),
            sealed_private_key=seal(conn, org_id, key),
            created_at=at,
            retired_at=None,
        )
    )


def _org(conn: Connection, name: str) -> RowMapping:
    org = members_repository.org_by_name(conn, name)
    if org is None:
        raise ShieldwallError(f"organisation {name!r} acts in the ledger but does not exist")
    return org


def key_record(org: str, key: SigningKey) -> dict[str, str]:
    return {"org": org, **ledger.key_record(key)}


def _register(
    conn: Connection, node: SigningKey, org: RowMapping, at: datetime
) -> tuple[SigningKey, int]:
    """Makes the organisation's first key and puts it on record, signed by the node."""
    key = SigningKey(Ed25519PrivateKey.generate())
    _insert(conn, org["id"], key, at)
    seq = ledger.append(
        conn,
        node,
        at=at,
        actor=None,
        act=Act.KEY_REGISTERED,
        subject=org["name"],
        payload=key_record(org["name"], key),
    )
    return key, seq


def signing_key(conn: Connection, node: SigningKey, org_name: str, at: datetime) -> SigningKey:
    """The key `org_name` signs with now, made and registered if it has none yet.

    Runs in the caller's write transaction, so two first acts of one
    organisation cannot each register a key.
    """
    org = _org(conn, org_name)
    row = current_key_row(conn, org["id"])
    if row is None:
        return _register(conn, node, org, at)[0]
    return unseal(conn, row)


def rotate(conn: Connection, node: SigningKey, org_name: str, at: datetime) -> dict[str, Any]:
    """A new key for `org_name`, announced by an entry its old key signs.

    An organisation with no key yet gets its first one, registered by the node.
    """
    org = _org(conn, org_name)
    row = current_key_row(conn, org["id"])
    if row is None:
        _register(conn, node, org, at)
        return public_view(org["name"], current_key_row(conn, org["id"]))
    old = unseal(conn, row)
    new = SigningKey(Ed25519PrivateKey.generate())
    ledger.append(
        conn,
        node,
        signer=old,
        at=at,
        actor=org["name"],
        act=Act.KEY_ROTATION,
        subject=org["name"],
        payload={**key_record(org["name"], new), "previous_key_id": old.key_id},
    )
    conn.execute(
        update(org_keys)
        .where(org_keys.c.org_id == org["id"], org_keys.c.key_id == old.key_id)
        .values(retired_at=at)
    )
    _insert(conn, org["id"], new, at)
    return public_view(org["name"], current_key_row(conn, org["id"]))


# --------------------------------------------------------------------------- reading and export


def public_view(org: str, row: RowMapping | None) -> dict[str, Any]:
    assert row is not None
    return {
        "org": org,
        "algorithm": "Ed25519",
        "key_id": row["key_id"],
        "public_key": row["public_key"],
        "created_at": row["created_at"].isoformat(),
        "retired_at": row["retired_at"].isoformat() if row["retired_at"] else None,
    }


def public_keys(conn: Connection, org_id: int | None = None) -> list[dict[str, Any]]:
    """Every key ever used (current and retired), oldest first."""
    query = (
        select(org_keys, organisations.c.name.label("org"))
        .join(organisations, organisations.c.id == org_keys.c.org_id)
        # Retired keys in the order they were retired, then the current one: under
        # a fixed clock two keys share created_at, and key ids are random.
        .order_by(
            organisations.c.name,
            org_keys.c.retired_at.is_(None),
            org_keys.c.retired_at,
            org_keys.c.created_at,
            org_keys.c.key_id,
        )
    )
    if org_id is not None:
        query = query.where(org_keys.c.org_id == org_id)
    return [public_view(row["org"], row) for row in conn.execute(query).mappings()]


@dataclass(frozen=True, slots=True)
class ExportedKey:
    org: str
    key_id: str
    public_key: str
    pem: str


def export(
    conn: Connection, node: SigningKey, org_name: str, at: datetime, passphrase: str | None
) -> ExportedKey:
    """The organisation's current private key as PKCS#8 PEM, encrypted when a passphrase is given.

    An organisation with no key yet gets one (registered in the ledger) first:
    what it exports is then the key its next act will be signed with.
    """
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise BadInput(
            f"the export passphrase must have at least {MIN_PASSPHRASE} characters",
            where="passphrase",
        )
    key = signing_key(conn, node, org_name, at)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()
    return ExportedKey(org_name, key.key_id, ledger.public_key_text(key.public_key), pem)
