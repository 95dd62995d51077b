"""REST endpoints of the object store: ingest bundles, read objects and observables."""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from shieldwall.config import Settings
from shieldwall.deps import CurrentPrincipal, CurrentReader, EngineDep, ReadConn, SettingsDep
from shieldwall.errors import BadInput, PayloadTooLarge
from shieldwall.intel import service
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import Mode, iter_bundle
from shieldwall.intel.repository import ObjectFilters
from shieldwall.members import service as members
from shieldwall.sharing.tlp import TLP

router = APIRouter(prefix="/api/v1", tags=["intel"])

#: Bodies up to this size stay in memory; larger ones spill to a temporary file.
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


async def _spool_body(request: Request, settings: Settings) -> IO[bytes]:
    """The request body in a (spooled) file, refused past the configured size."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > settings.max_body_bytes:
            spool.close()
            raise PayloadTooLarge(
                f"the body exceeds the limit of {settings.max_body_bytes} bytes", where="body"
            )
        spool.write(chunk)
    spool.seek(0)
    return spool


@router.post("/bundles", summary="Import a STIX 2.1 bundle (one transaction)")
async def post_bundle(
    request: Request,
    principal: CurrentPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    tlp: Annotated[str, Query(description="TLP for objects without a TLP marking")] = "amber",
    distribution: Annotated[str, Query(description="org, group:NAME, members or public")] = "org",
    mode: Annotated[Mode, Query(description="strict: all or nothing; lenient: skip bad")] = (
        Mode.STRICT
    ),
) -> dict[str, Any]:
    body = await _spool_body(request, settings)
    try:
        import_request = ImportRequest(
            principal=principal,
            owner=principal.org_name or "",
            tlp=tlp,
            distribution=distribution,
            mode=mode,
        )
        report = await run_in_threadpool(
            run_import, engine, settings, import_request, lambda: iter_bundle(body), "api"
        )
    finally:
        body.close()
    return report.as_dict()


def _filters(
    conn: Any,
    type_: list[str] | None,
    text: str | None,
    owner: str | None,
    tlp: str | None,
    added_since: datetime | None,
) -> ObjectFilters:
    if added_since is not None and added_since.tzinfo is None:
        raise BadInput(
            "added_since needs a timezone, e.g. 2024-01-31T00:00:00Z", where="added_since"
        )
    return ObjectFilters(
        types=tuple(type_ or ()),
        text=text or None,
        owner_org_id=members.org_named(conn, owner)["id"] if owner else None,
        tlp_at_most=int(TLP.parse(tlp)) if tlp else None,
        added_since=added_since,
    )


@router.get("/objects", summary="List the latest version of every object the caller may see")
def list_objects(
    reader: CurrentReader,
    conn: ReadConn,
    settings: SettingsDep,
    type_: Annotated[list[str] | None, Query(alias="type")] = None,
    text: str | None = None,
    owner: Annotated[str | None, Query(description="owner organisation name")] = None,
    tlp: Annotated[str | None, Query(description="TLP at most")] = None,
    added_since: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    filters = _filters(conn, type_, text, owner, tlp, added_since)
    page = min(limit or settings.page_size_default, settings.page_size_max)
    return service.list_objects(conn, reader, filters, cursor, page)


@router.get("/objects/{stix_id}", summary="The latest visible version of one object")
def get_object(stix_id: str, reader: CurrentReader, conn: ReadConn) -> dict[str, Any]:
    return service.get_object(conn, reader, stix_id)


@router.get("/objects/{stix_id}/versions", summary="Every visible version of one object")
def get_versions(stix_id: str, reader: CurrentReader, conn: ReadConn) -> dict[str, Any]:
    return service.get_versions(conn, reader, stix_id)


@router.get("/observables", summary="Which visible objects contain this value")
def find_observable(
    reader: CurrentReader,
    conn: ReadConn,
    settings: SettingsDep,
    value: Annotated[str, Query(min_length=1, max_length=2048)],
    type_: Annotated[str | None, Query(alias="type")] = None,
) -> dict[str, Any]:
    return service.find_by_value(conn, reader, value, type_, settings.page_size_max)
