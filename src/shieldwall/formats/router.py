"""REST endpoint of the importers: `POST /api/v1/imports?format=...` (strict by default).

The same report and the same error mapping as `POST /api/v1/bundles`: a strict
import that meets a bad item answers 422 with the report, nothing stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from shieldwall.deps import CurrentPrincipal, EngineDep, SettingsDep
from shieldwall.formats.detect import Format
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel.ingest import Mode
from shieldwall.intel.router import _spool_body as spool_body

router = APIRouter(prefix="/api/v1", tags=["formats"])


@router.post(
    "/imports",
    summary="Import MISP events, STIX 2.0/2.1, CSV or free text (one transaction)",
)
async def post_import(
    request: Request,
    principal: CurrentPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    format_: Annotated[
        Format, Query(alias="format", description="auto detects the format from the content")
    ] = Format.AUTO,
    tlp: Annotated[str, Query(description="TLP for objects without a TLP marking")] = "amber",
    distribution: Annotated[
        str | None,
        Query(description="org, group:NAME, members or public; default: a MISP event's, else org"),
    ] = None,
    mode: Annotated[Mode, Query(description="strict: all or nothing; lenient: skip bad")] = (
        Mode.STRICT
    ),
    csv_mapping: Annotated[
        str | None, Query(description="CSV columns: COLUMN=KIND,... e.g. ip=ip,2=sha256")
    ] = None,
    skip_warninglisted: Annotated[
        bool, Query(description="free text: leave out what the MISP warninglists flag")
    ] = False,
) -> dict[str, Any]:
    # The bundle endpoint's spooling (size limit, spill to disk), shared rather than copied.
    body = await spool_body(request, settings)
    try:
        format_request = FormatRequest(
            principal=principal,
            owner=principal.org_name or "",
            tlp=tlp,
            distribution=distribution,
            mode=mode,
            format=format_,
            csv_mapping=csv_mapping,
            skip_warninglisted=skip_warninglisted,
        )
        report = await run_in_threadpool(
            import_stream, engine, settings, format_request, body, "api"
        )
    finally:
        body.close()
    return report.as_dict()
