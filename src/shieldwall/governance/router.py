"""REST endpoints of governance under /api/v1/governance, and the issue's paths under /api/v1.

The applications, decisions, ledger and members endpoints are served twice,
by the same handlers: under `/api/v1/governance/...` and directly under
`/api/v1/...` (the paths the membership issue names). Suspensions, group
admissions, withdrawal and the activity feed stay under `/governance` only.

Decisions whose deadline has passed are closed when the caller authenticates
(`shieldwall.deps.optional_principal`), in their own transaction, so every
answer reflects the clock; endpoints declare the caller before their
connection, so that connection opens only after that commit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from shieldwall.deps import CurrentPrincipal, ReadConn, WriteConn
from shieldwall.governance import scheduler, service
from shieldwall.governance.model import ApplicationStatus, DecisionStatus
from shieldwall.governance.schemas import (
    ApplicationCreate,
    GroupAdmissionCreate,
    KeyExport,
    SuspensionCreate,
    VoteCast,
)
from shieldwall.governance.service import Governance
from shieldwall.members import service as members
from shieldwall.members.model import Tier


def governance(request: Request) -> Governance:
    return scheduler.governance_of(request.app.state)


GovernanceDep = Annotated[Governance, Depends(governance)]


#: What the app includes; it owns the scheduler's lifespan, so the ticker starts once.
router = APIRouter(prefix="/api/v1", lifespan=scheduler.lifespan)
#: Endpoints served under /api/v1/governance and again directly under /api/v1.
# Due decisions are settled when any caller authenticates (shieldwall.deps), so
# governance endpoints need no settling step of their own.
issue_paths = APIRouter(tags=["governance"])
#: Endpoints served under /api/v1/governance only.
governance_only = APIRouter(tags=["governance"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@issue_paths.post(
    "/applications", status_code=status.HTTP_201_CREATED, summary="Apply for membership"
)
def apply(
    body: ApplicationCreate, principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.apply(conn, gov, principal, Tier(body.tier), body.statement)


@issue_paths.get("/applications", summary="Applications (all for the committee, else the caller's)")
def list_applications(
    principal: CurrentPrincipal,
    conn: ReadConn,
    gov: GovernanceDep,
    status: ApplicationStatus | None = None,
) -> list[dict[str, Any]]:
    return service.list_applications(conn, gov, principal, status)


@issue_paths.get("/applications/{application_id}", summary="One application")
def get_application(
    application_id: int, principal: CurrentPrincipal, conn: ReadConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.get_application(conn, gov, principal, application_id)


@issue_paths.post("/applications/{application_id}/sponsor", summary="Sponsor an application")
def sponsor(
    application_id: int, principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.sponsor(conn, gov, principal, application_id)


@governance_only.post(
    "/suspensions", status_code=status.HTTP_201_CREATED, summary="Propose suspending a member"
)
def propose_suspension(
    body: SuspensionCreate, principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.propose_suspension(conn, gov, principal, body.org, body.reason)


@governance_only.post(
    "/group-admissions",
    status_code=status.HTTP_201_CREATED,
    summary="Propose admitting an organisation to a sharing group",
)
def propose_group_admission(
    body: GroupAdmissionCreate, principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.propose_group_admission(conn, gov, principal, body.group, body.org)


@governance_only.post(
    "/withdrawal", summary="Withdraw the caller's organisation from the coalition"
)
def withdraw(principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep) -> dict[str, Any]:
    return service.withdraw(conn, gov, principal)


@issue_paths.get("/decisions", summary="Decisions the caller may see")
def list_decisions(
    principal: CurrentPrincipal, conn: ReadConn, status: DecisionStatus | None = None
) -> list[dict[str, Any]]:
    return service.list_decisions(conn, principal, status)


@issue_paths.get("/decisions/{decision_id}", summary="One decision (votes shown to its voters)")
def get_decision(decision_id: int, principal: CurrentPrincipal, conn: ReadConn) -> dict[str, Any]:
    return service.get_decision(conn, principal, decision_id)


@issue_paths.post(
    "/decisions/{decision_id}/votes",
    summary="Concur, abstain or object (replaces the caller's earlier vote)",
)
def vote(
    decision_id: int,
    body: VoteCast,
    principal: CurrentPrincipal,
    conn: WriteConn,
    gov: GovernanceDep,
) -> dict[str, Any]:
    return service.vote(conn, gov, principal, decision_id, body.choice, body.reason)


@issue_paths.post(
    "/decisions/{decision_id}/withdraw-objection", summary="Withdraw the caller's objection"
)
def withdraw_objection(
    decision_id: int, principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.withdraw_objection(conn, gov, principal, decision_id)


@issue_paths.get(
    "/ledger", summary="Ledger entries the caller may read, and the chain's verification"
)
def read_ledger(
    principal: CurrentPrincipal,
    conn: ReadConn,
    gov: GovernanceDep,
    after: Annotated[int, Query(ge=0, description="Entries after this seq")] = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    entries = service.ledger_entries(conn, principal, after, limit)
    return {
        "verification": service.verification_view(conn, principal, gov.settings),
        "entries": entries,
        "next_after": entries[-1]["seq"] if len(entries) == limit else None,
    }


@issue_paths.get("/ledger/verify", summary="Recompute the chain and every signature")
def verify_ledger(
    principal: CurrentPrincipal, conn: ReadConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.verification_view(conn, principal, gov.settings)


@governance_only.get("/activity", summary="Accessions (flags raised), suspensions and withdrawals")
def activity(
    principal: CurrentPrincipal, conn: ReadConn, limit: Limit = 100
) -> list[dict[str, Any]]:
    return service.activity(conn, limit)


@issue_paths.get("/members", summary="Every organisation with its tier, country and accession date")
def list_members(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return members.list_orgs(conn)


#: Signing keys of organisations, under /api/v1/orgs/{org} beside the members endpoints.
org_keys = APIRouter(tags=["governance"])


@org_keys.get(
    "/orgs/{org}/signing-key",
    summary="The organisation's public signing keys, current and retired (committee, or itself)",
)
def read_signing_keys(
    org: str, principal: CurrentPrincipal, conn: ReadConn
) -> list[dict[str, Any]]:
    return service.signing_keys(conn, principal, org)


@org_keys.post(
    "/orgs/{org}/signing-key/export",
    summary="Export the organisation's private signing key (its own org-admin only)",
)
def export_signing_key(
    org: str,
    principal: CurrentPrincipal,
    conn: WriteConn,
    gov: GovernanceDep,
    response: Response,
    body: KeyExport | None = None,
) -> dict[str, Any]:
    exported = service.export_signing_key(
        conn, gov, principal, org, body.passphrase if body else None
    )
    # A private key must not sit in a proxy's or a browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return {
        "org": exported.org,
        "key_id": exported.key_id,
        "public_key": exported.public_key,
        "encrypted": body is not None and body.passphrase is not None,
        "private_key_pem": exported.pem,
    }


@org_keys.post(
    "/orgs/{org}/signing-key/rotation",
    summary="Rotate the organisation's signing key (a ledger act signed by the old key)",
)
def rotate_signing_key(
    org: str, principal: CurrentPrincipal, conn: WriteConn, gov: GovernanceDep
) -> dict[str, Any]:
    return service.rotate_signing_key(conn, gov, principal, org)


@governance_only.get("/keys", summary="Public signing keys on record (committee: all; else own)")
def list_signing_keys(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.signing_keys(conn, principal, None)


# The issue's paths with and without /governance; the rest with it only.
router.include_router(issue_paths, prefix="/governance")
router.include_router(governance_only, prefix="/governance")
router.include_router(issue_paths)
router.include_router(org_keys)
