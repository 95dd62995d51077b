"""The pattern fast path against stix2-patterns, the authority on the grammar.

Two properties: on simple patterns (one observation of `path = 'literal'`
comparisons joined by OR or AND) the fast path extracts exactly what stix2-patterns
extracts; and on anything at all, including near misses of simple patterns,
the fast path never accepts what stix2-patterns refuses. Whatever the input,
extraction either succeeds or raises PatternError: an import never crashes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from stix2patterns.v21.pattern import Pattern

from shieldwall.intel.patterns import (
    PatternError,
    fast_comparisons,
    pattern_observables,
    slow_comparisons,
)

#: Paths as producers write them, and the canonical path both sides return.
PATHS = {
    "ipv4-addr:value": "ipv4-addr:value",
    "ipv6-addr:value": "ipv6-addr:value",
    "domain-name:value": "domain-name:value",
    "url:value": "url:value",
    "email-addr:value": "email-addr:value",
    "email-message:from_ref.value": "email-message:from_ref.value",
    "file:name": "file:name",
    "file:hashes.MD5": "file:hashes.MD5",
    "file:hashes.'MD5'": "file:hashes.MD5",
    "file:hashes.'SHA-1'": "file:hashes.SHA-1",
    "file:hashes.'SHA-256'": "file:hashes.SHA-256",
    "file:hashes.SHA256": "file:hashes.SHA256",
    "file:hashes.'SHA-512'": "file:hashes.SHA-512",
    "artifact:hashes.'SHA-256'": "artifact:hashes.SHA-256",
    "domain-name:resolves_to_refs[*].value": "domain-name:resolves_to_refs.*.value",
    "network-traffic:dst_ref.value": "network-traffic:dst_ref.value",
    "email-message:to_refs[*].value": "email-message:to_refs.*.value",
    # Silent paths (no observable) MISP writes for regkey, regkey|value and mutex.
    "windows-registry-key:key": "windows-registry-key:key",
    "windows-registry-key:values[*].data": "windows-registry-key:values.*.data",
    "mutex:name": "mutex:name",
}

#: Whitespace the STIX grammar skips between tokens.
GRAMMAR_SPACE = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", " \t "])
#: Characters Python's `\s` and `str.strip()` call whitespace; not all are the grammar's.
ODD_SPACE = st.sampled_from(
    ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u2028", "\u3000"]
)

VALUE_CHARS = st.sampled_from(
    [*"abcXYZ019.-_:/@?=&% ", "'", "\\", "é", "д", "\u200b", "\n", "]", "["]
)


def escape(value: str) -> str:
    """A STIX string literal's body: backslash and quote escaped."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


@st.composite
def comparison(draw: st.DrawFn) -> tuple[str, str, str]:
    """(pattern text, canonical path, value) of one `path = 'value'` comparison."""
    written = draw(st.sampled_from(sorted(PATHS)))
    value = draw(st.text(VALUE_CHARS, min_size=0, max_size=24))
    before, after = draw(GRAMMAR_SPACE), draw(GRAMMAR_SPACE)
    return f"{written}{before}={after}'{escape(value)}'", PATHS[written], value


