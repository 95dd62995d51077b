"""The export reader hands out the driver's tuples: they must be what SQLAlchemy's rows hold."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import chain

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, false

from shieldwall.db.engine import read_transaction
from shieldwall.formats.export import repository
from shieldwall.formats.export.model import ExportFilters
from shieldwall.formats.export.repository import Scope
from shieldwall.intel.tables import stix_objects
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


@pytest.mark.parametrize(
    "fields",
    [ALL_FIELDS, ("value", "kind", "added_at")],
    ids=["every column", "converted column last"],
)
def test_value_rows_match_sqlalchemy_rows_across_chunk_boundaries(
    engine: Engine,
    client: TestClient,
    coalition: Coalition,
    stored: Stored,
    fields: tuple[str, ...],
) -> None:
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, "Host", Role.READER)
        scope = Scope(principal=principal, filters=ExportFilters())
        expected = [tuple(row) for row in conn.execute(repository.value_query(conn, scope, fields))]
        chunks = list(repository.value_rows(conn, scope, fields, chunk=3))
    assert len(expected) > 3 * 2, "the store should span several chunks"
    assert all(0 < len(chunk) <= 3 for chunk in chunks)
    found = list(chain.from_iterable(chunks))
    assert found == expected
    added = {row[fields.index("added_at")] for row in found}
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


def test_pages_by_key_read_what_object_pages_read_of_those_keys(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    """Keys the caller may not see, or that do not exist, are left out: the policy is applied."""
    with read_transaction(engine) as conn:
        everything = Scope(
            principal=bootstrap.principal_for(conn, "Host", Role.READER), filters=ExportFilters()
        )
        all_pks = [
            row.pk
            for page in repository.object_pages(conn, everything, page_size=50)
            for row in page
        ]
        scope = Scope(
            principal=bootstrap.principal_for(conn, "Contributor", Role.READER),
            filters=ExportFilters(),
        )
        visible = [
            row for page in repository.object_pages(conn, scope, page_size=2) for row in page
        ]
        wanted = {row.pk for row in visible[::2]}
        hidden = set(all_pks) - {row.pk for row in visible}
        assert hidden, "the Contributor should miss some objects"
        keys = sorted(wanted | hidden | {max(all_pks) + 1})
        pages = list(repository.object_pages_of(conn, scope, keys, page_size=2))
        flagged = list(
            repository.flagged_pks(
                conn, scope, [stix_objects.c.pk.in_(sorted(wanted)), false()], chunk=2
            )
        )
    assert all(len(page) <= 2 for page in pages)
    assert [row for page in pages for row in page] == [row for row in visible if row.pk in wanted]
    assert [(pk, bool(hit), bool(miss)) for pk, hit, miss in chain.from_iterable(flagged)] == [
        (pk, True, False) for pk in sorted(wanted)
    ]


def test_owner_ids_stand_for_the_names_of_the_owner_column(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, "Host", Role.READER)
        scope = Scope(principal=principal, filters=ExportFilters())
        chunks = repository.value_rows(conn, scope, ("owner", "owner_org_id"), chunk=100)
        rows = list(chain.from_iterable(chunks))
        names = repository.OrganisationNames(conn)
        assert len({owner for owner, _ in rows}) > 1, "the store should have several owners"
        assert all(names[org_id] == owner for owner, org_id in rows)
        # An organisation the names were read without is read when first asked for.
        owner, org_id = rows[0]
        del names[org_id]
        assert names[org_id] == owner
        assert org_id in names
