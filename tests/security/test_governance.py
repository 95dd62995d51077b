"""Governance answers an organisation about decisions it may not see as about absent ones.

`access.may_see_decision` hides a decision from organisations that are not on
the committee, not its subject and not its voters (GET answers 404). The
tests here ask the same question about a hidden decision and about an absent
one through every other door (voting, withdrawing an objection) and require
the same answer; and they require the ledger an outsider reads not to change
when the committee acts on something the outsider may not see.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from httpx import Response

from tests.governance.conftest import Api

ABSENT = 987_654


def _as_absent(response: Response, decision: int) -> tuple[int, Any]:
    """Status and body with the decision's id written as the absent one's."""
    text = re.sub(rf"\b{decision}\b", str(ABSENT), response.text)
    return response.status_code, text


def _hidden_decisions(api: Api) -> dict[str, int]:
    """Decisions `Contributor` may not see: an accession and a suspension."""
    accession = api.open_accession("Applicant")
    proposed = api.post("Host", "/suspensions", {"org": "Sponsor B", "reason": "breach of TLP"})
    suspension = int(api.ok(proposed, 201)["id"])
    for decision in (accession, suspension):
        assert api.get("Contributor", f"/decisions/{decision}").status_code == 404
    return {"accession": accession, "suspension": suspension}


@pytest.mark.parametrize("kind", ["accession", "suspension"])
def test_get_answers_a_hidden_decision_as_an_absent_one(api: Api, kind: str) -> None:
    decision = _hidden_decisions(api)[kind]
    hidden = _as_absent(api.get("Contributor", f"/decisions/{decision}"), decision)
    assert hidden == _as_absent(api.get("Contributor", f"/decisions/{ABSENT}"), ABSENT)


@pytest.mark.parametrize("kind", ["accession", "suspension"])
def test_voting_on_a_hidden_decision_answers_as_on_an_absent_one(api: Api, kind: str) -> None:
    decision = _hidden_decisions(api)[kind]
    hidden = _as_absent(api.vote("Contributor", decision, "concur"), decision)
    absent = _as_absent(api.vote("Contributor", ABSENT, "concur"), ABSENT)
    assert hidden == absent, f"a vote reveals that hidden {kind} decision {decision} exists"


@pytest.mark.parametrize("kind", ["accession", "suspension"])
def test_withdrawing_an_objection_on_a_hidden_decision_answers_as_absent(
    api: Api, kind: str
) -> None:
    decision = _hidden_decisions(api)[kind]
    path = "/decisions/{}/withdraw-objection"
    hidden = _as_absent(api.post("Contributor", path.format(decision)), decision)
    absent = _as_absent(api.post("Contributor", path.format(ABSENT)), ABSENT)
    assert hidden == absent, f"withdraw-objection reveals hidden {kind} decision {decision}"


def test_a_group_admission_vote_does_not_name_a_group_to_a_non_member(api: Api) -> None:
    """`Outsider` asks to join "ics"; `Applicant` (no member, no committee) must not learn of it."""
    proposed = api.post("Outsider", "/group-admissions", {"group": "ics", "org": "Outsider"})
    decision = int(api.ok(proposed, 201)["id"])
    assert api.get("Applicant", f"/decisions/{decision}").status_code == 404
    response = api.vote("Applicant", decision, "concur")
    assert "'ics'" not in response.text, response.text
    assert _as_absent(response, decision) == _as_absent(
        api.vote("Applicant", ABSENT, "concur"), ABSENT
    )


def test_the_ledger_an_outsider_reads_ignores_acts_it_may_not_see(api: Api) -> None:
    """`Contributor` reads its ledger; the committee then opens and votes on a suspension."""
    before = api.ok(api.get("Contributor", "/ledger"))
    proposed = api.post("Host", "/suspensions", {"org": "Sponsor B", "reason": "breach of TLP"})
    suspension = int(api.ok(proposed, 201)["id"])
    api.ok(api.vote("Sponsor A", suspension, "concur"))
    assert api.get("Contributor", f"/decisions/{suspension}").status_code == 404
    after = api.ok(api.get("Contributor", "/ledger"))
    assert after["entries"] == before["entries"]
    assert after == before, "the ledger's verification counts entries the caller may not read"


def test_governance_listings_of_an_outsider_leave_out_hidden_decisions(api: Api) -> None:
    hidden = set(_hidden_decisions(api).values())
    listed = {d["id"] for d in api.ok(api.get("Contributor", "/decisions"))}
    assert not hidden & listed
    assert api.ok(api.get("Contributor", "/applications")) == []
