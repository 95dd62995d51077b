"""The access policy: the one place that decides what an organisation may see.

Visibility of a stored object is the intersection of its distribution (who it
was shared with) and its TLP level (how far it may travel), seen from the
caller's organisation tier, key role and sharing-group memberships:

* the owner always sees its own objects (a suspended member keeps that alone);
* distribution `org` reaches nobody else; `group:G` the members of G;
  `members` the steering committee (host and sponsoring members); `public`
  every organisation of the coalition (applicants included);
* TLP:RED is served only to the named recipients: the organisations the
  distribution names (owner, group or committee), never under `public`, and
  never to a `sync` key, because RED is never federated further;
* without credentials, only TLP:CLEAR + `public`, and only when the node
  allows anonymous reads;
* groups count only for tiers that take part in sharing (host, sponsoring,
  contributing); withdrawn organisations see nothing.

The rule exists twice, as a Python predicate (`can_read`) and as a SQL filter
(`read_filter`); the test suite proves they agree on every combination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlalchemy.sql.elements import KeyedColumnElement

from shieldwall.errors import Forbidden
from shieldwall.members.model import Role, Tier
from shieldwall.sharing.tlp import TLP, DistKind


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an organisation through one API key, or nobody."""

    org_id: int | None
    org_name: str | None
    tier: Tier | None
    role: Role | None
    group_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(org_id=None, org_name=None, tier=None, role=None)

    @property
    def is_anonymous(self) -> bool:
        return self.org_id is None

    @property
    def effective_groups(self) -> frozenset[int]:
        if self.tier is not None and self.tier.participates:
            return self.group_ids
        return frozenset()


@dataclass(frozen=True, slots=True)
class Marking:
    """The sharing attributes of one stored object, as the policy needs them."""

    owner_org_id: int
    tlp: TLP
    dist: DistKind
    group_id: int | None = None


class Action(StrEnum):
    READ_INTEL = "read intel"
    WRITE_INTEL = "write intel"
    REPORT_SIGHTING = "report sightings"
    MANAGE_OWN_ORG = "manage its organisation's keys and users"
    ADMINISTER_NODE = "administer organisations, groups and keys of the node"


_ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ORG_ADMIN: frozenset(
        {Action.READ_INTEL, Action.WRITE_INTEL, Action.REPORT_SIGHTING, Action.MANAGE_OWN_ORG}
    ),
    Role.ANALYST: frozenset({Action.READ_INTEL, Action.WRITE_INTEL, Action.REPORT_SIGHTING}),
    Role.READER: frozenset({Action.READ_INTEL}),
    # Sensors fetch detection content (exports, matches) and report what they saw.
    Role.SENSOR: frozenset({Action.READ_INTEL, Action.REPORT_SIGHTING}),
    # Sync keys are another node pulling and pushing on behalf of a member.
    Role.SYNC: frozenset({Action.READ_INTEL, Action.WRITE_INTEL}),
}

_WRITING_ACTIONS = frozenset({Action.WRITE_INTEL, Action.REPORT_SIGHTING})


def may(principal: Principal, action: Action) -> bool:
    if principal.role is None or principal.tier is None or principal.tier is Tier.WITHDRAWN:
        return False
    if action is Action.ADMINISTER_NODE:
        return principal.tier is Tier.HOST and principal.role is Role.ORG_ADMIN
    if action in _WRITING_ACTIONS and not principal.tier.participates:
        return False
    return action in _ROLE_ACTIONS[principal.role]


def require(principal: Principal, action: Action) -> None:
    if not may(principal, action):
        who = principal.org_name or "an anonymous caller"
        role = f" with a {principal.role} key" if principal.role else ""
        raise Forbidden(f"{who}{role} may not {action}")


def can_read(principal: Principal, marking: Marking, *, anonymous_public: bool = False) -> bool:
    """The predicate form of the policy (see the module docstring)."""
    if principal.is_anonymous:
        return anonymous_public and marking.dist is DistKind.PUBLIC and marking.tlp is TLP.CLEAR
    if principal.tier is Tier.WITHDRAWN or principal.role is None:
        return False
    if marking.owner_org_id == principal.org_id:
        return True
    if principal.tier is Tier.SUSPENDED:
        return False
    if marking.tlp is TLP.RED and principal.role is Role.SYNC:
        return False
    if marking.dist is DistKind.GROUP:
        return marking.group_id in principal.effective_groups
    if marking.dist is DistKind.MEMBERS:
        return principal.tier is not None and principal.tier.on_steering_committee
    if marking.dist is DistKind.PUBLIC:
        return marking.tlp is not TLP.RED
    return False


def read_filter(
    principal: Principal,
    *,
    owner_org_id: KeyedColumnElement[int],
    tlp: KeyedColumnElement[int],
    dist: KeyedColumnElement[int],
    group_id: KeyedColumnElement[int | None],
    anonymous_public: bool = False,
) -> ColumnElement[bool]:
    """The SQL form of the policy: a WHERE clause over an object table's columns."""
    if principal.is_anonymous:
        if not anonymous_public:
            return false()
        return and_(dist == int(DistKind.PUBLIC), tlp == int(TLP.CLEAR))
    if principal.tier is Tier.WITHDRAWN or principal.role is None:
        return false()
    own = owner_org_id == principal.org_id
    if principal.tier is Tier.SUSPENDED:
        return own
    shared: list[ColumnElement[bool]] = [and_(dist == int(DistKind.PUBLIC), tlp != int(TLP.RED))]
    groups = principal.effective_groups
    if groups:
        shared.append(and_(dist == int(DistKind.GROUP), group_id.in_(sorted(groups))))
    if principal.tier is not None and principal.tier.on_steering_committee:
        shared.append(dist == int(DistKind.MEMBERS))
    not_red_for_sync = tlp != int(TLP.RED) if principal.role is Role.SYNC else true()
    return or_(own, and_(not_red_for_sync, or_(*shared)))
