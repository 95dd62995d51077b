"""SQL of governance: applications, sponsorships, decisions, votes and the ledger."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from shieldwall.governance.model import ApplicationStatus, DecisionStatus
from shieldwall.governance.tables import applications, decisions, ledger, sponsorships, votes
from shieldwall.members.model import Tier
from shieldwall.members.tables import organisations
from shieldwall.sharing.tables import group_members, sharing_groups

_COMMITTEE_TIERS = [tier.value for tier in Tier if tier.on_steering_committee]
_PARTICIPATING_TIERS = [tier.value for tier in Tier if tier.participates]
_PENDING = [status.value for status in ApplicationStatus if status.pending]


def _new_id(result: Any) -> int:
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


# --------------------------------------------------------------------------- organisations


def committee_ids(conn: Connection) -> frozenset[int]:
    query = select(organisations.c.id).where(organisations.c.tier.in_(_COMMITTEE_TIERS))
    return frozenset(conn.execute(query).scalars())


def group_voter_ids(conn: Connection, group_id: int) -> frozenset[int]:
    """Members of a group whose tier still takes part in sharing."""
    query = (
        select(group_members.c.org_id)
        .join(organisations, organisations.c.id == group_members.c.org_id)
        .where(group_members.c.group_id == group_id)
        .where(organisations.c.tier.in_(_PARTICIPATING_TIERS))
    )
    return frozenset(conn.execute(query).scalars())


def org_names(conn: Connection, org_ids: frozenset[int]) -> dict[int, str]:
    if not org_ids:
        return {}
    query = select(organisations.c.id, organisations.c.name).where(
        organisations.c.id.in_(sorted(org_ids))
    )
    return {row.id: row.name for row in conn.execute(query)}


# --------------------------------------------------------------------------- applications

_applicant = organisations.alias("applicant")


def _application_query() -> Any:
    return select(applications, _applicant.c.name.label("org")).join(
        _applicant, _applicant.c.id == applications.c.org_id
    )


def insert_application(
    conn: Connection, *, org_id: int, tier: str, statement: str, created_at: datetime
) -> int:
    result = conn.execute(
        insert(applications).values(
            org_id=org_id,
            requested_tier=tier,
            statement=statement,
            status=ApplicationStatus.AWAITING_SPONSORS.value,
            created_at=created_at,
        )
    )
    return _new_id(result)


def application_by_id(conn: Connection, application_id: int) -> RowMapping | None:
    query = _application_query().where(applications.c.id == application_id)
    return conn.execute(query).mappings().first()


def list_applications(
    conn: Connection, org_id: int | None, status: str | None = None
) -> list[RowMapping]:
    query = _application_query().order_by(applications.c.id)
    if org_id is not None:
        query = query.where(applications.c.org_id == org_id)
    if status is not None:
        query = query.where(applications.c.status == status)
    return list(conn.execute(query).mappings())


def pending_application_of(conn: Connection, org_id: int) -> RowMapping | None:
    query = _application_query().where(
        applications.c.org_id == org_id, applications.c.status.in_(_PENDING)
    )
    return conn.execute(query).mappings().first()


def set_application_status(conn: Connection, application_id: int, status: str) -> None:
    conn.execute(
        update(applications).where(applications.c.id == application_id).values(status=status)
    )


def withdraw_pending_applications(conn: Connection, org_id: int) -> None:
    conn.execute(
        update(applications)
        .where(applications.c.org_id == org_id, applications.c.status.in_(_PENDING))
        .values(status=ApplicationStatus.WITHDRAWN.value)
    )


def insert_sponsorship(conn: Connection, application_id: int, org_id: int, at: datetime) -> None:
    conn.execute(
        insert(sponsorships).values(application_id=application_id, org_id=org_id, sponsored_at=at)
    )


def has_sponsored(conn: Connection, application_id: int, org_id: int) -> bool:
    query = select(
        exists().where(
            sponsorships.c.application_id == application_id, sponsorships.c.org_id == org_id
        )
    )
    return bool(conn.execute(query).scalar())


def sponsor_names(conn: Connection, application_id: int) -> list[str]:
    query = (
        select(organisations.c.name)
        .join(sponsorships, sponsorships.c.org_id == organisations.c.id)
        .where(sponsorships.c.application_id == application_id)
        .order_by(sponsorships.c.sponsored_at, organisations.c.name)
    )
    return list(conn.execute(query).scalars())


# --------------------------------------------------------------------------- decisions

_subject = organisations.alias("subject")
_proposer = organisations.alias("proposer")


def _decision_query() -> Any:
    return (
        select(
            decisions,
            _subject.c.name.label("subject"),
            _proposer.c.name.label("proposer"),
            sharing_groups.c.name.label("group"),
            applications.c.requested_tier,
        )
        .join(_subject, _subject.c.id == decisions.c.subject_org_id)
        .outerjoin(_proposer, _proposer.c.id == decisions.c.proposer_org_id)
        .outerjoin(sharing_groups, sharing_groups.c.id == decisions.c.group_id)
        .outerjoin(applications, applications.c.id == decisions.c.application_id)
    )


def insert_decision(conn: Connection, values: Mapping[str, Any]) -> int:
    result = conn.execute(
        insert(decisions).values(**values, status=DecisionStatus.OPEN.value, closed_at=None)
    )
    return _new_id(result)


def decision_by_id(conn: Connection, decision_id: int) -> RowMapping | None:
    query = _decision_query().where(decisions.c.id == decision_id)
    return conn.execute(query).mappings().first()


def decision_of_application(conn: Connection, application_id: int) -> int | None:
    query = select(decisions.c.id).where(decisions.c.application_id == application_id)
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None


def list_decisions(
    conn: Connection,
    *,
    status: str | None = None,
    visible_to: int | None = None,
    voter_group_ids: frozenset[int] = frozenset(),
) -> list[RowMapping]:
    """Decisions, optionally only those about `visible_to` or in its groups."""
    query = _decision_query().order_by(decisions.c.id)
    if status is not None:
        query = query.where(decisions.c.status == status)
    if visible_to is not None:
        about_it = decisions.c.subject_org_id == visible_to
        in_its_groups = decisions.c.group_id.in_(sorted(voter_group_ids))
        query = query.where(or_(about_it, in_its_groups) if voter_group_ids else about_it)
    return list(conn.execute(query).mappings())


def open_decisions(conn: Connection) -> list[RowMapping]:
    """Open decisions in deadline order: closing them in that order replays time faithfully."""
    query = (
        _decision_query()
        .where(decisions.c.status == DecisionStatus.OPEN.value)
        .order_by(decisions.c.deadline, decisions.c.id)
    )
    return list(conn.execute(query).mappings())


def any_due(conn: Connection, now: datetime) -> bool:
    query = select(
        exists().where(decisions.c.status == DecisionStatus.OPEN.value, decisions.c.deadline <= now)
    )
    return bool(conn.execute(query).scalar())


def open_decision_about(
    conn: Connection, kind: str, subject_org_id: int, group_id: int | None = None
) -> int | None:
    query = select(decisions.c.id).where(
        decisions.c.kind == kind,
        decisions.c.subject_org_id == subject_org_id,
        decisions.c.status == DecisionStatus.OPEN.value,
    )
    if group_id is not None:
        query = query.where(decisions.c.group_id == group_id)
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None


def open_decision_ids_about(conn: Connection, subject_org_id: int) -> list[int]:
    query = select(decisions.c.id).where(
        decisions.c.subject_org_id == subject_org_id,
        decisions.c.status == DecisionStatus.OPEN.value,
    )
    return [int(found) for found in conn.execute(query).scalars()]


def close_decision(conn: Connection, decision_id: int, status: str, closed_at: datetime) -> None:
    conn.execute(
        update(decisions)
        .where(decisions.c.id == decision_id)
        .values(status=status, closed_at=closed_at)
    )


# --------------------------------------------------------------------------- votes


def votes_on(conn: Connection, decision_id: int) -> list[RowMapping]:
    query = (
        select(votes, organisations.c.name.label("org"))
        .join(organisations, organisations.c.id == votes.c.org_id)
        .where(votes.c.decision_id == decision_id)
        .order_by(organisations.c.name)
    )
    return list(conn.execute(query).mappings())


def vote_of(conn: Connection, decision_id: int, org_id: int) -> RowMapping | None:
    query = select(votes).where(votes.c.decision_id == decision_id, votes.c.org_id == org_id)
    return conn.execute(query).mappings().first()


def insert_vote(
    conn: Connection, decision_id: int, org_id: int, choice: str, reason: str | None, at: datetime
) -> None:
    conn.execute(
        insert(votes).values(
            decision_id=decision_id, org_id=org_id, choice=choice, reason=reason, voted_at=at
        )
    )


def update_vote(
    conn: Connection, decision_id: int, org_id: int, choice: str, reason: str | None, at: datetime
) -> None:
    conn.execute(
        update(votes)
        .where(votes.c.decision_id == decision_id, votes.c.org_id == org_id)
        .values(choice=choice, reason=reason, voted_at=at)
    )


def delete_vote(conn: Connection, decision_id: int, org_id: int) -> None:
    conn.execute(
        delete(votes).where(and_(votes.c.decision_id == decision_id, votes.c.org_id == org_id))
    )


# --------------------------------------------------------------------------- ledger


def last_ledger_entry(conn: Connection) -> RowMapping | None:
    query = (
        select(ledger.c.seq, ledger.c.hash, ledger.c.signer, ledger.c.act, ledger.c.payload)
        .order_by(ledger.c.seq.desc())
        .limit(1)
    )
    return conn.execute(query).mappings().first()


def insert_ledger_entry(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(ledger).values(**values))


def iter_ledger(conn: Connection, batch: int = 1000) -> Iterator[RowMapping]:
    """Every entry in seq order, read in batches so a long ledger never sits in memory."""
    after = 0
    while True:
        query = select(ledger).where(ledger.c.seq > after).order_by(ledger.c.seq).limit(batch)
        rows = list(conn.execute(query).mappings())
        yield from rows
        if len(rows) < batch:
            return
        after = int(rows[-1]["seq"])


def ledger_page(
    conn: Connection,
    *,
    after: int,
    limit: int,
    about: str | None = None,
    subject_acts: frozenset[str] = frozenset(),
    reader: str | None = None,
) -> list[RowMapping]:
    """Entries after `after`; with `about`, only its own acts and the acts about it.

    Whoever reads, acts of others about the reader itself (votes on its own
    accession or suspension) show only when they are `subject_acts`.
    """
    query = select(ledger).where(ledger.c.seq > after).order_by(ledger.c.seq).limit(limit)
    if reader is not None:
        query = query.where(
            or_(
                ledger.c.subject.is_(None),
                ledger.c.subject != reader,
                ledger.c.actor == reader,
                ledger.c.act.in_(sorted(subject_acts)),
            )
        )
    if about is not None:
        query = query.where(
            or_(
                ledger.c.actor == about,
                and_(ledger.c.subject == about, ledger.c.act.in_(sorted(subject_acts))),
            )
        )
    return list(conn.execute(query).mappings())


def ledger_acts(conn: Connection, acts: frozenset[str], limit: int) -> list[RowMapping]:
    query = (
        select(ledger).where(ledger.c.act.in_(sorted(acts))).order_by(ledger.c.seq.desc())
    ).limit(limit)
    return list(conn.execute(query).mappings())


def ledger_size(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def last_node_entry(conn: Connection) -> RowMapping | None:
    """The newest entry of the node itself (no acting organisation)."""
    query = (
        select(ledger.c.seq, ledger.c.signer, ledger.c.act, ledger.c.payload)
        .where(ledger.c.actor.is_(None))
        .order_by(ledger.c.seq.desc())
        .limit(1)
    )
    return conn.execute(query).mappings().first()


def ledger_has_act(conn: Connection, act: str) -> bool:
    return bool(conn.execute(select(exists().where(ledger.c.act == act))).scalar())
