"""Intel pages: search, an object with its versions and relationships, import, export.

Every read goes through the intel and export services with the user's
`Reader`, exactly as the API's; an object the user may not see gets the same
404 page as one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import IO, Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Connection

from shieldwall.db.base import utcnow
from shieldwall.errors import BadInput
from shieldwall.formats.detect import Format
from shieldwall.formats.export import archive
from shieldwall.formats.export import service as export_service
from shieldwall.formats.export.model import ExportFormat
from shieldwall.formats.export.router import EXTENSIONS, MEDIA_TYPES
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel import service as intel
from shieldwall.intel.ingest import ImportAborted, ImportReport, Mode
from shieldwall.intel.observables import KINDS, detect
from shieldwall.intel.repository import ObjectFilters
from shieldwall.members import service as members
from shieldwall.sharing import service as sharing
from shieldwall.sharing.tlp import TLP
from shieldwall.web import detection
from shieldwall.web.graph import neighbourhood
from shieldwall.web.pages.deps import ReadConn
from shieldwall.web.routing import CurrentUser, FormUser, PageRoute, render
from shieldwall.web.sessions import WebUser
from shieldwall.web.settings import get_web_settings

router = APIRouter(prefix="/intel", route_class=PageRoute, include_in_schema=False)

#: The STIX types offered in the search form's type filter.
SEARCH_TYPES = (
    "indicator",
    "report",
    "malware",
    "threat-actor",
    "intrusion-set",
    "campaign",
    "attack-pattern",
    "tool",
    "vulnerability",
    "relationship",
    "sighting",
    "ipv4-addr",
    "domain-name",
    "url",
    "file",
)
TLP_CHOICES = [level.slug for level in TLP]


def _since(day: str | None, field: str) -> datetime | None:
    if not day:
        return None
    try:
        return datetime.combine(date.fromisoformat(day), time.min, tzinfo=UTC)
    except ValueError:
        raise BadInput(f"{day!r} is not a date (YYYY-MM-DD)", where=field) from None


@router.get("")
def search(
    request: Request,
    user: CurrentUser,
    conn: ReadConn,
    q: Annotated[str, Query(max_length=2048)] = "",
    type_: Annotated[str, Query(alias="type", max_length=250)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    tlp: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    query = q.strip()
    observable = detect(query) if query else None
    context: dict[str, Any] = {
        "q": query,
        "type": type_,
        "owner": owner,
        "tlp": tlp,
        "since": since,
        "types": SEARCH_TYPES,
        "tlps": TLP_CHOICES,
        "orgs": [org["name"] for org in members.list_orgs(conn)],
    }
    page_size = get_web_settings().web_page_size
    if observable is not None:
        # A value (an IP, a domain, a hash...): the objects that hold it.
        found = intel.find_by_value(conn, user.reader, query, None, page_size)
        context.update(value=found, objects=found["objects"], more=False, next=None)
    else:
        filters = ObjectFilters(
            types=(type_,) if type_ else (),
            text=query or None,
            owner_org_id=members.org_named(conn, owner)["id"] if owner else None,
            tlp_at_most=int(TLP.parse(tlp)) if tlp else None,
            added_since=_since(since, "since"),
        )
        listing = intel.list_objects(conn, user.reader, filters, cursor, page_size)
        context.update(value=None, **listing)
    return render(request, "intel/search.html", context)


@router.get("/objects/{stix_id}")
def object_page(request: Request, stix_id: str, user: CurrentUser, conn: ReadConn) -> Response:
    view = intel.get_object(conn, user.reader, stix_id)
    versions = intel.get_versions(conn, user.reader, stix_id)["versions"]
    settings = request.app.state.settings
    context = {
        "view": view,
        "obj": view["object"],
        "versions": list(reversed(versions)),
        "graph": neighbourhood(conn, user, view),
        "detection": detection.of_object(conn, user, settings, view, utcnow()),
    }
    return render(request, "intel/object.html", context)


# --------------------------------------------------------------------------- import


def _distributions(conn: Connection, user: WebUser) -> list[str]:
    groups = [
        f"group:{group['name']}"
        for group in sharing.list_groups(conn, user.principal)
        if user.org in group["members"]
    ]
    return ["org", "members", "public", *groups]


def _import_context(conn: Connection, user: WebUser) -> dict[str, Any]:
    return {
        "formats": [f.value for f in Format],
        "tlps": TLP_CHOICES,
        "distributions": _distributions(conn, user),
    }


@router.get("/import")
def import_form(request: Request, user: CurrentUser, conn: ReadConn) -> Response:
    return render(request, "intel/import.html", _import_context(conn, user))


@router.post("/import")
def import_upload(
    request: Request,
    user: FormUser,
    upload: Annotated[UploadFile, File()],
    format_: Annotated[Format, Form(alias="format")] = Format.AUTO,
    tlp: Annotated[str, Form(max_length=20)] = "amber",
    distribution: Annotated[str, Form(max_length=220)] = "",
    mode: Annotated[Mode, Form()] = Mode.LENIENT,
) -> Response:
    format_request = FormatRequest(
        principal=user.principal,
        owner=user.org,
        tlp=tlp,
        distribution=distribution or None,
        mode=mode,
        format=format_,
    )
    name = upload.filename or "upload"
    stream: IO[bytes] = upload.file
    engine, settings = request.app.state.engine, request.app.state.settings
    try:
        report = import_stream(engine, settings, format_request, stream, name, name=name)
    except ImportAborted as aborted:
        return _report_page(request, aborted.report, name, aborted.detail)
    return _report_page(request, report, name, None)


def _report_page(
    request: Request, report: ImportReport, name: str, aborted: str | None
) -> Response:
    context = {"report": report.as_dict(), "name": name, "aborted": aborted}
    return render(request, "intel/import_report.html", context, status_code=422 if aborted else 200)


# --------------------------------------------------------------------------- export


@router.get("/export")
def export_form(request: Request, user: CurrentUser, conn: ReadConn) -> Response:
    context = {
        "formats": [f.value for f in ExportFormat],
        "tlps": TLP_CHOICES,
        "kinds": sorted(KINDS),
        "orgs": [org["name"] for org in members.list_orgs(conn)],
    }
    return render(request, "intel/export.html", context)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/export/download")
def export_download(
    user: CurrentUser,
    conn: ReadConn,
    request: Request,
    format_: Annotated[str, Query(alias="format", max_length=20)],
    type_: Annotated[str, Query(alias="type", max_length=250)] = "",
    tlp: Annotated[str, Query(max_length=20)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    min_confidence: Annotated[str, Query(max_length=3)] = "",
    include_warninglisted: bool = False,
) -> Response:
    try:
        confidence = int(min_confidence) if min_confidence else None
    except ValueError:
        raise BadInput("minimum confidence must be a number", where="min_confidence") from None
    export = export_service.prepare(
        conn,
        user.reader,
        format_,
        types=[type_] if type_ else [],
        tlp=tlp or None,
        owner=owner or None,
        added_since=_since(since, "since"),
        min_confidence=confidence,
        include_warninglisted=True if include_warninglisted else None,
        single_txt_type=True,
    )
    engine = request.app.state.engine
    if export.format is ExportFormat.MISP_FEED:
        kind = archive.ArchiveKind.ZIP
        return StreamingResponse(
            archive.stream(export_service.stream_feed(engine, export), kind),
            media_type=kind.media_type,
            headers=_attachment(f"misp-feed.{kind}"),
        )
    name = f"shieldwall-{export.format}.{EXTENSIONS[export.format]}"
    return StreamingResponse(
        export_service.stream(engine, export),
        media_type=MEDIA_TYPES[export.format],
        headers=_attachment(name),
    )
