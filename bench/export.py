"""Export benchmark: N generated indicators, exported to every format, indicators/s and peak RSS.

    python -m bench.export [--count 1000000] [--formats stix21,misp,...] [--backend sqlite]

The store is built once (the bundle of `bench.data`, ingested with the real
ingest into `bench/out/export-<count>.db`) and reused. Each format is then
exported in its own process, through `service.stream` exactly as the API and
CLI run it, into /dev/null, as a member that sees everything (the host's own
intel). Rates are given per wall second and per CPU second of the export
process (the machine may be shared: CPU time is what the export costs).
Memory: the process's RSS when the export starts and its peak during the
export (Linux: the high-water mark is reset when timing starts, so neither
start-up nor the warninglist index counts); flat memory means the growth
stays small whatever the count. Warninglists are on for the formats that use
them by default (their index is built before timing starts, as a server
keeps it loaded).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine

from bench import data
from shieldwall.db.engine import make_engine, read_transaction, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.formats.export import service
from shieldwall.formats.export.archive import ArchiveKind
from shieldwall.formats.export.archive import stream as archive_stream
from shieldwall.formats.export.model import ExportFormat
from shieldwall.intel.ingest import IngestOptions, Mode, ingest_bundle
from shieldwall.intel.service import Reader
from shieldwall.members.bootstrap import init_node, principal_for
from shieldwall.members.model import Role
from shieldwall.sharing.tlp import TLP, DistKind, Distribution
from shieldwall.warninglists import default_index

ORG = "Export Bench Host"
TARGET = 200_000


def _status_mb(field: str) -> float | None:
    """A memory figure of this process from /proc/self/status (Linux), in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux: the figure is left out
        return None
    return None  # no such field in this kernel's status


def _reset_peak_rss() -> bool:
    """Resets the RSS high-water mark to the current RSS (Linux 4.0+); False if it cannot.

    Needed because ru_maxrss survives exec: a child started by a parent that
    once held the whole store reported the parent's peak as its own.
    """
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _rss_now_mb() -> float:
    found = _status_mb("VmRSS")
    return found if found is not None else _peak_rss_mb()


def _peak_rss_mb() -> float:
    found = _status_mb("VmHWM")
    if found is not None:
        return found
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_path(count: int) -> Path:
    return data.OUT / f"export-{count}.db"


def ensure_store(count: int) -> Path:
    """The SQLite store holding `count` indicators, ingested on first use."""
    path = store_path(count)
    if path.exists():
        return path
    bundle = data.ensure_bundle(count, seed=1)
    partial = path.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{partial}")
    upgrade(engine)
    with write_transaction(engine) as conn:
        init_node(conn, ORG, "EE")
        principal = principal_for(conn, ORG, Role.ANALYST)
        owner_id = principal.org_id or 0
    options = IngestOptions(
        principal=principal,
        owner_org_id=owner_id,
        default_tlp=TLP.AMBER,
        distribution=Distribution(DistKind.MEMBERS),
        mode=Mode.LENIENT,
    )
    started = time.perf_counter()
    with bundle.open("rb") as stream:
        report = ingest_bundle(engine, stream, options, source=str(bundle))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    partial.rename(path)
    print(
        f"ingested {report.created:,} indicators in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return path


def _request(engine: Engine, fmt: str) -> service.ExportRequest:
    with read_transaction(engine) as conn:
        principal = principal_for(conn, ORG, Role.SENSOR)
        return service.prepare(
            conn, Reader(principal), fmt, types=("ipv4",) if fmt == "txt" else ()
        )


def run_one(count: int, fmt: str) -> dict[str, object]:
    """One export into /dev/null, in this process (called in a fresh process per format)."""
    engine = make_engine(f"sqlite:///{store_path(count)}")
    request = _request(engine, fmt)
    if request.drop_warninglisted:
        default_index()
    # As the node does once its match index and warninglists are loaded
    # (`match.service.start_match_index`): what lives as long as the process
    # is out of the collector's generations. Without it, each full collection
    # during an export walked the millions of objects of the warninglist index.
    gc.collect()
    gc.freeze()
    before = _rss_now_mb()
    peak_reset = _reset_peak_rss()
    started, started_cpu = time.perf_counter(), time.process_time()
    written = 0
    if request.format is ExportFormat.MISP_FEED:
        chunks = archive_stream(service.stream_feed(engine, request), ArchiveKind.ZIP)
    else:
        chunks = service.stream(engine, request)
    with open("/dev/null", "wb") as sink:
        for chunk in chunks:
            sink.write(chunk)
            written += len(chunk)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - started_cpu
    return {
        "format": fmt,
        "indicators": count,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "indicators_per_s": round(count / elapsed),
        # On a shared machine wall time counts other processes' turns too.
        "indicators_per_cpu_s": round(count / cpu),
        "bytes": written,
        "rss_before_mb": round(before, 1),
        # Without a reset, the peak also counts what came before the export.
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_is_export_only": peak_reset,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--formats", default=",".join(f.value for f in ExportFormat))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.count, args.one)))
        return 0
    ensure_store(args.count)
    print(
        f"{'format':<10} {'s':>7} {'CPU s':>7} {'ind/s':>10} {'ind/CPU s':>10} {'MB out':>8} "
        f"{'RSS start':>10} {'peak RSS':>9} {'growth':>8}"
    )
    worst = worst_cpu = None
    for fmt in args.formats.split(","):
        command = [sys.executable, "-m", "bench.export", "--count", str(args.count), "--one", fmt]
        line = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(line.strip().splitlines()[-1])
        rate = int(result["indicators_per_s"])
        worst = rate if worst is None else min(worst, rate)
        cpu_rate = int(result["indicators_per_cpu_s"])
        worst_cpu = cpu_rate if worst_cpu is None else min(worst_cpu, cpu_rate)
        start, peak = float(result["rss_before_mb"]), float(result["peak_rss_mb"])
        growth = f"{peak - start:>6.1f} M" if result["peak_is_export_only"] else "     n/a"
        print(
            f"{fmt:<10} {result['seconds']:>7} {result['cpu_seconds']:>7} {rate:>10,} "
            f"{cpu_rate:>10,} {int(result['bytes']) / 1e6:>8.1f} "
            f"{start:>8.1f} M {peak:>7.1f} M {growth}"
        )
    if worst is not None and worst_cpu is not None:
        for label, found in (("indicators/s", worst), ("indicators/CPU s", worst_cpu)):
            verdict = "meets" if found >= TARGET else "misses"
            print(f"slowest format: {found:,} {label} ({verdict} the {TARGET:,}/s target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
