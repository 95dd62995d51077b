"""Who may act and read in governance.

The intel access policy (`sharing/policy.py`) decides what an organisation
sees; this module decides who takes part in governance:

* every governance act needs an org-admin key: sponsoring, voting, applying
  and withdrawing bind the organisation, not one analyst;
* accessions and suspensions are decided by the steering committee (the host
  and the sponsoring members); the subject of a suspension does not vote;
* admissions to a sharing group are decided by the group's members (those
  whose tier still takes part in sharing);
* an organisation only ever votes for itself: the caller's key names it;
* the committee reads every application, decision and ledger entry; any
  other organisation reads what is about it and the decisions it votes on;
  the subject of a decision never sees the votes cast on it.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping

from shieldwall.errors import Forbidden
from shieldwall.governance import repository
from shieldwall.governance.model import DecisionKind
from shieldwall.members.model import Role
from shieldwall.sharing.policy import Principal


def on_committee(principal: Principal) -> bool:
    return principal.tier is not None and principal.tier.on_steering_committee


def require_governance_key(principal: Principal) -> None:
    if principal.role is not Role.ORG_ADMIN:
        raise Forbidden(
            f"{principal.org_name} with a {principal.role} key may not act in governance: "
            "governance acts bind the organisation and need an org-admin key"
        )


def require_committee(principal: Principal, doing: str) -> None:
    if not on_committee(principal):
        raise Forbidden(
            f"only steering-committee members (the host and sponsoring members) may {doing}; "
            f"{principal.org_name} is {principal.tier}"
        )


def voter_ids(conn: Connection, decision: RowMapping) -> frozenset[int]:
    """The organisations whose votes count on `decision`, as of now."""
    subject = int(decision["subject_org_id"])
    kind = DecisionKind(decision["kind"])
    if kind is DecisionKind.GROUP_ADMISSION:
        return repository.group_voter_ids(conn, int(decision["group_id"])) - {subject}
    return repository.committee_ids(conn) - {subject}


def require_voter(conn: Connection, principal: Principal, decision: RowMapping) -> None:
    if principal.org_id in voter_ids(conn, decision):
        return
    kind = DecisionKind(decision["kind"])
    if kind is DecisionKind.SUSPENSION and principal.org_id == decision["subject_org_id"]:
        raise Forbidden("the subject of a suspension does not vote on it")
    if kind is DecisionKind.GROUP_ADMISSION:
        raise Forbidden(
            f"only members of sharing group {decision['group']!r} vote on admissions to it"
        )
    raise Forbidden(
        f"only steering-committee members (the host and sponsoring members) vote on "
        f"{kind}s; {principal.org_name} is {principal.tier}"
    )


def may_see_decision(conn: Connection, principal: Principal, decision: RowMapping) -> bool:
    return (
        on_committee(principal)
        or principal.org_id == decision["subject_org_id"]
        or principal.org_id in voter_ids(conn, decision)
    )


def may_see_votes(conn: Connection, principal: Principal, decision: RowMapping) -> bool:
    """The subject learns the outcome, never who voted how (not even once a member)."""
    if principal.org_id == decision["subject_org_id"]:
        return False
    return on_committee(principal) or principal.org_id in voter_ids(conn, decision)


def may_see_application(principal: Principal, application: RowMapping) -> bool:
    return on_committee(principal) or principal.org_id == application["org_id"]


def ledger_scope(principal: Principal) -> str | None:
    """None: the whole ledger; otherwise the organisation whose entries the caller reads."""
    return None if on_committee(principal) else principal.org_name
