"""Ingest's compiled pieces (`intel/_ingest.c`) answer as the Python reference does.

* `prepare_indicator` against `check_object` + `_observables_of` +
  `_search_text`: whenever it answers (it may leave an object to Python), the
  answer is the reference's, on indicators built from pieces that reach the
  edges of its hand-written matchers (timestamps of every shape, ids of the
  wrong type or case, every pattern path with near-miss values, white space,
  escapes, non-ASCII, NUL).
* `iter_bundle`'s sliced reader against ijson alone, the reference reader:
  the same objects in the same order and the same error, on real and
  generated bundles mutated at random, read in tiny slices as in large ones.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shieldwall.correlate import keys
from shieldwall.demo.generate import indicators
from shieldwall.errors import BadInput
from shieldwall.intel import ingest
from shieldwall.intel.ingest import _observables_of, _search_text
from shieldwall.intel.patterns import PatternError
from shieldwall.intel.stix import ObjectInvalid, check_object
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(
    not ingest.COMPILED and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="SKIPPING: shieldwall.intel._ingest is not built (no C compiler at install time)",
)

UUID = "61c72acf-8624-5719-8fc0-8755439f8d60"
STAMPS = [
    "2024-02-18T02:26:50.000Z",
    "2024-02-18T02:26:50.123Z",
    "2025-01-01T00:00:00.000Z",
    "2023-01-01T00:00:00.000Z",
    "2024-02-18T02:26:50Z",
    "2024-02-18T02:26:50.1234Z",
    "2024-02-18T02:26:50.000z",
    "2024-02-18 02:26:50.000Z",
    "\uff12024-02-18T02:26:50.000Z",  # a full-width digit
    "",
    None,
    12,
]
VALUES = [
    "1.2.3.4",
    "01.2.3.4",
    "1.2.3.4/24",
    "1.2.3.4/32",
    "256.1.1.1",
    " 1.2.3.4",
    "1.2.3.4\x1c",
    "1.2.3.4\x00",
    "2001:DB8::1",
    "2001:db8::1",
    "::ffff:1.2.3.4",
    "fe80::1%eth0",
    "Example.COM",
    "example.com.",
    "a_b.example.com",
    "-a.example.com",
    "a-.example.com",
    "a..com",
    "x.c",
    "x." + "a" * 64,
    "bücher.de",
    "a" * 250 + ".com",
    "http://Example.COM",
    "HTTP://example.com/a/b?x=1&y=2#frag",
    "http://example.com/?",
    "http://example.com/a b",
    "http://[2001:db8::1]/x",
    "ftp://u:p@Host:21/x?y?z",
    "http:/example.com",
    "Bob@Example.com",
    "a@b@c",
    "@b",
    "a b@c",
    "a" * 32,
    "A" * 40,
    "0" * 64,
    "f" * 128,
    "g" * 32,
    "it\\'s",
    "back\\\\slash",
    "tab\there",
    "",
    "x" * 2049,
    "ünï.exe",
]
PATHS = [
    "ipv4-addr:value",
    "ipv6-addr:value",
    "domain-name:value",
    "url:value",
    "email-addr:value",
    "email-message:from_ref.value",
    "file:name",
    "file:hashes.MD5",
    "file:hashes.'SHA-1'",
    "file:hashes.'SHA-256'",
    "file:hashes.'SHA-512'",
    "file:hashes.md5",
    "artifact:hashes.'SHA-256'",
    "network-traffic:dst_ref.value",
    "process:name",
    "x-custom:value",
]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    path, value = draw(st.sampled_from(PATHS)), draw(st.sampled_from(VALUES))
    shape = draw(
        st.sampled_from(["[{p} = '{v}']", "[{p}  = '{v}']", "[{p} = '{v}'] ", "[{p} = {v}]"])
    )
    return shape.format(p=path, v=value)


def _maybe(value: Any) -> Any:
    return st.one_of(st.just(value), st.just(None))


@st.composite
def indicator_objects(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(st.sampled_from(STAMPS))
    obj: dict[str, Any] = {
        "type": draw(st.sampled_from(["indicator", "indicator", "Indicator", "malware", 5])),
        "spec_version": draw(st.sampled_from(["2.1", "2.1", "2.0", None])),
        "id": draw(
            st.sampled_from(
                [
                    f"indicator--{UUID}",
                    f"indicator--{UUID.upper()}",
                    f"malware--{UUID}",
                    f"indicator--{UUID[:-1]}",
                    f"indicator-{UUID}x",
                    f"indicator--{UUID[:-1]}é",
                ]
            )
        ),
        "created": created,
        "modified": draw(st.one_of(st.just(created), st.sampled_from(STAMPS))),
        "pattern": draw(
            st.one_of(patterns(), st.sampled_from(["", 5, "[a:b = 'c'] AND [d:e = 'f']"]))
        ),
        "pattern_type": draw(st.sampled_from(["stix", "stix", "sigma", "", None])),
    }
    obj["valid_from"] = draw(st.one_of(st.just(obj["modified"]), st.sampled_from(STAMPS)))
    for name, pool in [
        ("valid_until", STAMPS),
        ("created_by_ref", [f"identity--{UUID}", f"identity--{UUID.upper()}", "identity--x", None]),
        (
            "object_marking_refs",
            [[], [f"marking-definition--{UUID}"], [f"identity--{UUID}"], "x", [1], None],
        ),
        ("granular_markings", [[], [{"selectors": ["name"]}]]),
        ("revoked", [True, False, "true", 1]),
        ("name", ["", "MiXed Name", "Ünïcode NAME", "x" * 2500, 5, None]),
        ("value", ["Some Value", ""]),
    ]:
        if draw(st.booleans()):
            obj[name] = draw(st.sampled_from(pool))
    for name in ("spec_version", "created", "modified", "valid_from", "pattern"):
        if draw(st.integers(0, 20)) == 0:
            del obj[name]
    return obj


def typed_reference(obj: dict[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    """(type, prepared fields) as ingest's Python path makes them; None if it rejects the object."""
    try:
        checked = check_object(obj)
        found = _observables_of(obj, checked.stix_type)
    except (ObjectInvalid, PatternError):
        return None
    found = tuple(found) if len(found) < 2 else tuple(dict.fromkeys(found))
    fields = (
        checked.stix_id,
        checked.version_key,
        checked.marking_refs,
        found,
        obj.get("revoked") is True,
        _search_text(obj),
    )
    return checked.stix_type, fields


