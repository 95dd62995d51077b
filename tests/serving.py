"""`shieldwall serve` as a real process on a real socket: the helpers tests share."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx
import pytest


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(process: subprocess.Popen[bytes], base: str, within: float) -> None:
    """Polls /healthz until the server answers; fails at once if the process exits."""
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"shieldwall serve at {base} exited with {process.returncode}: {stderr}")
        try:
            httpx.get(f"{base}/healthz", timeout=1.0)
        except httpx.TransportError:  # not listening yet
            time.sleep(0.1)
            continue
        return
    pytest.fail(f"shieldwall serve at {base} never answered /healthz in {within} s")


def stop(process: subprocess.Popen[bytes], within: float) -> None:
    """Terminates the process, and kills it if it does not end in time."""
    process.terminate()
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
