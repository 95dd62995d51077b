"""Closing decisions on time with no one watching: the tick and the background ticker.

`tick` closes every decision that is due (or unanimous) in one transaction.
The node runs it from a background thread every
`SHIELDWALL_GOVERNANCE_TICK_SECONDS`, and whenever a caller authenticates
(`settle_if_due`, from `shieldwall.deps`), so a decision never stays open past
its deadline for anyone who asks, about governance or intel; the outcome and
its recorded time are the deadline's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.governance import repository
from shieldwall.governance.clock import Clock, SystemClock
from shieldwall.governance.service import Governance, settle_open
from shieldwall.governance.settings import GovernanceSettings, get_governance_settings

log = logging.getLogger("shieldwall.governance")


def tick(conn: Connection, clock: Clock, settings: GovernanceSettings | None = None) -> list[int]:
    """Closes the decisions that are due (or unanimous); returns their ids."""
    return settle_open(conn, Governance(clock, settings or get_governance_settings()))


def settle_if_due(engine: Engine, gov: Governance) -> list[int]:
    """A tick that takes the writer lock only when a deadline has actually passed."""
    with read_transaction(engine) as conn:
        if not repository.any_due(conn, gov.now()):
            return []
    with write_transaction(engine) as conn:
        return settle_open(conn, gov)


def governance_of(state: Any) -> Governance:
    """The node's clock and settings, as the app holds them in `app.state`."""
    clock = getattr(state, "clock", None) or SystemClock()
    settings = getattr(state, "governance_settings", None) or get_governance_settings()
    return Governance(clock, settings)


class Ticker:
    """A daemon thread that settles due decisions every `interval` seconds."""

    def __init__(self, engine: Engine, state: Any, interval: float) -> None:
        self._engine = engine
        self._state = state
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="governance-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                closed = settle_if_due(self._engine, governance_of(self._state))
            except Exception:
                # One failed tick (store briefly away) must not end the ticker.
                log.exception("governance tick failed")
                continue
            if closed:
                log.info("governance tick closed decisions %s", closed)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Gives the app its clock (unless one was set) and runs the ticker while it serves."""
    if getattr(app.state, "clock", None) is None:
        app.state.clock = SystemClock()
    interval = governance_of(app.state).settings.governance_tick_seconds
    ticker = Ticker(app.state.engine, app.state, interval) if interval > 0 else None
    if ticker is not None:
        ticker.start()
    try:
        yield
    finally:
        if ticker is not None:
            ticker.stop()