def _reference(obj: dict[str, Any]) -> tuple[Any, ...] | None:
    """What ingest's Python path makes of an indicator, or None if it rejects it."""
    typed = typed_reference(obj)
    return None if typed is None else typed[1]


@settings(max_examples=3000, deadline=None)
@given(indicator_objects())
@example({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{UUID}"})
def test_compiled_indicator_answers_as_the_reference(obj: dict[str, Any]) -> None:
    assert ingest._compiled is not None
    compiled = ingest._compiled.prepare_indicator(obj)
    row = ingest._compiled.prepare_row(obj, 7, 2)
    if compiled is None:
        # Other types are prepare_object's (tests/intel/test_compiled_objects.py).
        assert row is None or obj["type"] != "indicator"
    else:
        assert _reference(obj) == compiled
        assert obj["type"] == "indicator"
        assert row == _reference_row(obj, 7, 2)


def _reference_row(obj: dict[str, Any], index: int, tlp: int) -> tuple[Any, ...]:
    """The tuple `Ingestor._prepare` makes of an indicator (given a TLP)."""
    return prepared_row(obj, index, tlp, "indicator", _reference(obj) or ())


def prepared_row(
    obj: dict[str, Any], index: int, tlp: int, stix_type: str, checked: tuple[Any, ...]
) -> tuple[Any, ...]:
    """`Ingestor._prepare`'s tuple of an object, from the reference's checked fields."""
    stix_id, version_key, refs, found, revoked, text = checked
    data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    return (
        index,
        stix_id,
        stix_type,
        version_key,
        refs,
        found,
        revoked,
        text,
        digest,
        data.decode(),
        tlp,
    )


def test_compiled_indicator_takes_the_common_shapes() -> None:
    """The generated indicators (every kind of value) never need the Python path."""
    assert ingest._compiled is not None
    for obj in indicators(500, seed=3):
        compiled = ingest._compiled.prepare_indicator(obj)
        assert compiled is not None, obj
        assert compiled == _reference(obj)
        assert ingest._compiled.prepare_row(obj, 3, 1) == _reference_row(obj, 3, 1)
    with_refs = {
        **obj,
        "created_by_ref": f"identity--{UUID}",
        "object_marking_refs": [f"marking-definition--{UUID}"],
        "valid_until": "2099-01-01T00:00:00.000Z",
        "revoked": True,
    }
    assert ingest._compiled.prepare_indicator(with_refs) == _reference(with_refs)
    assert ingest._compiled.prepare_indicator(with_refs) is not None


# --------------------------------------------------------------------------- reading


def _reference_items(stream: io.BytesIO) -> Iterator[Any]:
    shape = ingest._document_shape(stream)
    if shape == "object":
        yield from ingest.iter_bundle(stream)
        return
    yield from ingest._ijson_items(stream, "item" if shape == "array" else "objects.item", 0)


def _read(reader: Any, body: bytes) -> list[Any]:
    out: list[Any] = []
    try:
        out.extend(reader(io.BytesIO(body)))
    except BadInput as exc:
        out.append(("error", str(exc), exc.where))
    return out


def _documents() -> list[bytes]:
    objects = list(indicators(40, seed=5))
    objects[3] = {**objects[3], "nested": {"a": [1, 2.5, {"b": ']},\\"['}], "c": None}}
    objects[7] = {**objects[7], "name": "ünï \\ \" ' ]"}
    documents = [
        orjson.dumps({"type": "bundle", "id": f"bundle--{UUID}", "objects": objects}),
        orjson.dumps(objects[:5]),
        b'{"id": "bundle--x", "objects" : [ 1 , "s" , [] , {} , null , -0.5 ] , "type": "bundle"}',
    ]
    real = SHARED_DATA / "stix21/oasis-examples/threat-reports/apt1.json"
    if real.is_file():
        documents.append(real.read_bytes())
    return documents


DOCUMENTS = _documents()


PIECES = [
    b"{", b"}", b"[", b"]", b",", b'"', b"\\", b":", b" ", b"\n", b"\x0b", b"null", b"tru",
    b"1e5", b"1E400", b"12345678901234567890", b"-", b"0.5", b"\\ud800", b"\xff", b"\xc3\xa9",
    b"\x00", b'"\\u0000"', b'"objects"', b'"objects":[{"a":1}]', b"/*x*/",
    b'"objects.item":{"x":1},', b'"\\udc00"', b'"\xed\xa0\x80"',
]  # fmt: skip


@contextmanager
def _sizes(small: bool) -> Iterator[None]:
    """Reads and slices of a few bytes, so that every cut falls somewhere new."""
    saved = ingest._READ_BYTES, ingest._SLICE_BYTES, ingest._TAIL_LIMIT
    if small:
        ingest._READ_BYTES, ingest._SLICE_BYTES, ingest._TAIL_LIMIT = 97, 61, 200
    try:
        yield
    finally:
        ingest._READ_BYTES, ingest._SLICE_BYTES, ingest._TAIL_LIMIT = saved


@settings(max_examples=600, deadline=None)
@given(data=st.data(), small=st.booleans())
def test_sliced_reader_reads_as_ijson(data: st.DataObject, small: bool) -> None:
    body = bytearray(data.draw(st.sampled_from(DOCUMENTS)))
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(body)))
        change = data.draw(st.sampled_from(["insert", "delete", "truncate"]))
        if change == "insert":
            body[at:at] = data.draw(st.sampled_from(PIECES))
        elif change == "delete":
            del body[at : at + data.draw(st.integers(1, 5))]
        else:
            del body[at:]
    with _sizes(small):
        got = _read(ingest.iter_bundle, bytes(body))
    assert repr(got) == repr(_read(_reference_items, bytes(body)))


