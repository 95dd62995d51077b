"""Incremental pulls of a remote TAXII collection into the store.

Each page is imported through `intel.imports.run_import` (lenient: bad
objects are listed, the rest stored), one transaction per page, so no write
lock is held while waiting on the network. The saved cursor (the server's
X-TAXII-Date-Added-Last) moves only once every page of a pull is stored: a
pull that fails half-way starts again from the previous cursor, and what it
had already stored comes back as `unchanged`.

This is a job: it owns its transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import ImportReport, Mode, Rejection
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.taxii import repository
from shieldwall.taxii.client import TaxiiClient
from shieldwall.taxii.schemas import parse_timestamp


@dataclass(frozen=True, slots=True)
class PullTarget:
    """Where the pulled objects go: owner organisation, default TLP, distribution."""

    org: str
    tlp: str = "amber"
    distribution: str = "org"


@dataclass(slots=True)
class PullReport:
    url: str
    collection_id: str
    pages: int
    report: ImportReport
    cursor_before: str | None
    cursor_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "collection": self.collection_id,
            "pages": self.pages,
            "cursor_before": self.cursor_before,
            "cursor_after": self.cursor_after,
            **self.report.as_dict(),
        }


def _merge(total: ImportReport, page: ImportReport, offset: int) -> None:
    total.objects += page.objects
    total.created += page.created
    total.new_versions += page.new_versions
    total.unchanged += page.unchanged
    total.observables += page.observables
    total.rejected.extend(
        Rejection(r.index + offset, r.stix_id, r.field, r.reason) for r in page.rejected
    )


def _later(current: str | None, candidate: str | None) -> str | None:
    """The later of two server timestamps, kept as the server wrote it."""
    if candidate is None:
        return current
    moment = _moment(candidate)
    if moment is None:
        return current
    if current is None:
        return candidate
    previous = _moment(current)
    return candidate if previous is None or moment > previous else current


def _moment(text: str) -> datetime | None:
    try:
        return parse_timestamp(text, "X-TAXII-Date-Added-Last")
    except BadInput:
        return None


def pull_collection(
    engine: Engine,
    settings: Settings,
    client: TaxiiClient,
    collection_id: str,
    target: PullTarget,
    *,
    from_scratch: bool = False,
    limit: int | None = None,
    on_page: Callable[[int, ImportReport], None] | None = None,
) -> PullReport:
    """Pulls what the collection gained since the last pull and imports it."""
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, target.org, Role.ANALYST)
        assert principal.org_id is not None
        saved = repository.cursor_of(conn, client.api_root, collection_id, principal.org_id)
    request = ImportRequest(
        principal=principal,
        owner=target.org,
        tlp=target.tlp,
        distribution=target.distribution,
        mode=Mode.LENIENT,
    )
    source = f"{client.api_root}collections/{collection_id}"
    total = ImportReport(source=source, committed=True)
    cursor = None if from_scratch else saved
    latest = cursor
    pages = 0
    for page in client.pages(collection_id, cursor, limit):
        pages += 1
        latest = _later(latest, page.date_added_last)
        if not page.objects:
            continue
        report = run_import(engine, settings, request, page.objects.__iter__, source)
        _merge(total, report, total.objects)
        if on_page is not None:
            on_page(pages, total)
    if latest is not None and latest != saved:
        with engine.begin() as conn:
            repository.save_cursor(
                conn, client.api_root, collection_id, principal.org_id, latest, utcnow()
            )
    return PullReport(client.api_root, collection_id, pages, total, saved, latest)
