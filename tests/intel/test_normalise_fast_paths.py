"""The C and slicing fast paths of normalisation give exactly what the library paths give.

Ingest and matching normalise every value they see, so the fast paths exist for
speed only: an address or URL normalised by the fast path and by `ipaddress` /
`urllib.parse` must be one value, or correlation and matching would miss.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.intel.observables import normalise


def _by_ipaddress(text: str) -> tuple[str, str] | None:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return ("ipv6", str(address))


def _by_urllib(text: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    canonical = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )
    return ("url", canonical)


_groups = st.one_of(st.just(0), st.just(1), st.just(0xFFFF), st.integers(0, 0xFFFF))


@settings(max_examples=3000, deadline=None)
@given(st.lists(_groups, min_size=8, max_size=8), st.booleans())
def test_ipv6_fast_path_agrees_with_ipaddress(words: list[int], upper: bool) -> None:
    text = ":".join(f"{word:x}" for word in words)
    text = text.upper() if upper else text
    assert normalise("ipv6", text) == _by_ipaddress(text)
    compressed = str(ipaddress.IPv6Address(text))
    assert normalise("ipv6", compressed) == _by_ipaddress(compressed)


def test_ipv6_forms_glibc_writes_differently_still_follow_ipaddress() -> None:
    for text in ("::ffff:1.2.3.4", "::1.2.3.4", "::ffff:0:0", "64:ff9b::1.2.3.4", "::", "::1"):
        assert normalise("ipv6", text) == _by_ipaddress(text), text


_url_chars = st.sampled_from([*"aZ09-._~:/?#[]@!$&'()*+,;=% \t\"<>^`{|}\\", "é", "\x00"])
_url_text = st.text(_url_chars, max_size=30)


@settings(max_examples=5000, deadline=None)
@given(
    st.sampled_from(["http", "HTTPS", "ftp", "h2+x", "1bad", ""]),
    st.sampled_from(["://", ":", "//", ":///"]),
    _url_text,
)
def test_url_fast_path_agrees_with_urllib(scheme: str, separator: str, rest: str) -> None:
    text = f"{scheme}{separator}{rest}"
    assert normalise("url", text) == _by_urllib(text), text


def test_url_fast_path_examples() -> None:
    assert normalise("url", "HTTP://Ex.ORG") == ("url", "http://ex.org/")
    assert normalise("url", "http://ex.org/A?b=C#frag") == ("url", "http://ex.org/A?b=C")
    assert normalise("url", "http://ex.org/a?") == ("url", "http://ex.org/a")
    assert normalise("url", "http://[2001:db8::1]:80/x") == ("url", "http://[2001:db8::1]:80/x")
    assert normalise("url", "http:///nohost") is None
