"""Dependencies of the pages beyond the session: connections and governance's clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from shieldwall.db.engine import read_transaction
from shieldwall.governance import scheduler
from shieldwall.governance.service import Governance


def read_conn(request: Request) -> Iterator[Connection]:
    with read_transaction(request.app.state.engine) as conn:
        yield conn


def settled_governance(request: Request) -> Governance:
    """Governance as of now: decisions past their deadline are closed first (as the API does)."""
    gov = scheduler.governance_of(request.app.state)
    scheduler.settle_if_due(request.app.state.engine, gov)
    return gov


ReadConn = Annotated[Connection, Depends(read_conn)]
GovernanceDep = Annotated[Governance, Depends(settled_governance)]
