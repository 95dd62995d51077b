"""The export reader hands out the driver's tuples: they must be what SQLAlchemy's rows hold."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import chain

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shieldwall.db.engine import read_transaction
from shieldwall.formats.export import repository
from shieldwall.formats.export.model import ExportFilters
from shieldwall.formats.export.repository import Scope
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from tests.factories import Coalition
from tests.formats.export.conftest import Stored

#: Every column a value format may read (see `repository.value_rows`).
ALL_FIELDS = (
    "kind",
    "value",
    "pk",
    "stix_id",
    "stix_type",
    "owner",
    "tlp",
    "dist",
    "version_key",
    "added_at",
    "confidence",
    "created",
    "modified",
    "last_seen",
)


def test_value_rows_match_sqlalchemy_rows_across_chunk_boundaries(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, "Host", Role.READER)
        scope = Scope(principal=principal, filters=ExportFilters())
        expected = [
            tuple(row) for row in conn.execute(repository.value_query(conn, scope, ALL_FIELDS))
        ]
        chunks = list(repository.value_rows(conn, scope, ALL_FIELDS, chunk=3))
    assert len(expected) > 3 * 2, "the store should span several chunks"
    assert all(0 < len(chunk) <= 3 for chunk in chunks)
    found = list(chain.from_iterable(chunks))
    assert found == expected
    added = {row[ALL_FIELDS.index("added_at")] for row in found}
    # UTCDateTime's conversion is applied (SQLite stores naive text).
    assert all(isinstance(at, datetime) and at.tzinfo is UTC for at in added)


def test_object_data_reads_what_object_pages_read(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, "Contributor", Role.READER)
        scope = Scope(principal=principal, filters=ExportFilters())
        chunks = list(repository.object_data(conn, scope, chunk=2))
        pages = repository.object_pages(conn, scope, page_size=2, with_observables=False)
        expected = [(row.pk, row.data) for page in pages for row in page]
    assert len(expected) > 2, "the store should span several chunks"
    assert list(chain.from_iterable(chunks)) == expected
