"""One entry point for importing any supported format: detect, convert, ingest, report.

Every format is turned into STIX 2.1 objects and handed to the one ingest
(`intel.imports.run_import`): one transaction per input, strict or lenient as
the ingest implements it, the same `ImportReport`. Two things are added here:

- rejections are reported where the user wrote the item: the ingest numbers
  the STIX objects it was given, which for a MISP event or a CSV file mean
  nothing, so each is translated through the conversion's origins (index =
  the event, line or bundle object; field = `Event[uuid].Attribute[3].value`,
  `line[12].ip`, `objects.0.value`, ...);
- items the converter could not map are listed as rejections too, and
  `objects` counts them: `objects` = STIX objects given to the ingest + items
  refused before it, so every item of the input is accounted for.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput
from shieldwall.formats import misp
from shieldwall.formats.common import Conversion, Origin
from shieldwall.formats.csv_in import CsvMapper
from shieldwall.formats.detect import PEEK_BYTES, Format, detect
from shieldwall.formats.freetext import TextMapper
from shieldwall.formats.stix20 import Stix20Mapper
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import ImportAborted, ImportReport, Mode, Rejection, iter_bundle
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import Principal

#: Called with the fraction of the input done (0.0 to 1.0).
Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class FormatRequest:
    principal: Principal
    owner: str
    tlp: str
    #: None: the input's own distribution (a MISP event's), else `org`.
    distribution: str | None
    mode: Mode
    format: Format = Format.AUTO
    csv_mapping: str | None = None
    #: Leave out of free text what the MISP warninglists flag.
    skip_warninglisted: bool = False


def import_stream(
    engine: Engine,
    settings: Settings,
    request: FormatRequest,
    stream: IO[bytes],
    source: str,
    *,
    name: str | None = None,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Imports one input (a seekable stream) in one transaction and returns its report.

    Raises ImportAborted (strict mode: nothing stored) or BadInput.
    """
    head = stream.read(PEEK_BYTES)
    stream.seek(0)
    fmt = request.format
    if fmt is Format.AUTO:
        fmt = detect(head, name, csv_mapping=request.csv_mapping is not None)
    conversion = Conversion(source=source, strict=request.mode is Mode.STRICT)
    objects = _objects_factory(fmt, request, stream, conversion)
    distribution = request.distribution or _usable(engine, request, conversion.distribution)
    import_request = ImportRequest(
        principal=request.principal,
        owner=request.owner,
        tlp=request.tlp,
        distribution=distribution,
        mode=request.mode,
    )
    progress = _progress_adapter(on_progress, stream, conversion)
    try:
        report = run_import(engine, settings, import_request, objects, source, progress)
    except ImportAborted as aborted:
        if conversion.aborted or fmt is Format.STIX21:
            raise
        raise ImportAborted(_merged(aborted.report, conversion)) from None
    return report if fmt is Format.STIX21 else _merged(report, conversion)


def _objects_factory(
    fmt: Format, request: FormatRequest, stream: IO[bytes], conversion: Conversion
) -> Callable[[], Iterator[Any]]:
    if fmt is Format.STIX21:
        return lambda: iter_bundle(stream)
    if fmt is Format.STIX20:
        return lambda: Stix20Mapper(conversion).objects(stream)
    if fmt is Format.MISP:
        events = misp.load_events(stream.read())
        conversion.distribution = misp.narrowest([misp.event_distribution(e) for e in events])
        conversion.expected = sum(misp.item_count(event) for event in events)
        return lambda: misp.EventMapper(conversion).objects(events)
    if fmt is Format.CSV:
        mapper = CsvMapper(conversion, request.csv_mapping)
        return lambda: mapper.objects(stream)
    if fmt is Format.TEXT:
        text_mapper = TextMapper(
            conversion, _warninglisted() if request.skip_warninglisted else None
        )
        return lambda: text_mapper.objects(stream)
    raise BadInput(f"unknown format {fmt!r}", where="format")


def _warninglisted() -> Callable[[str, str], bool]:
    # Imported here: loading the lists takes seconds, and only this option needs them.
    from shieldwall.warninglists import default_index

    return default_index().is_listed


def _usable(engine: Engine, request: FormatRequest, wanted: str | None) -> str:
    """The input's own distribution when the caller may share into it, else `org`.

    A MISP sharing group maps to the shieldwall group of the same name only
    when the importing organisation belongs to it; otherwise the narrowest
    distribution is the safe reading.
    """
    if wanted is None or not wanted.startswith("group:"):
        return wanted or "org"
    with read_transaction(engine) as conn:
        try:
            sharing.resolve_distribution(conn, wanted, request.principal)
        except BadInput:
            return "org"
    return wanted


def _progress_adapter(
    on_progress: Progress | None, stream: IO[bytes], conversion: Conversion
) -> Callable[[int], None] | None:
    if on_progress is None:
        return None
    if conversion.expected:
        expected = conversion.expected
        return lambda index: on_progress(min(1.0, index / expected))
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if not size:
        return None
    return lambda _: on_progress(min(1.0, stream.tell() / size))


def _merged(report: ImportReport, conversion: Conversion) -> ImportReport:
    """The ingest's report with its rejections placed in the input and the converter's added."""
    translated = [_placed(rejection, conversion.origins) for rejection in report.rejected]
    report.rejected = [*conversion.rejections, *translated]
    report.objects += len(conversion.rejections)
    return report


def _placed(rejection: Rejection, origins: list[Origin]) -> Rejection:
    if not 0 <= rejection.index < len(origins):
        return rejection
    index, location = origins[rejection.index]
    field = rejection.field
    if location is not None:
        field = f"{location}.{field}" if field else location
    return Rejection(index, rejection.stix_id, field, rejection.reason)
