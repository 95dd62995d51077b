"""The measurements themselves; each runs in its own process (see `bench.runner`).

One process per measurement makes `ru_maxrss` (the peak resident set of the
process) that measurement's alone: no other backend's buffers, no cached
bundle from a previous step.

- `ingest`: the real import path, `ingest_bundle()` into a fresh store,
  end to end (stream parse, validate, extract observables, store, commit).
- `parse`: the same file through `iter_bundle` + `check_object` +
  `pattern_observables`, no database, timed per stage to show where the time
  goes.
- `stix2`: the OASIS `stix2` library's `parse()` on a sample from the head of
  the file, the peer the targets compare against.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.data import OUT, read_head
from bench.stores import Store, postgresql_store, postgresql_unreachable, sqlite_store
from shieldwall.intel.ingest import IngestOptions, Mode, ingest_bundle, iter_bundle
from shieldwall.intel.patterns import pattern_observables
from shieldwall.intel.stix import check_object
from shieldwall.sharing.tlp import TLP, DistKind, Distribution

Result = dict[str, Any]


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


class Stopwatch:
    """Wall-clock and CPU seconds of this process over a `with` block.

    Wall time is what the targets are about; CPU time is the check on it when
    other work shares the machine, since it only counts while we run. The
    context switches tell the rest of the gap apart: voluntary ones are waits
    (disk, the database server), involuntary ones are other work taking the CPU.
    """

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.usage: Result = {}

    def __enter__(self) -> Stopwatch:
        self._usage_started = resource.getrusage(resource.RUSAGE_SELF)
        self._wall_started, self._cpu_started = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._wall_started
        self.cpu = time.process_time() - self._cpu_started
        started, ended = self._usage_started, resource.getrusage(resource.RUSAGE_SELF)
        self.usage = {
            "voluntary_switches": ended.ru_nvcsw - started.ru_nvcsw,
            "involuntary_switches": ended.ru_nivcsw - started.ru_nivcsw,
            "written_mb": (ended.ru_oublock - started.ru_oublock) * 512 / 2**20,
        }

    def figures(self, count: int, lock_wait: float = 0.0) -> Result:
        wall = self.wall - lock_wait
        return {
            "seconds": wall,
            "cpu_seconds": self.cpu,
            "objects_per_s": _rate(count, wall),
            "objects_per_cpu_s": _rate(count, self.cpu),
            **self.usage,
        }


class WriteLockClock:
    """Time spent waiting for the PostgreSQL writers' advisory lock.

    The lock (see `shieldwall.db.engine.write_transaction`) is one per
    database, not per schema, so on a shared server the benchmark can wait for
    other schemas' writers (a test suite running beside it). That wait is not
    ingest work: it is measured here and taken out of the rate.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> WriteLockClock:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, *_event: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "pg_advisory_xact_lock" in statement:
            self.seconds += time.perf_counter() - self._started


def ingest_options(store: Store, batch_size: int) -> IngestOptions:
    """What `shieldwall import --org HOST` would use: the CLI's defaults."""
    return IngestOptions(
        principal=store.principal,
        owner_org_id=store.principal.org_id,
        default_tlp=TLP.AMBER,
        distribution=Distribution(DistKind.ORG),
        mode=Mode.LENIENT,
        batch_size=batch_size,
    )


def ingest_into(store: Store, bundle: Path, batch_size: int) -> Result:
    options = ingest_options(store, batch_size)
    rss_before = peak_rss_mb()
    with Stopwatch() as watch, WriteLockClock(store.engine) as lock, bundle.open("rb") as stream:
        report = ingest_bundle(store.engine, stream, options, source=bundle.name)
    size = store.size_bytes()
    return {
        "objects": report.objects,
        "created": report.created,
        "rejected": len(report.rejected),
        "observables": report.observables,
        **watch.figures(report.created, lock_wait=lock.seconds),
        "lock_wait_seconds": lock.seconds,
        "rss_before_ingest_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "store_mb": size / 2**20,
        "batch_size": batch_size,
    }


def ingest_sqlite(bundle: Path, batch_size: int) -> Result:
    with sqlite_store(OUT) as store:
        return ingest_into(store, bundle, batch_size)


def ingest_sqlite_holding(bundle: Path, prior: Path, batch_size: int) -> Result:
    """Ingest into a SQLite store that already holds `prior` (imported untimed).

    The first import of an empty store takes short cuts (`ingest.Ingestor`:
    no version look-ups for new ids, two indexes built at the end), so this
    row shows what every later import of a node costs.
    """
    with sqlite_store(OUT) as store:
        with prior.open("rb") as stream:
            held = ingest_bundle(store.engine, stream, ingest_options(store, batch_size))
        return {**ingest_into(store, bundle, batch_size), "store_held": held.created}


def ingest_postgresql(bundle: Path, batch_size: int, url: str) -> Result:
    problem = postgresql_unreachable(url)
    if problem is not None:
        return {"skipped": f"PostgreSQL at {url} is not reachable ({problem})"}
    with postgresql_store(url) as store:
        return ingest_into(store, bundle, batch_size)


def parse_validate(bundle: Path) -> Result:
    """Our pure parse + validate + pattern rate, with the time of each stage."""
    json_ns = validate_ns = patterns_ns = 0
    count = observables = 0
    clock = time.perf_counter_ns
    with Stopwatch() as watch, bundle.open("rb") as stream:
        objects = iter_bundle(stream)
        while True:
            t0 = clock()
            obj = next(objects, None)
            t1 = clock()
            if obj is None:
                break
            check_object(obj)
            t2 = clock()
            if obj.get("pattern_type") == "stix":
                observables += len(pattern_observables(obj["pattern"]))
            t3 = clock()
            json_ns += t1 - t0
            validate_ns += t2 - t1
            patterns_ns += t3 - t2
            count += 1
    return {
        "objects": count,
        "observables": observables,
        **watch.figures(count),
        "stage_seconds": {
            # iter_bundle is what ingest reads with (the compiled slicer and
            # orjson where built); the two checks are the Python reference,
            # which ingest runs only for what its compiled indicator path
            # leaves (see intel/ingest.py).
            "iter_bundle": json_ns / 1e9,
            "check_object (Python)": validate_ns / 1e9,
            "pattern_observables (Python)": patterns_ns / 1e9,
        },
        "peak_rss_mb": peak_rss_mb(),
    }


def stix2_parse(bundle: Path, sample: int) -> Result:
    """The OASIS `stix2` parse rate on the first `sample` objects of the bundle."""
    import stix2  # a benchmark peer only: imported where it is measured

    objects = read_head(bundle, sample)
    if objects:
        # Untimed: the first parse builds the pattern grammar's parser.
        stix2.parse(objects[0], allow_custom=True)
    with Stopwatch() as watch:
        for obj in objects:
            stix2.parse(obj, allow_custom=True)
    return {
        "objects": len(objects),
        **watch.figures(len(objects)),
        "stix2_version": stix2.__version__,
        "peak_rss_mb": peak_rss_mb(),
    }
