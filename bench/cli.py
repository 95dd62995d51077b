"""The `python -m bench` command line.

    python -m bench                                   # = ingest with the defaults
    python -m bench ingest --count 1000000 --backends sqlite,postgresql
    python -m bench generate --count 1000000          # only write the cached bundle
    python -m bench profile --count 100000            # cProfile of one SQLite ingest

`worker` is internal: the ingest command runs each measurement through it in
a child process (see `bench.runner`).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import data, measure, report
from bench.runner import run_worker
from bench.stores import DEFAULT_PG_URL, sqlite_store
from shieldwall.config import Settings
from shieldwall.intel.ingest import ingest_bundle

BACKENDS = ("sqlite", "postgresql")
DEFAULT_COUNT = 200_000
DEFAULT_STIX2_SAMPLE = 20_000
LAST_JSON = data.OUT / "last.json"


def _backends(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BACKENDS)}; got {text!r}")
    return chosen


def _positive(text: str) -> int:
    value = int(text.replace("_", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _bundle_options(parser: argparse.ArgumentParser, count: int) -> None:
    parser.add_argument("--count", type=_positive, default=count, help="indicators in the bundle")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated values")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="shieldwall's performance benchmarks; with no command, `ingest`.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{ingest,generate,profile}"
    )
    batch_size = Settings().ingest_batch_size

    ingest = commands.add_parser("ingest", help="ingest throughput and peak RSS vs stix2")
    _bundle_options(ingest, DEFAULT_COUNT)
    ingest.add_argument("--backends", type=_backends, default=list(BACKENDS))
    ingest.add_argument("--batch-size", type=_positive, default=batch_size)
    ingest.add_argument("--stix2-sample", type=_positive, default=DEFAULT_STIX2_SAMPLE)
    ingest.add_argument("--pg-url", default=DEFAULT_PG_URL)
    ingest.add_argument("--skip-parse", action="store_true", help="no parse+validate run")
    ingest.set_defaults(run=_ingest)

    generate = commands.add_parser("generate", help="write (or find) the cached bundle")
    _bundle_options(generate, DEFAULT_COUNT)
    generate.set_defaults(run=_generate)

    profile = commands.add_parser("profile", help="cProfile one ingest into SQLite")
    _bundle_options(profile, 100_000)
    profile.add_argument("--batch-size", type=_positive, default=batch_size)
    profile.add_argument("--sort", default="cumulative", help="a pstats sort key, e.g. tottime")
    profile.add_argument("--top", type=_positive, default=25)
    profile.set_defaults(run=_profile)

    worker = commands.add_parser("worker")  # internal: no help, so not listed
    worker.add_argument("kind", choices=(*BACKENDS, "sqlite-holding", "parse", "stix2"))
    worker.add_argument("--bundle", type=Path, required=True)
    worker.add_argument("--batch-size", type=_positive, default=batch_size)
    worker.add_argument("--stix2-sample", type=_positive, default=DEFAULT_STIX2_SAMPLE)
    worker.add_argument("--pg-url", default=DEFAULT_PG_URL)
    worker.add_argument("--prior", type=Path, help="sqlite-holding: the bundle imported first")
    worker.set_defaults(run=_worker)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    bundle = data.ensure_bundle(args.count, args.seed)
    host = report.machine()
    results: report.Result = {}
    for backend in args.backends:
        results[backend] = run_worker(
            backend, bundle, "--batch-size", str(args.batch_size), "--pg-url", args.pg_url
        )
    if "sqlite" in args.backends:
        prior = data.ensure_bundle(args.count, args.seed + 1)
        results["sqlite_holding"] = run_worker(
            "sqlite-holding", bundle, "--prior", str(prior), "--batch-size", str(args.batch_size)
        )
    if not args.skip_parse:
        results["parse"] = run_worker("parse", bundle)
    results["stix2"] = run_worker("stix2", bundle, "--stix2-sample", str(args.stix2_sample))
    document = report.document(args.count, args.seed, bundle, host, results)
    report.write_json(LAST_JSON, document)
    print(report.table(document))
    print(f"figures written to {LAST_JSON}", file=sys.stderr)
    failed = [name for name, result in results.items() if "error" in result]
    return 1 if failed else 0


def _generate(args: argparse.Namespace) -> int:
    print(data.ensure_bundle(args.count, args.seed))
    return 0


def _profile(args: argparse.Namespace) -> int:
    bundle = data.ensure_bundle(args.count, args.seed)
    profiler = cProfile.Profile()
    with sqlite_store(data.OUT) as store, bundle.open("rb") as stream:
        options = measure.ingest_options(store, args.batch_size)
        with measure.Stopwatch() as watch:
            profiler.runcall(ingest_bundle, store.engine, stream, options)
    print(
        f"{args.count:,} indicators in {watch.wall:.2f} s ({watch.cpu:.2f} s CPU) under"
        " cProfile, which slows Python code down several times\n"
    )
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
    return 0


def _worker(args: argparse.Namespace) -> int:
    if args.kind == "sqlite":
        result = measure.ingest_sqlite(args.bundle, args.batch_size)
    elif args.kind == "sqlite-holding":
        result = measure.ingest_sqlite_holding(args.bundle, args.prior, args.batch_size)
    elif args.kind == "postgresql":
        result = measure.ingest_postgresql(args.bundle, args.batch_size, args.pg_url)
    elif args.kind == "parse":
        result = measure.parse_validate(args.bundle)
    else:
        result = measure.stix2_parse(args.bundle, args.stix2_sample)
    print(json.dumps(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments:
        arguments = ["ingest"]  # what `make bench` runs
    args = _parser().parse_args(arguments)
    status: int = args.run(args)
    return status
