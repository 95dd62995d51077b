"""Helpers of the security review tests: fixed objects, and responses made comparable.

The central tool is the *observation*: what one caller gets from one read
endpoint, reduced to what a client can see (status, the headers that carry
information, the body) with only per-call randomness removed (an export's
bundle id, archive timestamps, a decaying score). Principle 2 of DESIGN.md
then reads as non-interference: a change to objects an observer may not see
must leave every observation of that observer unchanged.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, delete

from shieldwall.intel.tables import observables, stix_objects
from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from shieldwall.taxii.service import collection_id
from tests.factories import Coalition, bundle, indicator
from tests.intel.store import post_bundle

ROOT = "/taxii2/intel"
PUBLIC = collection_id("public")
#: The value the target indicator carries (an address of no warninglist).
VALUE = "198.18.7.21"
#: The observer: a contributing member outside the sharing group "ics".
OBSERVER = "Outsider"
#: The owner of the object the observer may see.
OWNER = "Sponsor B"


def taxii_auth(coalition: Coalition, org: str, role: Role = Role.ANALYST) -> dict[str, str]:
    return {"Accept": TAXII_MEDIA_TYPE, **coalition.auth(org, role)}


def store(
    client: TestClient,
    coalition: Coalition,
    org: str,
    objects: list[dict[str, Any]],
    *,
    tlp: str,
    distribution: str,
) -> None:
    """`org` posts `objects` through REST; the import must succeed."""
    response = post_bundle(
        client, coalition.auth(org), bundle(*objects), tlp=tlp, distribution=distribution
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 0, response.text


def target(object_id: str, modified: str, value: str = VALUE) -> dict[str, Any]:
    """The indicator under observation: one id, several versions."""
    return indicator(value, object_id=object_id, modified=modified, confidence=70)


def wipe_objects(engine: Engine) -> None:
    """Empties the object store (keys restart at 1), members and groups kept."""
    with engine.begin() as conn:
        conn.execute(delete(observables))
        conn.execute(delete(stix_objects))


# --------------------------------------------------------------------------- observations

_BUNDLE_ID = re.compile(rb'"id": ?"bundle--[0-9a-f-]{36}"')
_INFORMATIVE_HEADERS = ("x-taxii-date-added-first", "x-taxii-date-added-last", "content-type")


@dataclass(frozen=True)
class Observation:
    status: int
    headers: dict[str, str]
    body: Any


def observe(response: Response, body: Any = None) -> Observation:
    headers = {k: v for k, v in response.headers.items() if k.lower() in _INFORMATIVE_HEADERS}
    if body is None:
        body = _body(response)
    return Observation(response.status_code, headers, body)


def _body(response: Response) -> Any:
    content = _BUNDLE_ID.sub(b'"id":"bundle--*"', response.content)
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode(errors="replace")


def unzip(response: Response) -> dict[str, str]:
    """An archive's files by name (the archive's own timestamps left out)."""
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name).decode() for name in sorted(archive.namelist())}


def without_scores(body: Any) -> Any:
    """A match answer without its scores, which decay with the clock between two calls."""
    if isinstance(body, dict):
        return {k: without_scores(v) for k, v in body.items() if k != "score"}
    if isinstance(body, list):
        return [without_scores(item) for item in body]
    return body


#: name -> how the observer reads it: (client, auth headers, target id) -> Observation.
Endpoint = Callable[[TestClient, Coalition, str], Observation]


def _with_id(params: dict[str, Any], object_id: str) -> dict[str, Any]:
    return {key: str(value).format(id=object_id) for key, value in params.items()}


def _rest(path: str, **params: Any) -> Endpoint:
    def read(client: TestClient, coalition: Coalition, object_id: str) -> Observation:
        url = path.format(id=object_id)
        query = _with_id(params, object_id)
        return observe(client.get(url, params=query, headers=coalition.auth(OBSERVER)))

    return read


def _export(fmt: str, **params: Any) -> Endpoint:
    def read(client: TestClient, coalition: Coalition, object_id: str) -> Observation:
        response = client.get(
            "/api/v1/export",
            params={"format": fmt, "include_warninglisted": "true", **params},
            headers=coalition.auth(OBSERVER),
        )
        return observe(response, unzip(response) if fmt == "misp-feed" else None)

    return read


def _match(client: TestClient, coalition: Coalition, object_id: str) -> Observation:
    response = client.post(
        "/api/v1/match",
        json={"observables": [VALUE], "include_warninglisted": True},
        headers=coalition.auth(OBSERVER),
    )
    return observe(response, without_scores(response.json()))


def _taxii(path: str, **params: Any) -> Endpoint:
    def read(client: TestClient, coalition: Coalition, object_id: str) -> Observation:
        url = f"{ROOT}/collections/{PUBLIC}/{path.format(id=object_id)}"
        query = _with_id(params, object_id)
        return observe(client.get(url, params=query, headers=taxii_auth(coalition, OBSERVER)))

    return read


ENDPOINTS: dict[str, Endpoint] = {
    "rest:objects": _rest("/api/v1/objects"),
    "rest:objects?text": _rest("/api/v1/objects", text=VALUE),
    "rest:object": _rest("/api/v1/objects/{id}"),
    "rest:versions": _rest("/api/v1/objects/{id}/versions"),
    "rest:observables": _rest("/api/v1/observables", value=VALUE),
    "rest:match": _match,
    "rest:correlations?object": _rest("/api/v1/correlations", object_id="{id}"),
    "rest:correlations?value": _rest("/api/v1/correlations", value=VALUE),
    "rest:sightings": _rest("/api/v1/sightings", object_id="{id}"),
    "export:stix21": _export("stix21"),
    "export:misp": _export("misp"),
    "export:misp-feed": _export("misp-feed"),
    "export:csv": _export("csv"),
    "export:suricata": _export("suricata"),
    "export:snort": _export("snort"),
    "export:zeek": _export("zeek"),
    "export:txt": _export("txt", type="ipv4"),
    "taxii:collections": lambda client, coalition, _: observe(
        client.get(f"{ROOT}/collections/", headers=taxii_auth(coalition, OBSERVER))
    ),
    "taxii:objects": _taxii("objects/"),
    "taxii:objects?version=all": _taxii("objects/", **{"match[version]": "all"}),
    "taxii:objects?version=first": _taxii("objects/", **{"match[version]": "first"}),
    "taxii:objects?id": _taxii("objects/", **{"match[id]": "{id}"}),
    "taxii:manifest": _taxii("manifest/"),
    "taxii:object": _taxii("objects/{id}/"),
    "taxii:object?version=first": _taxii("objects/{id}/", **{"match[version]": "first"}),
    "taxii:object-versions": _taxii("objects/{id}/versions/"),
}
