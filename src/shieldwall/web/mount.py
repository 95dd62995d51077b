"""Adds the web console to the node's app: its pages and its static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from shieldwall.web.pages import admin, auth, dashboard, governance, intel

STATIC = Path(__file__).with_name("static")


def install(app: FastAPI) -> None:
    for pages in (auth, dashboard, intel, governance, admin):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
