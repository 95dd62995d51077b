"""The rules of governance: applications, sponsorship, the silence procedure and its effects.

A decision (accession, suspension, admission to a sharing group) opens with
a deadline. Until then each voter may concur, abstain or object (with a
reason), change its position, or withdraw its objection. It closes:

* early, adopted, once every voter has concurred or abstained;
* at the deadline, adopted when no objection stands, rejected otherwise.

The deadline belongs to the decision: a vote at or after it is refused
(409), whether or not a tick has closed the decision yet. Voters are
counted as they are when the decision is evaluated, so an organisation that
leaves, or is suspended, no longer blocks anything. Services never commit;
every act is written to the ledger in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping

from shieldwall.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shieldwall.governance import access, keys, ledger, repository
from shieldwall.governance.clock import Clock
from shieldwall.governance.model import (
    ACTIVITY_ACTS,
    ACTS_SHOWN_TO_SUBJECT,
    Act,
    ApplicationStatus,
    Choice,
    DecisionKind,
    DecisionStatus,
)
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.members import repository as members_repository
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from shieldwall.sharing import repository as sharing_repository
from shieldwall.sharing.policy import Principal

MAX_TEXT = 10_000
#: What each tier may apply for.
_APPLICABLE: dict[Tier, frozenset[Tier]] = {
    Tier.APPLICANT: frozenset({Tier.SPONSORING, Tier.CONTRIBUTING}),
    Tier.CONTRIBUTING: frozenset({Tier.SPONSORING}),
}


@dataclass(frozen=True, slots=True)
class Governance:
    """What every rule needs besides the connection: the time and the settings."""

    clock: Clock
    settings: GovernanceSettings

    def now(self) -> datetime:
        return self.clock.now()

    def record(
        self,
        conn: Connection,
        *,
        actor: str | None,
        act: Act,
        subject: str | None,
        payload: Mapping[str, Any],
    ) -> int:
        """Appends one entry, signed by the acting organisation's key (the node's for none)."""
        node = ledger.node_key(self.settings)
        at = self.now()
        signer = keys.signing_key(conn, node, actor, at) if actor is not None else None
        return ledger.append(
            conn, node, signer=signer, at=at, actor=actor, act=act, subject=subject, payload=payload
        )


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ValidationFailed(f"{field} must not be empty", where=field)
    if len(cleaned) > MAX_TEXT:
        raise ValidationFailed(f"{field} is longer than {MAX_TEXT} characters", where=field)
    return cleaned or None


# --------------------------------------------------------------------------- applications


def application_view(conn: Connection, gov: Governance, row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "org": row["org"],
        "tier": row["requested_tier"],
        "statement": row["statement"],
        "status": row["status"],
        "created_at": _iso(row["created_at"]),
        "sponsors": repository.sponsor_names(conn, row["id"]),
        "sponsors_required": gov.settings.governance_sponsors_required,
        "decision": repository.decision_of_application(conn, row["id"]),
    }


def _application(conn: Connection, principal: Principal, application_id: int) -> Any:
    row = repository.application_by_id(conn, application_id)
    if row is None or not access.may_see_application(principal, row):
        raise NotFound(f"application {application_id} does not exist")
    return row


def apply(
    conn: Connection, gov: Governance, principal: Principal, tier: Tier, statement: str
) -> dict[str, Any]:
    """The caller's organisation asks the committee for `tier`."""
    access.require_governance_key(principal)
    allowed = _APPLICABLE.get(principal.tier) if principal.tier else None
    if not allowed:
        raise Forbidden(
            f"only applicants (and contributing participants, for sponsoring membership) "
            f"apply; {principal.org_name} is {principal.tier}"
        )
    if tier not in allowed:
        choices = " or ".join(sorted(allowed))
        raise ValidationFailed(f"{principal.org_name} may apply for {choices}", where="tier")
    text = _text(statement, "statement", required=True)
    assert principal.org_id is not None
    pending = repository.pending_application_of(conn, principal.org_id)
    if pending is not None:
        raise Conflict(
            f"{principal.org_name} already has application {pending['id']} pending; "
            "one application at a time"
        )
    application_id = repository.insert_application(
        conn, org_id=principal.org_id, tier=tier.value, statement=text or "", created_at=gov.now()
    )
    gov.record(
        conn,
        actor=principal.org_name,
        act=Act.APPLICATION,
        subject=principal.org_name,
        payload={"application": application_id, "tier": tier.value, "statement": text},
    )
    return application_view(conn, gov, _application(conn, principal, application_id))


