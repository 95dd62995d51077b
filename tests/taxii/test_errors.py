"""Every TAXII error the server gives: status code, envelope and media type."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.factories import Coalition, indicator
from tests.taxii.helpers import ACCEPT, ROOT, collections, headers, post


def assert_taxii_error(response: Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == TAXII_MEDIA_TYPE
    body = response.json()
    assert body["http_status"] == str(status)
    assert body["title"]
    assert body["description"]
    return body


def _members(client: TestClient, coalition: Coalition) -> str:
    return collections(client, headers(coalition, "Host"))["Members"]


@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/taxii+json;version=2.0", "text/html", "*/*;q=0"],
)
def test_unacceptable_accept_is_406(client: TestClient, coalition: Coalition, accept: str) -> None:
    auth = {**coalition.auth("Host"), "Accept": accept}
    assert_taxii_error(client.get(f"{ROOT}/collections/", headers=auth), 406)


@pytest.mark.parametrize(
    "accept",
    [
        "application/taxii+json;version=2.1",
        "application/taxii+json",
        "application/taxii+json; version=2.1",
        "text/html, application/taxii+json;version=2.1;q=0.5",
        "*/*",
    ],
)
def test_acceptable_accept(client: TestClient, coalition: Coalition, accept: str) -> None:
    auth = {**coalition.auth("Host"), "Accept": accept}
    response = client.get(f"{ROOT}/collections/", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_MEDIA_TYPE


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/taxii+json;version=2.0", "application/taxii+json"],
)
def test_wrong_content_type_is_415(
    client: TestClient, coalition: Coalition, content_type: str | None
) -> None:
    members_id = _members(client, coalition)
    auth = headers(coalition, "Host")
    if content_type is not None:
        auth["Content-Type"] = content_type
    response = client.post(
        f"{ROOT}/collections/{members_id}/objects/", content=b'{"objects": []}', headers=auth
    )
    assert_taxii_error(response, 415)


def test_a_bundle_may_be_posted_as_stix(client: TestClient, coalition: Coalition) -> None:
    members_id = _members(client, coalition)
    auth = {**headers(coalition, "Host"), "Content-Type": "application/stix+json;version=2.1"}
    response = client.post(
        f"{ROOT}/collections/{members_id}/objects/",
        json={
            "type": "bundle",
            "id": "bundle--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
            "objects": [indicator()],
        },
        headers=auth,
    )
    assert response.status_code == 202
    assert response.json()["success_count"] == 1


def test_missing_or_wrong_credentials_are_401(client: TestClient, coalition: Coalition) -> None:
    members_id = _members(client, coalition)
    url = f"{ROOT}/collections/{members_id}/objects/"
    assert_taxii_error(client.get(url, headers=ACCEPT), 401)
    bearer = {**ACCEPT, "Authorization": "Bearer sw_not_a_key"}
    assert_taxii_error(client.get(url, headers=bearer), 401)
    assert_taxii_error(client.get(url, headers={**ACCEPT, "Authorization": "Basic !!"}), 401)


def test_writing_without_write_rights_is_403(client: TestClient, coalition: Coalition) -> None:
    members_id = _members(client, coalition)
    for role in (Role.READER, Role.SENSOR):
        response = post(client, members_id, headers(coalition, "Host", role), [indicator()])
        assert_taxii_error(response, 403)


def test_unknown_things_are_404(client: TestClient, coalition: Coalition) -> None:
    auth = headers(coalition, "Host")
    members_id = _members(client, coalition)
    missing_object = "indicator--00000000-0000-4000-8000-000000000000"
    for url in [
        "/taxii2/other/collections/",
        f"{ROOT}/collections/00000000-0000-4000-8000-000000000000/",
        f"{ROOT}/collections/{members_id}/objects/{missing_object}/",
        f"{ROOT}/collections/{members_id}/objects/{missing_object}/versions/",
        f"{ROOT}/status/00000000-0000-4000-8000-000000000000/",
    ]:
        assert_taxii_error(client.get(url, headers=auth), 404)
    delete = client.delete(
        f"{ROOT}/collections/{members_id}/objects/{missing_object}/", headers=auth
    )
    assert_taxii_error(delete, 404)


def test_a_body_over_the_limit_is_413(client: TestClient, coalition: Coalition) -> None:
    members_id = _members(client, coalition)
    auth = {**headers(coalition, "Host"), "Content-Type": TAXII_MEDIA_TYPE}
    huge = b'{"objects": [' + b'"x",' * 1_300_000 + b'"x"]}'

    def chunks() -> object:
        # Streamed without Content-Length, so our own reader must stop it.
        yield from (huge[i : i + 65536] for i in range(0, len(huge), 65536))

    response = client.post(
        f"{ROOT}/collections/{members_id}/objects/", content=chunks(), headers=auth
    )
    assert_taxii_error(response, 413)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[]", 422),
        (b'{"objects": {}}', 422),
        (b'{"more": false}', 422),
        (b'{"type": "indicator", "id": "indicator--x"}', 422),
    ],
)
def test_a_body_that_is_no_envelope_is_refused(
    client: TestClient, coalition: Coalition, body: bytes, status: int
) -> None:
    members_id = _members(client, coalition)
    auth = {**headers(coalition, "Host"), "Content-Type": TAXII_MEDIA_TYPE}
    response = client.post(f"{ROOT}/collections/{members_id}/objects/", content=body, headers=auth)
    assert_taxii_error(response, status)


@pytest.mark.parametrize(
    "params",
    [
        {"next": "bm9wZQ"},
        {"next": "!!"},
        {"added_after": "yesterday"},
        {"added_after": "2024-01-01T00:00:00"},
        {"match[version]": "latest"},
        {"limit": "0"},
        {"limit": "many"},
    ],
)
def test_bad_filters_are_400(
    client: TestClient, coalition: Coalition, params: dict[str, str]
) -> None:
    members_id = _members(client, coalition)
    response = client.get(
        f"{ROOT}/collections/{members_id}/objects/",
        headers=headers(coalition, "Host"),
        params=params,
    )
    assert_taxii_error(response, 400)
