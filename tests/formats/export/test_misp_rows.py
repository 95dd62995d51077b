"""The misp rest event's own read: the access policy and `repository.value_rows`'s rows, cheaper."""

from __future__ import annotations

import uuid
from itertools import chain

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.formats.export import misp_rows, repository
from shieldwall.formats.export.model import ExportFilters
from shieldwall.formats.export.repository import Scope
from shieldwall.intel.tables import stix_objects
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import TLP, DistKind
from tests.factories import ORGS, Coalition, bundle
from tests.formats.export.conftest import Stored, visibility
from tests.intel.store import post_bundle

#: `repository.value_rows` fields holding what `misp_rows.REST_COLUMNS` holds.
_VALUE_FIELDS = ("pk", "stix_id", "stix_type", "owner", "tlp", "dist", "time_key", "kind")


def _rest_ids(engine: Engine, org: str) -> set[str]:
    with read_transaction(engine) as conn:
        scope = Scope(
            principal=bootstrap.principal_for(conn, org, Role.READER), filters=ExportFilters()
        )
        chunks = misp_rows.rest_rows(conn, scope, chunk=4)
        return {row[1] for row in chain.from_iterable(chunks)}


@pytest.mark.parametrize("org", list(ORGS))
def test_rest_rows_are_exactly_the_objects_the_caller_may_read(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored, org: str
) -> None:
    readable = {stix_id for stix_id, seen in visibility(engine, org, stored).items() if seen}
    assert set(stored.values) - readable, "some objects should be hidden from every member"
    assert _rest_ids(engine, org) == readable


@pytest.mark.parametrize("scored", [False, True], ids=["rest", "with score columns"])
def test_rest_rows_are_value_rows_with_cheaper_columns(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored, scored: bool
) -> None:
    address = {"type": "ipv4-addr", "spec_version": "2.1", "value": "198.51.100.77"}
    address["id"] = f"ipv4-addr--{uuid.uuid4()}"
    posted = post_bundle(client, coalition.auth("Sponsor A"), bundle(address), tlp="green")
    assert posted.status_code == 200, posted.text
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, "Sponsor A", Role.READER)
        scope = Scope(principal=principal, filters=ExportFilters())
        extra = [stix_objects.c.tlp != int(TLP.RED)]
        score_fields = misp_rows.SCORE_FIELDS if scored else ()
        fields = (*_VALUE_FIELDS, "value", *score_fields)
        expected = list(
            chain.from_iterable(repository.value_rows(conn, scope, fields, chunk=5, extra=extra))
        )
        chunks = list(misp_rows.rest_rows(conn, scope, chunk=3, extra=extra, scored=scored))
        owners = repository.OrganisationNames(conn)
    assert len(expected) > 3 * 2, "the store should span several chunks"
    assert all(0 < len(chunk) <= 3 for chunk in chunks)
    found = []
    for pk, stix_id, marking, *rest in chain.from_iterable(chunks):
        owner_id, tlp, dist, indicator = misp_rows.unpacked(marking)
        kind = "indicator" if indicator else "other"
        found.append((pk, stix_id, kind, owners[owner_id], tlp, dist, *rest))
    assert found == [
        (pk, stix_id, "indicator" if stix_type == "indicator" else "other", *rest)
        for pk, stix_id, stix_type, *rest in expected
    ]
    # An object that is not an indicator is told apart (its values are not `to_ids`).
    assert {row[2] for row in found} == {"indicator", "other"}


def test_a_tlp_or_distribution_out_of_range_gives_no_marking(
    engine: Engine, client: TestClient, coalition: Coalition, stored: Stored
) -> None:
    """Packed, a TLP of 9 would read as another TLP and owner: it reads as none instead."""
    objects = stix_objects.c
    with write_transaction(engine) as conn:
        host = bootstrap.principal_for(conn, "Host", Role.READER)
        # Still visible to the Host once broken: its own object, and one shared with members.
        bad_dist = conn.execute(select(objects.pk).where(objects.owner_org_id == host.org_id))
        bad_tlp = conn.execute(select(objects.pk).where(objects.dist == int(DistKind.MEMBERS)))
        broken = {"dist": bad_dist.scalars().first(), "tlp": bad_tlp.scalars().first()}
        for column, pk in broken.items():
            conn.execute(update(stix_objects).where(objects.pk == pk).values({column: 9}))
    with read_transaction(engine) as conn:
        scope = Scope(principal=host, filters=ExportFilters())
        rows = list(chain.from_iterable(misp_rows.rest_rows(conn, scope, chunk=100)))
    markings = {row[0]: row[2] for row in rows}
    assert {markings[pk] for pk in broken.values()} == {None}
    assert None not in {markings[pk] for pk in set(markings) - set(broken.values())}
