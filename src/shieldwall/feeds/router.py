"""REST endpoints of configured feeds under /api/v1/feeds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool

from shieldwall.db.engine import read_transaction
from shieldwall.deps import CurrentPrincipal, EngineDep, ReadConn, SettingsDep, WriteConn
from shieldwall.feeds import runner, service
from shieldwall.feeds.schemas import FeedCreate, FeedUpdate

router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])

# Feed names are unique per organisation: a host org-admin names another
# organisation's feed with `?org=`.
OrgQuery = Annotated[
    str | None,
    Query(description="Organisation whose feed this is; default the caller's own."),
]

# The caller comes before the connection (see taxii.router): one pooled
# connection per request at a time.


@router.get("", summary="Feeds the caller manages, with last run, last error and counts")
def list_feeds(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.list_feeds(conn, principal)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Configure a feed")
def create_feed(body: FeedCreate, principal: CurrentPrincipal, conn: WriteConn) -> dict[str, Any]:
    return service.create_feed(conn, principal, body)


@router.get("/{name}", summary="One feed")
def get_feed(
    name: str, principal: CurrentPrincipal, conn: ReadConn, org: OrgQuery = None
) -> dict[str, Any]:
    return service.feed_view(service.manageable_feed(conn, principal, name, org))


@router.patch("/{name}", summary="Enable, disable or reschedule a feed")
def update_feed(
    name: str, body: FeedUpdate, principal: CurrentPrincipal, conn: WriteConn, org: OrgQuery = None
) -> dict[str, Any]:
    return service.update_feed(conn, principal, name, body, org)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a feed")
def delete_feed(
    name: str, principal: CurrentPrincipal, conn: WriteConn, org: OrgQuery = None
) -> None:
    service.delete_feed(conn, principal, name, org)


@router.post("/{name}/run", summary="Run a feed now; answers the feed with this run's outcome")
async def run_feed(
    name: str,
    principal: CurrentPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    org: OrgQuery = None,
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with read_transaction(engine) as conn:
            feed = service.manageable_feed(conn, principal, name, org)
        return runner.run_feed(engine, settings, feed)

    return await run_in_threadpool(run)
