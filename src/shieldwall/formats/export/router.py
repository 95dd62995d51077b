"""`GET /api/v1/export`: every export format as one streamed response."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from shieldwall.deps import CurrentReader, EngineDep, ReadConn
from shieldwall.formats.export import archive, service
from shieldwall.formats.export.archive import ArchiveKind
from shieldwall.formats.export.model import ExportFormat

router = APIRouter(prefix="/api/v1", tags=["export"])

MEDIA_TYPES = {
    ExportFormat.STIX21: "application/stix+json;version=2.1",
    ExportFormat.MISP: "application/json",
    ExportFormat.SURICATA: "text/plain; charset=utf-8",
    ExportFormat.SNORT: "text/plain; charset=utf-8",
    ExportFormat.ZEEK: "text/plain; charset=utf-8",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.TXT: "text/plain; charset=utf-8",
}
EXTENSIONS = {
    ExportFormat.STIX21: "json",
    ExportFormat.MISP: "json",
    ExportFormat.SURICATA: "rules",
    ExportFormat.SNORT: "rules",
    ExportFormat.ZEEK: "intel",
    ExportFormat.CSV: "csv",
    ExportFormat.TXT: "txt",
}


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/export", summary="Export what the caller may see, streamed, in one format")
def export(
    conn: ReadConn,
    reader: CurrentReader,
    engine: EngineDep,
    format_: Annotated[str, Query(alias="format", description=", ".join(ExportFormat))],
    type_: Annotated[
        list[str] | None,
        Query(alias="type", description="observable types (value formats) or STIX types"),
    ] = None,
    tlp: Annotated[str | None, Query(description="TLP at most")] = None,
    owner: Annotated[str | None, Query(description="owner organisation name")] = None,
    added_since: datetime | None = None,
    min_confidence: Annotated[int | None, Query(ge=0, le=100)] = None,
    min_score: Annotated[
        float | None, Query(ge=0, le=100, description="minimum decayed score (0-100)")
    ] = None,
    include_warninglisted: Annotated[
        bool | None, Query(description="default: false for suricata, snort, zeek, txt")
    ] = None,
    sid_base: Annotated[int | None, Query(ge=1, description="suricata/snort")] = None,
    archive_kind: Annotated[ArchiveKind, Query(alias="archive", description="misp-feed")] = (
        ArchiveKind.ZIP
    ),
) -> StreamingResponse:
    request = service.prepare(
        conn,
        reader,
        format_,
        types=type_ or (),
        tlp=tlp,
        owner=owner,
        added_since=added_since,
        min_confidence=min_confidence,
        min_score=min_score,
        include_warninglisted=include_warninglisted,
        sid_base=sid_base,
        single_txt_type=True,
    )
    if request.format is ExportFormat.MISP_FEED:
        files = service.stream_feed(engine, request)
        return StreamingResponse(
            archive.stream(files, archive_kind),
            media_type=archive_kind.media_type,
            headers=_attachment(f"misp-feed.{archive_kind}"),
        )
    name = f"shieldwall-{request.format}.{EXTENSIONS[request.format]}"
    return StreamingResponse(
        service.stream(engine, request),
        media_type=MEDIA_TYPES[request.format],
        headers=_attachment(name),
    )
