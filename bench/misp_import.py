"""MISP import benchmark: the ESET events repeated to ~1 M attributes, side by side with misp-stix.

    python -m bench.misp_import [--attributes 1000000] [--peer-sample 1]

What is measured:
- `shieldwall`: `formats.service.import_stream()` into a fresh SQLite store,
  end to end (JSON parse, MISP -> STIX 2.1 mapping, validation, observable
  extraction, storage, commit). Each copy of the ESET set (39 events) is one
  input, a list of events, one transaction; every copy gets fresh UUIDs so
  nothing is deduplicated away. Generating a copy is not timed.
- `shieldwall (conversion only)`: the MISP -> STIX mapping alone.
- `storage floor`: the rows our import stored (objects, observables,
  correlation keys), inserted again into a second fresh store with the same
  schema, indexes and settings by the driver's `executemany`, one transaction
  per copy as before. Reading the rows back is not timed. It is what storing
  alone costs, the bound any parser or mapper, however fast, stays under.
- `misp-stix`: `MISPtoSTIX21Parser.parse_misp_event()` on the same events
  (`--peer-sample` copies of the set; it is too slow to run on all of them),
  conversion only, no storage: the comparison favours the peer.

Attributes counted are top-level plus object attributes, as MISP counts them.
"""

from __future__ import annotations

import argparse
import io
import itertools
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, text

from shieldwall.config import Settings
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.formats import misp
from shieldwall.formats.common import Conversion
from shieldwall.formats.detect import Format
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel.ingest import Mode
from shieldwall.members import bootstrap
from shieldwall.members.model import Role

ESET = Path(__file__).resolve().parents[2] / "shared" / "data" / "misp" / "eset"
_UUID_RE = re.compile(rb"[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def eset_events() -> list[dict[str, Any]]:
    files = sorted(ESET.rglob("*.json"))
    if not files:
        raise SystemExit(f"{ESET} is absent: the benchmark needs ../shared/data")
    return [event for path in files for event in misp.load_events(path.read_bytes())]


def attribute_count(events: list[dict[str, Any]]) -> int:
    return sum(
        len(e.get("Attribute") or ())
        + sum(len(o.get("Attribute") or ()) for o in e.get("Object") or ())
        for e in events
    )


def copies(template: bytes, count: int) -> Iterator[bytes]:
    """The ESET set `count` times, each copy with its own UUIDs (same references)."""
    for copy in range(count):
        prefix = f"{copy:08x}".encode()
        yield _UUID_RE.sub(lambda match, p=prefix: p + match.group(1), template)


def _store(directory: Path) -> tuple[Any, FormatRequest]:
    engine = make_engine(f"sqlite:///{directory / 'bench.db'}")
    upgrade(engine)
    with write_transaction(engine) as conn:
        bootstrap.init_node(conn, "Bench", None)
    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, "Bench", Role.ANALYST)
    request = FormatRequest(principal, "Bench", "amber", "org", Mode.LENIENT, Format.MISP)
    return engine, request


