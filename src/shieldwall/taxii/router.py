"""TAXII 2.1 endpoints under /taxii2/: thin handlers over `taxii.service`.

Every failure on these routes, including those raised in dependencies and
request validation, is answered with a TAXII error message
(`application/taxii+json;version=2.1`) by `TaxiiRoute`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Coroutine
from typing import IO, Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction
from shieldwall.deps import EngineDep, ReadConn, SettingsDep, WriteConn, optional_principal
from shieldwall.errors import BadInput, NotFound, PayloadTooLarge, ShieldwallError, Unauthorized
from shieldwall.intel.service import Reader
from shieldwall.sharing.policy import Principal
from shieldwall.taxii import service, submissions
from shieldwall.taxii.schemas import (
    TAXII_MEDIA_TYPE,
    NotAcceptable,
    ObjectQuery,
    UnsupportedMediaType,
    VersionMatch,
    accepts_taxii,
    error_envelope,
    error_headers,
    is_postable,
    parse_timestamp,
    spec_version_matches,
    split_values,
)

log = logging.getLogger("shieldwall.taxii")

#: Bodies up to this size stay in memory; larger ones spill to a temporary file.
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


def taxii_error(error: ShieldwallError) -> Response:
    return Response(
        orjson.dumps(error_envelope(error)),
        status_code=error.status_code,
        media_type=TAXII_MEDIA_TYPE,
        headers=error_headers(error),
    )


class TaxiiRoute(APIRoute):
    """Answers every error of a TAXII route with a TAXII error message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ShieldwallError as exc:
                return taxii_error(exc)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                where = ".".join(str(part) for part in first.get("loc", ()))
                return taxii_error(BadInput(str(first.get("msg")), where=where or None))
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return taxii_error(ShieldwallError("an unexpected error occurred; see the log"))

        return taxii_handler


router = APIRouter(prefix="/taxii2", tags=["taxii"], route_class=TaxiiRoute)

# Handlers name the caller before the connection: FastAPI resolves dependencies
# in that order, so authentication's short transaction has ended before the
# request's own connection is taken. The other order holds two pooled
# connections per request, and concurrent requests exhaust the pool.


# --------------------------------------------------------------------------- dependencies


def _acceptable(request: Request) -> None:
    if not accepts_taxii(request.headers.get("accept")):
        raise NotAcceptable(
            f"this server answers in {TAXII_MEDIA_TYPE}; the Accept header does not allow it",
            where="Accept",
        )


def _reader(
    _: Annotated[None, Depends(_acceptable)],
    principal: Annotated[Principal, Depends(optional_principal)],
    settings: SettingsDep,
) -> Reader:
    if principal.is_anonymous and not settings.public_read:
        raise Unauthorized("credentials are required: HTTP Basic (API key as password) or Bearer")
    return Reader(principal, anonymous_public=settings.public_read)


def _writer(reader: Annotated[Reader, Depends(_reader)]) -> Principal:
    if reader.principal.is_anonymous:
        raise Unauthorized("credentials are required to change a collection")
    return reader.principal


TaxiiReader = Annotated[Reader, Depends(_reader)]
TaxiiWriter = Annotated[Principal, Depends(_writer)]
MatchValues = list[str] | None


def _query(
    added_after: Annotated[str | None, Query()] = None,
    match_id: Annotated[MatchValues, Query(alias="match[id]")] = None,
    match_type: Annotated[MatchValues, Query(alias="match[type]")] = None,
    match_version: Annotated[MatchValues, Query(alias="match[version]")] = None,
    match_spec_version: Annotated[MatchValues, Query(alias="match[spec_version]")] = None,
) -> ObjectQuery:
    return ObjectQuery(
        added_after=parse_timestamp(added_after, "added_after") if added_after else None,
        ids=tuple(split_values(match_id)),
        types=tuple(split_values(match_type)),
        versions=VersionMatch.parse(match_version),
        spec_version_ok=spec_version_matches(match_spec_version),
    )


FilterQuery = Annotated[ObjectQuery, Depends(_query)]
NextToken = Annotated[str | None, Query(alias="next")]
Limit = Annotated[int | None, Query(ge=1)]


def _limit(settings: Settings, limit: int | None) -> int:
    return min(limit or settings.page_size_default, settings.page_size_max)


def _taxii(
    body: dict[str, Any] | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers)


def _page_response(page: service.Page, content: bytes) -> Response:
    return _taxii(content, headers=page.headers())


async def _spool_body(request: Request, limit: int) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spool.close()
            raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes", where="body")
        spool.write(chunk)
    spool.seek(0)
    return spool


# --------------------------------------------------------------------------- discovery


@router.get("/", summary="TAXII server discovery")
def get_discovery(request: Request, _: TaxiiReader) -> Response:
    return _taxii(service.discovery(str(request.base_url)))


@router.get("/{api_root}/", summary="TAXII API root information")
def get_api_root(api_root: str, _: TaxiiReader, settings: SettingsDep) -> Response:
    service.require_api_root(api_root)
    return _taxii(service.api_root_information(settings.max_body_bytes))


@router.get("/{api_root}/collections/", summary="The collections the caller may read")
def get_collections(api_root: str, reader: TaxiiReader, conn: ReadConn) -> Response:
    service.require_api_root(api_root)
    found = service.collections_for(conn, reader)
    return _taxii({"collections": [collection.resource() for collection in found]})


