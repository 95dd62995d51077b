"""`POST /api/v1/imports` (strict by default) and `shieldwall import --format`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from shieldwall.cli.main import app
from shieldwall.config import get_settings
from tests.factories import Coalition
from tests.formats.helpers import stored
from tests.formats.test_misp import EVENT_UUID, attribute, event


def test_api_imports_a_misp_event(client: TestClient, coalition: Coalition, engine: Engine) -> None:
    response = client.post(
        "/api/v1/imports",
        content=orjson.dumps({"Event": event()}),
        headers=coalition.auth("Sponsor A"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 4
    assert response.json()["rejected"] == 0
    assert f"report--{EVENT_UUID}" in stored(engine)


def test_api_is_strict_by_default_and_names_the_attribute(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    body = {"Event": event(Attribute=[*event()["Attribute"], attribute("7", "url", "not-a-url")])}
    response = client.post(
        "/api/v1/imports?format=misp",
        content=orjson.dumps(body),
        headers=coalition.auth("Sponsor A"),
    )
    assert response.status_code == 422
    assert response.json()["where"] == f"objects[0].Event[{EVENT_UUID}].Attribute[2].value"
    assert response.json()["report"]["rejections"][0]["field"].endswith("Attribute[2].value")
    assert stored(engine) == {}

    lenient = client.post(
        "/api/v1/imports?mode=lenient",
        content=orjson.dumps(body),
        headers=coalition.auth("Sponsor A"),
    )
    assert lenient.status_code == 200
    assert lenient.json()["rejected"] == 1


def test_api_csv_with_mapping(client: TestClient, coalition: Coalition) -> None:
    response = client.post(
        "/api/v1/imports?format=csv&csv_mapping=0%3Dip",
        content=b"198.51.100.1\n198.51.100.2\n",
        headers=coalition.auth("Sponsor A"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2


def test_api_refuses_what_is_no_known_format(client: TestClient, coalition: Coalition) -> None:
    response = client.post(
        "/api/v1/imports", content=b'{"hello": "world"}', headers=coalition.auth("Sponsor A")
    )
    assert response.status_code == 400
    assert "neither a MISP event nor a STIX bundle" in response.json()["detail"]


def test_api_needs_a_key(client: TestClient, coalition: Coalition) -> None:
    assert client.post("/api/v1/imports", content=b"x").status_code == 401


@pytest.fixture
def cli_store(
    engine: Engine, coalition: Coalition, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    url = engine.url
    if engine.dialect.name == "postgresql":
        # The test schema travels in the URL, as a user's would.
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()


def test_cli_detects_formats_from_content_not_names(cli_store: Engine, tmp_path: Path) -> None:
    # Misleading names: the content decides.
    (tmp_path / "event.txt").write_bytes(orjson.dumps({"Event": event()}))
    (tmp_path / "notes.json.txt").write_text(
        "C2 at hxxp://evil-c2[.]example/gate and 203.0.113[.]77\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(tmp_path / "event.txt"),
            str(tmp_path / "notes.json.txt"),
            "--org",
            "Sponsor A",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    reports = orjson.loads(result.stdout)
    assert [r["created"] for r in reports] == [4, 2]
    objects = stored(cli_store)
    assert f"report--{EVENT_UUID}" in objects
    assert "[ipv4-addr:value = '203.0.113.77']" in {o.get("pattern") for o in objects.values()}
