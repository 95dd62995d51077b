"""REST endpoints of sightings: file them, and list those of an object."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from shieldwall.deps import CurrentPrincipal, CurrentReader, EngineDep, ReadConn, SettingsDep
from shieldwall.match.router import HolderDep
from shieldwall.sightings import service
from shieldwall.sightings.service import SightingItem, SightingReport

router = APIRouter(prefix="/api/v1", tags=["detection"])


class SightingIn(BaseModel):
    object_id: str | None = Field(default=None, description="The object seen")
    value: str | None = Field(
        default=None, max_length=2048, description="Or a value: every visible indicator it hits"
    )
    type: str | None = Field(default=None, description="The value's type; detected if absent")
    count: int = Field(default=1, ge=0)
    first_seen: str | None = Field(default=None, description="STIX timestamp")
    last_seen: str | None = Field(default=None, description="STIX timestamp")
    where: str | None = Field(default=None, max_length=500, description="Sensor, network, site")


class SightingsIn(BaseModel):
    sightings: list[SightingIn] = Field(min_length=1, max_length=10_000)
    tlp: str = "amber"
    distribution: str = Field(default="members", description="org, group:NAME, members or public")


@router.post("/sightings", summary="Report sightings (STIX sighting objects, one import)")
async def post_sightings(
    body: SightingsIn,
    principal: CurrentPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    holder: HolderDep,
) -> dict[str, Any]:
    report = SightingReport(
        [SightingItem(**item.model_dump()) for item in body.sightings],
        tlp=body.tlp,
        distribution=body.distribution,
    )
    return await run_in_threadpool(service.report, engine, settings, principal, holder, report)


@router.get("/sightings", summary="The visible sightings of a visible object")
def get_sightings(
    conn: ReadConn,
    reader: CurrentReader,
    object_id: Annotated[str, Query(min_length=1, max_length=300)],
) -> dict[str, Any]:
    return service.list_sightings(conn, reader, object_id)
