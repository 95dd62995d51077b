"""REST endpoints of governance under /api/v1/governance.

Before any endpoint runs, decisions whose deadline has passed are closed
(`settle_due`), in their own transaction, so every answer reflects the
clock; the request's own connection opens only after that commit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from shieldwall.deps import CurrentPrincipal, ReadConn, WriteConn, get_engine
from shieldwall.governance import scheduler, service
from shieldwall.governance.model import ApplicationStatus, DecisionStatus
from shieldwall.governance.schemas import (
    ApplicationCreate,
    GroupAdmissionCreate,
    SuspensionCreate,
    VoteCast,
)
from shieldwall.governance.service import Governance
from shieldwall.members.model import Tier


def governance(request: Request) -> Governance:
    return scheduler.governance_of(request.app.state)


GovernanceDep = Annotated[Governance, Depends(governance)]


def settle_due(request: Request, gov: GovernanceDep) -> None:
    scheduler.settle_if_due(get_engine(request), gov)


router = APIRouter(
    prefix="/api/v1/governance",
    tags=["governance"],
    dependencies=[Depends(settle_due)],
    lifespan=scheduler.lifespan,
)
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("/applications", status_code=status.HTTP_201_CREATED, summary="Apply for membership")
def apply(
    body: ApplicationCreate, conn: WriteConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.apply(conn, gov, principal, Tier(body.tier), body.statement)


@router.get("/applications", summary="Applications (all for the committee, else the caller's)")
def list_applications(
    conn: ReadConn,
    gov: GovernanceDep,
    principal: CurrentPrincipal,
    status: ApplicationStatus | None = None,
) -> list[dict[str, Any]]:
    return service.list_applications(conn, gov, principal, status)


@router.get("/applications/{application_id}", summary="One application")
def get_application(
    application_id: int, conn: ReadConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.get_application(conn, gov, principal, application_id)


@router.post("/applications/{application_id}/sponsor", summary="Sponsor an application")
def sponsor(
    application_id: int, conn: WriteConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.sponsor(conn, gov, principal, application_id)


@router.post(
    "/suspensions", status_code=status.HTTP_201_CREATED, summary="Propose suspending a member"
)
def propose_suspension(
    body: SuspensionCreate, conn: WriteConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.propose_suspension(conn, gov, principal, body.org, body.reason)


@router.post(
    "/group-admissions",
    status_code=status.HTTP_201_CREATED,
    summary="Propose admitting an organisation to a sharing group",
)
def propose_group_admission(
    body: GroupAdmissionCreate, conn: WriteConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.propose_group_admission(conn, gov, principal, body.group, body.org)


@router.post("/withdrawal", summary="Withdraw the caller's organisation from the coalition")
def withdraw(conn: WriteConn, gov: GovernanceDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return service.withdraw(conn, gov, principal)


@router.get("/decisions", summary="Decisions the caller may see")
def list_decisions(
    conn: ReadConn, principal: CurrentPrincipal, status: DecisionStatus | None = None
) -> list[dict[str, Any]]:
    return service.list_decisions(conn, principal, status)


@router.get("/decisions/{decision_id}", summary="One decision (votes shown to its voters)")
def get_decision(decision_id: int, conn: ReadConn, principal: CurrentPrincipal) -> dict[str, Any]:
    return service.get_decision(conn, principal, decision_id)


@router.post(
    "/decisions/{decision_id}/votes",
    summary="Concur, abstain or object (replaces the caller's earlier vote)",
)
def vote(
    decision_id: int,
    body: VoteCast,
    conn: WriteConn,
    gov: GovernanceDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    return service.vote(conn, gov, principal, decision_id, body.choice, body.reason)


@router.post(
    "/decisions/{decision_id}/withdraw-objection", summary="Withdraw the caller's objection"
)
def withdraw_objection(
    decision_id: int, conn: WriteConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.withdraw_objection(conn, gov, principal, decision_id)


@router.get("/ledger", summary="Ledger entries the caller may read, and the chain's verification")
def read_ledger(
    conn: ReadConn,
    gov: GovernanceDep,
    principal: CurrentPrincipal,
    after: Annotated[int, Query(ge=0, description="Entries after this seq")] = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    entries = service.ledger_entries(conn, principal, after, limit)
    return {
        "verification": service.verification_view(conn, principal, gov.settings),
        "entries": entries,
        "next_after": entries[-1]["seq"] if len(entries) == limit else None,
    }


@router.get("/ledger/verify", summary="Recompute the chain and every signature")
def verify_ledger(
    conn: ReadConn, gov: GovernanceDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    return service.verification_view(conn, principal, gov.settings)


@router.get("/activity", summary="Accessions (flags raised), suspensions and withdrawals")
def activity(
    conn: ReadConn, principal: CurrentPrincipal, limit: Limit = 100
) -> list[dict[str, Any]]:
    return service.activity(conn, limit)
