"""Runs the `shieldwall` command as a user's shell would: a subprocess with its environment.

The CLI is tested from outside because what a script relies on lives there:
exit codes, what goes to stdout and what to stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shieldwall.db.engine import make_engine, write_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.members import bootstrap

#: Generous: a command takes about a second; this only stops a hung test.
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return orjson.loads(self.stdout)

    def explain(self) -> str:
        return f"shieldwall {' '.join(self.args)} -> {self.code}\n{self.stdout}\n{self.stderr}"


class Shieldwall:
    """The CLI bound to one store (`SHIELDWALL_DATABASE_URL`) and a working directory."""

    def __init__(self, database_url: str, cwd: Path) -> None:
        self.database_url = database_url
        self.cwd = cwd

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDWALL_")}
        env["SHIELDWALL_DATABASE_URL"] = self.database_url
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "shieldwall", *args]

    def __call__(self, *args: str) -> Result:
        done = subprocess.run(
            self.command(*args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.cwd,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        return Result(tuple(args), done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, result.explain()
        return result

    def many(self, commands: Sequence[Sequence[str]]) -> list[Result]:
        """Runs independent commands, a few at a time (they must not depend on each other)."""
        width = max(1, min(4, os.cpu_count() or 1))
        results: list[Result] = []
        for start in range(0, len(commands), width):
            running = [
                (
                    tuple(args),
                    subprocess.Popen(
                        self.command(*args),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=self.env(),
                        cwd=self.cwd,
                    ),
                )
                for args in commands[start : start + width]
            ]
            for args, process in running:
                stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
                results.append(Result(args, process.returncode, stdout, stderr))
        return results


def assert_one_line_error(result: Result) -> None:
    """A failed command says what was wrong in one line on stderr, and nothing on stdout."""
    assert result.stdout == "", result.explain()
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, result.explain()
    assert lines[0].startswith("error: "), result.explain()
    assert "Traceback" not in result.stderr


def assert_usage_error(result: Result) -> None:
    """Usage errors are click's own: the usage line, a hint and the error, exit code 2."""
    assert result.code == 2, result.explain()
    assert result.stdout == "", result.explain()
    assert "Usage:" in result.stderr, result.explain()
    assert "Traceback" not in result.stderr


def init_in_process(database_url: str, host: str = "Host") -> str:
    """Creates the store and its host organisation without a CLI process; returns the key.

    For tests whose subject is another command: each CLI process costs seconds.
    """
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with write_transaction(engine) as conn:
            return bootstrap.init_node(conn, host, None).secret
    finally:
        engine.dispose()
