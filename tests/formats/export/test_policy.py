"""No export, in any format, carries a value of an object its caller may not see."""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.members.model import Role
from tests.factories import ORGS, Coalition
from tests.formats.export.conftest import Stored, visibility

FORMATS = ["stix21", "misp", "misp-feed", "suricata", "snort", "zeek", "csv"]
TXT_TYPES = ["ipv4", "domain", "url", "md5", "sha256"]


def _body(client: TestClient, headers: dict[str, str], **params: str) -> str:
    response = client.get(
        "/api/v1/export", params={**params, "include_warninglisted": "true"}, headers=headers
    )
    assert response.status_code == 200, response.text
    if params.get("format") == "misp-feed":
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            return "\n".join(archive.read(name).decode() for name in archive.namelist())
    return response.text


@pytest.mark.parametrize("org", list(ORGS))
def test_no_format_reveals_a_value_the_caller_may_not_see(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored, org: str
) -> None:
    visible = visibility(engine, org, stored)
    assert len(visible) == len(stored.values)
    headers = coalition.auth(org, Role.READER)
    bodies = {fmt: _body(client, headers, format=fmt) for fmt in FORMATS}
    for kind in TXT_TYPES:
        bodies[f"txt:{kind}"] = _body(client, headers, format="txt", type=kind)
    for stix_id, values in stored.values.items():
        for name, body in bodies.items():
            if visible[stix_id]:
                continue
            leaked = [v for v in [stix_id.partition("--")[2], *values] if v in body]
            assert not leaked, f"{name} export for {org} reveals {leaked} of a hidden object"
    # And what the caller may see is there, in every format that carries these values.
    for stix_id, values in stored.values.items():
        if visible[stix_id]:
            for name in ("stix21", "csv", "zeek", "misp"):
                assert values[0] in bodies[name], f"{name} misses {values[0]} for {org}"
