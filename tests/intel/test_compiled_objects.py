"""Ingest's compiled path for objects other than single-comparison indicators.

`_ingest.prepare_object` (and so `prepare_row`) takes the SDOs whose checks
are `check_object`'s generic ones, relationships, SCOs, and indicators whose
pattern joins several comparisons with AND or OR or compares a silent path
(what MISP imports are made of). Whenever it answers, the answer must be the
Python reference's (`check_object` + `_observables_of` + `_search_text`, and
the row `Ingestor._prepare` makes); it may leave any object to Python. The
objects here are built from pieces that reach the edges of its checks.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shieldwall.formats import misp
from shieldwall.formats.common import Conversion
from shieldwall.intel import ingest
from shieldwall.intel.stix import SCO_TYPES
from tests.intel.test_compiled_ingest import prepared_row, typed_reference

pytestmark = pytest.mark.skipif(
    not ingest.COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: shieldwall.intel._ingest is not built (no C compiler at install time)",
)

UUID = "61c72acf-8624-5719-8fc0-8755439f8d60"
STAMP = "2024-02-18T02:26:50.000Z"
STAMPS = [
    STAMP,
    "2024-02-18T02:26:50.123Z",
    "2023-01-01T00:00:00.000Z",
    "2024-02-18T02:26:50Z",
    "2024-02-18T02:26:50.000z",
    "",
    None,
    12,
]
TYPES = [
    *sorted(SCO_TYPES),
    "note",
    "report",
    "identity",
    "vulnerability",
    "malware",
    "observed-data",
    "relationship",
    "sighting",
    "marking-definition",
    "indicator",
    "x-custom-thing",
    "bundle",
    "Note",
    "a",
]
REFS = [
    f"indicator--{UUID}",
    f"file--{UUID.upper()}",
    f"x-custom-thing--{UUID}",
    f"ab--{UUID}",
    f"a--{UUID}",
    f"-a--{UUID}",
    f"a---{UUID}",
    f"a-b--c--{UUID}",
    f"A--{UUID}",
    f"ü--{UUID}",
    f"indicator--{UUID[:-1]}",
    f"indicator--{UUID}\n",
    "",
    None,
    5,
]
VALUES = [
    "1.2.3.4",
    "01.2.3.4",
    "1.2.3.4/24",
    " 1.2.3.4",
    "2001:DB8::1",
    "::ffff:1.2.3.4",
    "Example.COM.",
    "bücher.de",
    "-a.example.com",
    "HTTP://example.com/a?x=1#f",
    "http://[2001:db8::1]/x",
    "Bob@Example.com",
    "a@b@c",
    "a" * 32,
    "A" * 40,
    "0" * 64,
    "f" * 128,
    "g" * 32,
    "ünï.exe",
    "nul\x00.exe",
    "",
    "x" * 2049,
    5,
    None,
]
HASH_NAMES = [
    "MD5",
    "md5",
    "SHA-1",
    "sha1",
    "Sha-256",
    "SHA256",
    "SHA-512",
    "sha512",
    "SHA3-256",
    "ssdeep",
    "\u017fha1",  # a long s: str.upper() makes it "SHA1"
    "x" * 20,
]
PATHS = [
    "ipv4-addr:value",
    "domain-name:value",
    "url:value",
    "file:name",
    "file:hashes.MD5",
    "file:hashes.'SHA-1'",
    "file:hashes.'SHA-256'",
    "domain-name:resolves_to_refs[*].value",
    "network-traffic:dst_ref.value",
    "windows-registry-key:key",
    "windows-registry-key:values[*].data",
    "mutex:name",
    "process:name",
]
LITERALS = ["1.2.3.4", "Example.COM", "a" * 40, "it\\'s", "back\\\\slash", "x'y", "a\\b", ""]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    """Comparisons joined as MISP joins them, and near misses of that shape."""
    parts = [
        f"{draw(st.sampled_from(PATHS))} = '{draw(st.sampled_from(LITERALS))}'"
        for _ in range(draw(st.integers(1, 3)))
    ]
    body = parts[0]
    for part in parts[1:]:
        body += draw(st.sampled_from([" AND ", " OR ", " and ", "  AND ", " AND  ", " XOR "]))
        body += part
    shape = draw(
        st.sampled_from(["[{}]", "[{}]", "[ {}]", "[{} ]", "[{}] ", "{}", "[{}] AND [x:y = 'z']"])
    )
    return shape.format(body)


def _valid(stix_type: str) -> dict[str, Any]:
    """An object of that type the reference accepts (SCOs carry no timestamps)."""
    obj: dict[str, Any] = {"type": stix_type, "spec_version": "2.1", "id": f"{stix_type}--{UUID}"}
    if stix_type not in SCO_TYPES:
        obj |= {"created": STAMP, "modified": STAMP}
    if stix_type == "relationship":
        obj |= {
            "relationship_type": "uses",
            "source_ref": f"indicator--{UUID}",
            "target_ref": f"file--{UUID}",
        }
    if stix_type == "indicator":
        obj |= {"pattern": "[file:name = 'a.exe']", "pattern_type": "stix", "valid_from": STAMP}
    return obj


#: Changes to a valid object: a property and the values it may take.
CHANGES: list[tuple[str, st.SearchStrategy[Any]]] = [
    ("spec_version", st.sampled_from(["2.1", "2.0", None])),
    ("created", st.sampled_from(STAMPS)),
    ("modified", st.sampled_from(STAMPS)),
    ("id", st.sampled_from([f"note--{UUID}", f"file--{UUID.upper()}", f"file--{UUID[:-1]}"])),
    ("relationship_type", st.sampled_from(["uses", "", 5, None])),
    ("source_ref", st.sampled_from(REFS)),
    ("target_ref", st.sampled_from(REFS)),
    (
        "created_by_ref",
        st.sampled_from([f"identity--{UUID}", f"identity--{UUID.upper()}", f"note--{UUID}", None]),
    ),
    (
        "object_marking_refs",
        st.sampled_from(
            [[], [f"marking-definition--{UUID}"], [f"identity--{UUID}"], "x", [1], None]
        ),
    ),
    ("granular_markings", st.sampled_from([[], [{"selectors": ["name"]}]])),
    ("revoked", st.sampled_from([True, False, "true", 1])),
    ("name", st.sampled_from([*VALUES, "MiXed Name", "Ünïcode NAME"])),
    ("value", st.sampled_from(VALUES)),
    (
        "hashes",
        st.one_of(
            st.dictionaries(st.sampled_from(HASH_NAMES), st.sampled_from(VALUES), max_size=3),
            st.sampled_from([None, "x", ["MD5"]]),
        ),
    ),
    ("pattern", st.one_of(patterns(), st.sampled_from(["", 5]))),
    ("pattern_type", st.sampled_from(["stix", "sigma", None])),
    ("valid_from", st.sampled_from(STAMPS)),
    ("x_misp_value", st.sampled_from(["anything", 3, None])),
]


@st.composite
def stix_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A valid object of some type, changed in a few places (each may make it invalid)."""
    obj = _valid(draw(st.sampled_from(TYPES)))
    for _ in range(draw(st.integers(0, 4))):
        name, values = draw(st.sampled_from(CHANGES))
        if draw(st.integers(0, 9)) == 0:
            obj.pop(name, None)
        else:
            obj[name] = draw(values)
    return obj


