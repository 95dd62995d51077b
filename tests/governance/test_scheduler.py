"""Decisions close on time with no one watching: the tick, and the app's clock."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.db.engine import write_transaction
from shieldwall.governance.clock import ManualClock, SystemClock
from shieldwall.governance.scheduler import tick
from shieldwall.governance.settings import GovernanceSettings
from tests.governance.conftest import PERIOD, START, Api


def test_the_tick_closes_due_decisions_and_access_follows_without_a_governance_request(
    api: Api, engine: Engine, clock: ManualClock, gov_settings: GovernanceSettings
) -> None:
    members_only = api.share("Sponsor A", "members", "192.0.2.99")
    adopted = api.open_accession("Applicant")
    rejected = api.open_accession("Outsider", sponsor="Sponsor B")
    api.ok(api.vote("Host", rejected, "object", "no"))

    clock.set(START + PERIOD - timedelta(microseconds=1))
    with write_transaction(engine) as conn:
        assert tick(conn, clock, gov_settings) == []
    clock.set(START + PERIOD + timedelta(hours=3))
    with write_transaction(engine) as conn:
        assert tick(conn, clock, gov_settings) == [adopted, rejected]

    # Only intel reads from here on: the tick alone changed the tier.
    assert members_only in api.visible_ids("Applicant")
    assert members_only not in api.visible_ids("Outsider")
    closed = api.decision("Host", adopted)
    assert closed["closed_at"] == (START + PERIOD).isoformat()  # the deadline, not the tick
    with write_transaction(engine) as conn:
        assert tick(conn, clock, gov_settings) == []


def test_the_app_keeps_a_system_clock_unless_given_one(client: TestClient) -> None:
    assert isinstance(getattr(client.app, "state").clock, SystemClock)  # noqa: B009


def test_any_authenticated_request_closes_a_due_decision_before_reading_the_tier(
    api: Api, clock: ManualClock
) -> None:
    members_only = api.share("Sponsor A", "members", "192.0.2.98")
    adopted = api.open_accession("Applicant")
    assert members_only not in api.visible_ids("Applicant")

    clock.set(START + PERIOD + timedelta(seconds=1))
    # No tick and no governance request: the applicant's own intel read settles it.
    assert members_only in api.visible_ids("Applicant")
    assert api.decision("Host", adopted)["status"] == "adopted"


def test_a_new_member_reads_the_ledger_without_the_votes_on_its_own_accession(
    api: Api, clock: ManualClock
) -> None:
    adopted = api.open_accession("Applicant")
    api.ok(api.vote("Sponsor B", adopted, "object", "not yet"))
    api.ok(api.post("Sponsor B", f"/decisions/{adopted}/withdraw-objection"))
    api.ok(api.vote("Host", adopted, "concur"))
    clock.set(START + PERIOD + timedelta(seconds=1))
    assert api.tier("Applicant") == "sponsoring"

    as_member = api.ok(api.get("Applicant", "/ledger"))["entries"]
    about_itself = [
        e for e in as_member if e["subject"] == "Applicant" and e["actor"] != "Applicant"
    ]
    assert about_itself, "the accession itself is on the new member's record"
    assert not [e for e in about_itself if e["act"].startswith(("vote", "objection"))]
    as_host = api.ok(api.get("Host", "/ledger"))["entries"]
    assert [e for e in as_host if e["act"].startswith("vote")], "the committee keeps the votes"
