"""Observables: normalised values (the unit of correlation and matching).

`normalise(kind, raw)` returns the canonical `(kind, value)` or None when the
raw value is not a valid value of that kind. IP values with a prefix become
`cidr` (a /32 or /128 is the address itself).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

Observable = tuple[str, str]

#: The longest value kept: longer ones are not usable in an index on PostgreSQL.
MAX_VALUE_LENGTH = 2048

_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_DOMAIN_RE = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}"
)
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")

#: STIX hash algorithm names (and common spellings) to observable kinds.
HASH_KINDS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA1": "sha1",
    "SHA-256": "sha256",
    "SHA256": "sha256",
    "SHA-512": "sha512",
    "SHA512": "sha512",
}


def _canonical_ipv4(text: str) -> str | None:
    """A dotted quad already in canonical form, checked in C (5x ipaddress's speed)."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: a NUL, which no address holds
        return None
    return text if socket.inet_ntop(socket.AF_INET, packed) == text else None


def _canonical_ipv6(text: str) -> str | None:
    """An IPv6 address in `ipaddress`'s canonical form, computed in C (6x its speed).

    glibc writes the RFC 5952 form that `ipaddress` writes, except that it
    shows an embedded IPv4 address as a dotted quad; those (and anything
    inet_pton refuses, such as a zone id) are left to `ipaddress`. A property
    test holds the two to the same answers.
    """
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):  # ValueError: a NUL, which no address holds
        return None
    canonical = socket.inet_ntop(socket.AF_INET6, packed)
    return None if "." in canonical else canonical


def _ipv4(raw: str) -> Observable | None:
    text = raw.strip()
    fast = _canonical_ipv4(text) if "/" not in text else None
    return ("ipv4", fast) if fast is not None else _ip(text, 4)


def _ipv6(raw: str) -> Observable | None:
    text = raw.strip()
    fast = _canonical_ipv6(text) if "/" not in text else None
    return ("ipv6", fast) if fast is not None else _ip(text, 6)


def _ip(raw: str, version: int) -> Observable | None:
    """Addresses and networks of any spelling, through `ipaddress`."""
    text = raw.strip()
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            if network.version != version:
                return None
            if network.prefixlen == network.max_prefixlen:
                return (f"ipv{version}", str(network.network_address))
            return ("cidr", str(network))
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version != version:
        return None
    return (f"ipv{version}", str(address))


def _domain(raw: str) -> Observable | None:
    text = raw.strip().rstrip(".").lower()
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        return None
    return ("domain", text) if _DOMAIN_RE.fullmatch(text) else None


#: The shape of almost every URL in intel: ASCII, no spaces or controls, no
#: bracketed IPv6 host. For these, slicing gives what urlsplit/urlunsplit give
#: (a property test holds the two together) at a quarter of their cost.
_PLAIN_URL_RE = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://([!$-.0-9:;=@-Z_a-z~]+)([!$-.0-9:;=@-Z_a-z~/]*)"
    r"(?:\?([!$-/0-9:;=?@-Z_a-z~]*))?(?:#[!-~]*)?"
)


def _url(raw: str) -> Observable | None:
    text = raw.strip()
    plain = _PLAIN_URL_RE.fullmatch(text)
    if plain is not None:
        scheme, netloc, path, query = plain.groups()
        canonical = f"{scheme.lower()}://{netloc.lower()}{path or '/'}"
        return ("url", f"{canonical}?{query}" if query else canonical)
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    # Scheme and host are case-insensitive; the path and query are not.
    canonical = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )
    return ("url", canonical)


def _email(raw: str) -> Observable | None:
    text = raw.strip().lower()
    return ("email", text) if _EMAIL_RE.fullmatch(text) else None


def _hash(kind: str) -> Callable[[str], Observable | None]:
    def normalise_hash(raw: str) -> Observable | None:
        text = raw.strip()
        if len(text) != _HEX[kind] or not _HEX_RE.fullmatch(text):
            return None
        return (kind, text.lower())

    return normalise_hash


def _filename(raw: str) -> Observable | None:
    return ("filename", raw) if raw and "\x00" not in raw else None


_NORMALISERS: dict[str, Callable[[str], Observable | None]] = {
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "domain": _domain,
    "url": _url,
    "email": _email,
    "filename": _filename,
    **{kind: _hash(kind) for kind in _HEX},
}

KINDS = frozenset(_NORMALISERS) | {"cidr"}


def normalise(kind: str, raw: object) -> Observable | None:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_VALUE_LENGTH:
        return None
    if kind == "cidr":
        return _ip(raw, 6 if ":" in raw else 4)
    normaliser = _NORMALISERS.get(kind)
    return normaliser(raw) if normaliser else None


def detect(raw: str) -> Observable | None:
    """Guess the kind of an untyped value (search boxes, `shieldwall search`)."""
    text = raw.strip()
    if not text:
        return None
    if (":" in text and "://" not in text) or text.replace(".", "").replace("/", "").isdigit():
        found = _ipv4(text) or _ipv6(text)
        if found:
            return found
    if "://" in text:
        return _url(text)
    if "@" in text:
        return _email(text)
    if _HEX_RE.fullmatch(text):
        for kind, length in _HEX.items():
            if len(text) == length:
                return (kind, text.lower())
    return _domain(text)


#: STIX object paths (as `type:path`) that carry an observable, and its kind.
#: Used for SCO properties and for pattern comparisons alike.
PATH_KINDS: dict[str, str] = {
    "ipv4-addr:value": "ipv4",
    "ipv6-addr:value": "ipv6",
    "domain-name:value": "domain",
    "url:value": "url",
    "email-addr:value": "email",
    "email-message:from_ref.value": "email",
    "email-message:sender_ref.value": "email",
    "file:name": "filename",
    **{f"file:hashes.{algo}": kind for algo, kind in HASH_KINDS.items()},
    **{f"artifact:hashes.{algo}": kind for algo, kind in HASH_KINDS.items()},
}


def from_sco(obj: dict[str, object]) -> list[Observable]:
    """Observables carried by a STIX cyber-observable object itself."""
    stix_type = obj.get("type")
    found: list[Observable] = []
    if stix_type in ("file", "artifact"):
        hashes = obj.get("hashes")
        if isinstance(hashes, dict):
            for algo, value in hashes.items():
                kind = HASH_KINDS.get(str(algo).upper())
                item = normalise(kind, value) if kind else None
                if item:
                    found.append(item)
        if stix_type == "file":
            item = normalise("filename", obj.get("name"))
            if item:
                found.append(item)
        return found
    kind = PATH_KINDS.get(f"{stix_type}:value")
    if kind:
        item = normalise(kind, obj.get("value"))
        if item:
            found.append(item)
    return found
