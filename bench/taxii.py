"""`python -m bench.taxii`: paging a 100,000-object collection, shieldwall vs medallion.

Both servers hold the same generated indicators and run in their own
processes on loopback ports: shieldwall (`shieldwall serve`, SQLite store)
and medallion (the OASIS reference server, memory backend). Clients page
through the whole collection by `next` with 1,000 objects per page, as one
client and as 16 concurrent ones (each walks the whole collection), and the
benchmark prints objects/s and p50/p99 latency per page side by side.

medallion's memory backend answers the first page of a walk by matching
every manifest entry against every object, parsing timestamps in the inner
loop (`BasicFilter.sort_and_paginate`): quadratic in the collection size.
Measured here, 2,000 objects take tens of seconds; 100,000 would take hours.
So medallion serves the first `--medallion-objects` (default 1,500) of the
same objects. Its cost per object only grows with the collection, so the
ratio printed understates shieldwall's advantage at 100,000.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from shieldwall.config import Settings
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.demo.generate import indicators
from shieldwall.intel.imports import ImportRequest, run_import
from shieldwall.intel.ingest import Mode
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE

HOST = "Bench Host"
MEDALLION_USER = ("bench", "bench-password")
MEDALLION_COLLECTION = "64993447-4d7e-4f70-b94d-d7f33742ee63"
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Target:
    """A running server: how to make a client for its collection, and its process."""

    make_client: Callable[[], httpx.Client]
    pid: int

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)


@dataclass
class Walk:
    """One client's walk through a collection."""

    objects: int
    seconds: float
    page_seconds: list[float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, auth: Any, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, auth=auth, headers={"Accept": TAXII_MEDIA_TYPE}, timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --------------------------------------------------------------------------- shieldwall


def _shieldwall_store(directory: Path, objects: list[dict[str, Any]]) -> tuple[str, str]:
    """A SQLite store holding `objects` (distribution org); returns (database URL, key)."""
    url = f"sqlite:///{directory / 'shieldwall.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        key = bootstrap.init_node(conn, HOST, None)
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, HOST, Role.ANALYST)
    request = ImportRequest(principal, HOST, "amber", "org", Mode.STRICT)
    report = run_import(engine, Settings(database_url=url), request, objects.__iter__, "bench")
    assert report.created == len(objects), report.as_dict()
    engine.dispose()
    return url, key.secret


@contextmanager
def shieldwall_server(directory: Path, objects: list[dict[str, Any]]) -> Iterator[Target]:
    database, key = _shieldwall_store(directory, objects)
    port = _free_port()
    env = {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": database,
        "SHIELDWALL_PAGE_SIZE_MAX": "1000",
        "SHIELDWALL_LOG_LEVEL": "warning",
        "SHIELDWALL_FEEDS_TICK_SECONDS": "0",
        "SHIELDWALL_GOVERNANCE_TICK_SECONDS": "0",
        "SHIELDWALL_LEDGER_KEY_FILE": str(directory / "ledger-key.pem"),
    }
    cli = Path(sys.executable).with_name("shieldwall")
    process = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}/taxii2/intel/"
    auth = ("bench", key)
    try:
        _wait_until_up(base, auth, process)
        found = httpx.get(f"{base}collections/", auth=auth, headers={"Accept": TAXII_MEDIA_TYPE})
        own = found.json()["collections"][0]["id"]
        objects_url = f"{base}collections/{own}/objects/"
        yield Target(lambda: _client(objects_url, auth), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)


# --------------------------------------------------------------------------- medallion


