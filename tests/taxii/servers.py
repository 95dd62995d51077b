"""Real HTTP servers for tests: our app under uvicorn, and medallion.

TestClient cannot serve the OASIS client (it speaks `requests` over real
sockets), so our app runs under uvicorn in a thread on a free loopback port.
medallion runs in a subprocess with its memory backend, loaded from a data
file the test writes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine

from shieldwall.app import create_app
from shieldwall.config import Settings

#: Generous bound on server start-up; the loops below return as soon as it is up.
_START_TIMEOUT = 30.0


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app(engine: Engine, settings: Settings) -> Iterator[str]:
    """Our app on a loopback port; yields its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings, engine), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


MEDALLION_USER = ("medallion-user", "medallion-pass")
MEDALLION_ROOT = "api1"
MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def medallion_data(
    objects: list[dict[str, Any]], date_added: Callable[[int], str]
) -> dict[str, Any]:
    """A medallion memory-backend file: one API root, one collection holding `objects`."""
    manifest = [
        {
            "id": obj["id"],
            "date_added": date_added(index),
            "version": obj.get("modified", obj.get("created")),
            "media_type": "application/stix+json;version=2.1",
        }
        for index, obj in enumerate(objects)
    ]
    return {
        "/discovery": {
            "title": "medallion",
            "default": f"/{MEDALLION_ROOT}/",
            "api_roots": [f"/{MEDALLION_ROOT}/"],
        },
        MEDALLION_ROOT: {
            "information": {
                "title": "medallion test root",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 100_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "test collection",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }


@contextmanager
def run_medallion(directory: Path, data: dict[str, Any], page_size: int = 100) -> Iterator[str]:
    """medallion (memory backend) in a subprocess; yields its API root URL."""
    data_file = directory / "medallion-data.json"
    data_file.write_text(json.dumps(data))
    config = directory / "medallion-config.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data_file),
                },
                "users": {MEDALLION_USER[0]: MEDALLION_USER[1]},
                "taxii": {"max_page_size": page_size},
            }
        )
    )
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # medallion binds the port itself; the window is loopback-only and short
    medallion = Path(sys.executable).with_name("medallion")
    process = subprocess.Popen(
        [str(medallion), "--host", "127.0.0.1", "--port", str(port), str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FLASK_DEBUG": "0"},
    )
    root = f"http://127.0.0.1:{port}/{MEDALLION_ROOT}/"
    try:
        _wait_for(root, process)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for(root: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"medallion exited with {process.returncode}")
        try:
            httpx.get(
                root, auth=MEDALLION_USER, headers={"Accept": "application/taxii+json;version=2.1"}
            )
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
