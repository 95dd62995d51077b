"""GET /api/v1/correlations: what relates to an object or a value, as the caller may see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shieldwall.correlate import service
from shieldwall.correlate.service import CorrelationRules
from shieldwall.deps import CurrentReader, ReadConn, SettingsDep
from shieldwall.errors import BadInput

router = APIRouter(prefix="/api/v1", tags=["detection"])


@router.get("/correlations", summary="Objects related to an object or a value")
def get_correlations(
    conn: ReadConn,
    reader: CurrentReader,
    settings: SettingsDep,
    object_id: Annotated[str | None, Query(max_length=300)] = None,
    value: Annotated[str | None, Query(max_length=2048)] = None,
    type_: Annotated[str | None, Query(alias="type")] = None,
) -> dict[str, Any]:
    rules = CorrelationRules.from_settings(settings)
    if (object_id is None) == (value is None):
        raise BadInput("give either object_id or value", where="object_id")
    if object_id is not None:
        return service.correlations_of_object(conn, reader, rules, object_id)
    assert value is not None
    return service.correlations_of_value(conn, reader, rules, value, type_)
