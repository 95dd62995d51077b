"""Tests of the access policy, and the helpers they share to build a store.

The helpers write through the ingest functions directly rather than the REST
API: the policy must hold for objects the API would not let a caller place
today (an applicant's own objects, an object in a group its owner has left),
because tiers and memberships change after objects are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, delete

import shieldwall.db.models  # noqa: F401  (puts every feature's tables on the metadata)
from shieldwall.db.base import metadata
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.intel.ingest import ImportReport, IngestOptions, Mode, ingest_objects
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import TLP, TLP2_MARKING_ID, Distribution


def ingest_as(
    engine: Engine,
    owner: str,
    distribution: Distribution,
    objects: Sequence[dict[str, Any]],
    *,
    mode: Mode = Mode.STRICT,
    default_tlp: TLP = TLP.AMBER,
) -> ImportReport:
    """Stores `objects` as one import of `owner`; `default_tlp` applies where unmarked."""
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, owner, Role.ANALYST)
    assert principal.org_id is not None
    options = IngestOptions(
        principal=principal,
        owner_org_id=principal.org_id,
        default_tlp=default_tlp,
        distribution=distribution,
        mode=mode,
    )
    return ingest_objects(engine, lambda: iter(objects), options, source="test")


def tlp_refs(level: TLP) -> list[str]:
    """`object_marking_refs` carrying the standard TLP 2.0 marking of `level`."""
    return [TLP2_MARKING_ID[level]]


def empty_store(engine: Engine) -> None:
    """Deletes every row, children first, on either backend (keeps the schema)."""
    with write_transaction(engine) as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