def sponsor(
    conn: Connection, gov: Governance, principal: Principal, application_id: int
) -> dict[str, Any]:
    """A committee member sponsors an application; enough sponsors open the decision."""
    access.require_governance_key(principal)
    access.require_committee(principal, "sponsor an application")
    row = _application(conn, principal, application_id)
    status = ApplicationStatus(row["status"])
    if not status.pending:
        raise Conflict(f"application {application_id} is {status}; it can no longer be sponsored")
    assert principal.org_id is not None
    if repository.has_sponsored(conn, application_id, principal.org_id):
        raise Conflict(f"{principal.org_name} already sponsors application {application_id}")
    repository.insert_sponsorship(conn, application_id, principal.org_id, gov.now())
    gov.record(
        conn,
        actor=principal.org_name,
        act=Act.SPONSORSHIP,
        subject=row["org"],
        payload={"application": application_id},
    )
    sponsors = len(repository.sponsor_names(conn, application_id))
    enough = sponsors >= gov.settings.governance_sponsors_required
    if status is ApplicationStatus.AWAITING_SPONSORS and enough:
        repository.set_application_status(conn, application_id, ApplicationStatus.OPEN.value)
        _open_decision(
            conn,
            gov,
            kind=DecisionKind.ACCESSION,
            subject_id=row["org_id"],
            subject_name=row["org"],
            proposer=principal,
            application_id=application_id,
        )
    return application_view(conn, gov, _application(conn, principal, application_id))


def list_applications(
    conn: Connection, gov: Governance, principal: Principal, status: ApplicationStatus | None
) -> list[dict[str, Any]]:
    org_filter = None if access.on_committee(principal) else principal.org_id
    rows = repository.list_applications(conn, org_filter, status.value if status else None)
    return [application_view(conn, gov, row) for row in rows]


def get_application(
    conn: Connection, gov: Governance, principal: Principal, application_id: int
) -> dict[str, Any]:
    return application_view(conn, gov, _application(conn, principal, application_id))


# --------------------------------------------------------------------------- motions


def _open_decision(
    conn: Connection,
    gov: Governance,
    *,
    kind: DecisionKind,
    subject_id: int,
    subject_name: str,
    proposer: Principal,
    application_id: int | None = None,
    group: RowMapping | None = None,
    statement: str | None = None,
) -> int:
    opened_at = gov.now()
    deadline = opened_at + gov.settings.governance_decision_period
    decision_id = repository.insert_decision(
        conn,
        {
            "kind": kind.value,
            "subject_org_id": subject_id,
            "group_id": group["id"] if group else None,
            "application_id": application_id,
            "proposer_org_id": proposer.org_id,
            "statement": statement,
            "opened_at": opened_at,
            "deadline": deadline,
        },
    )
    gov.record(
        conn,
        actor=proposer.org_name,
        act=Act.DECISION_OPENED,
        subject=subject_name,
        payload={
            "decision": decision_id,
            "kind": kind.value,
            "application": application_id,
            "group": group["name"] if group else None,
            "statement": statement,
            "deadline": ledger.format_time(deadline),
        },
    )
    return decision_id


def propose_suspension(
    conn: Connection, gov: Governance, principal: Principal, org_name: str, reason: str
) -> dict[str, Any]:
    access.require_governance_key(principal)
    access.require_committee(principal, "propose a suspension")
    subject = members.org_named(conn, org_name)
    tier = Tier(subject["tier"])
    if tier is Tier.HOST:
        raise Forbidden("the host organisation runs the node and cannot be suspended")
    if tier not in (Tier.SPONSORING, Tier.CONTRIBUTING):
        raise Conflict(
            f"{subject['name']} is {tier}; only sponsoring and contributing members can be "
            "suspended"
        )
    text = _text(reason, "reason", required=True)
    if repository.open_decision_about(conn, DecisionKind.SUSPENSION.value, subject["id"]):
        raise Conflict(f"a suspension of {subject['name']} is already open")
    decision_id = _open_decision(
        conn,
        gov,
        kind=DecisionKind.SUSPENSION,
        subject_id=subject["id"],
        subject_name=subject["name"],
        proposer=principal,
        statement=text,
    )
    return get_decision(conn, principal, decision_id)


