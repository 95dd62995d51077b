"""Builders of test coalitions and STIX content."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from shieldwall.db.base import utcnow
from shieldwall.db.engine import write_transaction
from shieldwall.members import bootstrap
from shieldwall.members import repository as member_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing import service as sharing

#: The standard coalition: name -> tier. "Host" is the host organisation.
ORGS: dict[str, Tier] = {
    "Host": Tier.HOST,
    "Sponsor A": Tier.SPONSORING,
    "Sponsor B": Tier.SPONSORING,
    "Contributor": Tier.CONTRIBUTING,
    "Outsider": Tier.CONTRIBUTING,
    "Applicant": Tier.APPLICANT,
}
#: The sharing group "ics": Host, Sponsor A and Contributor.
GROUP = "ics"
GROUP_MEMBERS = ("Host", "Sponsor A", "Contributor")


@dataclass
class Coalition:
    """Organisations with one key per role: keys[org][role] -> secret."""

    keys: dict[str, dict[Role, str]] = field(default_factory=dict)

    def key(self, org: str, role: Role = Role.ANALYST) -> str:
        return self.keys[org][role]

    def auth(self, org: str, role: Role = Role.ANALYST) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(org, role)}"}


def build_coalition(engine: Engine) -> Coalition:
    coalition = Coalition()
    with write_transaction(engine) as conn:
        host = bootstrap.init_node(conn, "Host", "EE")
        coalition.keys["Host"] = {Role.ORG_ADMIN: host.secret}
        for name, tier in ORGS.items():
            if tier is not Tier.HOST:
                members.create_org(conn, name, tier, None)
        sharing.create_group(conn, GROUP, list(GROUP_MEMBERS))
        for name in ORGS:
            for role in Role:
                if (name, role) != ("Host", Role.ORG_ADMIN):
                    key = members.create_key(conn, name, role)
                    coalition.keys.setdefault(name, {})[role] = key.secret
    return coalition


def stix_id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


def indicator(
    value: str = "198.51.100.7",
    path: str = "ipv4-addr:value",
    *,
    modified: str = "2024-01-01T00:00:00.000Z",
    object_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": object_id or stix_id("indicator"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"indicator {value}",
        "pattern": f"[{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
        **extra,
    }


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": stix_id("bundle"), "objects": list(objects)}


def user_key(engine: Engine, username: str, role: str | None = None) -> str:
    """A new API key tied to a user (api_keys.user_id), written straight into the store.

    Nothing in shieldwall creates user-tied keys yet; the tests of disabling
    users need one. The role defaults to the user's own.
    """
    secret = members.KEY_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(engine) as conn:
        user = member_repository.user_by_name(conn, username)
        assert user is not None, username
        member_repository.insert_key(
            conn,
            org_id=user["org_id"],
            user_id=user["id"],
            role=role or user["role"],
            key_hash=members.hash_key(secret),
            prefix=secret[:10],
            label=f"key of {username}",
            created_at=utcnow(),
        )
    return secret
