"""One entry point for every import (API, CLI, demo): options resolved, policy applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction
from shieldwall.intel.ingest import ImportReport, IngestOptions, Mode, ingest_objects
from shieldwall.members import service as members
from shieldwall.sharing import service as sharing
from shieldwall.sharing.policy import Action, Principal, require
from shieldwall.sharing.tlp import TLP


@dataclass(frozen=True, slots=True)
class ImportRequest:
    principal: Principal
    owner: str
    tlp: str
    distribution: str
    mode: Mode


def resolve_options(engine: Engine, settings: Settings, request: ImportRequest) -> IngestOptions:
    require(request.principal, Action.WRITE_INTEL)
    default_tlp = TLP.parse(request.tlp)
    with read_transaction(engine) as conn:
        owner = members.org_named(conn, request.owner)
        distribution = sharing.resolve_distribution(conn, request.distribution, request.principal)
    return IngestOptions(
        principal=request.principal,
        owner_org_id=owner["id"],
        default_tlp=default_tlp,
        distribution=distribution,
        mode=request.mode,
        batch_size=settings.ingest_batch_size,
    )


def run_import(
    engine: Engine,
    settings: Settings,
    request: ImportRequest,
    objects: Callable[[], Iterator[Any]],
    source: str,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    options = resolve_options(engine, settings, request)
    return ingest_objects(engine, objects, options, source=source, on_progress=on_progress)