def _medallion_data(objects: list[dict[str, Any]]) -> dict[str, Any]:
    added = "2024-06-01T00:00:00.000000Z"
    manifest = [
        {
            "id": obj["id"],
            "date_added": added,
            "version": obj["modified"],
            "media_type": "application/stix+json;version=2.1",
        }
        for obj in objects
    ]
    return {
        "/discovery": {"title": "medallion", "default": "/bench/", "api_roots": ["/bench/"]},
        "bench": {
            "information": {
                "title": "bench",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 1_000_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "bench",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }


@contextmanager
def medallion_server(directory: Path, objects: list[dict[str, Any]], page: int) -> Iterator[Target]:
    data = directory / "medallion-data.json"
    data.write_bytes(orjson.dumps(_medallion_data(objects)))
    config = directory / "medallion-config.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data),
                    # Its `next` sessions expire after 30 s by default: longer than a slow walk.
                    "session_timeout": 24 * 3600,
                },
                "users": {MEDALLION_USER[0]: MEDALLION_USER[1]},
                "taxii": {"max_page_size": page},
            }
        )
    )
    port = _free_port()
    medallion = Path(sys.executable).with_name("medallion")
    process = subprocess.Popen(
        [str(medallion), "--host", "127.0.0.1", "--port", str(port), str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/bench/"
    try:
        _wait_until_up(base, MEDALLION_USER, process)
        objects_url = f"{base}collections/{MEDALLION_COLLECTION}/objects/"
        yield Target(lambda: _client(objects_url, MEDALLION_USER), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)


# --------------------------------------------------------------------------- clients


def _client(url: str, auth: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=url, auth=auth, headers={"Accept": TAXII_MEDIA_TYPE}, timeout=3600)


def walk(make_client: Callable[[], httpx.Client], page: int, max_pages: int | None) -> Walk:
    """Pages through the collection by `next`, timing each page."""
    latencies: list[float] = []
    count = 0
    params: dict[str, Any] = {"limit": page}
    started = time.perf_counter()
    with make_client() as client:
        while True:
            before = time.perf_counter()
            response = client.get("", params=params)
            response.raise_for_status()
            body = orjson.loads(response.content)
            latencies.append(time.perf_counter() - before)
            count += len(body.get("objects", []))
            if not body.get("more") or (max_pages is not None and len(latencies) >= max_pages):
                break
            params = {"limit": page, "next": body["next"]}
    return Walk(count, time.perf_counter() - started, latencies)


@dataclass(frozen=True)
class Result:
    server: str
    clients: int
    objects: int
    seconds: float
    p50_ms: float
    p99_ms: float
    #: CPU time the server process spent per page: unlike wall time, not
    #: inflated by other work on a shared machine.
    server_cpu_ms: float

    @property
    def rate(self) -> float:
        return self.objects / self.seconds


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(server: str, target: Target, clients: int, page: int) -> Result:
    walks: list[Walk] = []
    lock = threading.Lock()

    def one() -> None:
        result = walk(target.make_client, page, None)
        with lock:
            walks.append(result)

    cpu_before = target.cpu_seconds()
    started = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = target.cpu_seconds() - cpu_before
    if len(walks) != clients:
        raise RuntimeError(f"{clients - len(walks)} {server} client(s) failed")
    latencies = [s for w in walks for s in w.page_seconds]
    return Result(
        server=server,
        clients=clients,
        objects=sum(w.objects for w in walks),
        seconds=elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        server_cpu_ms=cpu / len(latencies) * 1000,
    )


def _print(results: list[Result]) -> None:
    print(
        f"{'server':<11} {'clients':>7} {'objects':>9} {'seconds':>8} {'objects/s':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'server CPU ms/page':>18}"
    )
    for r in results:
        print(
            f"{r.server:<11} {r.clients:>7} {r.objects:>9,} {r.seconds:>8.1f} {r.rate:>10,.0f} "
            f"{r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.server_cpu_ms:>18.1f}"
        )
    by = {(r.server, r.clients): r for r in results}
    for clients in sorted({r.clients for r in results}):
        ours, theirs = by.get(("shieldwall", clients)), by.get(("medallion", clients))
        if ours and theirs:
            print(
                f"{clients} client(s): shieldwall/medallion objects/s = "
                f"{ours.rate / theirs.rate:,.1f}x; "
                f"p99 {ours.p99_ms:.1f} ms vs {theirs.p99_ms:.1f} ms"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.taxii", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--clients", default="1,16", help="comma-separated client counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--medallion-objects",
        type=int,
        default=1500,
        help="objects medallion serves (its first page is quadratic in this)",
    )
    parser.add_argument("--skip-medallion", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]

    print(f"generating {args.objects:,} indicators ...", file=sys.stderr)
    objects = list(indicators(args.objects, args.seed))
    directory = Path(tempfile.mkdtemp(prefix="bench-taxii-"))
    results: list[Result] = []
    try:
        print("loading shieldwall (SQLite) ...", file=sys.stderr)
        with shieldwall_server(directory, objects) as target:
            # One whole walk first: it warms the page cache and outlasts the node's
            # start-up work (the match index and warninglists load in the
            # background and would otherwise land in the measured p99).
            walk(target.make_client, args.page, None)
            for clients in counts:
                results.append(measure("shieldwall", target, clients, args.page))
                print(results[-1], file=sys.stderr)
        if not args.skip_medallion:
            print("loading medallion (memory backend) ...", file=sys.stderr)
            served = objects[: args.medallion_objects]
            with medallion_server(directory, served, args.page) as target:
                for clients in counts:
                    results.append(measure("medallion", target, clients, args.page))
                    print(results[-1], file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load}")
    print(
        f"\nTAXII 2.1 paging, {args.page} objects per page: shieldwall serves {args.objects:,} "
        f"objects (SQLite); medallion the first {min(args.medallion_objects, args.objects):,} "
        "of them (memory backend; see the module docstring)\n"
    )
    _print(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
