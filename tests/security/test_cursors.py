"""Paging tokens must not count what the caller may not see.

REST cursors and TAXII `next` tokens are handed to the caller. If they carry
the store's own row keys in a form the caller can read, the caller learns how
many objects it may not see were stored before, between and after the ones
it may: an existence side channel (DESIGN.md, principle 2).

Each test stores three objects the observer may see with TLP:RED objects of
another organisation between them, pages through them one at a time, and
requires (a) that paging still returns exactly the visible objects, in order,
and (b) that no token is readable as the store's keys. A sealed (encrypted,
authenticated) token passes; a base64 or hex spelling of the keys does not.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from shieldwall.intel.tables import stix_objects
from tests.factories import Coalition, indicator
from tests.security.helpers import OBSERVER, OWNER, PUBLIC, ROOT, store, taxii_auth

VISIBLE_IDS = [f"indicator--00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3)]
HIDDEN_IDS = [f"indicator--00000000-0000-4000-8000-0000000000a{n}" for n in (1, 2, 3)]


def _build(client: TestClient, coalition: Coalition) -> None:
    """Three visible objects, one import each, each followed by a hidden one."""
    for position, object_id in enumerate(VISIBLE_IDS):
        obj = indicator(f"198.18.1.{position + 1}", object_id=object_id)
        store(client, coalition, OWNER, [obj], tlp="green", distribution="public")
        hidden = indicator(f"198.18.2.{position + 1}", object_id=HIDDEN_IDS[position])
        store(client, coalition, "Sponsor A", [hidden], tlp="red", distribution="org")


def _keys(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return {int(pk) for pk in conn.execute(select(stix_objects.c.pk)).scalars()}


def _clear_numbers(token: str) -> list[int]:
    """The numbers a caller reads out of a token spelt in base64, hex or plain text."""
    spellings = [token.encode()]
    for decode in (
        lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)),
        lambda t: base64.b64decode(t + "=" * (-len(t) % 4)),
        bytes.fromhex,
    ):
        try:
            spellings.append(decode(token))
        except (binascii.Error, ValueError):
            continue
    found: list[int] = []
    for raw in spellings:
        text = raw.decode("latin-1")
        # Only a token that is nothing but a short prefix and numbers is "in clear".
        if re.fullmatch(r"[a-z]{0,2}\d+([.,:;|-]\d+)*", text):
            found.extend(int(number) for number in re.findall(r"\d+", text))
    return found


def _assert_sealed(tokens: list[str], keys: set[int], what: str) -> None:
    for token in tokens:
        readable = sorted({number for number in _clear_numbers(token) if number in keys})
        assert not readable, f"{what} {token!r} reads as the store's keys {readable}"


def test_rest_cursors_do_not_show_the_stores_keys(
    engine: Engine, client: TestClient, coalition: Coalition
) -> None:
    _build(client, coalition)
    seen: list[str] = []
    cursors: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in VISIBLE_IDS:
        response = client.get("/api/v1/objects", params=params, headers=coalition.auth(OBSERVER))
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(obj["id"] for obj in body["objects"])
        cursors.append(body["next"])
        params = {"limit": 1, "cursor": body["next"]}
    assert seen == VISIBLE_IDS
    _assert_sealed(cursors, _keys(engine), "REST cursor")


def test_taxii_next_tokens_do_not_show_the_stores_keys(
    engine: Engine, client: TestClient, coalition: Coalition
) -> None:
    _build(client, coalition)
    url = f"{ROOT}/collections/{PUBLIC}/objects/"
    seen: list[str] = []
    tokens: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        response = client.get(url, params=params, headers=taxii_auth(coalition, OBSERVER))
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(obj["id"] for obj in body["objects"])
        if not body["more"]:
            break
        tokens.append(body["next"])
        params = {"limit": 1, "next": body["next"]}
    assert seen == VISIBLE_IDS
    assert len(tokens) == len(VISIBLE_IDS) - 1
    _assert_sealed(tokens, _keys(engine), "TAXII next token")
