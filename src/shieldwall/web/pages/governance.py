"""Governance pages: applications, decisions and votes, the ledger, members' accession records.

Every act goes through the governance service with the user's principal, so
its rules apply unchanged (org-admins act, committee members vote, one
organisation one vote); a refused act is shown with the rule's own words.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from shieldwall.db.engine import write_transaction
from shieldwall.governance import access
from shieldwall.governance import service as governance
from shieldwall.governance.model import Choice
from shieldwall.members import service as members
from shieldwall.members.model import Tier
from shieldwall.sharing import service as sharing
from shieldwall.web.pages.deps import GovernanceDep, ReadConn
from shieldwall.web.routing import CurrentUser, FormUser, PageRoute, render
from shieldwall.web.sessions import WebUser

router = APIRouter(route_class=PageRoute, include_in_schema=False)

LEDGER_PAGE = 100
#: Ledger entries read, at most, to assemble one member's accession record.
_RECORD_SCAN = 100_000
NOTICES = {
    "applied": "Your application has been sent to the steering committee.",
    "sponsored": "Your sponsorship is recorded.",
    "voted": "Your vote is recorded.",
    "objection-withdrawn": "Your objection is withdrawn.",
    "proposed": "The decision is open; the voters have until its deadline.",
}
_APPLICABLE = {Tier.APPLICANT: ("sponsoring", "contributing"), Tier.CONTRIBUTING: ("sponsoring",)}


def _done(path: str, notice: str) -> Response:
    return RedirectResponse(f"{path}?notice={notice}", status_code=303)


def _notice(key: str | None) -> str | None:
    return NOTICES.get(key or "")


@router.get("/governance")
def overview(
    request: Request,
    user: CurrentUser,
    conn: ReadConn,
    gov: GovernanceDep,
    notice: str | None = None,
) -> Response:
    decisions = governance.list_decisions(conn, user.principal, None)
    context = {
        "notice": _notice(notice),
        "applications": governance.list_applications(conn, gov, user.principal, None),
        "open_decisions": [d for d in decisions if d["status"] == "open"],
        "closed_decisions": [d for d in decisions if d["status"] != "open"][:20],
        "may_apply": user.acts_in_governance and user.tier in _APPLICABLE,
        "applicable_tiers": _APPLICABLE.get(user.tier, ()),
        "may_sponsor": user.acts_in_governance and access.on_committee(user.principal),
        "members": [org["name"] for org in members.list_orgs(conn) if org["name"] != user.org],
        "groups": [group["name"] for group in sharing.list_groups(conn, user.principal)],
    }
    return render(request, "governance/overview.html", context)


@router.post("/governance/applications")
def apply(
    request: Request,
    user: FormUser,
    gov: GovernanceDep,
    tier: Annotated[str, Form(max_length=20)],
    statement: Annotated[str, Form(max_length=governance.MAX_TEXT)],
) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        governance.apply(conn, gov, user.principal, Tier(tier), statement)
    return _done("/governance", "applied")


@router.post("/governance/applications/{application_id}/sponsor")
def sponsor(request: Request, application_id: int, user: FormUser, gov: GovernanceDep) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        governance.sponsor(conn, gov, user.principal, application_id)
    return _done("/governance", "sponsored")


@router.post("/governance/suspensions")
def propose_suspension(
    request: Request,
    user: FormUser,
    gov: GovernanceDep,
    org: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form(max_length=governance.MAX_TEXT)],
) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        decision = governance.propose_suspension(conn, gov, user.principal, org, reason)
    return _done(f"/governance/decisions/{decision['id']}", "proposed")


@router.post("/governance/group-admissions")
def propose_group_admission(
    request: Request,
    user: FormUser,
    gov: GovernanceDep,
    group: Annotated[str, Form(max_length=200)],
    org: Annotated[str, Form(max_length=200)],
) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        decision = governance.propose_group_admission(conn, gov, user.principal, group, org)
    return _done(f"/governance/decisions/{decision['id']}", "proposed")


def _my_vote(view: dict[str, Any], user: WebUser) -> dict[str, Any] | None:
    return next((v for v in view.get("votes", []) if v["org"] == user.org), None)


@router.get("/governance/decisions/{decision_id}")
def decision(
    request: Request,
    decision_id: int,
    user: CurrentUser,
    conn: ReadConn,
    gov: GovernanceDep,
    notice: str | None = None,
) -> Response:
    view = governance.get_decision(conn, user.principal, decision_id)
    is_voter = user.org in view.get("voters", [])
    context = {
        "notice": _notice(notice),
        "decision": view,
        "my_vote": _my_vote(view, user),
        "may_vote": view["status"] == "open" and is_voter and user.acts_in_governance,
        "voter_without_governance_role": is_voter and not user.acts_in_governance,
        "choices": [choice.value for choice in Choice],
    }
    return render(request, "governance/decision.html", context)


@router.post("/governance/decisions/{decision_id}/vote")
def vote(
    request: Request,
    decision_id: int,
    user: FormUser,
    gov: GovernanceDep,
    choice: Annotated[Choice, Form()],
    reason: Annotated[str, Form(max_length=governance.MAX_TEXT)] = "",
) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        governance.vote(conn, gov, user.principal, decision_id, choice, reason or None)
    return _done(f"/governance/decisions/{decision_id}", "voted")


@router.post("/governance/decisions/{decision_id}/withdraw-objection")
def withdraw_objection(
    request: Request, decision_id: int, user: FormUser, gov: GovernanceDep
) -> Response:
    with write_transaction(request.app.state.engine) as conn:
        governance.withdraw_objection(conn, gov, user.principal, decision_id)
    return _done(f"/governance/decisions/{decision_id}", "objection-withdrawn")


@router.get("/governance/ledger")
def ledger(
    request: Request,
    user: CurrentUser,
    conn: ReadConn,
    gov: GovernanceDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    entries = governance.ledger_entries(conn, user.principal, after, LEDGER_PAGE)
    context = {
        "verification": governance.verify_ledger(conn, gov.settings),
        "entries": entries,
        "next_after": entries[-1]["seq"] if len(entries) == LEDGER_PAGE else None,
        "whole": access.ledger_scope(user.principal) is None,
    }
    return render(request, "governance/ledger.html", context)


def _record_of(conn: Any, user: WebUser, org_name: str) -> list[dict[str, Any]]:
    """The ledger entries about one organisation that the user may read, oldest first."""
    record: list[dict[str, Any]] = []
    after = 0
    while after < _RECORD_SCAN:
        page = governance.ledger_entries(conn, user.principal, after, 1000)
        record.extend(entry for entry in page if entry["subject"] == org_name)
        if len(page) < 1000:
            break
        after = page[-1]["seq"]
    return record


@router.get("/members/{name}")
def member(request: Request, name: str, user: CurrentUser, conn: ReadConn) -> Response:
    org = members.org_view(members.org_named(conn, name))
    context = {"org": org, "record": _record_of(conn, user, org["name"])}
    return render(request, "governance/member.html", context)
