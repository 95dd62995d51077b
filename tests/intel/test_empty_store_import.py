"""The first import into an empty store takes short cuts; the store must not tell.

On SQLite it builds two secondary indexes once at its end instead of entry by
entry (`repository.defer_indexes`), and on both stores it asks the store only
about ids it has itself stored already. After a committed, a rejected or an
aborted import the schema is what the migrations made, and a reader that
looks while the import runs sees the store as last committed, indexes and
all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from shieldwall.demo.generate import indicators
from shieldwall.intel import ingest, repository
from shieldwall.intel.ingest import ImportAborted, IngestOptions, Mode, ingest_objects
from tests.factories import Coalition
from tests.intel.store import Rows, ingest_options, rows


def _schema(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        else:
            query = (
                "SELECT tablename, indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() ORDER BY indexname"
            )
        return [tuple(row) for row in conn.execute(text(query))]


def _options(engine: Engine, mode: Mode, batch_size: int = 3) -> IngestOptions:
    return ingest_options(engine, "Sponsor A", mode, batch_size)


def test_first_import_leaves_the_schema_as_migrated(engine: Engine, coalition: Coalition) -> None:
    assert rows(engine) == Rows(0, 0), "the store must start empty"
    before = _schema(engine)
    objects = list(indicators(20, seed=4))
    # A version of the first object again, in a later batch: found in the store.
    again = {**objects[0], "modified": "2030-01-01T00:00:00.000Z"}
    report = ingest_objects(engine, lambda: iter([*objects, again]), _options(engine, Mode.STRICT))
    assert (report.created, report.new_versions) == (20, 1)
    assert rows(engine) == Rows(21, 21)
    assert _schema(engine) == before


def test_an_aborted_first_import_leaves_the_schema_and_the_store_as_they_were(
    engine: Engine, coalition: Coalition
) -> None:
    before = _schema(engine)
    objects = list(indicators(10, seed=5))
    clash = {**objects[1], "confidence": 1}  # same version, other content: strict abort
    with pytest.raises(ImportAborted):
        ingest_objects(engine, lambda: iter([*objects, clash]), _options(engine, Mode.STRICT))
    assert rows(engine) == Rows(0, 0)
    assert _schema(engine) == before


def test_a_reader_during_the_first_import_sees_the_indexed_store(
    engine: Engine, coalition: Coalition
) -> None:
    before = _schema(engine)
    seen: list[Any] = []
    reading = threading.Event()

    def objects() -> Iterator[dict[str, Any]]:
        yield from indicators(10, seed=6)
        # Mid-import, after a batch is written: another connection looks.
        reader = threading.Thread(target=lambda: seen.extend([_schema(engine), rows(engine)]))
        reader.start()
        reader.join(timeout=30)
        reading.set()
        yield from indicators(10, seed=7)

    ingest_objects(engine, objects, _options(engine, Mode.LENIENT))
    assert reading.is_set()
    assert seen == [before, Rows(0, 0)]
    assert _schema(engine) == before


def test_past_the_cap_on_kept_hashes_the_store_answers(
    engine: Engine, coalition: Coalition, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the hashes kept pass their cap, versions are still found, by the store."""
    monkeypatch.setattr(ingest, "_FLUSHED_HASHES_MAX", 4)
    objects = list(indicators(12, seed=8))
    later = [
        {**objects[1], "modified": "2030-01-01T00:00:00.000Z"},  # a new version
        objects[10],  # the same version again
    ]
    report = ingest_objects(engine, lambda: iter([*objects, *later]), _options(engine, Mode.STRICT))
    assert (report.created, report.new_versions, report.unchanged) == (12, 1, 1)
    assert rows(engine) == Rows(13, 13)


def _version_index_present(conn: Any) -> bool:
    found = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE name = 'uq_stix_objects_version'"
    ).scalar_one()
    return bool(found)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_store_is_asked_about_versions_only_through_the_version_index(
    engine: Engine, coalition: Coalition, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first import defers the version index; any look-up by id rebuilds it first.

    Without it SQLite would answer each look-up by reading the whole table.
    """
    indexed_at_lookup: list[bool] = []
    stored_versions = repository.stored_versions
    visible_markings = repository.visible_markings

    def spy_versions(conn: Any, *args: Any) -> Any:
        indexed_at_lookup.append(_version_index_present(conn))
        return stored_versions(conn, *args)

    def spy_markings(conn: Any, *args: Any) -> Any:
        indexed_at_lookup.append(_version_index_present(conn))
        return visible_markings(conn, *args)

    monkeypatch.setattr(repository, "stored_versions", spy_versions)
    monkeypatch.setattr(repository, "visible_markings", spy_markings)
    objects = list(indicators(9, seed=9))
    unknown_marking = "marking-definition--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
    marked = {**objects[2], "object_marking_refs": [unknown_marking]}
    again = {**objects[0], "modified": "2030-01-01T00:00:00.000Z"}
    report = ingest_objects(
        engine, lambda: iter([*objects, marked, again]), _options(engine, Mode.LENIENT)
    )
    assert (report.created, report.new_versions, len(report.rejected)) == (9, 1, 1)
    assert indexed_at_lookup == [True, True]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_first_import_with_no_look_up_builds_the_version_index_once_at_its_end(
    engine: Engine, coalition: Coalition, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed_at_insert: list[bool] = []
    insert_objects = repository.insert_objects

    def spy_insert(conn: Any, rows: Any) -> None:
        indexed_at_insert.append(_version_index_present(conn))
        insert_objects(conn, rows)

    monkeypatch.setattr(repository, "insert_objects", spy_insert)
    before = _schema(engine)
    ingest_objects(engine, lambda: indicators(12, seed=10), _options(engine, Mode.STRICT))
    assert indexed_at_insert == [False] * 4  # batches of 3, written while it is deferred
    assert _schema(engine) == before  # and there again, as migrated
