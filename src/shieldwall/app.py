"""create_app(): routers, error handlers, body limit, metrics and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shieldwall import __version__
from shieldwall.config import Settings, get_settings
from shieldwall.correlate.router import router as correlate_router
from shieldwall.db.engine import make_engine, read_transaction
from shieldwall.deps import MaybePrincipal, SettingsDep
from shieldwall.errors import BadInput, PayloadTooLarge, ShieldwallError, Unauthorized
from shieldwall.feeds.router import router as feeds_router
from shieldwall.feeds.scheduler import start_feed_scheduler
from shieldwall.formats.export.router import router as export_router
from shieldwall.formats.router import router as formats_router
from shieldwall.governance.router import router as governance_router
from shieldwall.intel.router import router as intel_router
from shieldwall.match.router import router as match_router
from shieldwall.match.service import start_match_index
from shieldwall.members.model import Tier
from shieldwall.members.router import router as members_router
from shieldwall.metrics import Metrics, MetricsMiddleware
from shieldwall.sharing.router import router as sharing_router
from shieldwall.sightings.router import router as sightings_router
from shieldwall.taxii.router import router as taxii_router
from shieldwall.taxii.router import taxii_error
from shieldwall.web.mount import install as install_web

log = logging.getLogger("shieldwall")


class BodyLimitMiddleware:
    """Refuses a declared Content-Length over the limit before reading a byte.

    TAXII clients get the TAXII error envelope; everyone else the node's own.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _check(self, scope: Scope) -> ShieldwallError | None:
        for name, value in scope.get("headers", []):
            if name != b"content-length":
                continue
            if not value.isdigit():
                return BadInput("Content-Length is not a number", where="Content-Length")
            if int(value) > self.limit:
                return PayloadTooLarge(
                    f"the body ({int(value)} bytes) exceeds the limit of {self.limit} bytes",
                    where="Content-Length",
                )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = self._check(scope) if scope["type"] == "http" else None
        if error is None:
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).startswith("/taxii2"):
            await taxii_error(error)(scope, receive, send)
        else:
            await _error_response(error)(scope, receive, send)


def _error_response(error: ShieldwallError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    return JSONResponse(error.as_dict(), status_code=error.status_code, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShieldwallError)
    async def on_shieldwall_error(_: Request, exc: ShieldwallError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        body = {
            "error": "validation_failed",
            "detail": str(first.get("msg")),
            "where": _field_path(tuple(first.get("loc", ()))),
            "errors": [
                {"where": _field_path(tuple(e.get("loc", ()))), "detail": str(e.get("msg"))}
                for e in errors
            ],
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The trace goes to the operator's log, never to the client.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "internal_error", "detail": "an unexpected error occurred; see the node log"},
            status_code=500,
        )


def _install_node_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["node"], summary="Liveness and store reachability")
    def healthz(request: Request) -> dict[str, Any]:
        engine: Engine = request.app.state.engine
        with read_transaction(engine) as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "store": engine.dialect.name}

    @app.get("/metrics", tags=["node"], summary="Prometheus metrics")
    def metrics(request: Request, principal: MaybePrincipal, settings: SettingsDep) -> Response:
        # Totals describe every organisation's holdings: the operator's (host's) to see.
        if not settings.metrics_public and principal.tier is not Tier.HOST:
            raise Unauthorized("metrics need a key of the host organisation")
        body = request.app.state.metrics.render()
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop_feeds = start_feed_scheduler(engine, settings)
        _.state.match_index = start_match_index(engine)
        yield
        stop_feeds()

    app = FastAPI(
        title="shieldwall",
        version=__version__,
        description="Cooperative cyber defence: governed sharing of threat intelligence.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = Metrics(engine)
    _install_error_handlers(app)
    _install_node_routes(app)
    app.include_router(members_router)
    app.include_router(sharing_router)
    app.include_router(intel_router)
    app.include_router(formats_router)
    app.include_router(export_router)
    app.include_router(governance_router)
    app.include_router(taxii_router)
    app.include_router(feeds_router)
    install_web(app)
    app.include_router(match_router)
    app.include_router(correlate_router)
    app.include_router(sightings_router)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
