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

from shieldwall.intel.tables import observables, stix_objects


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
