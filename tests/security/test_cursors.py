"""Paging tokens must not count what the caller may not see.

REST cursors and TAXII `next` tokens are handed to the caller. If they carry
the store's own row keys, a caller decodes them (they are base64 text) and
learns how many objects it may not see were stored before, between and after
the ones it may: an existence side channel (DESIGN.md, principle 2).

Each test builds the observer's view twice with the same ids: once alone,
once with objects of another organisation (TLP:RED, hidden from the
observer) stored in between. The tokens the observer gets must be the same.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import Coalition, indicator
from tests.security.helpers import (
    OBSERVER,
    OWNER,
    PUBLIC,
    ROOT,
    store,
    taxii_auth,
    wipe_objects,
)

VISIBLE_IDS = [f"indicator--00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3)]
HIDDEN_IDS = [f"indicator--00000000-0000-4000-8000-0000000000a{n}" for n in (1, 2, 3, 4)]


def _build(client: TestClient, coalition: Coalition, *, with_hidden: bool) -> None:
    """Three visible objects, stored one import at a time; hidden ones between when asked."""
    for position, object_id in enumerate(VISIBLE_IDS):
        obj = indicator(f"198.18.1.{position + 1}", object_id=object_id)
        store(client, coalition, OWNER, [obj], tlp="green", distribution="public")
        if with_hidden:
            hidden = indicator(f"198.18.2.{position + 1}", object_id=HIDDEN_IDS[position])
            store(client, coalition, "Sponsor A", [hidden], tlp="red", distribution="org")


def _rest_cursors(client: TestClient, coalition: Coalition) -> list[Any]:
    cursors: list[Any] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in VISIBLE_IDS:
        response = client.get("/api/v1/objects", params=params, headers=coalition.auth(OBSERVER))
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["objects"]) == 1, body
        cursors.append(body["next"])
        params = {"limit": 1, "cursor": body["next"]}
    return cursors


def _taxii_tokens(client: TestClient, coalition: Coalition) -> list[Any]:
    tokens: list[Any] = []
    params: dict[str, Any] = {"limit": 1}
    url = f"{ROOT}/collections/{PUBLIC}/objects/"
    for _ in VISIBLE_IDS[:-1]:
        response = client.get(url, params=params, headers=taxii_auth(coalition, OBSERVER))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["more"] is True, body
        tokens.append(body["next"])
        params = {"limit": 1, "next": body["next"]}
    return tokens


def test_rest_cursors_do_not_count_hidden_objects(
    engine: Engine, client: TestClient, coalition: Coalition
) -> None:
    _build(client, coalition, with_hidden=False)
    alone = _rest_cursors(client, coalition)
    wipe_objects(engine)
    _build(client, coalition, with_hidden=True)
    with_hidden = _rest_cursors(client, coalition)
    assert with_hidden == alone, "REST cursors change with objects the caller may not see"


def test_taxii_next_tokens_do_not_count_hidden_objects(
    engine: Engine, client: TestClient, coalition: Coalition
) -> None:
    _build(client, coalition, with_hidden=False)
    alone = _taxii_tokens(client, coalition)
    wipe_objects(engine)
    _build(client, coalition, with_hidden=True)
    with_hidden = _taxii_tokens(client, coalition)
    assert with_hidden == alone, "TAXII next tokens change with objects the caller may not see"