def propose_group_admission(
    conn: Connection, gov: Governance, principal: Principal, group_name: str, org_name: str
) -> dict[str, Any]:
    """The organisation itself, or a member of the group, asks the group to admit it."""
    access.require_governance_key(principal)
    group = sharing_repository.group_by_name(conn, group_name)
    if group is None:
        raise NotFound(f"sharing group {group_name!r} does not exist", where="group")
    subject = members.org_named(conn, org_name)
    voters = repository.group_voter_ids(conn, group["id"])
    if principal.org_id != subject["id"] and principal.org_id not in voters:
        raise Forbidden(
            f"only {subject['name']} itself or a member of sharing group {group['name']!r} "
            "may propose its admission"
        )
    if not Tier(subject["tier"]).participates:
        raise Conflict(
            f"{subject['name']} is {subject['tier']}; only the host, sponsoring and "
            "contributing members join sharing groups"
        )
    if sharing_repository.is_member(conn, group["id"], subject["id"]):
        raise Conflict(f"{subject['name']} is already a member of {group['name']!r}")
    kind = DecisionKind.GROUP_ADMISSION
    if repository.open_decision_about(conn, kind.value, subject["id"], group["id"]):
        raise Conflict(f"an admission of {subject['name']} to {group['name']!r} is already open")
    if not voters:
        raise Conflict(f"sharing group {group['name']!r} has no active member to decide")
    decision_id = _open_decision(
        conn,
        gov,
        kind=kind,
        subject_id=subject["id"],
        subject_name=subject["name"],
        proposer=principal,
        group=group,
    )
    return get_decision(conn, principal, decision_id)


def withdraw(conn: Connection, gov: Governance, principal: Principal) -> dict[str, Any]:
    """The caller's organisation leaves; what it contributed stays, owned by it."""
    access.require_governance_key(principal)
    if principal.tier is Tier.HOST:
        raise Forbidden("the host organisation runs the node and cannot withdraw")
    assert principal.org_id is not None
    now = gov.now()
    members_repository.set_tier(conn, principal.org_id, Tier.WITHDRAWN.value, None)
    repository.withdraw_pending_applications(conn, principal.org_id)
    for decision_id in repository.open_decision_ids_about(conn, principal.org_id):
        repository.close_decision(conn, decision_id, DecisionStatus.WITHDRAWN.value, now)
        _record_closed(conn, gov, decision_id, principal.org_name, DecisionStatus.WITHDRAWN, now)
    gov.record(
        conn,
        actor=principal.org_name,
        act=Act.WITHDRAWAL,
        subject=principal.org_name,
        payload={"previous_tier": str(principal.tier), "effective_at": ledger.format_time(now)},
    )
    # Its silence or objection no longer counts: a decision may now be unanimous.
    settle_open(conn, gov)
    return members.org_view(members.org_named(conn, principal.org_name or ""))


# --------------------------------------------------------------------------- votes


def _decision(conn: Connection, decision_id: int) -> Any:
    row = repository.decision_by_id(conn, decision_id)
    if row is None:
        raise NotFound(f"decision {decision_id} does not exist")
    return row


def _visible_decision(conn: Connection, principal: Principal, decision_id: int) -> Any:
    """The decision, answered exactly as an absent one to a caller who may not see it.

    Checked before any rule that names the decision's kind or group, so that a
    refusal never tells an outsider that the decision exists.
    """
    row = repository.decision_by_id(conn, decision_id)
    if row is None or not access.may_see_decision(conn, principal, row):
        raise NotFound(f"decision {decision_id} does not exist")
    return row


def _require_open(decision: RowMapping, now: datetime) -> None:
    if decision["status"] != DecisionStatus.OPEN:
        raise Conflict(
            f"decision {decision['id']} is closed ({decision['status']}); "
            "votes are taken only while it is open"
        )
    if now >= decision["deadline"]:
        raise Conflict(
            f"decision {decision['id']} closed at its deadline "
            f"{decision['deadline'].isoformat()}; a vote at or after the deadline is too late"
        )


