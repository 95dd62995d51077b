"""MISP feeds pulled incrementally, from a directory and over http from a loopback server."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from shieldwall.db.engine import read_transaction
from shieldwall.errors import BadInput
from shieldwall.formats.misp_feed import FeedReport, pull_feed
from shieldwall.formats.service import FormatRequest
from shieldwall.intel.ingest import Mode
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from tests.factories import Coalition
from tests.formats.helpers import ORG, SETTINGS, stored

pytestmark = pytest.mark.shared_data


def _event(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_bytes())
    event: dict[str, Any] = (
        document["response"][0]["Event"] if "response" in document else document["Event"]
    )
    return event


def write_feed(shared_data: Path, feed: Path) -> dict[str, dict[str, Any]]:
    """A MISP feed of the ESET events: manifest.json and one <uuid>.json each."""
    feed.mkdir(exist_ok=True)
    manifest: dict[str, dict[str, Any]] = {}
    for path in sorted((shared_data / "misp" / "eset").rglob("*.json")):
        event = _event(path)
        (feed / f"{event['uuid']}.json").write_text(json.dumps({"Event": event}))
        manifest[event["uuid"]] = {"info": event["info"], "timestamp": event["timestamp"]}
    (feed / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def bump(feed: Path, uuid: str) -> None:
    """The publisher edits one event: a new timestamp in its file and in the manifest."""
    event = json.loads((feed / f"{uuid}.json").read_text())
    event["Event"]["timestamp"] = str(int(event["Event"]["timestamp"]) + 60)
    event["Event"]["info"] += " (updated)"
    (feed / f"{uuid}.json").write_text(json.dumps(event))
    manifest = json.loads((feed / "manifest.json").read_text())
    manifest[uuid]["timestamp"] = event["Event"]["timestamp"]
    (feed / "manifest.json").write_text(json.dumps(manifest))


def pull(engine: Engine, location: str) -> FeedReport:
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, ORG, Role.ANALYST)
    request = FormatRequest(principal, ORG, "amber", None, Mode.LENIENT)
    return pull_feed(engine, SETTINGS, request, location)


@pytest.fixture
def feed_dir(tmp_path: Path, shared_data: Path) -> Path:
    feed = tmp_path / "feed"
    write_feed(shared_data, feed)
    return feed


@pytest.fixture
def served(feed_dir: Path) -> Iterator[str]:
    """The feed directory over http on a loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(feed_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _check_incremental(engine: Engine, location: str, feed: Path) -> None:
    first = pull(engine, location)
    assert (first.listed, len(first.reports), first.skipped, first.failed) == (39, 39, 0, [])
    assert all(report.committed for report in first.reports)

    second = pull(engine, location)
    assert (len(second.reports), second.skipped) == (0, 39)

    changed = "5bad1b96-53bc-4148-87eb-50d50a016219"  # SSHDoor : Abafar
    bump(feed, changed)
    third = pull(engine, location)
    assert (len(third.reports), third.skipped) == (1, 38)
    assert stored(engine)[f"report--{changed}"]["name"] == "SSHDoor : Abafar (updated)"


def test_feed_directory_is_pulled_incrementally(
    engine: Engine, coalition: Coalition, feed_dir: Path
) -> None:
    _check_incremental(engine, str(feed_dir), feed_dir)


def test_feed_over_http_is_pulled_incrementally(
    engine: Engine, coalition: Coalition, feed_dir: Path, served: str
) -> None:
    _check_incremental(engine, served, feed_dir)


def test_a_missing_event_file_is_reported_and_fetched_again_next_time(
    engine: Engine, coalition: Coalition, feed_dir: Path
) -> None:
    missing = "5bad1b96-53bc-4148-87eb-50d50a016219"
    saved = (feed_dir / f"{missing}.json").read_bytes()
    (feed_dir / f"{missing}.json").unlink()
    first = pull(engine, str(feed_dir))
    assert [failure["event"] for failure in first.failed] == [missing]
    (feed_dir / f"{missing}.json").write_bytes(saved)
    second = pull(engine, str(feed_dir))
    assert len(second.reports) == 1
    assert second.skipped == 38


def test_manifest_keys_that_are_not_uuids_are_refused(
    engine: Engine, coalition: Coalition, tmp_path: Path
) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"../../etc/passwd": {"timestamp": 1}}))
    with pytest.raises(BadInput, match="is not an event uuid"):
        pull(engine, str(tmp_path))
