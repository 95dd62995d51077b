"""MISP feeds in: a directory or http(s) URL with `manifest.json` and one `<uuid>.json` per event.

A pull reads the manifest, compares each event's timestamp with the one last
imported from that feed by the same organisation (table
`misp_feed_events`), and fetches and imports only the events that are new or
changed: one import (one transaction) per event, lenient by default.

The pull state is written after each event's import commits, in a
transaction of its own: a crash in between leaves the event to be fetched
again, and importing the same event twice stores nothing new (its objects
come back `unchanged`).

Event uuids from the manifest name files: anything that is not a UUID is
refused before it can name a path or a URL.
"""

from __future__ import annotations

import io
import re
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.errors import BadInput
from shieldwall.formats import misp, repository
from shieldwall.formats.detect import Format
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel.ingest import ImportAborted, ImportReport
from shieldwall.members import service as members

_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_FETCH_TIMEOUT_SECONDS = 60


@dataclass
class FeedReport:
    feed: str
    #: Events listed in the manifest.
    listed: int = 0
    #: Events whose timestamp had not changed: not fetched.
    skipped: int = 0
    reports: list[ImportReport] = field(default_factory=list)
    #: Events that could not be fetched or were refused whole: uuid and reason.
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "listed": self.listed,
            "fetched": len(self.reports) + len(self.failed),
            "skipped": self.skipped,
            "imports": [report.as_dict() for report in self.reports],
            "failed": self.failed,
        }


def is_feed(location: str) -> bool:
    """A URL, or a directory holding a `manifest.json`."""
    if urlsplit(location).scheme in ("http", "https"):
        return True
    return (Path(location) / "manifest.json").is_file()


class _Source:
    """Reads the manifest and event files of one feed, from a directory or over http(s)."""

    def __init__(self, location: str, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.is_url = urlsplit(location).scheme in ("http", "https")
        self.location = location if not self.is_url or location.endswith("/") else location + "/"
        self.name = self.location if self.is_url else f"{Path(location).resolve()}/"

    def read(self, name: str) -> bytes:
        if self.is_url:
            return self._fetch(urljoin(self.location, name))
        path = Path(self.location) / name
        try:
            if path.stat().st_size > self.max_bytes:
                raise BadInput(f"{name} exceeds the limit of {self.max_bytes} bytes", where=name)
            return path.read_bytes()
        except FileNotFoundError:
            raise BadInput(f"the feed has no {name}", where=str(path)) from None

    def _fetch(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                body: bytes = response.read(self.max_bytes + 1)
        except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
            raise BadInput(f"could not fetch {url}: {exc}", where=url) from None
        if len(body) > self.max_bytes:
            raise BadInput(f"{url} exceeds the limit of {self.max_bytes} bytes", where=url)
        return body


def read_manifest(data: bytes, where: str) -> dict[str, int]:
    """Event uuid -> timestamp from a MISP feed manifest."""
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"the manifest is not JSON: {exc}", where=where) from None
    if not isinstance(manifest, dict):
        raise BadInput("the manifest must map event uuids to event summaries", where=where)
    listed: dict[str, int] = {}
    for uuid, summary in manifest.items():
        if not _UUID_RE.fullmatch(uuid):
            raise BadInput(f"{uuid!r} is not an event uuid", where=f"{where}[{uuid!r}]")
        raw = summary.get("timestamp") if isinstance(summary, dict) else None
        # Read as an event's own timestamp is read (`misp.epoch`); -1 for none.
        timestamp = misp.epoch(raw, -1)
        if timestamp < 0:
            raise BadInput("each event needs a numeric timestamp", where=f"{where}[{uuid}]")
        listed[uuid.lower()] = timestamp
    return listed


def pull_feed(
    engine: Engine, settings: Settings, request: FormatRequest, location: str
) -> FeedReport:
    """Imports the new and changed events of one feed for the request's organisation."""
    source = _Source(location, settings.max_body_bytes)
    listed = read_manifest(source.read("manifest.json"), "manifest.json")
    with read_transaction(engine) as conn:
        owner_id = members.org_named(conn, request.owner)["id"]
        known = repository.feed_timestamps(conn, owner_id, source.name)
    report = FeedReport(feed=source.name, listed=len(listed))
    event_request = FormatRequest(
        principal=request.principal,
        owner=request.owner,
        tlp=request.tlp,
        distribution=request.distribution,
        mode=request.mode,
        format=Format.MISP,
    )
    for uuid, timestamp in listed.items():
        if known.get(uuid) == timestamp:
            report.skipped += 1
            continue
        name = f"{uuid}.json"
        try:
            data = source.read(name)
            imported = import_stream(
                engine, settings, event_request, io.BytesIO(data), f"{source.name}{name}"
            )
        except ImportAborted as aborted:
            report.failed.append({"event": uuid, "reason": aborted.one_line()})
            continue
        except BadInput as exc:
            report.failed.append({"event": uuid, "reason": exc.one_line()})
            continue
        report.reports.append(imported)
        with write_transaction(engine) as conn:
            repository.record_feed_event(conn, owner_id, source.name, uuid, timestamp, utcnow())
    return report
