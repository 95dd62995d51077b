"""A write is committed before its response leaves the node.

A client told "stored" must find the intel when it reads next, and must never
be told "stored" for a commit that then fails. The test watches the ASGI
messages: when the response starts, a separate connection must already see
the objects.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from shieldwall.app import create_app
from shieldwall.config import Settings
from shieldwall.members.model import Role
from shieldwall.members.tables import organisations
from tests.factories import Coalition


def _organisations(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(organisations)).scalar_one())


def test_a_write_is_committed_when_its_answer_starts(
    engine: Engine, settings: Settings, coalition: Coalition
) -> None:
    app = create_app(settings, engine)
    before = _organisations(engine)
    body = orjson.dumps({"name": "Newcomer", "tier": "applicant", "country": "UA"})
    headers = [
        (name.lower().encode(), value.encode())
        for name, value in coalition.auth("Host", Role.ORG_ADMIN).items()
    ] + [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/orgs",
        "raw_path": b"/api/v1/orgs",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    seen_when_answering: list[int] = []
    statuses: list[int] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
            seen_when_answering.append(_organisations(engine))

    asyncio.run(app(scope, receive, send))
    assert statuses == [201]
    assert seen_when_answering == [before + 1]
