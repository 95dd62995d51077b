"""Test helpers over the object store: row counts and posting bundles.

Counting rows straight from the tables (not through the API, which applies
the access policy) is how a test proves that a refused import stored nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from shieldwall.db.engine import read_transaction
from shieldwall.intel.ingest import IngestOptions, Mode
from shieldwall.intel.tables import observables, stix_objects
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import TLP, DistKind, Distribution


@dataclass(frozen=True)
class Rows:
    objects: int
    observables: int


def rows(engine: Engine) -> Rows:
    """Every stored object version and observable row, whoever owns them."""
    with engine.connect() as conn:
        objects = conn.execute(select(func.count()).select_from(stix_objects)).scalar_one()
        found = conn.execute(select(func.count()).select_from(observables)).scalar_one()
    return Rows(int(objects), int(found))


def post_bundle(
    client: TestClient,
    headers: dict[str, str],
    body: dict[str, Any] | bytes,
    **params: str,
) -> httpx.Response:
    """POST /api/v1/bundles with query parameters (tlp, distribution, mode)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(
        "/api/v1/bundles",
        params=params,
        content=content,
        headers={**headers, "Content-Type": "application/json"},
    )


def report_counts(report: dict[str, Any]) -> tuple[int, int, int, int]:
    """(created, new_versions, unchanged, rejected) of an import report."""
    return (report["created"], report["new_versions"], report["unchanged"], report["rejected"])


def ingest_options(engine: Engine, org: str, mode: Mode, batch_size: int = 5000) -> IngestOptions:
    """What an analyst of `org` imports with: TLP green by default, for the organisation only."""
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, org, Role.ANALYST)
    assert principal.org_id is not None
    return IngestOptions(
        principal=principal,
        owner_org_id=principal.org_id,
        default_tlp=TLP.GREEN,
        distribution=Distribution(DistKind.ORG),
        mode=mode,
        batch_size=batch_size,
    )