def vote(
    conn: Connection,
    gov: Governance,
    principal: Principal,
    decision_id: int,
    choice: Choice,
    reason: str | None,
) -> dict[str, Any]:
    """Records (or replaces) the caller's organisation's position on a decision."""
    access.require_governance_key(principal)
    decision = _visible_decision(conn, principal, decision_id)
    access.require_voter(conn, principal, decision)
    now = gov.now()
    _require_open(decision, now)
    text = _text(reason, "reason", required=choice is Choice.OBJECT)
    assert principal.org_id is not None
    previous = repository.vote_of(conn, decision_id, principal.org_id)
    if previous is not None and (previous["choice"], previous["reason"]) == (choice.value, text):
        return get_decision(conn, principal, decision_id)
    if previous is None:
        repository.insert_vote(conn, decision_id, principal.org_id, choice.value, text, now)
    else:
        repository.update_vote(conn, decision_id, principal.org_id, choice.value, text, now)
    gov.record(
        conn,
        actor=principal.org_name,
        act=Act.VOTE if previous is None else Act.VOTE_CHANGED,
        subject=decision["subject"],
        payload={
            "decision": decision_id,
            "choice": choice.value,
            "reason": text,
            "previous": previous["choice"] if previous is not None else None,
        },
    )
    settle_open(conn, gov)
    return get_decision(conn, principal, decision_id)


def withdraw_objection(
    conn: Connection, gov: Governance, principal: Principal, decision_id: int
) -> dict[str, Any]:
    """The objector returns to silence, which consents at the deadline."""
    access.require_governance_key(principal)
    decision = _visible_decision(conn, principal, decision_id)
    access.require_voter(conn, principal, decision)
    _require_open(decision, gov.now())
    assert principal.org_id is not None
    current = repository.vote_of(conn, decision_id, principal.org_id)
    if current is None or current["choice"] != Choice.OBJECT:
        raise Conflict(f"{principal.org_name} has no standing objection to decision {decision_id}")
    repository.delete_vote(conn, decision_id, principal.org_id)
    gov.record(
        conn,
        actor=principal.org_name,
        act=Act.OBJECTION_WITHDRAWN,
        subject=decision["subject"],
        payload={"decision": decision_id},
    )
    return get_decision(conn, principal, decision_id)


# --------------------------------------------------------------------------- closing


def settle_open(conn: Connection, gov: Governance) -> list[int]:
    """Closes every open decision that is due or unanimous; returns their ids.

    Decisions are taken in deadline order, so one closed late (no request, no
    tick for a while) sees the coalition as earlier closures left it.
    """
    return [
        decision["id"]
        for decision in repository.open_decisions(conn)
        if _settle(conn, gov, decision)
    ]


def _settle(conn: Connection, gov: Governance, decision: RowMapping) -> bool:
    now = gov.now()
    voters = access.voter_ids(conn, decision)
    positions = {
        vote["org_id"]: vote["choice"]
        for vote in repository.votes_on(conn, decision["id"])
        if vote["org_id"] in voters
    }
    objection = Choice.OBJECT.value in positions.values()
    if now >= decision["deadline"]:
        outcome = DecisionStatus.REJECTED if objection else DecisionStatus.ADOPTED
        _close(conn, gov, decision, outcome, decision["deadline"], early=False)
        return True
    if voters and not objection and voters <= positions.keys():
        _close(conn, gov, decision, DecisionStatus.ADOPTED, now, early=True)
        return True
    return False


def _record_closed(
    conn: Connection,
    gov: Governance,
    decision_id: int,
    subject: str | None,
    outcome: DecisionStatus,
    closed_at: datetime,
    *,
    early: bool = False,
) -> None:
    gov.record(
        conn,
        actor=None,
        act=Act.DECISION_CLOSED,
        subject=subject,
        payload={
            "decision": decision_id,
            "outcome": outcome.value,
            "closed_at": ledger.format_time(closed_at),
            "early": early,
        },
    )


def _close(
    conn: Connection,
    gov: Governance,
    decision: RowMapping,
    outcome: DecisionStatus,
    closed_at: datetime,
    *,
    early: bool,
) -> None:
    repository.close_decision(conn, decision["id"], outcome.value, closed_at)
    _record_closed(conn, gov, decision["id"], decision["subject"], outcome, closed_at, early=early)
    if decision["application_id"] is not None:
        status = (
            ApplicationStatus.ADOPTED
            if outcome is DecisionStatus.ADOPTED
            else ApplicationStatus.REJECTED
        )
        repository.set_application_status(conn, decision["application_id"], status.value)
    if outcome is DecisionStatus.ADOPTED:
        _EFFECTS[DecisionKind(decision["kind"])](conn, gov, decision, closed_at)


