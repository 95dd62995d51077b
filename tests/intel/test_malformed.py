"""Malformed imports: each gets its documented error and leaves the store as it was.

Every test starts from a store holding one committed bundle and counts the
rows of both intel tables before and after, so "nothing stored" is measured,
not assumed. Strict is the API's default mode; lenient keeps the good objects
and lists every rejection with its index, field and reason.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.app import create_app
from shieldwall.config import Settings
from tests.factories import Coalition, bundle, indicator
from tests.intel.store import Rows, post_bundle, report_counts, rows


@pytest.fixture
def before(client: TestClient, coalition: Coalition, engine: Engine) -> Rows:
    """The store after one good import, for comparison after each bad one."""
    good = bundle(indicator("192.0.2.1"), indicator("192.0.2.2"))
    response = post_bundle(client, coalition.auth("Sponsor A"), good, tlp="green")
    assert response.status_code == 200, response.text
    stored = rows(engine)
    assert stored == Rows(2, 2)
    return stored


def _good() -> bytes:
    return orjson.dumps(indicator("198.51.100.50"))


def _bundle_text(*objects: bytes) -> bytes:
    head = b'{"type": "bundle", "id": "bundle--' + str(uuid.uuid4()).encode() + b'", '
    return head + b'"objects": [' + b", ".join(objects) + b"]}"


def _error(response: Any, status: int, where: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail", "where"}
    assert body["where"] == where
    assert "Traceback" not in response.text
    return dict(body)


# --------------------------------------------------------------------------- unreadable documents


def test_json_truncated_mid_object_after_a_good_object(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    truncated = _bundle_text(_good(), b'{"type": "indicator", "spec_version": "2.1", "id": "indi')
    truncated = truncated[: -len(b"]}")]
    for mode in ("strict", "lenient"):
        response = post_bundle(client, coalition.auth("Sponsor A"), truncated, mode=mode)
        body = _error(response, 400, "body")
        assert body["error"] == "bad_input"
        assert "invalid JSON" in body["detail"]
        # The good first object was parsed, but the import is one transaction.
        assert rows(engine) == before, mode


NOT_JSON_DOCUMENTS = {
    "empty": b"",
    "blank": b"   \n",
    "text": b"this is not JSON",
    "json-string": b'"a string"',
    "bad-token": b'{"type": "bundle", "objects": [}',
}


def test_not_a_json_document(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    for name, document in NOT_JSON_DOCUMENTS.items():
        response = post_bundle(client, coalition.auth("Sponsor A"), document, mode="lenient")
        body = _error(response, 400, "body")
        assert body["error"] == "bad_input", name
        assert rows(engine) == before, name


def test_objects_not_an_array(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    for objects in (b'{"0": {}}', b'"none"', b"42", b"null"):
        document = b'{"type": "bundle", "id": "bundle--' + str(uuid.uuid4()).encode()
        document += b'", "objects": ' + objects + b"}"
        response = post_bundle(client, coalition.auth("Sponsor A"), document, mode="lenient")
        _error(response, 400, "objects")
        assert rows(engine) == before, objects


# --------------------------------------------------------------------------- invalid objects


def _without(obj: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key != field}


INVALID_OBJECTS = [
    ("id-not-a-string", {**indicator(), "id": 42}, "id"),
    ("id-missing", _without(indicator(), "id"), "id"),
    ("id-not-a-uuid", {**indicator(), "id": "indicator--not-a-uuid"}, "id"),
    ("id-of-another-type", {**indicator(), "id": f"malware--{uuid.uuid4()}"}, "id"),
    ("created-not-a-timestamp", {**indicator(), "created": "yesterday"}, "created"),
    ("created-a-number", {**indicator(), "created": 1704067200}, "created"),
    ("created-without-zone", {**indicator(), "created": "2024-01-01T00:00:00"}, "created"),
    ("modified-before-created", {**indicator(), "modified": "2023-01-01T00:00:00Z"}, "modified"),
    ("pattern-unclosed", indicator(pattern="[ipv4-addr:value = '198.51.100.1'"), "pattern"),
    ("pattern-not-stix", indicator(pattern="ipv4 is 198.51.100.1"), "pattern"),
    ("pattern-unquoted-value", indicator(pattern="[ipv4-addr:value = 1.2.3.4]"), "pattern"),
    ("pattern-missing", _without(indicator(), "pattern"), "pattern"),
    (
        "marking-to-nothing",
        indicator(object_marking_refs=[f"marking-definition--{uuid.uuid4()}"]),
        "object_marking_refs",
    ),
    (
        "marking-not-a-marking-id",
        indicator(object_marking_refs=[f"identity--{uuid.uuid4()}"]),
        "object_marking_refs[0]",
    ),
    ("type-missing", _without(indicator(), "type"), "type"),
    ("spec-version-2.0", {**indicator(), "spec_version": "2.0"}, "spec_version"),
    ("not-an-object", ["indicator"], None),
]


def test_each_invalid_object_refuses_a_strict_import(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    for name, bad, field in INVALID_OBJECTS:
        document = bundle(indicator("198.51.100.60"), bad, indicator("198.51.100.61"))
        response = post_bundle(client, coalition.auth("Sponsor A"), document)
        body = _error(response, 422, "objects[1]" + (f".{field}" if field else ""))
        assert body["error"] == "validation_failed", name
        assert "nothing was imported" in body["detail"], name
        assert rows(engine) == before, name


def test_lenient_import_keeps_the_good_objects_around_each_invalid_one(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    objects: list[Any] = []
    expected: list[tuple[int, str | None]] = []
    for serial, (_, bad, field) in enumerate(INVALID_OBJECTS):
        objects.append(indicator(f"198.51.100.{serial}"))
        expected.append((len(objects), field))
        objects.append(bad)
    response = post_bundle(client, coalition.auth("Sponsor A"), bundle(*objects), mode="lenient")
    assert response.status_code == 200, response.text
    report = response.json()
    good = len(INVALID_OBJECTS)
    assert report["objects"] == 2 * good
    assert report_counts(report) == (good, 0, 0, good)
    # Unresolved marking refs are judged at the end of the bundle: compare as a set.
    assert sorted((r["index"], r["field"]) for r in report["rejections"]) == expected
    assert all(r["reason"] for r in report["rejections"])
    assert rows(engine) == Rows(before.objects + good, before.observables + good)


def test_lenient_lists_every_rejection(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    document = bundle(
        {**indicator(), "id": 7},
        indicator("198.51.100.70"),
        indicator(pattern="[ipv4-addr:value = ]"),
        {**indicator(), "created": "soon"},
        indicator("198.51.100.71"),
        indicator(object_marking_refs=[f"marking-definition--{uuid.uuid4()}"]),
    )
    response = post_bundle(client, coalition.auth("Sponsor A"), document, mode="lenient")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["objects"] == 6
    assert report_counts(report) == (2, 0, 0, 4)
    assert sorted((r["index"], r["field"]) for r in report["rejections"]) == [
        (0, "id"),
        (2, "pattern"),
        (3, "created"),
        (5, "object_marking_refs"),
    ]
    assert all(r["reason"] for r in report["rejections"])
    assert rows(engine) == Rows(before.objects + 2, before.observables + 2)


def test_invalid_pattern_names_its_index(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    objects = [indicator(f"198.51.100.{n}") for n in range(80, 84)]
    objects[3] = indicator(pattern="[file:hashes.'SHA-256' = 'unterminated]")
    response = post_bundle(client, coalition.auth("Sponsor A"), bundle(*objects))
    body = _error(response, 422, "objects[3].pattern")
    assert "pattern" in body["detail"]
    assert rows(engine) == before


# --------------------------------------------------------------------------- oversized bodies


def _asgi_post(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int]:
    """Sends a POST straight through ASGI; returns (status, body, body reads)."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/bundles",
        "raw_path": b"/api/v1/bundles",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, reads