def test_sliced_reader_reads_the_whole_of_a_valid_bundle_itself() -> None:
    """No hand-over to ijson on a valid bundle: the fast path is the one measured."""
    body = orjson.dumps(
        {"type": "bundle", "id": f"bundle--{UUID}", "objects": list(indicators(50))}
    )
    stream = io.BytesIO(body)
    ingest._document_shape(stream)
    reader = ingest._sliced_items(stream, "objects.item")
    given, handed_over = _drain(reader)
    assert handed_over is None
    assert given == list(indicators(50))


def _drain(reader: Generator[Any, None, int | None]) -> tuple[list[Any], int | None]:
    """A generator's items and what it returned."""
    given: list[Any] = []
    while True:
        try:
            given.append(next(reader))
        except StopIteration as stop:
            return given, stop.value


# --------------------------------------------------------------------------- correlation keys

#: With an Arabic-Indic digit (\u0661), a digit to str.isdigit but not to C.
KEY_PIECES = [
    "a", "B", ".", "..", ":", "/", "?", "@", "[", "]", "1", "255", "0", "://", "http", "ü",
    "\u0661", "\x00", " ", "example.com", "8080", "::", "ffff", "1.2.3.4",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    kind=st.sampled_from(["ipv4", "ipv6", "domain", "url", "md5", "filename"]),
    value=st.one_of(
        st.lists(st.sampled_from(KEY_PIECES), max_size=12).map("".join),
        st.ip_addresses().map(str),
        st.text(max_size=30),
    ),
)
def test_compiled_key_of_answers_as_the_reference(kind: str, value: str) -> None:
    assert keys.key_of is not keys.key_of_python, "the compiled key_of is not in use"
    outcomes = []
    for key_of in (keys.key_of, keys.key_of_python):
        try:
            outcomes.append(key_of(kind, value))
        except ValueError as exc:  # socket's answer to a NUL, from both
            outcomes.append(f"{type(exc).__name__}: {exc}")
    assert outcomes[0] == outcomes[1]


