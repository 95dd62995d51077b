"""Review of this stop's Python changes: what the tests of each change left open.

* `formats.misp._collector_paused` turns the cyclic collector off process-wide
  and back on only if it found it on. It reads and turns off in two steps: a
  MISP import whose thread is switched out between them, while another
  import's thread leaves its own pause, turns the collector off for good
  (each thread believes the other will turn it back on).
* `db/migrations/env.py` runs `PRAGMA foreign_key_check` on every upgrade of a
  SQLite store, also when no migration is pending, and every CLI command
  upgrades the store it opens: the check reads every referencing table
  (3.1-3.3 s of CPU on the bench's store of 1,000,000 indicators, 0.94 s of
  0.96 s for `upgrade` at heads on 300,000).
* MISP numbers the importer reads (`_int`, changed this stop) but the
  datetime and JSON encoders refuse: a client gets a 500 instead of a
  rejection placed in its document.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from shieldwall.db.engine import make_engine
from shieldwall.db.migrate import upgrade
from shieldwall.formats import misp
from tests.factories import Coalition

_EVENT_UUID = "5e3c2a1b-4d6f-4a8b-9c0d-1e2f3a4b5c6d"
_ATTRIBUTE = {
    "uuid": "6e3c2a1b-4d6f-4a8b-9c0d-1e2f3a4b5c6d",
    "type": "ip-dst",
    "category": "Network activity",
    "value": "198.51.100.1",
    "to_ids": True,
    "timestamp": "1700000000",
}


def _document(attribute: dict[str, Any]) -> bytes:
    event = {
        "uuid": _EVENT_UUID,
        "info": "review",
        "timestamp": "1700000000",
        "Attribute": [attribute],
    }
    return orjson.dumps({"Event": event})


# --------------------------------------------------------------------------- the collector


#: Seconds a thread waits for the other: a fix that serialises the pauses (a
#: lock) makes `y` wait this long for an `x` that no longer reads the state.
_WAIT = 2


class _SwitchingGc:
    """`gc` as `formats.misp` calls it, with the thread switch the GIL allows made certain.

    Thread `y` is inside its pause when thread `x` reads whether the collector
    is on; `y` then leaves (turning it back on) before `x` turns it off.
    """

    def __init__(self) -> None:
        self.y_inside = threading.Event()
        self.x_has_read = threading.Event()
        self.y_done = threading.Event()

    def isenabled(self) -> bool:
        enabled = gc.isenabled()
        if threading.current_thread().name == "x":
            self.x_has_read.set()
            self.y_done.wait(_WAIT)
        return enabled

    def disable(self) -> None:
        gc.disable()
        if threading.current_thread().name == "y":
            self.y_inside.set()
            self.x_has_read.wait(_WAIT)

    def enable(self) -> None:
        gc.enable()


def test_two_overlapping_misp_parses_leave_the_collector_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert gc.isenabled(), "the test needs the collector on to begin with"
    switching = _SwitchingGc()
    monkeypatch.setattr(misp, "gc", switching)
    data = _document(_ATTRIBUTE)

    def y() -> None:
        misp.load_events(data)
        switching.y_done.set()

    def x() -> None:
        switching.y_inside.wait(_WAIT)
        misp.load_events(data)

    threads = [threading.Thread(target=y, name="y"), threading.Thread(target=x, name="x")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert switching.y_done.is_set()
        assert gc.isenabled(), "the cyclic collector stays off for the life of the process"
    finally:
        gc.enable()


# --------------------------------------------------------------------------- migrations


def test_upgrading_an_up_to_date_sqlite_store_reads_no_reference(tmp_path: Path) -> None:
    """Every CLI command upgrades its store: with nothing to migrate, nothing to check.

    `PRAGMA foreign_key_check` reads every row of every referencing table
    (observables, correlation keys, sighting refs...): seconds per command
    on a store of a million indicators.
    """
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        upgrade(engine)  # already at every head
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        engine.dispose()
    assert not [s for s in statements if "foreign_key_check" in s.lower()]


# --------------------------------------------------------------------------- MISP numbers


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "999999999999"),  # year 33658: beyond datetime
        ("timestamp", "9" * 5000),  # more digits than int() reads from text
        ("distribution", "99999999999999999999"),  # beyond JSON's 64-bit integers
    ],
)
def test_a_misp_number_out_of_range_is_refused_not_a_server_error(
    client: TestClient, coalition: Coalition, field: str, value: str
) -> None:
    response = client.post(
        "/api/v1/imports",
        params={"format": "misp", "mode": "lenient"},
        content=_document({**_ATTRIBUTE, field: value}),
        headers={**coalition.auth("Sponsor A"), "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("timestamp", ['"²"', '"' + "9" * 30 + '"', "9" * 19, "-1"])
def test_a_feed_manifest_timestamp_out_of_range_is_bad_input(timestamp: str) -> None:
    """A digit int() refuses, or a number past 64 bits, is the manifest's fault (400/exit 2)."""
    from shieldwall.errors import BadInput
    from shieldwall.formats.misp_feed import read_manifest

    uuid = "5a1b2c3d-1111-4222-8333-444455556666"
    manifest = f'{{"{uuid}": {{"timestamp": {timestamp}}}}}'.encode()
    with pytest.raises(BadInput, match="numeric timestamp"):
        read_manifest(manifest, "manifest.json")
    assert read_manifest(orjson.dumps({uuid: {"timestamp": "1700000000"}}), "m") == {
        uuid: 1700000000
    }