def _reference_row(obj: dict[str, Any], index: int, tlp: int) -> tuple[Any, ...]:
    reference = typed_reference(obj)
    assert reference is not None
    stix_type, fields = reference
    return prepared_row(obj, index, tlp, stix_type, fields)


@settings(max_examples=4000, deadline=None)
@given(stix_objects())
@example({"type": "file", "id": f"file--{UUID}", "hashes": {"\u017fha1": "a" * 40}})
@example({"type": "file", "id": f"file--{UUID}", "hashes": {"MD5": "a" * 32, "md5": "A" * 32}})
@example({"type": "url", "id": f"url--{UUID}", "spec_version": None, "value": "http://a.b/"})
@example(
    {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{UUID}",
        "created": STAMP,
        "modified": STAMP,
        "relationship_type": "uses",
        "source_ref": f"a-b--c--{UUID}",
        "target_ref": f"ab--{UUID}",
    }
)
def test_compiled_object_answers_as_the_reference(obj: dict[str, Any]) -> None:
    assert ingest._compiled is not None
    compiled = ingest._compiled.prepare_object(obj)
    row = ingest._compiled.prepare_row(obj, 4, 2)
    if compiled is None:
        assert row is None
        return
    assert compiled == typed_reference(obj)
    assert row == _reference_row(obj, 4, 2)


def _eset_objects(shared_data: Path) -> list[dict[str, Any]]:
    files = sorted((shared_data / "misp" / "eset").rglob("*.json"))
    assert files, f"{shared_data} holds no misp/eset events"
    events = [event for path in files for event in misp.load_events(path.read_bytes())]
    return list(misp.EventMapper(Conversion(source="eset", strict=False)).objects(events))


