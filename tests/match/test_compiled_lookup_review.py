"""Review of the compiled look-ups' paused collector and probe queue (`match/_lookup.c`).

Each test pins one problem found in review (all fixed since):

* the pause state (`gc_paused_here`) is one static shared by every thread: two
  threads whose batches overlap through their Python routes leave the
  collector off for the whole process;
* a queue flush allocates one tuple per hit, and a batch that does not own the
  pause (it began while another thread had the collector off) runs with
  collections on; a collection's finalizer may then grow the table (the GIL
  handed to a thread that indexes) or empty the caller's list, and the flush
  reads the entry pointers it remembered, or the text of a value it did not
  hold, from freed memory;
* `ipv4_many` parses values ahead of the loop and keeps the list's size from
  before it, so a value replaced while the Python route runs is reported with
  the address of the value it replaced (and a shortened list is read past).

The memory-safety cases run in a child process in which glibc unmaps or
overwrites freed memory, so that a read of freed memory shows as a crash or a
wrong answer even without a sanitizer.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from shieldwall.match import index as index_module
from shieldwall.match.index import COMPILED

pytestmark = pytest.mark.skipif(
    not COMPILED, reason="SKIPPING: shieldwall.match._lookup is not built"
)

NON_ASCII = "b\u00fccher.example"  # a value every text loop hands to its Python route


def _lookup() -> Any:
    return index_module._compiled


def test_the_collector_is_on_after_two_threads_batches_overlap() -> None:
    # A's batch pauses collections and calls its Python route (collections on),
    # which lets B start a batch; B's route lets A finish, and A's exit restores
    # the shared static to "not paused here", so B never turns collections back on.
    lookup, table = _lookup(), _lookup().StrTable()
    a_waits, b_waits, a_done = threading.Event(), threading.Event(), threading.Event()

    def slow_a(position: int, raw: str, out: list[Any]) -> None:
        a_waits.set()
        b_waits.wait(10)

    def slow_b(position: int, raw: str, out: list[Any]) -> None:
        b_waits.set()
        a_done.wait(10)

    def run_a() -> None:
        lookup.domain_many([NON_ASCII], [], table, 0, slow_a)
        a_done.set()

    def run_b() -> None:
        a_waits.wait(10)
        lookup.domain_many([NON_ASCII], [], table, 0, slow_b)

    assert gc.isenabled()
    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert a_done.is_set(), "A's batch did not finish"
        assert b_waits.is_set(), "the two batches did not overlap"
        enabled_after = gc.isenabled()
        lookup.domain_many([NON_ASCII, "example.com"], [], table, 0, lambda *_: None)
        enabled_after_another_batch = gc.isenabled()
    finally:
        gc.enable()  # the rest of the session must not run without collections
    assert (enabled_after, enabled_after_another_batch) == (True, True)


# The child process. Thread X pauses collections around its own work
# (gc.disable() ... gc.enable(), as timeit does); the batch starts inside that
# pause, so it does not own it, and X resumes collections while the batch's
# Python route (value 0) runs. The route then arranges a collection two
# allocations later, inside the next queue flush, whose finalizer grows the
# table (another thread indexing, handed the GIL) or empties the list of values.
_CHILD = textwrap.dedent(
    """
    import gc, importlib.machinery, importlib.util, sys, threading

    path, function, action = sys.argv[1:4]
    loader = importlib.machinery.ExtensionFileLoader("_lookup", path)
    spec = importlib.util.spec_from_file_location("_lookup", path, loader=loader)
    lookup = importlib.util.module_from_spec(spec)
    loader.exec_module(lookup)

    FIRST = {"domain": "b\\u00fccher.example", "hash": "zz", "url": "http://\\u00e9/"}
    HELD = {
        "domain": [f"k{i}.test" for i in range(16)],
        "hash": ["%032x" % i for i in range(16)],
        "url": [f"http://k{i}.test/" for i in range(16)],
    }
    # Built at run time (not a code constant), long enough for malloc where it can be.
    LAST = {
        "domain": lambda: "".join(["z", ".y" * 1500]),
        "hash": lambda: "".join(["ab"] * 64),
        "url": lambda: "".join(["http://last.test/", "p" * 3000]),
    }

    table = lookup.StrTable()
    held = HELD[function]
    for slot, key in enumerate(held):
        table.put(key, slot)
    table.put(LAST[function](), 99)
    for i in range(3072 - len(held) - 1):  # 3072 keys at capacity 4096: one more grows it
        table.put(f"filler{i}", 0)
    raws = [FIRST[function], *held, LAST[function]()]  # the last value is held by the list only

    paused, resume, resumed = threading.Event(), threading.Event(), threading.Event()

    def other():
        gc.disable(); paused.set(); resume.wait(10); gc.enable(); resumed.set()

    class Finalizer:
        def __init__(self, act): self.act = act; self.me = self
        def __del__(self): self.act()

    def grow():
        table.put("grown.test", 9999)

    def slow(position, raw, out):
        resume.set(); resumed.wait(10)
        Finalizer(grow if action == "grow" else raws.clear)
        gc.set_threshold(gc.get_count()[0] + 1)

    x = threading.Thread(target=other); x.start(); paused.wait(10)
    out = []
    tail = {"domain": (100, slow), "hash": ("k", slow), "url": ("k", 100000, slow)}[function]
    try:
        getattr(lookup, function + "_many")(raws, out, table, *tail)
    finally:
        gc.set_threshold(700)
    x.join()
    kind = "domain" if function == "domain" else "k"
    expected = [(i + 1, kind, key, i) for i, key in enumerate(held)]
    expected.append((17, kind, LAST[function](), 99))
    assert out == expected, [hit[:2] for hit in out]
    print("ok")
    """
)


def _run_child(function: str, action: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # Freed blocks of 64 KiB and more are unmapped, smaller ones overwritten:
        # a read of freed memory then faults or reads garbage instead of old bytes.
        "MALLOC_MMAP_THRESHOLD_": "65536",
        "MALLOC_PERTURB_": "85",
        "PYTHONMALLOC": "malloc",
        "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0",  # a cached free is not overwritten
    }
    return subprocess.run(
        [sys.executable, "-c", _CHILD, _lookup().__file__, function, action],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("function", ["domain", "hash", "url"])
def test_a_queue_flush_survives_a_collection_that_grows_the_table(function: str) -> None:
    done = _run_child(function, "grow")
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]


@pytest.mark.parametrize("function", ["domain", "hash", "url"])
def test_a_queue_flush_survives_a_collection_that_empties_the_values(function: str) -> None:
    done = _run_child(function, "clear")
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]


def test_an_ipv4_hit_names_the_address_that_was_looked_up() -> None:
    # The Python route of value 0 replaces value 2, already read ahead: the
    # hit must not pair the new text with the slots of the old address. The
    # batch holds what it read ahead, so it answers for the value it read.
    lookup = _lookup()
    table = lookup.U32Table()
    table.put(0x0A000002, 7)  # 10.0.0.2
    raws = ["not an address", "10.0.0.1", "10.0.0.2", "10.0.0.3"]

    def slow(position: int, raw: str, out: list[Any]) -> None:
        raws[2] = "8.8.8.8"

    out: list[Any] = []
    lookup.ipv4_many(raws, out, table, bytearray(1 << 16), [], [], slow)
    assert out == [(2, "ipv4", "10.0.0.2", 7)]
