"""JSON nested too deep is refused before a parser sees it (ijson's cost grows with depth²).

Without the guard, 100 KB of `[` in one posted bundle took ijson 6 GB of
memory and 4 s of CPU; with it the request is a 400 naming the limit, and
the store is unchanged.
"""

from __future__ import annotations

import io
import resource

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from shieldwall.errors import BadInput
from shieldwall.intel.depth import MAX_DEPTH, DepthGuard, DepthGuardedReader
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.factories import Coalition, bundle, indicator
from tests.intel.store import Rows, post_bundle, rows
from tests.taxii.helpers import ROOT, collections, headers


def _deepest(data: bytes) -> int:
    """The reference: a byte-by-byte walk that knows strings and escapes."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _refused(data: bytes, cuts: list[int], limit: int) -> bool:
    guard = DepthGuard(limit)
    start = 0
    try:
        for cut in [*sorted(cuts), len(data)]:
            guard.feed(data[start:cut])
            start = cut
    except BadInput:
        return True
    return False


_TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\é\n/'), max_size=6)
_JSON = st.recursive(
    st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_the_guard_measures_depth_as_a_byte_walk_does_however_reads_split_it(
    value: object, cuts: list[int]
) -> None:
    data = orjson.dumps(value)
    deepest = _deepest(data)
    cuts = [cut % (len(data) + 1) for cut in cuts]
    for limit in {0, max(deepest - 1, 0), deepest, deepest + 1}:
        assert _refused(data, cuts, limit) == (deepest > limit), (data, cuts, limit)


@pytest.mark.parametrize(
    ("text", "deepest"),
    [
        (b'["]]]]", "[[[["]', 1),  # brackets in strings do not count
        (b'["\\"[[", [[]]]', 3),  # an escaped quote does not end the string
        (b'["\\\\", [[]]]', 3),  # an escaped backslash does not escape the quote
        (b'[{"a": [{"b": []}]}]', 5),
    ],
)
def test_strings_and_escapes_split_at_every_byte(text: bytes, deepest: int) -> None:
    assert _deepest(text) == deepest
    for cut in range(len(text) + 1):
        assert not _refused(text, [cut], deepest)
        assert _refused(text, [cut], deepest - 1)
        assert not _refused(text, [cut, cut + 1, cut + 2], deepest)


def test_the_reader_starts_again_at_seek_zero() -> None:
    reader = DepthGuardedReader(io.BytesIO(b'{"objects": [[[["x"]]]]}'), limit=5)
    assert reader.read(15) == b'{"objects": [[['
    reader.seek(0)
    assert orjson.loads(reader.read()) == {"objects": [[[["x"]]]]}
    with pytest.raises(io.UnsupportedOperation):
        reader.seek(3)


def _nested(depth: int) -> bytes:
    return b'{"type": "bundle", "objects": [' + b"[" * depth + b"]" * depth + b"]}"


def test_a_deeply_nested_bundle_is_a_400_and_stores_nothing(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    good = post_bundle(client, coalition.auth("Sponsor A"), bundle(indicator("192.0.2.9")))
    assert good.status_code == 200, good.text
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = post_bundle(client, coalition.auth("Sponsor A"), _nested(50_000))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["where"] == "body"
    assert f"nested deeper than {MAX_DEPTH} levels" in body["detail"]
    # Unguarded, ijson's prefixes alone took gigabytes here.
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 200
    assert rows(engine) == Rows(1, 1)


def test_nesting_in_the_envelope_is_refused_too(client: TestClient, coalition: Coalition) -> None:
    body = b'{"type": "bundle", "x_deep": ' + b"[" * 5_000 + b"]" * 5_000 + b', "objects": []}'
    response = post_bundle(client, coalition.auth("Sponsor A"), body)
    assert response.status_code == 400, response.text
    assert "nested deeper" in response.json()["detail"]


def test_a_deep_taxii_envelope_is_a_400(client: TestClient, coalition: Coalition) -> None:
    members = collections(client, headers(coalition, "Host"))["Members"]
    response = client.post(
        f"{ROOT}/collections/{members}/objects/",
        content=_nested(50_000),
        headers={**headers(coalition, "Host"), "Content-Type": TAXII_MEDIA_TYPE},
    )
    assert response.status_code == 400, response.text
    assert "nested deeper" in response.json()["description"]


def test_real_stix_is_far_from_the_limit() -> None:
    deep_but_real = {"objects": [{"extensions": {"x": {"a": [{"b": [{"c": [1]}]}]}}}]}
    assert _deepest(orjson.dumps(deep_but_real)) < MAX_DEPTH // 5


def test_format_detection_refuses_a_deep_head_before_ijson_reads_it(
    client: TestClient, coalition: Coalition
) -> None:
    # Unguarded, detecting the format of these 64 KiB took 7.5 s and 10 GB.
    started = resource.getrusage(resource.RUSAGE_SELF)
    response = client.post(
        "/api/v1/imports", content=b"[" * 65_536, headers=coalition.auth("Sponsor A")
    )
    ended = resource.getrusage(resource.RUSAGE_SELF)
    assert response.status_code == 400, response.text
    assert f"nested deeper than {MAX_DEPTH} levels" in response.json()["detail"]
    assert ended.ru_utime - started.ru_utime < 2.0