def test_two_gigabyte_content_length_is_refused_before_reading(
    engine: Engine, settings: Settings, coalition: Coalition, before: Rows
) -> None:
    app = create_app(settings, engine)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(2 * 1024**3).encode()),
        (b"authorization", f"Bearer {coalition.key('Sponsor A')}".encode()),
    ]
    status, body, reads = _asgi_post(app, headers)
    assert status == 413
    error = orjson.loads(body)
    assert error["error"] == "payload_too_large"
    assert error["where"] == "Content-Length"
    assert reads == 0
    assert rows(engine) == before


def test_two_gigabyte_content_length_through_http_client(
    client: TestClient, coalition: Coalition, engine: Engine, before: Rows
) -> None:
    response = client.post(
        "/api/v1/bundles",
        content=b"{}",
        headers={**coalition.auth("Sponsor A"), "Content-Length": str(2 * 1024**3)},
    )
    _error(response, 413, "Content-Length")
    assert rows(engine) == before


def test_streamed_body_over_the_limit_is_refused(
    engine: Engine, coalition: Coalition, before: Rows
) -> None:
    limit = 64 * 1024
    small = Settings(database_url="sqlite:///unused", max_body_bytes=limit)
    objects = [orjson.dumps(indicator(f"203.0.113.{n % 250}")) for n in range(600)]
    document = _bundle_text(*objects)
    assert len(document) > 2 * limit

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(document), 4096):
            yield document[start : start + 4096]

    with TestClient(create_app(small, engine), raise_server_exceptions=False) as limited:
        response = limited.post(
            "/api/v1/bundles",
            content=chunks(),  # chunked: no Content-Length to refuse up front
            headers={**coalition.auth("Sponsor A"), "Content-Type": "application/json"},
        )
        _error(response, 413, "body")
        assert rows(engine) == before

        fits = limited.post(
            "/api/v1/bundles",
            content=iter([_bundle_text(_good())]),
            headers=coalition.auth("Sponsor A"),
        )
        assert fits.status_code == 200, fits.text
    assert rows(engine).objects == before.objects + 1