@st.composite
def simple_pattern(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A simple pattern and the (path, value) pairs it compares, in order."""
    parts = draw(st.lists(comparison(), min_size=1, max_size=5))
    glue = [
        f"{draw(GRAMMAR_SPACE)}{draw(st.sampled_from(['OR', 'AND']))}{draw(GRAMMAR_SPACE)}"
        for _ in parts[1:]
    ]
    body = parts[0][0] + "".join(g + text for g, (text, _, _) in zip(glue, parts[1:], strict=True))
    opening = draw(st.sampled_from(["", " "]))
    closing = draw(st.sampled_from(["", " "]))
    return f"[{opening}{body}{closing}]", [(path, value) for _, path, value in parts]


def _mutations(pattern: str) -> list[str]:
    """Near misses of a valid pattern: one small slip each."""
    return [
        pattern[:-1],  # no closing bracket
        pattern[1:],  # no opening bracket
        pattern.replace("'", "", 1),  # an unbalanced quote
        pattern.replace("\\'", "'", 1),  # an unescaped quote
        pattern.replace("\\\\", "\\", 1),  # a lone backslash
        pattern.replace(" OR ", " or ", 1),
        pattern.replace(" OR ", " OR OR ", 1),
        pattern.replace(" AND ", " and ", 1),
        pattern.replace(" AND ", " AND OR ", 1),
        pattern.replace("=", "!=", 1),
        pattern.replace("=", "", 1),
        pattern.replace(":", "", 1),
        pattern.replace("-addr", "_addr", 1),
        pattern.replace("'SHA-256'", "SHA-256", 1),  # an unquoted hyphenated key
        pattern + " AND",
        pattern + "]",
        "[" + pattern,
        pattern.replace("]", "] OR [", 1),
    ]


@st.composite
def near_miss(draw: st.DrawFn) -> str:
    pattern, _ = draw(simple_pattern())
    how = draw(st.integers(0, 3))
    if how == 0:
        return draw(st.sampled_from(_mutations(pattern)))
    if how == 1:  # an odd whitespace character somewhere between tokens
        spaces = [i for i, char in enumerate(pattern) if char == " "] or [len(pattern)]
        at = draw(st.sampled_from([0, len(pattern), *spaces]))
        return pattern[:at] + draw(ODD_SPACE) + pattern[at:]
    if how == 2:  # one character dropped
        at = draw(st.integers(0, len(pattern) - 1))
        return pattern[:at] + pattern[at + 1 :]
    at = draw(st.integers(0, len(pattern)))  # one character inserted
    return pattern[:at] + draw(st.sampled_from(["'", "\\", "[", "]", "=", ":", "."])) + pattern[at:]


def _grammar_accepts(pattern: str) -> bool:
    try:
        Pattern(pattern)
    except Exception:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(simple_pattern())
@example(("[file:hashes.'SHA-256' = 'ab\\'c\\\\d']", [("file:hashes.SHA-256", "ab'c\\d")]))
def test_fast_path_extracts_exactly_what_stix2_patterns_extracts(
    case: tuple[str, list[tuple[str, str]]],
) -> None:
    pattern, compared = case
    assert _grammar_accepts(pattern), pattern
    fast = fast_comparisons(pattern)
    assert fast is not None, f"a simple pattern missed the fast path: {pattern!r}"
    assert fast == compared
    # stix2-patterns groups comparisons by object type: same pairs, its own order.
    assert sorted(fast) == sorted(slow_comparisons(pattern))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_miss())
@example("[ipv4-addr:value = '198.51.100.7']\x1c")
@example("[ipv4-addr:value\x1f= '198.51.100.7']")
@example("[ipv4-addr:value = '198.51.100.7' OR\x1dipv4-addr:value = '198.51.100.8']")
def test_fast_path_never_accepts_what_stix2_patterns_refuses(pattern: str) -> None:
    fast = fast_comparisons(pattern)
    if fast is None:
        return
    assert _grammar_accepts(pattern), f"fast path accepted an invalid pattern: {pattern!r}"
    assert sorted(fast) == sorted(slow_comparisons(pattern))


@settings(max_examples=300, deadline=None)
@given(st.one_of(near_miss(), st.text(max_size=60)))
def test_any_text_is_observables_or_pattern_error(pattern: str) -> None:
    try:
        found = pattern_observables(pattern)
    except PatternError:
        assert not _grammar_accepts(pattern), f"a valid pattern was refused: {pattern!r}"
        return
    assert isinstance(found, list)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", [("ipv4", "198.51.100.7")]),
        ("[ ipv4-addr:value = '10.0.0.0' ]", [("ipv4", "10.0.0.0")]),
        ("[ipv4-addr:value = '198.51.100.0/24']", [("cidr", "198.51.100.0/24")]),
        ("[ipv4-addr:value = '198.51.100.7/32']", [("ipv4", "198.51.100.7")]),
        (
            "[domain-name:value = 'Evil.Example.' OR ipv4-addr:value = '198.51.100.7']",
            [("domain", "evil.example"), ("ipv4", "198.51.100.7")],
        ),
        (
            "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '198.51.100.7']",
            [("ipv4", "198.51.100.7")],
        ),
        (f"[file:hashes.'SHA-256' = '{'AB' * 32}']", [("sha256", "ab" * 32)]),
        (f"[file:hashes.MD5 = '{'c' * 32}']", [("md5", "c" * 32)]),
        # The slow path: other operators, AND, observation operators.
        (
            "[domain-name:value = 'a.example'] AND [url:value = 'http://B.example/x']",
            [("domain", "a.example"), ("url", "http://b.example/x")],
        ),
        ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", []),
        ("[email-message:subject MATCHES '^[IMPORTANT] Please Review']", []),
        ("[file:name = 'CBricksDoc']", [("filename", "CBricksDoc")]),
        ("[ipv4-addr:value = 'not an address']", []),
        # Through references: the value says what the referenced object is.
        (
            "[domain-name:value = 'evil.example' AND "
            "domain-name:resolves_to_refs[*].value = '198.51.100.7']",
            [("domain", "evil.example"), ("ipv4", "198.51.100.7")],
        ),
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND "
            "network-traffic:dst_ref.value = '198.51.100.9']",
            [("ipv4", "198.51.100.9")],
        ),
        ("[network-traffic:src_ref.value = '2001:DB8::1']", [("ipv6", "2001:db8::1")]),
        ("[network-traffic:dst_ref.value = 'C2.Example']", [("domain", "c2.example")]),
        ("[email-message:to_refs[*].value = 'X@Example.org']", [("email", "x@example.org")]),
        # A MAC address or a hash behind a reference is not an address.
        ("[network-traffic:dst_ref.value = '00:11:22:33:44:55']", []),
        (f"[network-traffic:dst_ref.value = '{'c' * 32}']", []),
    ],
)
def test_pattern_observables(pattern: str, expected: list[tuple[str, str]]) -> None:
    assert pattern_observables(pattern) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "ipv4-addr:value = '1.2.3.4'",
        "[ipv4-addr:value = '1.2.3.4'",
        "[ipv4-addr:value = 1.2.3.4]",
        "[ipv4-addr:value = '1.2.3.4' or ipv4-addr:value = '1.2.3.5']",
        "[ipv4-addr:value = 'it's']",
        "[] OR []",
        "[ipv4-addr:value = '1.2.3.4'] WITHIN -5 SECONDS",
    ],
)
def test_invalid_patterns_raise_pattern_error(pattern: str) -> None:
    with pytest.raises(PatternError):
        pattern_observables(pattern)
