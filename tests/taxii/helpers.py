"""Helpers of the TAXII tests: headers, collection look-up, posting envelopes."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from httpx import Response

from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.factories import Coalition

ROOT = "/taxii2/intel"
ACCEPT = {"Accept": TAXII_MEDIA_TYPE}
POSTING = {**ACCEPT, "Content-Type": TAXII_MEDIA_TYPE}


def headers(coalition: Coalition, org: str, role: Role = Role.ANALYST) -> dict[str, str]:
    return {**ACCEPT, **coalition.auth(org, role)}


def collections(client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    """Title -> id of the collections the caller is given."""
    response = client.get(f"{ROOT}/collections/", headers=auth)
    assert response.status_code == 200, response.text
    return {c["title"]: c["id"] for c in response.json().get("collections", [])}


def post(
    client: TestClient, collection_id: str, auth: dict[str, str], objects: list[dict[str, Any]]
) -> Response:
    return client.post(
        f"{ROOT}/collections/{collection_id}/objects/",
        content=orjson.dumps({"objects": objects}),
        headers={**auth, "Content-Type": TAXII_MEDIA_TYPE},
    )


def ids_of(response: Response) -> list[str]:
    return [obj["id"] for obj in response.json().get("objects", [])]


def page_all(
    client: TestClient, url: str, auth: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every object of a listing, following `next`."""
    found: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        response = client.get(url, headers=auth, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body.get("objects", []))
        if not body["more"]:
            return found
        query = {**params, "next": body["next"]}