@router.get("/{api_root}/collections/{collection_id}/", summary="One collection")
def get_collection(
    api_root: str, collection_id: str, reader: TaxiiReader, conn: ReadConn
) -> Response:
    service.require_api_root(api_root)
    return _taxii(service.find_collection(conn, reader, collection_id).resource())


# --------------------------------------------------------------------------- objects


@router.get("/{api_root}/collections/{collection_id}/objects/", summary="Objects of a collection")
def get_objects(
    api_root: str,
    collection_id: str,
    reader: TaxiiReader,
    conn: ReadConn,
    settings: SettingsDep,
    query: FilterQuery,
    next_token: NextToken = None,
    limit: Limit = None,
) -> Response:
    service.require_api_root(api_root)
    collection = service.find_collection(conn, reader, collection_id)
    page = service.objects_page(
        conn, reader, collection, query, next_token, _limit(settings, limit)
    )
    return _page_response(page, service.render_objects(page))


@router.post(
    "/{api_root}/collections/{collection_id}/objects/",
    summary="Add objects (a TAXII envelope or STIX bundle); answers a status resource",
    status_code=202,
)
async def post_objects(
    api_root: str,
    collection_id: str,
    request: Request,
    principal: TaxiiWriter,
    settings: SettingsDep,
    engine: EngineDep,
) -> Response:
    service.require_api_root(api_root)
    if not is_postable(request.headers.get("content-type")):
        raise UnsupportedMediaType(
            "post a TAXII envelope as application/taxii+json;version=2.1 (or a bundle as "
            "application/stix+json;version=2.1)",
            where="Content-Type",
        )
    reader = Reader(principal, anonymous_public=settings.public_read)
    collection = await run_in_threadpool(_writable_collection, engine, reader, collection_id)
    body = await _spool_body(request, settings.max_body_bytes)
    submission = submissions.Submission(engine, settings, principal, collection, body)
    status = await run_in_threadpool(submission.start)
    return _taxii(status, status=202)


def _writable_collection(engine: Engine, reader: Reader, collection_id: str) -> service.Collection:
    with read_transaction(engine) as conn:
        collection = service.find_collection(conn, reader, collection_id)
    service.require_writable(collection)
    return collection


@router.get(
    "/{api_root}/collections/{collection_id}/objects/{object_id}/",
    summary="Versions of one object",
)
def get_object(
    api_root: str,
    collection_id: str,
    object_id: str,
    reader: TaxiiReader,
    conn: ReadConn,
    settings: SettingsDep,
    query: FilterQuery,
    next_token: NextToken = None,
    limit: Limit = None,
) -> Response:
    service.require_api_root(api_root)
    collection = service.find_collection(conn, reader, collection_id)
    page = service.object_page(
        conn, reader, collection, object_id, query, next_token, _limit(settings, limit)
    )
    return _page_response(page, service.render_objects(page))


@router.delete(
    "/{api_root}/collections/{collection_id}/objects/{object_id}/",
    summary="Delete one object (its owner only)",
)
def delete_object(
    api_root: str,
    collection_id: str,
    object_id: str,
    principal: TaxiiWriter,
    conn: WriteConn,
    settings: SettingsDep,
    match_version: Annotated[MatchValues, Query(alias="match[version]")] = None,
    match_spec_version: Annotated[MatchValues, Query(alias="match[spec_version]")] = None,
) -> Response:
    service.require_api_root(api_root)
    reader = Reader(principal, anonymous_public=settings.public_read)
    collection = service.find_collection(conn, reader, collection_id)
    if not spec_version_matches(match_spec_version):
        raise NotFound("no such object in this collection", where="object_id")
    versions = VersionMatch.parse(match_version or ["all"])
    service.delete_object(conn, principal, collection, object_id, versions)
    return Response(status_code=200, media_type=TAXII_MEDIA_TYPE)


@router.get(
    "/{api_root}/collections/{collection_id}/objects/{object_id}/versions/",
    summary="Version list of one object",
)
def get_versions(
    api_root: str,
    collection_id: str,
    object_id: str,
    reader: TaxiiReader,
    conn: ReadConn,
    settings: SettingsDep,
    query: FilterQuery,
    next_token: NextToken = None,
    limit: Limit = None,
) -> Response:
    service.require_api_root(api_root)
    collection = service.find_collection(conn, reader, collection_id)
    page = service.versions_page(
        conn, reader, collection, object_id, query, next_token, _limit(settings, limit)
    )
    return _page_response(page, service.render_versions(page))


@router.get(
    "/{api_root}/collections/{collection_id}/manifest/",
    summary="Manifest of a collection",
)
def get_manifest(
    api_root: str,
    collection_id: str,
    reader: TaxiiReader,
    conn: ReadConn,
    settings: SettingsDep,
    query: FilterQuery,
    next_token: NextToken = None,
    limit: Limit = None,
) -> Response:
    service.require_api_root(api_root)
    collection = service.find_collection(conn, reader, collection_id)
    page = service.manifest_page(
        conn, reader, collection, query, next_token, _limit(settings, limit)
    )
    return _page_response(page, service.render_manifest(page))


@router.get("/{api_root}/status/{status_id}/", summary="Status of an add-objects request")
def get_status(api_root: str, status_id: str, principal: TaxiiWriter, conn: ReadConn) -> Response:
    service.require_api_root(api_root)
    return _taxii(submissions.get_status(conn, principal, status_id))
