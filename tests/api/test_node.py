"""The node's own routes and the API's manners: health, OpenAPI, docs, metrics, auth, errors."""

from __future__ import annotations

import base64

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.members.model import Role
from tests.factories import Coalition, bundle, indicator
from tests.intel.store import post_bundle, rows


def _assert_error(response: httpx.Response, status: int, error: str) -> dict[str, object]:
    """A JSON error body of the one error hierarchy, never a stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in response.text
    return dict(body)


def test_healthz(client: TestClient, engine: Engine) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == engine.dialect.name


def test_openapi_describes_the_api(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/bundles",
        "/api/v1/objects",
        "/api/v1/objects/{stix_id}",
        "/api/v1/objects/{stix_id}/versions",
        "/api/v1/observables",
        "/api/v1/orgs",
        "/api/v1/keys",
        "/api/v1/groups",
        "/healthz",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/bundles"]


def test_docs_page(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


def test_metrics_need_a_host_key(client: TestClient, coalition: Coalition) -> None:
    anonymous = client.get("/metrics")
    _assert_error(anonymous, 401, "unauthorized")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    member = client.get("/metrics", headers=coalition.auth("Sponsor A", Role.ORG_ADMIN))
    _assert_error(member, 401, "unauthorized")


def test_metrics_for_the_host(client: TestClient, coalition: Coalition, engine: Engine) -> None:
    post_bundle(client, coalition.auth("Sponsor A"), bundle(indicator(), indicator()), tlp="green")
    client.get("/healthz")
    response = client.get("/metrics", headers=coalition.auth("Host", Role.ORG_ADMIN))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(
        line.startswith("shieldwall_http_requests_total{")
        and 'route="/api/v1/bundles"' in line
        and 'status="200"' in line
        for line in lines
    )
    assert any(line.startswith("shieldwall_http_request_seconds_bucket{") for line in lines)
    [stored] = [line for line in lines if line.startswith("shieldwall_objects_stored ")]
    assert float(stored.split()[1]) == rows(engine).objects == 2


BAD_AUTHORIZATION = {
    "missing": None,
    "wrong-key": "Bearer sw_not-a-key-of-this-node",
    "empty-bearer": "Bearer ",
    "unknown-scheme": "Token abc",
    "bad-basic": "Basic !!!not-base64!!!",
    "basic-without-password": "Basic " + base64.b64encode(b"user:").decode(),
}


def test_missing_or_wrong_key_is_401(client: TestClient, coalition: Coalition) -> None:
    for name, authorization in BAD_AUTHORIZATION.items():
        headers = {"Authorization": authorization} if authorization is not None else {}
        for path in ("/api/v1/objects", "/api/v1/me"):
            response = client.get(path, headers=headers)
            _assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
        posted = post_bundle(client, headers, bundle(indicator()))
        _assert_error(posted, 401, "unauthorized")


def test_basic_auth_with_the_key_as_password(client: TestClient, coalition: Coalition) -> None:
    token = base64.b64encode(f"anyone:{coalition.key('Sponsor B', Role.READER)}".encode()).decode()
    response = client.get("/api/v1/me", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"org": "Sponsor B", "tier": "sponsoring", "role": "reader"}


def test_reader_may_not_post_a_bundle(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    for role in (Role.READER, Role.SENSOR):
        response = post_bundle(client, coalition.auth("Sponsor A", role), bundle(indicator()))
        _assert_error(response, 403, "forbidden")
    # Applicants take no part in sharing: even their analysts cannot publish.
    applicant = post_bundle(client, coalition.auth("Applicant"), bundle(indicator()))
    _assert_error(applicant, 403, "forbidden")
    assert rows(engine).objects == 0


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    _assert_error(response, 404, "not_found")


def test_wrong_method_is_json_405(client: TestClient, coalition: Coalition) -> None:
    response = client.delete("/api/v1/objects", headers=coalition.auth("Host"))
    _assert_error(response, 405, "method_not_allowed")


def test_validation_errors_name_the_field(client: TestClient, coalition: Coalition) -> None:
    admin = coalition.auth("Host", Role.ORG_ADMIN)
    missing = client.post("/api/v1/orgs", json={"tier": "sponsoring"}, headers=admin)
    assert _assert_error(missing, 422, "validation_failed")["where"] == "body.name"
    bad_tier = client.post("/api/v1/orgs", json={"name": "X", "tier": "emperor"}, headers=admin)
    assert _assert_error(bad_tier, 422, "validation_failed")["where"] == "body.tier"
    no_value = client.get("/api/v1/observables", headers=admin)
    assert _assert_error(no_value, 422, "validation_failed")["where"] == "query.value"
    bad_mode = post_bundle(client, admin, bundle(indicator()), mode="sloppy")
    assert _assert_error(bad_mode, 422, "validation_failed")["where"] == "query.mode"


def test_bad_ingest_parameters_name_the_parameter(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    auth = coalition.auth("Sponsor A")
    cases = [
        ({"tlp": "purple"}, "tlp"),
        ({"distribution": "everyone"}, "distribution"),
        ({"distribution": "group:"}, "distribution"),
        # Sponsor A is not in a group of that name: same answer as no group at all.
        ({"distribution": "group:no-such-group"}, "distribution"),
    ]
    for params, where in cases:
        response = post_bundle(client, auth, bundle(indicator()), **params)
        assert _assert_error(response, 400, "bad_input")["where"] == where, params
    outsider = post_bundle(
        client, coalition.auth("Sponsor B"), bundle(indicator()), distribution="group:ics"
    )
    hidden = post_bundle(client, auth, bundle(indicator()), distribution="group:no-such-group")
    assert outsider.json()["detail"].replace("Sponsor B", "X").replace(
        "'ics'", "G"
    ) == hidden.json()["detail"].replace("Sponsor A", "X").replace("'no-such-group'", "G")
    assert rows(engine).objects == 0


def test_unknown_observable_type_and_unrecognisable_value(
    client: TestClient, coalition: Coalition
) -> None:
    auth = coalition.auth("Host")
    bad_type = client.get(
        "/api/v1/observables", params={"value": "x", "type": "colour"}, headers=auth
    )
    assert _assert_error(bad_type, 400, "bad_input")["where"] == "type"
    bad_value = client.get("/api/v1/observables", params={"value": "not a value"}, headers=auth)
    assert _assert_error(bad_value, 400, "bad_input")["where"] == "value"


def test_anonymous_reads_are_refused_by_default(client: TestClient) -> None:
    for path in ("/api/v1/objects", "/api/v1/observables?value=198.51.100.7"):
        _assert_error(client.get(path), 401, "unauthorized")
