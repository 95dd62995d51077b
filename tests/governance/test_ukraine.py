"""The reference story, end to end through the API: Ukraine's accession.

Sponsored by one member, blocked by one objection past several concurrences,
the objection withdrawn, adopted at the deadline by silence: from that
moment, and not a second earlier, Ukraine reads the members' intel.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from shieldwall.governance.clock import ManualClock
from shieldwall.members.model import Tier
from tests.factories import Coalition
from tests.governance.conftest import PERIOD, START, Api, add_org


def test_ukraine_accedes_by_silence_once_the_objection_is_withdrawn(
    api: Api, engine: Engine, coalition: Coalition, clock: ManualClock
) -> None:
    add_org(engine, coalition, "Ukraine", Tier.APPLICANT)
    members_only = api.share("Sponsor A", "members")
    assert members_only not in api.visible_ids("Ukraine")

    application = api.apply("Ukraine", "sponsoring", "Ukraine asks to join as a sponsoring member.")
    sponsored = api.sponsor("Sponsor A", application)
    assert sponsored["sponsors"] == ["Sponsor A"]
    decision = sponsored["decision"]
    opened = api.decision("Host", decision)
    assert opened["status"] == "open"
    assert opened["deadline"] == (START + PERIOD).isoformat()
    assert opened["silent"] == ["Host", "Sponsor A", "Sponsor B"]

    api.ok(api.vote("Host", decision, "concur"))
    api.ok(api.vote("Sponsor A", decision, "concur"))
    clock.advance(timedelta(days=1))
    blocked = api.ok(api.vote("Sponsor B", decision, "object", "not while the conflict lasts"))
    assert blocked["status"] == "open"
    assert {v["org"]: v["choice"] for v in blocked["votes"]} == {
        "Host": "concur",
        "Sponsor A": "concur",
        "Sponsor B": "object",
    }

    clock.advance(timedelta(days=3))
    lifted = api.ok(api.post("Sponsor B", f"/decisions/{decision}/withdraw-objection"))
    # Silence again: not unanimous, so the decision waits for its deadline.
    assert lifted["status"] == "open"
    assert lifted["silent"] == ["Sponsor B"]

    clock.set(START + PERIOD - timedelta(seconds=1))
    assert api.decision("Host", decision)["status"] == "open"
    assert api.tier("Ukraine") == "applicant"
    assert members_only not in api.visible_ids("Ukraine")

    clock.set(START + PERIOD)
    adopted = api.decision("Ukraine", decision)
    assert adopted["status"] == "adopted"
    assert adopted["closed_at"] == (START + PERIOD).isoformat()
    assert "votes" not in adopted  # the subject learns the outcome, not who objected
    assert api.tier("Ukraine") == "sponsoring"
    assert members_only in api.visible_ids("Ukraine")

    ukraine = api.ok(api.client.get("/api/v1/orgs/Ukraine", headers=coalition.auth("Host")))
    assert ukraine["accession_at"] == (START + PERIOD).isoformat()
    application_now = api.ok(api.get("Ukraine", f"/applications/{application}"))
    assert application_now["status"] == "adopted"
    feed = api.ok(api.get("Contributor", "/activity"))
    assert feed[0]["message"] == "flag raised: Ukraine accedes as a sponsoring member"
    assert feed[0]["at"] == (START + PERIOD).isoformat()
    verification = api.ok(api.get("Host", "/ledger/verify"))
    assert verification["ok"] is True


def test_the_new_member_votes_on_the_next_accession(
    api: Api, engine: Engine, coalition: Coalition, clock: ManualClock
) -> None:
    add_org(engine, coalition, "Ukraine", Tier.APPLICANT)
    first = api.open_accession("Ukraine")
    clock.advance(PERIOD)
    assert api.decision("Host", first)["status"] == "adopted"

    second = api.open_accession("Applicant", tier="contributing")
    assert "Ukraine" in api.decision("Host", second)["silent"]
    api.ok(api.vote("Ukraine", second, "concur"))
