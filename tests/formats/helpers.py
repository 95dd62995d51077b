"""Helpers of the importer tests: run an import as a member, read back what was stored."""

from __future__ import annotations

import io
from typing import Any

import orjson
from sqlalchemy import Engine, select

from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction
from shieldwall.formats.detect import Format
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel.ingest import ImportReport, Mode
from shieldwall.intel.tables import stix_objects
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import DistKind

ORG = "Sponsor A"
SETTINGS = Settings(database_url="sqlite:///unused", max_body_bytes=50_000_000)


def import_bytes(
    engine: Engine,
    data: bytes | dict[str, Any] | list[Any],
    *,
    mode: Mode = Mode.LENIENT,
    fmt: Format = Format.AUTO,
    name: str | None = None,
    distribution: str | None = None,
    **options: Any,
) -> ImportReport:
    """One import by Sponsor A (an analyst), as the CLI and the API run it."""
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, ORG, Role.ANALYST)
    request = FormatRequest(
        principal=principal,
        owner=ORG,
        tlp="amber",
        distribution=distribution,
        mode=mode,
        format=fmt,
        **options,
    )
    return import_stream(engine, SETTINGS, request, io.BytesIO(body), "test", name=name)


def stored(engine: Engine) -> dict[str, dict[str, Any]]:
    """The latest stored version of every object, by id, with its distribution and TLP."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(stix_objects.c.data, stix_objects.c.dist, stix_objects.c.tlp).where(
                stix_objects.c.is_latest
            )
        ).all()
    found: dict[str, dict[str, Any]] = {}
    for data, dist, tlp in rows:
        obj = orjson.loads(data)
        obj["_dist"] = DistKind(dist).name.lower()
        obj["_tlp"] = tlp
        found[obj["id"]] = obj
    return found
