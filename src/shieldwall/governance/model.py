"""Governance vocabulary: decision kinds and statuses, vote choices and ledger acts."""

from __future__ import annotations

from enum import StrEnum


class DecisionKind(StrEnum):
    ACCESSION = "accession"
    SUSPENSION = "suspension"
    GROUP_ADMISSION = "group-admission"


class DecisionStatus(StrEnum):
    OPEN = "open"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    #: The subject left the coalition before the decision closed.
    WITHDRAWN = "withdrawn"


class ApplicationStatus(StrEnum):
    AWAITING_SPONSORS = "awaiting-sponsors"
    OPEN = "open"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def pending(self) -> bool:
        return self in (ApplicationStatus.AWAITING_SPONSORS, ApplicationStatus.OPEN)


class Choice(StrEnum):
    CONCUR = "concur"
    ABSTAIN = "abstain"
    OBJECT = "object"


class Act(StrEnum):
    """Every kind of ledger entry."""

    LEDGER_OPENED = "ledger-opened"
    APPLICATION = "application"
    SPONSORSHIP = "sponsorship"
    DECISION_OPENED = "decision-opened"
    VOTE = "vote"
    VOTE_CHANGED = "vote-changed"
    OBJECTION_WITHDRAWN = "objection-withdrawn"
    DECISION_CLOSED = "decision-closed"
    ACCESSION = "accession"
    SUSPENSION = "suspension"
    GROUP_ADMISSION = "group-admission"
    WITHDRAWAL = "withdrawal"
    KEY_ROTATION = "key-rotation"
    #: The node puts an organisation's first public key on record (signed by the node key).
    KEY_REGISTERED = "key-registered"
    #: From here on every organisation signs its own acts (older entries: the node signed them).
    ORG_KEYS_ADOPTED = "org-keys-adopted"


#: Acts an organisation may read when they are about it (the committee reads all).
#: Votes are left out: who objected to an accession is the committee's business.
ACTS_SHOWN_TO_SUBJECT: frozenset[Act] = frozenset(
    {
        Act.APPLICATION,
        Act.SPONSORSHIP,
        Act.DECISION_OPENED,
        Act.DECISION_CLOSED,
        Act.ACCESSION,
        Act.SUSPENSION,
        Act.GROUP_ADMISSION,
        Act.WITHDRAWAL,
        Act.KEY_REGISTERED,
    }
)

#: Acts shown to the whole coalition in the activity feed.
ACTIVITY_ACTS: frozenset[Act] = frozenset({Act.ACCESSION, Act.SUSPENSION, Act.WITHDRAWAL})
