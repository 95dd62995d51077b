"""Ingest of the project's own generated intel (`shieldwall.demo.generate`).

These run everywhere, with or without ../shared/data: a few hundred
indicators of every observable kind the generator makes, checked against the
OASIS `stix2` library as an oracle, imported, re-imported and found by value.
"""

from __future__ import annotations

import io
import random

import orjson
import stix2
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.demo import generate
from shieldwall.intel.observables import detect
from tests.factories import Coalition
from tests.intel.store import Rows, post_bundle, report_counts, rows

COUNT = 300


def _generated(count: int = COUNT, seed: int = 7) -> list[dict[str, object]]:
    return list(generate.indicators(count, seed=seed))


def test_generator_is_reproducible_and_valid_stix() -> None:
    first, again = _generated(40), _generated(40)
    assert first == again
    assert _generated(40, seed=8) != first
    for obj in first:
        # The OASIS library is the oracle: it raises on any invalid property.
        parsed = stix2.parse(obj, allow_custom=False)
        assert parsed.id == obj["id"]


def test_generated_bundle_imports_and_reimports(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    stream = io.BytesIO()
    written = generate.write_bundle(stream, iter(_generated()))
    assert written == COUNT
    body = stream.getvalue()
    auth = coalition.auth("Sponsor A")

    first = post_bundle(client, auth, body, tlp="green", distribution="members")
    assert first.status_code == 200, first.text
    assert report_counts(first.json()) == (COUNT, 0, 0, 0)
    # Every generated indicator carries exactly one well-formed value.
    assert first.json()["observables"] == COUNT
    assert rows(engine) == Rows(COUNT, COUNT)

    again = post_bundle(client, auth, body, tlp="green", distribution="members")
    assert report_counts(again.json()) == (0, 0, COUNT, 0)
    assert again.json()["observables"] == 0
    assert rows(engine) == Rows(COUNT, COUNT)


def test_generated_values_of_every_kind_are_found(client: TestClient, coalition: Coalition) -> None:
    objects = _generated()
    post_bundle(
        client,
        coalition.auth("Sponsor A"),
        generate.bundle(objects),  # type: ignore[arg-type]
        tlp="green",
        distribution="members",
    )
    one_per_kind: dict[str, dict[str, object]] = {}
    for obj in objects:
        one_per_kind.setdefault(str(obj["name"]).split(" ", 1)[0], obj)
    assert set(one_per_kind) == {"ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256"}

    for kind, obj in one_per_kind.items():
        value = str(obj["name"]).split(" ", 1)[1]
        found = client.get(
            "/api/v1/observables", params={"value": value}, headers=coalition.auth("Host")
        )
        assert found.status_code == 200, found.text
        assert found.json()["type"] == (detect(value) or ("", ""))[0] == kind
        assert [o["id"] for o in found.json()["objects"]] == [obj["id"]], kind


def test_generated_values_are_hidden_from_those_outside_the_distribution(
    client: TestClient, coalition: Coalition
) -> None:
    objects = _generated(20, seed=11)
    post_bundle(
        client,
        coalition.auth("Sponsor A"),
        generate.bundle(objects),  # type: ignore[arg-type]
        tlp="amber",
        distribution="group:ics",
    )
    value = str(random.Random(1).choice(objects)["name"]).split(" ", 1)[1]
    for org, sees in [("Host", True), ("Contributor", True), ("Sponsor B", False)]:
        found = client.get(
            "/api/v1/observables", params={"value": value}, headers=coalition.auth(org)
        )
        assert bool(found.json()["objects"]) is sees, org
    listed = client.get("/api/v1/objects", headers=coalition.auth("Sponsor B"))
    assert listed.json()["objects"] == []
    assert orjson.loads(listed.content)["more"] is False