def measure_shieldwall(
    template: bytes, count: int, per_copy: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Our import, then the storage floor of the same rows (see the module's docstring)."""
    settings = Settings(database_url="sqlite://", max_body_bytes=1 << 31)
    with tempfile.TemporaryDirectory() as directory:
        engine, request = _store(Path(directory))
        elapsed = cpu = 0.0
        rejected = 0
        bounds = [_last_pk(engine)]
        for data in copies(template, count):
            started, started_cpu = time.perf_counter(), time.process_time()
            report = import_stream(engine, settings, request, io.BytesIO(data), "bench")
            elapsed += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            rejected += len(report.rejected)
            bounds.append(_last_pk(engine))
        floor = _store_again(engine, bounds, Path(directory) / "floor")
        engine.dispose()
    attributes = per_copy * count
    # CPU time is given beside wall time: on a shared machine the wall clock
    # also counts the other processes' turns.
    ours = {
        "attributes": attributes,
        "seconds": elapsed,
        "rate": attributes / elapsed,
        "cpu_rate": attributes / cpu,
        "rejected": rejected,
    }
    floor_seconds, floor_cpu = floor
    return ours, {
        "attributes": attributes,
        "seconds": floor_seconds,
        "rate": attributes / floor_seconds,
        "cpu_rate": attributes / floor_cpu,
    }


def _last_pk(engine: Engine) -> int:
    with read_transaction(engine) as conn:
        return int(conn.execute(text("SELECT COALESCE(MAX(pk), 0) FROM stix_objects")).scalar_one())


#: What an import writes per object, and the column that ties each row to it.
_FLOOR_TABLES = (
    ("stix_objects", "pk"),
    ("observables", "object_pk"),
    ("correlation_keys", "object_pk"),
)


def _store_again(source: Engine, bounds: list[int], directory: Path) -> tuple[float, float]:
    """Inserts each import's rows into a fresh store, one transaction per import: (wall, CPU) s."""
    directory.mkdir()
    target, _ = _store(directory)
    reader = source.raw_connection()
    # Not timed: lets each import's correlation keys be read back by range.
    reader.execute("CREATE INDEX bench_keys_by_object ON correlation_keys (object_pk)")
    elapsed = cpu = 0.0
    try:
        for low, high in itertools.pairwise(bounds):
            batches = [
                (
                    table,
                    reader.execute(
                        f"SELECT * FROM {table} WHERE {column} > ? AND {column} <= ?",
                        (low, high),
                    ).fetchall(),
                )
                for table, column in _FLOOR_TABLES
            ]
            started, started_cpu = time.perf_counter(), time.process_time()
            with write_transaction(target) as conn:
                driver = conn.connection.dbapi_connection
                assert driver is not None
                for table, rows in batches:
                    if rows:
                        marks = ", ".join("?" * len(rows[0]))
                        driver.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            elapsed += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
    finally:
        reader.close()
        target.dispose()
    return elapsed, cpu


def measure_conversion(events: list[dict[str, Any]], count: int, per_copy: int) -> dict[str, float]:
    started = time.perf_counter()
    for _ in range(count):
        conversion = Conversion(source="bench", strict=False)
        for _obj in misp.EventMapper(conversion).objects(events):
            pass
    elapsed = time.perf_counter() - started
    return {"attributes": per_copy * count, "seconds": elapsed, "rate": per_copy * count / elapsed}


def measure_misp_stix(events: list[dict[str, Any]], count: int, per_copy: int) -> dict[str, float]:
    from misp_stix_converter import MISPtoSTIX21Parser

    started = time.perf_counter()
    for _ in range(count):
        for event in events:
            MISPtoSTIX21Parser().parse_misp_event({"Event": event})
    elapsed = time.perf_counter() - started
    return {"attributes": per_copy * count, "seconds": elapsed, "rate": per_copy * count / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attributes", type=int, default=1_000_000, help="attributes to import")
    parser.add_argument("--peer-sample", type=int, default=1, help="ESET copies for misp-stix")
    args = parser.parse_args()

    events = eset_events()
    per_copy = attribute_count(events)
    count = max(1, round(args.attributes / per_copy))
    template = orjson.dumps(events)
    print(f"ESET set: {len(events)} events, {per_copy:,} attributes; {count} copies")

    ours, floor = measure_shieldwall(template, count, per_copy)
    conversion = measure_conversion(events, max(1, count // 10), per_copy)
    peer = measure_misp_stix(events, args.peer_sample, per_copy)
    rows = [
        ("shieldwall import (convert + ingest, SQLite)", ours),
        ("storage floor (the same rows, executemany)", floor),
        ("shieldwall conversion only", conversion),
        ("misp-stix conversion only", peer),
    ]
    for name, row in rows:
        print(
            f"{name:<46} {int(row['attributes']):>10,} attributes {row['seconds']:>8.2f} s "
            f"{row['rate']:>12,.0f} attributes/s"
        )
    print(f"shieldwall import per CPU second: {ours['cpu_rate']:,.0f} attributes/s")
    print(f"storage floor per CPU second: {floor['cpu_rate']:,.0f} attributes/s")
    print(f"ratio shieldwall import / storage floor: {ours['rate'] / floor['rate']:.2f}")
    print(f"ratio shieldwall import / misp-stix conversion: {ours['rate'] / peer['rate']:,.0f}x")
    print(f"rejections (URLs without a scheme, per copy): {int(ours['rejected']) // count}")


if __name__ == "__main__":
    main()