def _accede(conn: Connection, gov: Governance, decision: RowMapping, at: datetime) -> None:
    org = members_repository.org_by_id(conn, decision["subject_org_id"])
    assert org is not None
    previous = Tier(org["tier"])
    tier = Tier(decision["requested_tier"])
    # A contributing participant becoming sponsoring keeps its original accession date.
    accession_at = None if previous.participates else at
    members_repository.set_tier(conn, org["id"], tier.value, accession_at)
    gov.record(
        conn,
        actor=None,
        act=Act.ACCESSION,
        subject=org["name"],
        payload={
            "decision": decision["id"],
            "tier": tier.value,
            "previous_tier": previous.value,
            "effective_at": ledger.format_time(at),
        },
    )


def _suspend(conn: Connection, gov: Governance, decision: RowMapping, at: datetime) -> None:
    org = members_repository.org_by_id(conn, decision["subject_org_id"])
    assert org is not None
    members_repository.set_tier(conn, org["id"], Tier.SUSPENDED.value, None)
    gov.record(
        conn,
        actor=None,
        act=Act.SUSPENSION,
        subject=org["name"],
        payload={
            "decision": decision["id"],
            "previous_tier": org["tier"],
            "effective_at": ledger.format_time(at),
        },
    )


def _admit_to_group(conn: Connection, gov: Governance, decision: RowMapping, at: datetime) -> None:
    group_id, org_id = decision["group_id"], decision["subject_org_id"]
    if not sharing_repository.is_member(conn, group_id, org_id):
        sharing_repository.add_member(conn, group_id, org_id, at)
    gov.record(
        conn,
        actor=None,
        act=Act.GROUP_ADMISSION,
        subject=decision["subject"],
        payload={
            "decision": decision["id"],
            "group": decision["group"],
            "effective_at": ledger.format_time(at),
        },
    )


_EFFECTS: dict[DecisionKind, Callable[[Connection, Governance, RowMapping, datetime], None]] = {
    DecisionKind.ACCESSION: _accede,
    DecisionKind.SUSPENSION: _suspend,
    DecisionKind.GROUP_ADMISSION: _admit_to_group,
}


# --------------------------------------------------------------------------- reading


def decision_view(conn: Connection, principal: Principal, row: RowMapping) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row["id"],
        "kind": row["kind"],
        "subject": row["subject"],
        "group": row["group"],
        "tier": row["requested_tier"],
        "application": row["application_id"],
        "proposer": row["proposer"],
        "statement": row["statement"],
        "opened_at": _iso(row["opened_at"]),
        "deadline": _iso(row["deadline"]),
        "status": row["status"],
        "closed_at": _iso(row["closed_at"]),
    }
    if not access.may_see_votes(conn, principal, row):
        return view
    cast = repository.votes_on(conn, row["id"])
    view["votes"] = [
        {"org": v["org"], "choice": v["choice"], "reason": v["reason"], "at": _iso(v["voted_at"])}
        for v in cast
    ]
    if row["status"] == DecisionStatus.OPEN:
        voters = access.voter_ids(conn, row)
        silent = voters - {v["org_id"] for v in cast}
        view["voters"] = sorted(repository.org_names(conn, voters).values())
        view["silent"] = sorted(repository.org_names(conn, silent).values())
    return view


def get_decision(conn: Connection, principal: Principal, decision_id: int) -> dict[str, Any]:
    return decision_view(conn, principal, _visible_decision(conn, principal, decision_id))


def list_decisions(
    conn: Connection, principal: Principal, status: DecisionStatus | None
) -> list[dict[str, Any]]:
    if access.on_committee(principal):
        rows = repository.list_decisions(conn, status=status.value if status else None)
    else:
        rows = repository.list_decisions(
            conn,
            status=status.value if status else None,
            visible_to=principal.org_id,
            voter_group_ids=principal.effective_groups,
        )
    return [decision_view(conn, principal, row) for row in rows]


