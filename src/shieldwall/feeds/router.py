"""REST endpoints of configured feeds under /api/v1/feeds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from shieldwall.db.engine import read_transaction
from shieldwall.deps import CurrentPrincipal, EngineDep, ReadConn, SettingsDep, WriteConn
from shieldwall.feeds import runner, service
from shieldwall.feeds.schemas import FeedCreate, FeedUpdate

router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])

# The caller comes before the connection (see taxii.router): one pooled
# connection per request at a time.


@router.get("", summary="Feeds the caller manages, with last run, last error and counts")
def list_feeds(principal: CurrentPrincipal, conn: ReadConn) -> list[dict[str, Any]]:
    return service.list_feeds(conn, principal)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Configure a feed")
def create_feed(body: FeedCreate, principal: CurrentPrincipal, conn: WriteConn) -> dict[str, Any]:
    return service.create_feed(conn, principal, body)


@router.get("/{name}", summary="One feed")
def get_feed(name: str, principal: CurrentPrincipal, conn: ReadConn) -> dict[str, Any]:
    return service.feed_view(service.manageable_feed(conn, principal, name))


@router.patch("/{name}", summary="Enable, disable or reschedule a feed")
def update_feed(
    name: str, body: FeedUpdate, principal: CurrentPrincipal, conn: WriteConn
) -> dict[str, Any]:
    return service.update_feed(conn, principal, name, body)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a feed")
def delete_feed(name: str, principal: CurrentPrincipal, conn: WriteConn) -> None:
    service.delete_feed(conn, principal, name)


@router.post("/{name}/run", summary="Run a feed now; answers the feed with this run's outcome")
async def run_feed(
    name: str, principal: CurrentPrincipal, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with read_transaction(engine) as conn:
            feed = service.manageable_feed(conn, principal, name)
        return runner.run_feed(engine, settings, feed)

    return await run_in_threadpool(run)
