"""POST /api/v1/match: which of these observables hit indicators the caller may see."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shieldwall.deps import CurrentReader, ReadConn, SettingsDep
from shieldwall.errors import BadInput
from shieldwall.match import service
from shieldwall.match.service import IndexHolder, MatchOptions, Wanted

router = APIRouter(prefix="/api/v1", tags=["detection"])

#: Observables per request when the settings do not say (`match_max_observables`).
DEFAULT_MAX_OBSERVABLES = 10_000

_holder_lock = threading.Lock()


def index_holder(request: Request) -> IndexHolder:
    """The app's index (started by the lifespan; created here when an app has none)."""
    with _holder_lock:
        holder: IndexHolder | None = getattr(request.app.state, "match_index", None)
        if holder is None:
            holder = IndexHolder(request.app.state.engine)
            request.app.state.match_index = holder
    return holder


HolderDep = Annotated[IndexHolder, Depends(index_holder)]


class TypedObservable(BaseModel):
    type: str | None = Field(
        default=None, description="ipv4, domain, sha256, ...; detected if absent"
    )
    value: str = Field(min_length=1, max_length=2048)


class MatchRequest(BaseModel):
    observables: list[str | TypedObservable] = Field(
        description="Values, bare (type detected) or as {type, value}"
    )
    include_warninglisted: bool = Field(
        default=False, description="Also report hits on values of the MISP warninglists"
    )
    min_score: float | None = Field(
        default=None, ge=0, le=100, description="Leave out lower scores"
    )


def _wanted(item: str | TypedObservable) -> Wanted:
    if isinstance(item, str):
        return Wanted(None, item)
    service.check_kind(item.type)
    return Wanted(item.type, item.value)


@router.post("/match", summary="Match observables against the visible indicators")
def post_match(
    body: MatchRequest,
    conn: ReadConn,
    reader: CurrentReader,
    settings: SettingsDep,
    holder: HolderDep,
) -> dict[str, Any]:
    limit = settings.match_max_observables
    if len(body.observables) > limit:
        raise BadInput(
            f"{len(body.observables)} observables given; at most {limit} per request",
            where="observables",
        )
    options = MatchOptions(body.include_warninglisted, body.min_score)
    index = holder.current()
    return service.match(conn, index, reader, [_wanted(item) for item in body.observables], options)
