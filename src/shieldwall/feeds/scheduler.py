"""The node's background feed scheduler: a thread that runs due feeds every tick.

The tick interval is `SHIELDWALL_FEEDS_TICK_SECONDS` (default 30; 0 turns the
scheduler off, e.g. for a read-only API process).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine

from shieldwall.config import Settings
from shieldwall.feeds.runner import run_due

log = logging.getLogger("shieldwall.feeds")


class FeedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIELDWALL_", extra="ignore")

    feeds_tick_seconds: float = Field(
        default=30.0, ge=0, description="How often due feeds are looked for; 0 disables."
    )


@lru_cache(maxsize=1)
def get_feed_settings() -> FeedSettings:
    return FeedSettings()


class FeedScheduler:
    def __init__(self, engine: Engine, settings: Settings, interval: float) -> None:
        self._engine = engine
        self._settings = settings
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-scheduler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                ran = run_due(self._engine, self._settings)
            except Exception:
                # A tick that failed (store briefly away) must not end the scheduler.
                log.exception("feed scheduler tick failed")
                continue
            if ran:
                names = ", ".join(f"{feed['org']}/{feed['name']}" for feed in ran)
                log.info("feeds pulled: %s", names)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def start_feed_scheduler(engine: Engine, settings: Settings) -> Callable[[], None]:
    """Starts the scheduler (unless disabled) and returns the function that stops it."""
    interval = get_feed_settings().feeds_tick_seconds
    if interval <= 0:
        return lambda: None
    scheduler = FeedScheduler(engine, settings, interval)
    scheduler.start()
    return scheduler.stop
