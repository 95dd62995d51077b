"""Regression tests from the review of ingest's compiled pieces (`intel/_ingest.c`, ba8771e).

One test per finding; each reads untrusted input as a member's bundle would bring it:

* The sliced reader leaves out an item ijson gives from the bundle's envelope
  (a top-level key `objects.item` has the items' prefix), then hands over to
  ijson with a count that no longer matches: an object is lost, another given
  twice.
* `prepare_indicator` packs the dict's id after making tuples, which may run a
  collection and so Python code that changes the dict: the id may be freed by
  then (a use after free, run in a child process so that a crash fails only it).
* An IPv4/IPv6 literal with a NUL, which the compiled path rightly hands to
  Python, makes `socket.inet_pton` raise ValueError there: the whole import
  fails instead of the object being judged (lenient mode cannot skip it).
* A string that is no UTF-8 once unescaped (a lone `\\udc00`, or the bytes of
  an encoded surrogate) makes ijson's C backend raise UnicodeDecodeError,
  which neither reader turned into the documented BadInput.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from typing import Any

import ijson
import pytest

from shieldwall.errors import BadInput
from shieldwall.intel import ingest
from shieldwall.intel.ingest import _observables_of
from shieldwall.intel.observables import detect, normalise
from shieldwall.intel.patterns import pattern_observables

needs_compiled = pytest.mark.skipif(
    not ingest.COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: shieldwall.intel._ingest is not built (no C compiler at install time)",
)

UUID = "61c72acf-8624-5719-8fc0-8755439f8d60"


def _reference_items(data: bytes, prefix: str) -> list[Any]:
    return list(ijson.items(io.BytesIO(data), prefix, use_float=True))


@needs_compiled
@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"bundle","objects.item":{"id":"X"},"objects":[{"id":"A"},{"id":"B"}]}',
        # A marking definition there: the reference imports it, the sliced
        # reader dropped it (its objects were then refused as unresolved).
        (
            b'{"type": "bundle", "objects.item": {"type": "marking-definition", "id": '
            b'"marking-definition--' + UUID.encode() + b'"}, "objects": [{"n": 1}, {"n": 2}, '
            b'{"n": 3}]}'
        ),
        # After a key of another value before the array.
        b'{"objects.item":7,"id":"bundle--x","type":"bundle","objects":[{"id":"A"}]}',
    ],
)
def test_envelope_item_is_given_as_ijson_gives_it(data: bytes) -> None:
    assert list(ingest.iter_bundle(io.BytesIO(data))) == _reference_items(data, "objects.item")


_COLLECTION_CHANGES_THE_DICT = textwrap.dedent(
    """
    import gc
    import sys
    from shieldwall.intel import ingest, _ingest  # ingest gives _ingest its pattern paths

    uuid = sys.argv[1]
    stix_id = "".join(["indicator--", uuid])  # held by the dict alone
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": stix_id,
        "created": "2024-01-31T12:00:00.000Z", "modified": "2024-01-31T12:00:00.000Z",
        "pattern": "".join(["[ipv4-addr:value = '1.2.3.4'", "]"]), "pattern_type": "stix",
        "valid_from": "2024-01-31T12:00:00.000Z",
        "object_marking_refs": ["marking-definition--" + uuid],
    }
    del stix_id
    armed = []

    def change_the_dict(phase, info):
        if phase == "start" and armed:
            obj.pop("id", None)
            obj.pop("pattern", None)

    gc.callbacks.append(change_the_dict)
    gc.set_threshold(1, 1, 1)
    # Small tuples come from free lists, which never start a collection: drain them.
    keep = [(i, i, i, i, i, i) for i in range(2100)] + [(i, i) for i in range(2100)]
    keep += [(i,) for i in range(2100)]
    armed.append(1)
    result = _ingest.prepare_indicator(obj)
    armed.clear()
    gc.callbacks.remove(change_the_dict)
    gc.set_threshold(700, 10, 10)
    assert result is not None
    assert result[0] == "indicator--" + uuid, repr(result[0])
    assert result[3] == (("ipv4", "1.2.3.4"),), repr(result[3])
    print("ok")
    """
)


@needs_compiled
def test_prepare_indicator_holds_what_it_packs_across_a_collection() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PYTHONMALLOC", None)  # the default allocator: the freed id is reused at once
    done = subprocess.run(
        [sys.executable, "-c", _COLLECTION_CHANGES_THE_DICT, UUID],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("ipv4", "1.2.3.4\x00"), ("ipv6", "::1\x00"), ("ipv4", "\x00"), ("ipv6", "\x00::1")],
)
def test_a_nul_in_an_address_is_no_address(kind: str, raw: str) -> None:
    assert normalise(kind, raw) is None


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '1.2.3.4\x00']",
        "[ipv6-addr:value = '::1\x00']",
        "[network-traffic:dst_ref.value = '::1\x00']",
    ],
)
def test_a_nul_in_an_address_literal_leaves_the_indicator_to_be_judged(pattern: str) -> None:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{UUID}",
        "created": "2024-01-31T12:00:00.000Z",
        "modified": "2024-01-31T12:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2024-01-31T12:00:00.000Z",
    }
    # The compiled path hands a NUL to Python, which must answer, not raise.
    if ingest.COMPILED:
        assert ingest._compiled is not None
        assert ingest._compiled.prepare_indicator(obj) is None
    assert _observables_of(obj, "indicator") == []
    assert pattern_observables(pattern) == []
    assert detect("::1\x00") is None


@pytest.mark.parametrize("compiled", [True, False], ids=["sliced", "ijson"])
@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"bundle","objects":[{"id":"A"},{"a":"\\udc00"}]}',
        b'{"type":"bundle","objects":[{"id":"A"},{"a":"\xed\xa0\x80"}]}',
        b'{"type":"bundle","objects":[{"id":"A"},{"a":"\\udc00","n":12345678901234567890}]}',
        b'{"type":"bundle","x":"\\udc00","objects":[{"id":"A"}]}',
        b'[{"id":"A"},{"a":"\\udc00"}]',
    ],
)
def test_a_string_that_is_no_utf8_is_invalid_json(
    data: bytes, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ijson's C backend raises UnicodeDecodeError there, not a JSONError: the
    # import failed with a 500 instead of the documented BadInput (400).
    if not compiled:
        monkeypatch.setattr(ingest, "_compiled", None)
    with pytest.raises(BadInput, match="invalid JSON"):
        list(ingest.iter_bundle(io.BytesIO(data)))
