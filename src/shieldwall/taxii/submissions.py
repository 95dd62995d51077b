"""Objects POSTed to a collection: checked, imported, and tracked by a status resource.

A body is scanned once as a stream before anything is stored (so malformed
JSON is answered at once with 400/422), then imported through
`intel.imports.run_import` in lenient mode with the collection's
distribution: each bad object becomes a failure in the status resource, the
rest is stored in one transaction. Bundles of more than BACKGROUND_THRESHOLD
objects are imported by a background worker; their status is `pending` until
the import has committed (or failed as a whole).

This is a job, not a request service: it owns its transactions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import IO, Any

import ijson
import orjson
from sqlalchemy import Connection, Engine, RowMapping

from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.errors import BadInput, NotFound, ValidationFailed
from shieldwall.intel.depth import guarded
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import ImportReport, Mode, Rejection, iter_bundle
from shieldwall.sharing.policy import Principal
from shieldwall.taxii import repository
from shieldwall.taxii.schemas import format_timestamp
from shieldwall.taxii.service import Collection

log = logging.getLogger("shieldwall.taxii")

#: Bundles with more objects than this are imported in the background.
BACKGROUND_THRESHOLD = 1000
#: A status resource lists at most this many failures (its counts stay exact).
MAX_FAILURE_DETAILS = 10_000

_SCALAR_EVENTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})

#: One worker: object writers are serialised anyway, so more would only queue.
_executor: ThreadPoolExecutor | None = None


def _background() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taxii-import")
    return _executor


def drain() -> None:
    """Waits until every queued background import has finished (shutdown, tests)."""
    if _executor is not None:
        _executor.submit(lambda: None).result()


def count_envelope_objects(stream: IO[bytes]) -> int:
    """Checks that the body is a TAXII envelope or STIX bundle; returns its object count.

    Streams the whole body (memory stays flat) and rewinds it afterwards.
    """
    count = 0
    has_objects = False
    try:
        # ijson's prefixes cost depth² bytes: too deep a body is refused as it is read.
        events = ijson.parse(guarded(stream))
        first = next(events, None)
        if first is None or first[1] != "start_map":
            raise ValidationFailed(
                "the body must be a TAXII envelope or STIX bundle: a JSON object with an "
                "'objects' array",
                where="body",
            )
        for prefix, event, value in events:
            if prefix == "objects.item" and event in _SCALAR_EVENTS:
                count += 1
            elif prefix == "objects" and event == "start_array":
                has_objects = True
            elif prefix == "objects" and event != "end_array":
                raise ValidationFailed("'objects' must be an array", where="objects")
            elif prefix == "type" and event == "string" and value != "bundle":
                raise ValidationFailed(
                    f"expected an envelope or a bundle, not a single {value!r} object",
                    where="type",
                )
    except ijson.JSONError as exc:
        raise BadInput(f"invalid JSON: {exc}", where="body") from None
    if not has_objects:
        raise ValidationFailed("the body has no 'objects' array to add", where="objects")
    stream.seek(0)
    return count


def _failure_details(stream: IO[bytes], rejected: list[Rejection]) -> list[dict[str, str]]:
    """TAXII status-details of rejected objects (reads the body again for versions)."""
    shown = rejected[:MAX_FAILURE_DETAILS]
    wanted = {rejection.index for rejection in shown}
    versions: dict[int, str] = {}
    stream.seek(0)
    for index, obj in enumerate(iter_bundle(stream)):
        if index in wanted and isinstance(obj, dict):
            version = obj.get("modified") or obj.get("created")
            if isinstance(version, str):
                versions[index] = version
    return [
        {
            "id": rejection.stix_id or "",
            "version": versions.get(rejection.index, ""),
            "message": f"{rejection.where()}: {rejection.reason}",
        }
        for rejection in shown
    ]


def _status_values(
    status_id: str, principal: Principal, collection: Collection, total: int, now: datetime
) -> dict[str, Any]:
    return {
        "id": status_id,
        "org_id": principal.org_id,
        "collection_id": collection.id,
        "status": "pending",
        "request_timestamp": now,
        "updated_at": now,
        "total_count": total,
        "success_count": 0,
        "failure_count": 0,
        "pending_count": total,
        "failures": "[]",
    }


def _completed_values(
    report: ImportReport | None, total: int, failures: list[dict[str, str]]
) -> dict[str, Any]:
    failed = len(report.rejected) if report is not None else total
    return {
        "status": "complete",
        "updated_at": utcnow(),
        "success_count": total - failed,
        "failure_count": failed,
        "pending_count": 0,
        "failures": orjson.dumps(failures).decode(),
    }


class Submission:
    """One POST of objects to one collection, from scan to completed status."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        principal: Principal,
        collection: Collection,
        body: IO[bytes],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.principal = principal
        self.collection = collection
        self.body = body
        self.status_id = str(uuid.uuid4())

    def start(self) -> dict[str, Any]:
        """Imports now (small bundles) or queues the import; returns the status resource.

        Owns `body` from here on: it is closed once the import is done.
        """
        try:
            total = count_envelope_objects(self.body)
            values = _status_values(
                self.status_id, self.principal, self.collection, total, utcnow()
            )
            if total <= BACKGROUND_THRESHOLD:
                values.update(self._import(total))
                self._store(lambda conn: repository.insert_status(conn, values))
                self.body.close()
                return status_view(values)
            self._store(lambda conn: repository.insert_status(conn, values))
        except BaseException:
            self.body.close()
            raise
        _background().submit(self._run_in_background, total)
        return status_view(values)

    def _run_in_background(self, total: int) -> None:
        try:
            completed = self._import(total)
        except Exception:
            # The import rolled back whole; the status says every object failed.
            log.exception("background TAXII import %s failed", self.status_id)
            completed = _completed_values(None, total, [])
        finally:
            self.body.close()
        self._store(lambda conn: repository.update_status(conn, self.status_id, completed))

    def _import(self, total: int) -> dict[str, Any]:
        request = ImportRequest(
            principal=self.principal,
            owner=self.principal.org_name or "",
            tlp=self.collection.default_tlp(),
            distribution=self.collection.distribution_text(),
            mode=Mode.LENIENT,
        )

        def objects() -> Iterator[Any]:
            self.body.seek(0)
            return iter_bundle(self.body)

        report = run_import(self.engine, self.settings, request, objects, "taxii")
        failures = _failure_details(self.body, report.rejected) if report.rejected else []
        return _completed_values(report, total, failures)

    def _store(self, write: Any) -> None:
        # Not a write_transaction: status rows are not intel, so on PostgreSQL
        # they need not queue behind a long import holding the writer lock
        # (SQLite has one writer at a time whatever we do).
        with self.engine.begin() as conn:
            write(conn)


def status_view(values: dict[str, Any] | RowMapping) -> dict[str, Any]:
    view = {
        "id": values["id"],
        "status": values["status"],
        "request_timestamp": format_timestamp(values["request_timestamp"]),
        "total_count": values["total_count"],
        "success_count": values["success_count"],
        "failure_count": values["failure_count"],
        "pending_count": values["pending_count"],
    }
    failures = orjson.loads(values["failures"])
    if failures:
        view["failures"] = failures
    return view


def get_status(conn: Connection, principal: Principal, status_id: str) -> dict[str, Any]:
    """A status resource, for the organisation that made the request only."""
    row = (
        None
        if principal.org_id is None
        else repository.status_of(conn, status_id, principal.org_id)
    )
    if row is None:
        raise NotFound(f"no status {status_id!r}", where="status_id")
    return status_view(row)