def entry_view(row: RowMapping) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "at": row["at"],
        "actor": row["actor"],
        "act": row["act"],
        "subject": row["subject"],
        "payload": json.loads(row["payload"]),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
        "signer": row["signer"],
        "signature": row["signature"],
    }


def ledger_entries(
    conn: Connection, principal: Principal, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = repository.ledger_page(
        conn,
        after=after,
        limit=limit,
        about=access.ledger_scope(principal),
        subject_acts=frozenset(act.value for act in ACTS_SHOWN_TO_SUBJECT),
        # The subject never learns who voted how, not even once a member.
        reader=principal.org_name,
    )
    return [entry_view(row) for row in rows]


def verify_ledger(conn: Connection, settings: GovernanceSettings) -> ledger.Verification:
    return ledger.verify(
        repository.iter_ledger(conn), node_key_id=ledger.existing_node_key_id(settings)
    )


def verification_view(
    conn: Connection, principal: Principal, settings: GovernanceSettings
) -> dict[str, Any]:
    """The verification as the caller may read it.

    Entry counts, the head and the place of a break move with acts outside the
    committee's audience, so only the committee reads them; others learn
    whether the chain holds.
    """
    result = verify_ledger(conn, settings)
    if access.on_committee(principal):
        return result.as_dict()
    return {"ok": result.ok}


def _activity_message(act: Act, org: str, payload: Mapping[str, Any]) -> str:
    if act is Act.ACCESSION:
        if payload["previous_tier"] == Tier.APPLICANT:
            return f"flag raised: {org} accedes as a {payload['tier']} member"
        return f"{org} becomes a {payload['tier']} member"
    if act is Act.SUSPENSION:
        return f"{org} is suspended"
    return f"{org} has withdrawn from the coalition"


def activity(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Accessions, suspensions and withdrawals, newest first: the coalition's news."""
    acts = frozenset(act.value for act in ACTIVITY_ACTS)
    feed = []
    for row in repository.ledger_acts(conn, acts, limit):
        payload = json.loads(row["payload"])
        act = Act(row["act"])
        feed.append(
            {
                "seq": row["seq"],
                "at": ledger.parse_time(payload["effective_at"]).isoformat(),
                "act": act.value,
                "org": row["subject"],
                "message": _activity_message(act, row["subject"], payload),
            }
        )
    return feed


# --------------------------------------------------------------------------- signing keys


def _own_org_admin(conn: Connection, principal: Principal, org_name: str, doing: str) -> str:
    """The organisation's name, when the caller is its org-admin.

    Another organisation's key answers exactly as an organisation that does
    not exist (404), so the endpoint tells an outsider nothing; the
    organisation's own non-admin keys are told why (403).
    """
    if principal.org_name != org_name:
        raise NotFound(f"organisation {org_name!r} does not exist", where="org")
    if principal.role is not Role.ORG_ADMIN:
        raise Forbidden(f"only an org-admin of {org_name} may {doing} its signing key")
    return str(members.org_named(conn, org_name)["name"])


def export_signing_key(
    conn: Connection, gov: Governance, principal: Principal, org_name: str, passphrase: str | None
) -> keys.ExportedKey:
    """The organisation's private signing key, for its own org-admin only."""
    name = _own_org_admin(conn, principal, org_name, "export")
    return keys.export(conn, ledger.node_key(gov.settings), name, gov.now(), passphrase)


def rotate_signing_key(
    conn: Connection, gov: Governance, principal: Principal, org_name: str
) -> dict[str, Any]:
    """A new signing key, announced in the ledger by an entry the old one signs."""
    name = _own_org_admin(conn, principal, org_name, "rotate")
    return keys.rotate(conn, ledger.node_key(gov.settings), name, gov.now())


def signing_keys(
    conn: Connection, principal: Principal, org_name: str | None
) -> list[dict[str, Any]]:
    """Public keys on record: every organisation's for the committee, else the caller's own."""
    if org_name is None:
        if not access.on_committee(principal):
            assert principal.org_id is not None
            return keys.public_keys(conn, principal.org_id)
        return keys.public_keys(conn)
    if not access.on_committee(principal) and principal.org_name != org_name:
        raise NotFound(f"organisation {org_name!r} does not exist", where="org")
    return keys.public_keys(conn, members.org_named(conn, org_name)["id"])
