"""Review of version placement (`Ingestor._place`): one latest version per object and owner.

Imports in random order, of random versions of two ids by two owners, with
batches of one to three objects, strict and lenient mode, rejected objects in
between (a broken pattern, a rewrite of a stored version, a marking that never
resolves) and objects that wait for a marking defined later in the bundle.
After every import, for each (id, owner): the stored flags mark exactly the
newest `modified` (in time, whatever its precision) as latest, and
`GET /api/v1/objects/{id}/versions`, `GET /api/v1/objects/{id}` and the
listing say the same. The access policy hides older versions behind the latest
one, so a wrong flag would be a leak as well as a wrong answer.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from shieldwall.intel.ingest import ImportAborted, Mode, ingest_objects
from shieldwall.intel.tables import stix_objects
from shieldwall.members.tables import organisations
from tests.factories import Coalition, indicator
from tests.intel.store import ingest_options
from tests.security.helpers import wipe_objects

IDS = (
    "indicator--6f1a1f3e-0c43-4a57-9d59-7a1b0a1c0001",
    "indicator--6f1a1f3e-0c43-4a57-9d59-7a1b0a1c0002",
)
OWNERS = ("Sponsor A", "Sponsor B")
CREATED = "2024-01-01T00:00:00Z"
#: `modified` texts of several precisions; the first two are one instant (one version).
MODIFIED = (
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00.000Z",
    "2024-01-01T00:00:00.123456789Z",
    "2024-01-01T00:00:00.5Z",
    "2024-01-01T00:00:01Z",
    "2024-01-02T00:00:00.000001Z",
)
VALUES = ("198.51.100.10", "198.51.100.20")
MARKING = "marking-definition--0b1e5c6d-8e8f-4c3a-9a8b-7c6d5e4f3a21"
MARKING_DEFINITION = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": MARKING,
    "created": "2024-01-01T00:00:00.000Z",
    "definition_type": "statement",
    "definition": {"statement": "review"},
}


def time_key(text: str) -> tuple[datetime, int]:
    """A `modified` text as (second, nanoseconds): the instant that orders versions."""
    day, _, rest = text.rstrip("Z").partition("T")
    clock, _, fraction = rest.partition(".")
    second = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
    return second, int(fraction.ljust(9, "0"))


@dataclass(frozen=True)
class Version:
    id_at: int
    modified_at: int
    value_at: int
    broken: bool  # an invalid pattern: rejected at validation
    marked: bool  # refers to MARKING: waits for its definition

    def obj(self) -> dict[str, Any]:
        value = VALUES[self.value_at]
        extra: dict[str, Any] = {"object_marking_refs": [MARKING]} if self.marked else {}
        made = indicator(
            value,
            object_id=IDS[self.id_at],
            modified=MODIFIED[self.modified_at],
            created=CREATED,
            **extra,
        )
        if self.broken:
            made["pattern"] = f"[ipv4-addr:value = '{value}'"
        return made


@dataclass(frozen=True)
class Import:
    owner_at: int
    versions: tuple[Version, ...]
    define_marking: bool
    mode: Mode
    batch_size: int


@dataclass
class Model:
    """What each owner holds: (id, time key) -> (modified text, canonical content)."""

    held: dict[tuple[int, str], dict[tuple[datetime, int], tuple[str, bytes]]] = field(
        default_factory=dict
    )
    markings: set[int] = field(default_factory=set)  # owners holding MARKING

    def apply(self, done: Import) -> None:
        """Places the import's versions as the importer should, or nothing (strict abort)."""
        owner = OWNERS[done.owner_at]
        resolvable = done.define_marking or done.owner_at in self.markings
        # Objects waiting for a marking are placed at the end of the bundle.
        order = [v for v in done.versions if not v.marked] + [v for v in done.versions if v.marked]
        staged = {key: dict(chain) for key, chain in self.held.items()}
        for version in order:
            if version.broken or (version.marked and not resolvable):
                if done.mode is Mode.STRICT:
                    return
                continue
            obj = version.obj()
            content = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
            chain = staged.setdefault((version.id_at, owner), {})
            at = time_key(obj["modified"])
            if at in chain and chain[at][1] != content:
                if done.mode is Mode.STRICT:
                    return
                continue
            chain.setdefault(at, (obj["modified"], content))
        self.held = {key: chain for key, chain in staged.items() if chain}
        if done.define_marking:
            self.markings.add(done.owner_at)


versions_st = st.builds(
    Version,
    id_at=st.integers(0, len(IDS) - 1),
    modified_at=st.integers(0, len(MODIFIED) - 1),
    value_at=st.integers(0, len(VALUES) - 1),
    broken=st.sampled_from([False, False, False, True]),
    marked=st.sampled_from([False, False, True]),
)
imports_st = st.builds(
    Import,
    owner_at=st.integers(0, len(OWNERS) - 1),
    versions=st.lists(versions_st, min_size=1, max_size=5).map(tuple),
    define_marking=st.booleans(),
    mode=st.sampled_from(list(Mode)),
    batch_size=st.integers(1, 3),
)


def run_import(engine: Engine, done: Import) -> None:
    options = ingest_options(engine, OWNERS[done.owner_at], done.mode, done.batch_size)
    objects = [v.obj() for v in done.versions]
    if done.define_marking:
        objects.append(MARKING_DEFINITION)  # after the objects that refer to it
    with suppress(ImportAborted):  # strict mode: nothing stored, as the model says
        ingest_objects(engine, lambda: iter(objects), options, source="review")


