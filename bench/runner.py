"""Runs each measurement of `bench.measure` in a child process and collects its figures.

The child is `python -m bench worker KIND ...`; it prints its result as one
JSON document on stdout, and its progress and errors go straight through to
our stderr. A child that fails is recorded as an error, so one broken backend
does not hide the figures of the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def run_worker(kind: str, bundle: Path, *options: str) -> Result:
    command = [sys.executable, "-m", "bench", "worker", kind, "--bundle", str(bundle), *options]
    print(f"measuring {kind} ...", file=sys.stderr, flush=True)
    finished = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if finished.returncode != 0:
        return {"error": f"the {kind} worker exited with code {finished.returncode}"}
    try:
        result: Result = json.loads(finished.stdout)
    except json.JSONDecodeError:
        return {"error": f"the {kind} worker printed no result: {finished.stdout[-200:]!r}"}
    return result
