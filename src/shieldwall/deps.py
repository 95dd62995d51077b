"""Request dependencies, defined once: connections, settings and the caller.

Endpoints declare the caller (`CurrentPrincipal`, `CurrentReader`) before
their connection: FastAPI resolves in that order, so an unauthenticated
request never holds a pooled connection (or SQLite's write lock) and an
authenticated one never holds two at once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from shieldwall.config import Settings
from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.errors import Unauthorized
from shieldwall.governance.scheduler import governance_of, settle_if_due
from shieldwall.intel.service import Reader
from shieldwall.members import service as members
from shieldwall.sharing.policy import Principal


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def read_conn(request: Request) -> Iterator[Connection]:
    with read_transaction(get_engine(request)) as conn:
        yield conn


def write_conn(request: Request) -> Iterator[Connection]:
    with write_transaction(get_engine(request)) as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ReadConn = Annotated[Connection, Depends(read_conn)]
# scope="function": the write transaction commits when the endpoint returns,
# before the response is sent. FastAPI's default ("request") ends a yield
# dependency after the response has gone out, so a client could be told
# "stored" and read the store before the commit, or be told "stored" for a
# commit that then fails. Reads keep the default: streamed exports read from
# their connection while the response is being sent.
WriteConn = Annotated[Connection, Depends(write_conn, scope="function")]


def credentials(request: Request) -> str | None:
    """The API key from `Authorization: Bearer KEY` or HTTP Basic (key as password)."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials are not valid base64") from None
        _, _, password = decoded.partition(":")
        if password:
            return password
    raise Unauthorized("use 'Authorization: Bearer <api key>' (or Basic with the key as password)")


def optional_principal(request: Request) -> Principal:
    secret = credentials(request)
    if secret is None:
        return Principal.anonymous()
    engine = get_engine(request)
    # Decisions close on time whoever asks: a due accession or suspension takes
    # effect before this caller's tier is read (one indexed look-up when none is due).
    settle_if_due(engine, governance_of(request.app.state))
    with read_transaction(engine) as conn:
        principal = members.authenticate(conn, secret)
    request.state.org = principal.org_name
    return principal


def required_principal(
    principal: Annotated[Principal, Depends(optional_principal)],
) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("an API key is required: 'Authorization: Bearer <api key>'")
    return principal


def reader(
    principal: Annotated[Principal, Depends(optional_principal)], settings: SettingsDep
) -> Reader:
    """Reads may be anonymous only where the node serves public TLP:CLEAR intel."""
    if principal.is_anonymous and not settings.public_read:
        raise Unauthorized("an API key is required: 'Authorization: Bearer <api key>'")
    return Reader(principal, anonymous_public=settings.public_read)


CurrentPrincipal = Annotated[Principal, Depends(required_principal)]
MaybePrincipal = Annotated[Principal, Depends(optional_principal)]
CurrentReader = Annotated[Reader, Depends(reader)]