#: Documents whose reading turns on what only ijson knows: a top-level key with
#: the items' own prefix (ijson gives its value as an item), strings that are
#: no UTF-8 once unescaped (ijson's C backend raises UnicodeDecodeError).
AWKWARD_DOCUMENTS = [
    b'{"type":"bundle","objects.item":{"id":"X"},"objects":[{"id":"A"},{"id":"B"}]}',
    b'{"objects.item":7,"type":"bundle","objects":[{"id":"A"}]}',
    b'{"type":"bundle","objects":[{"id":"A"}],"objects.item":{"id":"Z"}}',
    b'{"type":"bundle","objects":[{"id":"A"},{"a":"\\udc00"}]}',
    b'{"type":"bundle","objects":[{"id":"A"},{"a":"\xed\xa0\x80"}]}',
    b'{"type":"bundle","objects":[{"id":"A"},{"a":"\\udc00","n":12345678901234567890}]}',
    b'{"type":"bundle","x":"\\udc00","objects":[{"id":"A"}]}',
    b'[{"id":"A"},{"a":"\\udc00"}]',
]


@pytest.mark.parametrize("body", AWKWARD_DOCUMENTS)
def test_sliced_reader_reads_awkward_documents_as_ijson(body: bytes) -> None:
    got = _read(ingest.iter_bundle, body)
    assert repr(got) == repr(_read(_reference_items, body))
    assert all(not isinstance(item, tuple) or "invalid JSON" in item[1] for item in got)
