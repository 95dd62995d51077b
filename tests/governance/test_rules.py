"""Every rule of the silence procedure and of membership, through the API."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from shieldwall.db.engine import write_transaction
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.model import Choice
from shieldwall.governance.service import Governance, vote
from shieldwall.governance.tables import ledger, votes
from shieldwall.members import bootstrap
from shieldwall.members.model import Role, Tier
from tests.factories import Coalition
from tests.governance.conftest import PERIOD, START, Api, add_org


def test_unanimous_concurrence_adopts_before_the_deadline(api: Api, clock: ManualClock) -> None:
    decision = api.open_accession("Applicant", tier="contributing")
    clock.advance(timedelta(hours=5))
    api.ok(api.vote("Host", decision, "concur"))
    api.ok(api.vote("Sponsor A", decision, "abstain"))
    assert api.tier("Applicant") == "applicant"
    adopted = api.ok(api.vote("Sponsor B", decision, "concur"))
    assert adopted["status"] == "adopted"
    assert adopted["closed_at"] == (START + timedelta(hours=5)).isoformat()
    assert api.tier("Applicant") == "contributing"


def test_a_standing_objection_rejects_at_the_deadline(api: Api, clock: ManualClock) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    api.ok(api.vote("Sponsor A", decision, "concur"))
    api.ok(api.vote("Sponsor B", decision, "object", "insufficient vetting"))
    clock.advance(PERIOD)
    closed = api.decision("Host", decision)
    assert closed["status"] == "rejected"
    assert api.tier("Applicant") == "applicant"
    application = api.ok(api.get("Applicant", "/applications"))[0]
    assert application["status"] == "rejected"


def test_silence_alone_adopts_at_the_deadline(api: Api, clock: ManualClock) -> None:
    decision = api.open_accession("Applicant")
    clock.advance(PERIOD)
    assert api.decision("Host", decision)["status"] == "adopted"
    assert api.tier("Applicant") == "sponsoring"


def test_a_rejected_applicant_may_apply_again(api: Api, clock: ManualClock) -> None:
    first = api.open_accession("Applicant")
    api.ok(api.vote("Sponsor B", first, "object", "not yet"))
    clock.advance(PERIOD)
    assert api.decision("Host", first)["status"] == "rejected"

    second = api.open_accession("Applicant", sponsor="Sponsor B")
    assert second != first
    clock.advance(PERIOD)
    assert api.decision("Host", second)["status"] == "adopted"
    assert api.tier("Applicant") == "sponsoring"


def test_one_pending_application_at_a_time(api: Api) -> None:
    api.apply("Applicant")
    again = api.post("Applicant", "/applications", {"tier": "sponsoring", "statement": "again"})
    assert again.status_code == 409
    assert "one application at a time" in again.json()["detail"]


def test_a_second_vote_replaces_the_first(api: Api, engine: Engine) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Sponsor B", decision, "object", "concerns"))
    replaced = api.ok(api.vote("Sponsor B", decision, "abstain"))
    assert [v for v in replaced["votes"] if v["org"] == "Sponsor B"] == [
        {"org": "Sponsor B", "choice": "abstain", "reason": None, "at": replaced["votes"][0]["at"]}
    ]
    with engine.connect() as conn:
        acts = list(conn.execute(select(ledger.c.act).order_by(ledger.c.seq)).scalars())
    assert acts[-2:] == ["vote", "vote-changed"]


def test_the_same_vote_twice_records_nothing_new(api: Api, engine: Engine) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    with engine.connect() as conn:
        before = conn.execute(select(ledger.c.seq).order_by(ledger.c.seq.desc())).scalar()
    api.ok(api.vote("Host", decision, "concur"))
    with engine.connect() as conn:
        after = conn.execute(select(ledger.c.seq).order_by(ledger.c.seq.desc())).scalar()
    assert after == before


def test_a_vote_exactly_at_the_deadline_is_too_late(api: Api, clock: ManualClock) -> None:
    decision = api.open_accession("Applicant")
    clock.set(START + PERIOD - timedelta(microseconds=1))
    api.ok(api.vote("Host", decision, "concur"))
    clock.set(START + PERIOD)
    late = api.vote("Sponsor B", decision, "object", "too late")
    assert late.status_code == 409
    assert api.decision("Host", decision)["status"] == "adopted"


def test_withdrawing_an_objection_needs_one(api: Api) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    refused = api.post("Host", f"/decisions/{decision}/withdraw-objection")
    assert refused.status_code == 409
    assert "no standing objection" in refused.json()["detail"]


def _after_close(api: Api, clock: ManualClock) -> int:
    decision = api.open_accession("Applicant")
    clock.advance(PERIOD)
    api.decision("Host", decision)
    return decision


# (who, role, body, expected status, words the error must contain)
REFUSED_VOTES: list[tuple[str, Role, dict[str, Any], int, str]] = [
    ("Applicant", Role.ORG_ADMIN, {"choice": "concur"}, 403, "steering-committee"),
    # Not the subject, not a voter: the decision is not the caller's to know of.
    ("Contributor", Role.ORG_ADMIN, {"choice": "concur"}, 404, "does not exist"),
    ("Sponsor A", Role.ANALYST, {"choice": "concur"}, 403, "org-admin"),
    ("Sponsor A", Role.ORG_ADMIN, {"choice": "yes"}, 422, "choice"),
    ("Sponsor A", Role.ORG_ADMIN, {"choice": "object"}, 422, "reason"),
    ("Sponsor A", Role.ORG_ADMIN, {"choice": "object", "reason": "  "}, 422, "reason"),
    ("Sponsor A", Role.ORG_ADMIN, {"choice": "concur", "org": "Host"}, 422, "org"),
]


@pytest.mark.parametrize(("org", "role", "body", "status", "words"), REFUSED_VOTES)
def test_refused_votes_change_nothing(
    api: Api, engine: Engine, org: str, role: Role, body: dict[str, Any], status: int, words: str
) -> None:
    decision = api.open_accession("Applicant")
    response = api.post(org, f"/decisions/{decision}/votes", body, role=role)
    assert response.status_code == status
    assert words in response.text
    with engine.connect() as conn:
        assert conn.execute(select(votes)).first() is None


def test_voting_on_a_closed_decision_is_a_conflict(api: Api, clock: ManualClock) -> None:
    decision = _after_close(api, clock)
    response = api.vote("Sponsor B", decision, "object", "after the fact")
    assert response.status_code == 409
    assert "closed (adopted)" in response.json()["detail"]


def test_an_unknown_decision_is_not_found(api: Api) -> None:
    assert api.vote("Host", 999, "concur").status_code == 404


REFUSED_SPONSORSHIPS: list[tuple[str, int, str]] = [
    ("Contributor", 403, "steering-committee"),
    ("Applicant", 403, "steering-committee"),
    ("Sponsor A", 409, "already sponsors"),
]


@pytest.mark.parametrize(("org", "status", "words"), REFUSED_SPONSORSHIPS)
def test_refused_sponsorships(api: Api, org: str, status: int, words: str) -> None:
    application = api.apply("Applicant")
    api.sponsor("Sponsor A", application)
    response = api.post(org, f"/applications/{application}/sponsor")
    assert response.status_code == status
    assert words in response.text


def test_the_sponsor_minimum_is_configurable(api: Api, gov_settings: Any) -> None:
    gov_settings.governance_sponsors_required = 2
    application = api.apply("Applicant")
    assert api.sponsor("Sponsor A", application)["decision"] is None
    assert api.sponsor("Sponsor B", application)["decision"] is not None


REFUSED_APPLICATIONS: list[tuple[str, str, int]] = [
    ("Sponsor A", "sponsoring", 403),
    ("Host", "contributing", 403),
    ("Contributor", "contributing", 422),
    ("Applicant", "host", 422),
]


@pytest.mark.parametrize(("org", "tier", "status"), REFUSED_APPLICATIONS)
def test_who_may_apply_for_what(api: Api, org: str, tier: str, status: int) -> None:
    response = api.post(org, "/applications", {"tier": tier, "statement": "please"})
    assert response.status_code == status, response.text


def test_a_contributing_participant_becomes_sponsoring_and_keeps_its_accession_date(
    api: Api, coalition: Coalition, clock: ManualClock
) -> None:
    before = api.ok(api.client.get("/api/v1/orgs/Contributor", headers=coalition.auth("Host")))
    decision = api.open_accession("Contributor")
    clock.advance(PERIOD)
    assert api.decision("Host", decision)["status"] == "adopted"
    after = api.ok(api.client.get("/api/v1/orgs/Contributor", headers=coalition.auth("Host")))
    assert after["tier"] == "sponsoring"
    assert after["accession_at"] == before["accession_at"]
    assert api.ok(api.get("Host", "/activity"))[0]["message"] == (
        "Contributor becomes a sponsoring member"
    )


def test_two_votes_of_one_organisation_at_once_leave_one_position(
    engine: Engine, api: Api, gov: Governance
) -> None:
    decision = api.open_accession("Applicant")
    with engine.connect() as conn:
        principal = bootstrap.principal_for(conn, "Sponsor B", Role.ORG_ADMIN)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def cast(choice: Choice, reason: str | None) -> None:
        try:
            barrier.wait()
            with write_transaction(engine) as conn:
                vote(conn, gov, principal, decision, choice, reason)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=cast, args=(Choice.CONCUR, None)),
        threading.Thread(target=cast, args=(Choice.OBJECT, "no")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as conn:
        rows = list(conn.execute(select(votes.c.choice)).scalars())
        acts = list(conn.execute(select(ledger.c.act).order_by(ledger.c.seq)).scalars())
    assert len(rows) == 1
    assert acts[-2:] == ["vote", "vote-changed"]
    final = api.decision("Host", decision)
    assert [v["choice"] for v in final["votes"]] == rows


# --------------------------------------------------------------------------- suspension


def test_suspension_is_decided_without_the_subject(
    api: Api, clock: ManualClock, coalition: Coalition
) -> None:
    shared = api.share("Sponsor A", "members", "198.51.100.77")
    own = api.share("Sponsor B", "org", "198.51.100.78")
    assert shared in api.visible_ids("Sponsor B")

    proposed = api.post("Host", "/suspensions", {"org": "Sponsor B", "reason": "breach of TLP"})
    decision = api.ok(proposed, 201)
    assert decision["silent"] == ["Host", "Sponsor A"]
    refused = api.vote("Sponsor B", decision["id"], "object", "we disagree")
    assert refused.status_code == 403
    assert "subject" in refused.json()["detail"]

    api.ok(api.vote("Host", decision["id"], "concur"))
    adopted = api.ok(api.vote("Sponsor A", decision["id"], "concur"))
    assert adopted["status"] == "adopted"
    assert api.tier("Sponsor B") == "suspended"
    assert api.visible_ids("Sponsor B") == {own}
    feed = api.ok(api.get("Sponsor A", "/activity"))
    assert feed[0]["message"] == "Sponsor B is suspended"


@pytest.mark.parametrize(
    ("proposer", "subject", "status"),
    [
        ("Contributor", "Sponsor B", 403),
        ("Sponsor A", "Host", 403),
        ("Host", "Applicant", 409),
        ("Host", "Nobody", 404),
    ],
)
def test_refused_suspensions(api: Api, proposer: str, subject: str, status: int) -> None:
    response = api.post(proposer, "/suspensions", {"org": subject, "reason": "r"})
    assert response.status_code == status, response.text


def test_a_suspended_member_no_longer_counts_as_a_voter(api: Api) -> None:
    accession = api.open_accession("Applicant")
    api.ok(api.vote("Sponsor B", accession, "object", "no"))
    suspension = api.ok(api.post("Host", "/suspensions", {"org": "Sponsor B", "reason": "r"}), 201)
    api.ok(api.vote("Sponsor A", suspension["id"], "concur"))
    api.ok(api.vote("Host", suspension["id"], "concur"))
    api.ok(api.vote("Host", accession, "concur"))
    # Sponsor B's objection no longer stands: the remaining committee is unanimous.
    assert api.ok(api.vote("Sponsor A", accession, "concur"))["status"] == "adopted"


# --------------------------------------------------------------------------- sharing groups


def test_group_admission_is_decided_by_the_group_members(api: Api, clock: ManualClock) -> None:
    in_group = api.share("Contributor", "group:ics", "192.0.2.200")
    assert in_group not in api.visible_ids("Outsider")
    proposed = api.post("Outsider", "/group-admissions", {"group": "ics", "org": "Outsider"})
    decision = api.ok(proposed, 201)
    assert "voters" not in decision  # the subject is told neither who decides nor how
    assert api.decision("Host", decision["id"])["voters"] == ["Contributor", "Host", "Sponsor A"]

    refused = api.vote("Sponsor B", decision["id"], "concur")
    assert refused.status_code == 403
    assert "members of sharing group 'ics'" in refused.json()["detail"]

    api.ok(api.vote("Contributor", decision["id"], "concur"))
    api.ok(api.vote("Host", decision["id"], "concur"))
    clock.advance(timedelta(days=1))
    adopted = api.ok(api.vote("Sponsor A", decision["id"], "abstain"))
    assert adopted["status"] == "adopted"
    assert in_group in api.visible_ids("Outsider")


def test_group_admission_needs_the_subject_or_a_group_member(api: Api) -> None:
    by_stranger = api.post("Sponsor B", "/group-admissions", {"group": "ics", "org": "Outsider"})
    assert by_stranger.status_code == 403
    already = api.post("Host", "/group-admissions", {"group": "ics", "org": "Contributor"})
    assert already.status_code == 409
    unknown = api.post("Host", "/group-admissions", {"group": "nope", "org": "Outsider"})
    assert unknown.status_code == 404


# --------------------------------------------------------------------------- withdrawal


def test_a_member_withdraws_and_its_contributions_stay(api: Api, coalition: Coalition) -> None:
    contribution = api.share("Sponsor B", "members", "198.51.100.99")
    left = api.ok(api.post("Sponsor B", "/withdrawal"))
    assert left["tier"] == "withdrawn"
    assert contribution in api.visible_ids("Sponsor A")
    response = api.client.get("/api/v1/objects", headers=coalition.auth("Sponsor B"))
    assert response.status_code == 401
    feed = api.ok(api.get("Host", "/activity"))
    assert feed[0]["message"] == "Sponsor B has withdrawn from the coalition"


def test_an_applicant_withdrawing_ends_its_decision(api: Api) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.post("Applicant", "/withdrawal"))
    assert api.decision("Host", decision)["status"] == "withdrawn"
    assert api.ok(api.get("Host", "/applications"))[0]["status"] == "withdrawn"


def test_a_withdrawn_objector_no_longer_blocks(api: Api, clock: ManualClock) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    api.ok(api.vote("Sponsor A", decision, "concur"))
    api.ok(api.vote("Sponsor B", decision, "object", "no"))
    api.ok(api.post("Sponsor B", "/withdrawal"))
    assert api.decision("Host", decision)["status"] == "adopted"


def test_the_host_cannot_withdraw(api: Api) -> None:
    assert api.post("Host", "/withdrawal").status_code == 403


# --------------------------------------------------------------------------- reading


def test_outsiders_do_not_see_decisions_or_applications(
    api: Api, engine: Engine, coalition: Coalition
) -> None:
    add_org(engine, coalition, "Other Applicant", Tier.APPLICANT)
    application = api.apply("Applicant")
    decision = api.sponsor("Sponsor A", application)["decision"]
    assert api.get("Other Applicant", f"/decisions/{decision}").status_code == 404
    assert api.get("Other Applicant", f"/applications/{application}").status_code == 404
    assert api.ok(api.get("Other Applicant", "/decisions")) == []
    assert api.ok(api.get("Other Applicant", "/applications")) == []
    assert [d["id"] for d in api.ok(api.get("Applicant", "/decisions"))] == [decision]


def test_the_subject_reads_its_ledger_entries_but_not_the_votes(api: Api) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Sponsor B", decision, "object", "secret reasons"))
    own = api.ok(api.get("Applicant", "/ledger"))
    assert [e["act"] for e in own["entries"]] == [
        "key-registered",
        "application",
        "sponsorship",
        "decision-opened",
    ]
    everything = api.ok(api.get("Sponsor A", "/ledger"))
    assert [e["act"] for e in everything["entries"]][-1] == "vote"
    assert "secret reasons" not in api.get("Applicant", "/ledger").text
    assert "secret reasons" not in api.get("Applicant", f"/decisions/{decision}").text
