"""Serving the node to a real browser: uvicorn in a thread, Debian's Chromium through Playwright.

The browser tests run on SQLite only (the store's two backends are covered by
the route tests); the node is the real app with its lifespan (schedulers and
match index), listening on a free loopback port.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
#: The flags this machine needs (no GPU, no network beyond loopback, no first-run work).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


def require_chromium() -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make browsers` installs Debian's chromium"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serves `app` on a free loopback port until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    # Readiness, not a deadline: wait (bounded) until uvicorn says it listens.
    for _ in range(600):
        if server.started or not thread.is_alive():
            break
        started.wait(0.05)
    if not server.started:
        raise RuntimeError("the test server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Session:
    """One person's browser session (its own context: its own cookies)."""

    context: BrowserContext
    page: Page
    base: str

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def open_session(browser: Browser, base: str, viewport: dict[str, int] = DESKTOP) -> Session:
    context = browser.new_context(viewport=viewport, accept_downloads=True)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(30_000)
    return Session(context, page, base)


def log_in(session: Session, username: str, password: str) -> Page:
    page = session.go("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(session.base + "/")
    return page
