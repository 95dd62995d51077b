"""Pins of what already holds: hidden answers as absent on TAXII, writes never collide.

* TAXII: an object or a collection the caller may not see is answered exactly
  as one that does not exist (reads, manifest, versions, delete, posting);
  another organisation's status resource likewise.
* Writes: an object id (even with the same `modified`) another organisation
  holds out of the caller's sight neither conflicts nor counts as "unchanged",
  over REST and over TAXII; a marking definition the caller may not see is
  refused as an unknown one; a group the caller is not in as an absent one.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from shieldwall.taxii.service import collection_id
from tests.factories import Coalition, bundle, indicator, stix_id
from tests.intel.store import post_bundle
from tests.security.helpers import OBSERVER, PUBLIC, ROOT, store, taxii_auth

HIDDEN_OWNER = "Sponsor B"


def _same_but_id(response: Response, shown: str, absent: str) -> tuple[int, bytes]:
    return response.status_code, response.content.replace(shown.encode(), absent.encode())


def _hidden_object(client: TestClient, coalition: Coalition) -> dict[str, Any]:
    """A TLP:RED object in the public collection's scope, which no other organisation reads."""
    obj = indicator("198.18.3.3")
    store(client, coalition, HIDDEN_OWNER, [obj], tlp="red", distribution="public")
    return obj


TAXII_OBJECT_READS = {
    "object": ("objects/{id}/", {}),
    "versions": ("objects/{id}/versions/", {}),
    "object?version=all": ("objects/{id}/", {"match[version]": "all"}),
    "objects?id": ("objects/", {"match[id]": "{id}"}),
    "manifest?id": ("manifest/", {"match[id]": "{id}"}),
}


@pytest.mark.parametrize("read", list(TAXII_OBJECT_READS))
def test_taxii_reads_answer_a_hidden_object_as_an_absent_one(
    client: TestClient, coalition: Coalition, read: str
) -> None:
    hidden = _hidden_object(client, coalition)["id"]
    absent = stix_id("indicator")
    path, params = TAXII_OBJECT_READS[read]
    auth = taxii_auth(coalition, OBSERVER)

    def get(object_id: str) -> Response:
        query = {key: value.format(id=object_id) for key, value in params.items()}
        url = f"{ROOT}/collections/{PUBLIC}/{path.format(id=object_id)}"
        response: Response = client.get(url, params=query, headers=auth)
        return response

    assert _same_but_id(get(hidden), hidden, absent) == _same_but_id(get(absent), absent, absent)


def test_taxii_delete_answers_a_hidden_object_as_an_absent_one(
    client: TestClient, coalition: Coalition
) -> None:
    hidden = _hidden_object(client, coalition)["id"]
    absent = stix_id("indicator")
    auth = taxii_auth(coalition, OBSERVER)
    url = f"{ROOT}/collections/{PUBLIC}/objects/{{}}/"
    first = client.delete(url.format(hidden), headers=auth)
    second = client.delete(url.format(absent), headers=auth)
    assert first.status_code == 404
    assert _same_but_id(first, hidden, absent) == _same_but_id(second, absent, absent)
    owner = client.get(
        f"/api/v1/objects/{hidden}", headers=coalition.auth(HIDDEN_OWNER, Role.READER)
    )
    assert owner.status_code == 200, "a refused delete removed the object"


def _collection_requests(client: TestClient, auth: dict[str, str], cid: str) -> list[Response]:
    posting = {**auth, "Content-Type": TAXII_MEDIA_TYPE}
    envelope = orjson.dumps({"objects": [indicator("198.18.4.4")]})
    base = f"{ROOT}/collections/{cid}/"
    return [
        client.get(base, headers=auth),
        client.get(base + "objects/", headers=auth),
        client.get(base + "manifest/", headers=auth),
        client.get(base + f"objects/{stix_id('indicator')}/versions/", headers=auth),
        client.post(base + "objects/", content=envelope, headers=posting),
    ]


@pytest.mark.parametrize("collection", ["members", "group:1", "org:2"])
def test_collections_the_caller_is_not_given_answer_as_absent_ones(
    client: TestClient, coalition: Coalition, collection: str
) -> None:
    """Collection ids are derived (uuid5), so anyone can compute them: they must not open."""
    auth = taxii_auth(coalition, OBSERVER)
    given = {
        c["id"] for c in client.get(f"{ROOT}/collections/", headers=auth).json()["collections"]
    }
    entitled = collection_id(collection)
    assert entitled not in given
    absent = str(uuid.uuid4())
    for hidden, missing in zip(
        _collection_requests(client, auth, entitled),
        _collection_requests(client, auth, absent),
        strict=True,
    ):
        assert hidden.status_code == 404
        assert _same_but_id(hidden, entitled, absent) == _same_but_id(missing, absent, absent)


