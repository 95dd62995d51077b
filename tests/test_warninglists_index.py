"""The warninglist index answers as a plain per-list scan would (its fast paths change nothing)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.warninglists import MISP_TYPES, WarninglistIndex

LISTS: list[dict[str, Any]] = [
    {"name": "resolvers", "type": "cidr", "list": ["8.8.8.0/24", "2001:4860::/32"]},
    {
        "name": "top",
        "type": "hostname",
        "list": ["example.com", ".co.uk."],
        "matching_attributes": ["domain", "hostname", "url"],
    },
    {
        "name": "exact",
        "type": "string",
        "list": ["Evil.example", "1.2.3.4", "d41d8cd98f00b204e9800998ecf8427e"],
    },
    {
        "name": "mail",
        "type": "hostname",
        "list": ["mail.test"],
        "matching_attributes": ["email-src"],
    },
    {
        "name": "disposable",
        "type": "substring",
        "list": ["0815.ru", "trash", "10.20"],
        "matching_attributes": ["domain|ip", "email-src"],
    },
    {
        "name": "analysis",
        "type": "substring",
        "list": ["any.run"],
        "matching_attributes": ["url", "domain"],
    },
    {
        "name": "contacts",
        "type": "regex",
        "list": ["/^(abuse|noc)@/i"],
        "matching_attributes": ["email-src"],
    },
    {
        "name": "hashes",
        "type": "string",
        "list": ["DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"],
        "matching_attributes": ["sha1"],
    },
]


def _applies(warninglist: dict[str, Any], kind: str) -> bool:
    matching = set(warninglist.get("matching_attributes") or ())
    return not matching or bool(matching & MISP_TYPES[kind])


def _host(kind: str, value: str) -> str:
    if kind == "url":
        return urlsplit(value).hostname or ""
    return value.rpartition("@")[2] if kind == "email" else value


def _on_list(warninglist: dict[str, Any], kind: str, value: str) -> bool:
    """One list's verdict, written the slow, obvious way."""
    entries = [str(entry).strip() for entry in warninglist["list"]]
    lowered, list_type = value.lower(), warninglist["type"]
    if list_type == "cidr":
        if kind not in ("ipv4", "ipv6", "cidr"):
            return False
        network = ipaddress.ip_network(value, strict=False)
        return any(
            network.version == other.version and network.overlaps(other)
            for other in map(ipaddress.ip_network, entries)
        )
    if list_type == "string":
        return lowered in {entry.lower() for entry in entries}
    if list_type == "hostname":
        if kind in ("ipv4", "ipv6", "cidr"):
            return False
        host, names = _host(kind, lowered), {e.strip(".").lower() for e in entries}
        labels = host.split(".")
        return bool(host) and any(".".join(labels[i:]) in names for i in range(len(labels)))
    if list_type == "substring":
        return any(entry.lower() in lowered for entry in entries)
    return any(re.search(entry[1:-2], value, re.IGNORECASE) for entry in entries)


def _oracle(kind: str, value: str) -> bool:
    return any(_on_list(w, kind, value) for w in LISTS if _applies(w, kind))


INDEX = WarninglistIndex(LISTS)

TABLE = [
    ("ipv4", "8.8.8.8", True),
    ("ipv4", "8.8.9.8", False),
    ("cidr", "8.8.0.0/16", True),
    ("ipv6", "2001:4860::8888", True),
    ("ipv4", "1.2.3.4", True),
    ("ipv4", "110.20.3.4", True),
    ("domain", "www.example.com", True),
    ("domain", "example.com.evil", False),
    ("domain", "bbc.co.uk", True),
    ("domain", "evil.example", True),
    ("domain", "x.evil.example", False),
    ("domain", "app.any.run", True),
    ("domain", "trash-mail.net", True),
    ("url", "https://user@www.EXAMPLE.com:8443/path?q=1", True),
    ("url", "http://example.org/example.com", False),
    ("url", "http://[2001:db8::1]/example.com", False),
    ("url", "http://x/any.run", True),
    ("email", "Abuse@corp.test", True),
    ("email", "someone@sub.mail.test", True),
    ("email", "someone@corp.test", False),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", True),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e", True),
    ("sha256", "0" * 64, False),
    ("filename", "trash.exe", False),
    ("unknown-kind", "example.com", False),
]


def test_table() -> None:
    for kind, value, expected in TABLE:
        assert INDEX.is_listed(kind, value) is expected, (kind, value)
        if kind in MISP_TYPES:
            assert _oracle(kind, value) is expected, (kind, value)


_LABEL = st.sampled_from(
    ["example", "com", "co", "uk", "any", "run", "evil", "trash", "0815", "ru", "x"]
)
_HOST = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)


@st.composite
def _values(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["domain", "url", "email", "ipv4", "cidr"]))
    if kind == "domain":
        return kind, draw(_HOST)
    if kind == "url":
        scheme = draw(st.sampled_from(["http", "https", "ftp"]))
        user = draw(st.sampled_from(["", "u@", "u:p@"]))
        port = draw(st.sampled_from(["", ":80"]))
        path = draw(st.sampled_from(["", "/", "/a?b=any.run", "#x", "/0815.ru"]))
        return kind, f"{scheme}://{user}{draw(_HOST)}{port}{path}"
    if kind == "email":
        return kind, f"{draw(st.sampled_from(['abuse', 'me', 'noc']))}@{draw(_HOST)}"
    octets = draw(
        st.lists(st.sampled_from([1, 2, 3, 4, 8, 10, 20, 110, 255]), min_size=4, max_size=4)
    )
    address = ".".join(map(str, octets))
    return kind, address if kind == "ipv4" else f"{address}/{draw(st.integers(8, 32))}"


@settings(max_examples=400)
@given(_values())
def test_same_answer_as_a_scan_of_every_list(case: tuple[str, str]) -> None:
    kind, value = case
    assert INDEX.is_listed(kind, value) is _oracle(kind, value)