def stored_flags(engine: Engine) -> dict[tuple[int, str], dict[tuple[datetime, int], bool]]:
    query = (
        select(
            stix_objects.c.stix_id,
            organisations.c.name,
            stix_objects.c.data,
            stix_objects.c.is_latest,
        )
        .join(organisations, organisations.c.id == stix_objects.c.owner_org_id)
        .where(stix_objects.c.type == "indicator")
    )
    found: dict[tuple[int, str], dict[tuple[datetime, int], bool]] = {}
    with engine.connect() as conn:
        for stix_id, owner, data, latest in conn.execute(query):
            at = time_key(orjson.loads(data)["modified"])
            found.setdefault((IDS.index(stix_id), owner), {})[at] = bool(latest)
    return found


def check_against_model(
    client: TestClient, coalition: Coalition, model: Model, engine: Engine
) -> None:
    expected_flags = {
        key: {at: at == max(chain) for at in chain} for key, chain in model.held.items()
    }
    assert stored_flags(engine) == expected_flags
    for owner in OWNERS:
        headers = coalition.auth(owner)
        listing = client.get("/api/v1/objects", params={"type": "indicator"}, headers=headers)
        listed = {o["id"]: o for o in listing.json()["objects"]}
        for id_at, stix_id in enumerate(IDS):
            chain = model.held.get((id_at, owner))
            versions = client.get(f"/api/v1/objects/{stix_id}/versions", headers=headers)
            latest = client.get(f"/api/v1/objects/{stix_id}", headers=headers)
            if chain is None:
                assert (versions.status_code, latest.status_code) == (404, 404)
                assert stix_id not in listed
                continue
            in_order = [chain[at][0] for at in sorted(chain)]
            shown = versions.json()["versions"]
            assert [v["object"]["modified"] for v in shown] == in_order
            assert [v["latest"] for v in shown] == [False] * (len(chain) - 1) + [True]
            newest = chain[max(chain)][1]
            assert orjson.dumps(latest.json()["object"], option=orjson.OPT_SORT_KEYS) == newest
            assert latest.json()["latest"] is True
            assert orjson.dumps(listed[stix_id]["object"], option=orjson.OPT_SORT_KEYS) == newest


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(imports=st.lists(imports_st, min_size=1, max_size=4))
def test_every_import_order_leaves_one_latest_version_the_newest(
    client: TestClient, coalition: Coalition, engine: Engine, imports: list[Import]
) -> None:
    wipe_objects(engine)
    model = Model()
    for done in imports:
        run_import(engine, done)
        model.apply(done)
        check_against_model(client, coalition, model, engine)


# --------------------------------------------------------------------------- named cases


def _one(
    versions: list[tuple[int, int, int]],
    *,
    mode: Mode = Mode.LENIENT,
    batch: int = 2,
    owner: int = 0,
    broken: tuple[int, ...] = (),
) -> Import:
    return Import(
        owner,
        tuple(
            Version(i, m, v, position in broken, False)
            for position, (i, m, v) in enumerate(versions)
        ),
        False,
        mode,
        batch,
    )


NAMED: dict[str, list[Import]] = {
    # The same id twice in one batch, the older first: the newer demotes it in the batch.
    "older-then-newer-in-one-batch": [_one([(0, 2, 0), (0, 5, 1)], batch=3)],
    # The same id twice in one batch, the newer first.
    "newer-then-older-in-one-batch": [_one([(0, 5, 0), (0, 2, 1)], batch=3)],
    # The same id across batch boundaries, older after newer.
    "older-after-newer-across-batches": [_one([(0, 4, 0), (0, 5, 1), (0, 3, 0)], batch=1)],
    # Older than what is stored, in a later import.
    "older-in-a-later-import": [_one([(0, 4, 0)]), _one([(0, 2, 1), (0, 3, 0)])],
    # Two owners, one id: each owner's chain has its own latest.
    "same-id-two-owners": [_one([(0, 2, 0)], owner=0), _one([(0, 5, 1), (0, 3, 0)], owner=1)],
    # Lenient: the rejected middle version leaves the others placed as if it never came.
    "lenient-rejected-middle": [_one([(0, 2, 0), (0, 5, 1), (0, 3, 0)], broken=(1,), batch=1)],
    # Lenient: a rewrite of a stored instant (another text of it) is rejected.
    "lenient-rewrite-of-an-instant": [_one([(0, 0, 0)]), _one([(0, 1, 0), (0, 3, 1)])],
    # Strict: a rejected newest version leaves the stored latest as it was.
    "strict-rejected-newest": [
        _one([(0, 2, 0)]),
        _one([(0, 3, 0), (0, 5, 1)], mode=Mode.STRICT, broken=(1,), batch=1),
    ],
}


def test_named_version_orders(client: TestClient, coalition: Coalition, engine: Engine) -> None:
    for name, imports in NAMED.items():
        wipe_objects(engine)
        model = Model()
        for done in imports:
            run_import(engine, done)
            model.apply(done)
            try:
                check_against_model(client, coalition, model, engine)
            except AssertionError as failure:
                raise AssertionError(f"{name}: {failure}") from failure