def test_compiled_path_takes_the_eset_import_but_references_through_a_value(
    shared_data: Path,
) -> None:
    """What a MISP import is made of goes the compiled path, answering as the reference.

    Left to Python: indicators comparing a reference's value (`domain|ip`),
    whose kind the value tells (`patterns._through_reference`).
    """
    assert ingest._compiled is not None
    left = []
    for index, obj in enumerate(_eset_objects(shared_data)):
        row = ingest._compiled.prepare_row(obj, index, 1)
        if row is None:
            left.append(obj)
            continue
        assert row == _reference_row(obj, index, 1)
    assert left, "the ESET set has domain|ip indicators"
    assert all("_ref" in obj["pattern"] for obj in left), [obj.get("pattern") for obj in left]


class _HashesDict(dict[str, Any]):
    def items(self) -> Any:  # type: ignore[override]
        return [("MD5", "b" * 32)]


def test_a_hashes_dict_subclass_is_left_to_python() -> None:
    assert ingest._compiled is not None
    obj = {"type": "file", "id": f"file--{UUID}", "hashes": _HashesDict(MD5="a" * 32)}
    assert ingest._compiled.prepare_object(obj) is None


def test_a_hashes_dict_changed_by_a_collection_is_read_whole() -> None:
    """The hashes are copied before values are made: a collection that changes them is harmless."""
    assert ingest._compiled is not None
    hashes = {"MD5": "".join(["a"] * 32), "SHA-1": "".join(["b"] * 40)}
    obj = {"type": "file", "id": f"file--{UUID}", "hashes": hashes, "name": "x.exe"}

    def change(phase: str, _info: dict[str, Any]) -> None:  # the gc callback signature
        if phase == "start":
            hashes.clear()
            obj.pop("name", None)

    gc.callbacks.append(change)
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        result = ingest._compiled.prepare_object(obj)
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(change)
    # Whatever the collection took away before it was read, what was read is whole.
    found = set() if result is None else set(result[1][3])
    assert found <= {("md5", "a" * 32), ("sha1", "b" * 40), ("filename", "x.exe")}


@settings(max_examples=2000, deadline=None)
@given(patterns())
@example("[file:name = 'a.exe' AND file:hashes.'SHA-1' = '" + "A" * 40 + "']")
@example("[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\x' OR mutex:name = 'm']")
@example("[domain-name:value = 'a.example' AND domain-name:value = 'A.example']")
def test_compiled_pattern_observables_answer_as_the_reference(pattern: str) -> None:
    assert ingest._compiled is not None
    obj = _valid("indicator") | {"pattern": pattern}
    compiled = ingest._compiled.prepare_indicator(obj)
    if compiled is not None:
        reference = typed_reference(obj)
        assert reference is not None
        assert compiled == reference[1]


# --------------------------------------------------------------------------- parsed trees


def _containers(tree: Any) -> list[Any]:
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list | tuple):
            found.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    return found


def test_untrack_parsed_hides_a_json_tree_from_the_collector_and_changes_nothing() -> None:
    document = {"a": [{"b": [1, "x", None, {"c": []}]}, {}], "d": {"e": [[2.5]]}}
    parsed = orjson.loads(orjson.dumps(document))
    assert any(gc.is_tracked(node) for node in _containers(parsed))
    ingest.untrack_parsed(parsed)
    assert not any(gc.is_tracked(node) for node in _containers(parsed))
    assert parsed == document


def test_untrack_tree_leaves_other_containers_alone_and_ends_on_a_cycle() -> None:
    assert ingest._compiled is not None

    class Mapping(dict[str, Any]):
        """Not a plain dict: untrack_tree must leave it (and what it holds) tracked."""

    inner = {"x": [1]}
    held = Mapping(inner=inner)
    pair = (inner, [2])
    cyclic: dict[str, Any] = {"held": held, "pair": pair}
    cyclic["self"] = cyclic
    cyclic["list"] = [cyclic]
    ingest._compiled.untrack_tree(cyclic)
    assert not gc.is_tracked(cyclic)
    assert not gc.is_tracked(cyclic["list"])
    # Not entered: a dict subclass, a tuple, and what only they hold.
    assert gc.is_tracked(held)
    assert gc.is_tracked(pair)
    assert gc.is_tracked(inner)
    assert gc.is_tracked(pair[1])


def test_untrack_tree_walks_a_deep_tree_without_recursion() -> None:
    assert ingest._compiled is not None
    deep: list[Any] = []
    node = deep
    for _ in range(200_000):
        child: list[Any] = []
        node.append(child)
        node = child
    ingest._compiled.untrack_tree(deep)
    assert not gc.is_tracked(node)