def test_another_organisations_taxii_status_answers_as_an_absent_one(
    client: TestClient, coalition: Coalition
) -> None:
    auth = taxii_auth(coalition, HIDDEN_OWNER)
    posted = client.post(
        f"{ROOT}/collections/{PUBLIC}/objects/",
        content=orjson.dumps({"objects": [indicator("198.18.5.5")]}),
        headers={**auth, "Content-Type": TAXII_MEDIA_TYPE},
    )
    assert posted.status_code == 202, posted.text
    status_id = posted.json()["id"]
    absent = str(uuid.uuid4())
    observer = taxii_auth(coalition, OBSERVER)
    hidden = client.get(f"{ROOT}/status/{status_id}/", headers=observer)
    missing = client.get(f"{ROOT}/status/{absent}/", headers=observer)
    assert _same_but_id(hidden, status_id, absent) == _same_but_id(missing, absent, absent)
    assert hidden.status_code == 404


# --------------------------------------------------------------------------- writes


def _colliding(client: TestClient, coalition: Coalition, *, same_content: bool) -> dict[str, Any]:
    """`Outsider`'s object with the id and `modified` of a hidden object of `Sponsor B`."""
    hidden = indicator("198.18.6.6")
    store(client, coalition, HIDDEN_OWNER, [hidden], tlp="amber", distribution="org")
    return hidden if same_content else {**hidden, "name": "another name, same version"}


@pytest.mark.parametrize("same_content", [True, False])
def test_rest_import_does_not_collide_with_a_hidden_object(
    client: TestClient, coalition: Coalition, same_content: bool
) -> None:
    mine = _colliding(client, coalition, same_content=same_content)
    response = post_bundle(client, coalition.auth(OBSERVER), bundle(mine), tlp="green")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["unchanged"], report["rejected"]) == (1, 0, 0), report


@pytest.mark.parametrize("same_content", [True, False])
def test_taxii_post_does_not_collide_with_a_hidden_object(
    client: TestClient, coalition: Coalition, same_content: bool
) -> None:
    mine = _colliding(client, coalition, same_content=same_content)
    auth = taxii_auth(coalition, OBSERVER)
    posted = client.post(
        f"{ROOT}/collections/{PUBLIC}/objects/",
        content=orjson.dumps({"objects": [mine]}),
        headers={**auth, "Content-Type": TAXII_MEDIA_TYPE},
    )
    assert posted.status_code == 202, posted.text
    status = posted.json()
    assert status["status"] == "complete", status
    assert (status["success_count"], status["failure_count"]) == (1, 0), status
    assert "failures" not in status


def _marked(marking_id: str) -> dict[str, Any]:
    return indicator("198.18.7.7", object_marking_refs=[marking_id])


def test_a_hidden_marking_definition_is_refused_as_an_unknown_one(
    client: TestClient, coalition: Coalition
) -> None:
    definition: dict[str, Any] = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": stix_id("marking-definition"),
        "created": "2024-01-01T00:00:00.000Z",
        "name": "Sponsor B internal",
        "definition_type": "statement",
        "definition": {"statement": "Sponsor B only"},
    }
    store(client, coalition, HIDDEN_OWNER, [definition], tlp="amber", distribution="org")
    absent = stix_id("marking-definition")
    answers = []
    for marking_id in (definition["id"], absent):
        obj = _marked(marking_id)
        response = post_bundle(client, coalition.auth(OBSERVER), bundle(obj))
        text = response.text.replace(marking_id, "MARKING").replace(obj["id"], "OBJECT")
        answers.append((response.status_code, text))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422


def test_a_group_the_caller_is_not_in_is_refused_as_an_absent_one(
    client: TestClient, coalition: Coalition
) -> None:
    headers = coalition.auth(OBSERVER)
    assert "ics" not in [g["name"] for g in client.get("/api/v1/groups", headers=headers).json()]
    answers = []
    for name in ("ics", "no-such-group"):
        response = post_bundle(
            client, headers, bundle(indicator("198.18.8.8")), distribution=f"group:{name}"
        )
        answers.append((response.status_code, response.text.replace(name, "GROUP")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
