"""`shieldwall serve` serves a real node on a real socket."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.cli.runner import TIMEOUT_SECONDS, Shieldwall, init_in_process
from tests.serving import free_loopback_port, stop, wait_until_serving


@pytest.fixture
def served(sqlite_cli: Shieldwall) -> Iterator[tuple[str, str]]:
    """(base URL, host admin key) of a node served by `shieldwall serve`."""
    key = init_in_process(sqlite_cli.database_url)
    port = free_loopback_port()
    process = subprocess.Popen(
        sqlite_cli.command("serve", "--host", "127.0.0.1", "--port", str(port)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=sqlite_cli.env(),
        cwd=sqlite_cli.cwd,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, base, TIMEOUT_SECONDS)
        yield base, key
    finally:
        stop(process, TIMEOUT_SECONDS)


def _raw_post_with_declared_length(base: str, length: int, key: str) -> bytes:
    """Declares a huge body, sends none of it, and returns what the server answers."""
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"POST /api/v1/bundles HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_serve_answers_health_and_api(served: tuple[str, str]) -> None:
    base, key = served
    health = httpx.get(f"{base}/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["store"] == "sqlite"
    me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json() == {"org": "Host", "tier": "host", "role": "org-admin"}

    # A declared 2 GB body is refused before a byte of it is sent.
    answer = _raw_post_with_declared_length(base, 2 * 1024**3, key)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert orjson.loads(body)["error"] == "payload_too_large"
