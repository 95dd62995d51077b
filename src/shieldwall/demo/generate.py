"""Synthetic but realistic STIX 2.1 intel, for the demo coalition, tests and benchmarks.

Values look like the real thing (public-looking IPv4/IPv6 addresses, domains
on common TLDs, URLs with paths, file hashes of the right length) and are
reproducible from a seed. Nothing here is real intelligence.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import orjson

_WORDS = (
    "alpha",
    "bravo",
    "cobalt",
    "delta",
    "ember",
    "falcon",
    "granite",
    "harbor",
    "iris",
    "jade",
    "kestrel",
    "lumen",
    "mosaic",
    "nimbus",
    "onyx",
    "prism",
    "quartz",
    "raven",
    "sable",
    "talon",
    "umbra",
    "vortex",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "update",
    "secure",
    "login",
    "cdn",
    "mail",
    "portal",
    "cloud",
    "sync",
    "files",
    "docs",
    "api",
    "static",
)
_TLDS = ("com", "net", "org", "info", "biz", "io", "ru", "cn", "top", "xyz", "online", "site")
_KINDS = ("ipv4", "ipv4", "ipv4", "domain", "domain", "url", "sha256", "md5", "sha1", "ipv6")
_NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _ipv4(rng: random.Random) -> str:
    while True:
        first = rng.randint(1, 223)
        if first not in (10, 127, 169, 172, 192):
            return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _domain(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.randint(1, 2))
    sub = f"{rng.choice(_WORDS)}." if rng.random() < 0.3 else ""
    return f"{sub}{'-'.join(words)}{rng.randint(0, 999)}.{rng.choice(_TLDS)}"


def random_value(rng: random.Random, kind: str) -> str:
    if kind == "ipv4":
        return _ipv4(rng)
    if kind == "ipv6":
        return f"2001:db8:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
    if kind == "domain":
        return _domain(rng)
    if kind == "url":
        path = "/".join(rng.sample(_WORDS, 2))
        return f"http://{_domain(rng)}/{path}.php?id={rng.randint(1, 99999)}"
    bits = {"md5": 128, "sha1": 160, "sha256": 256}[kind]
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


_PATTERN_PATH = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
}


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def indicator(rng: random.Random, serial: int, kind: str | None = None) -> dict[str, Any]:
    kind = kind or rng.choice(_KINDS)
    value = random_value(rng, kind)
    created = _EPOCH + timedelta(seconds=rng.randint(0, 60 * 86400))
    stamp = _timestamp(created)
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(_NAMESPACE, f'{serial}-{value}')}",
        "created": stamp,
        "modified": stamp,
        "name": f"{kind} {value}",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[{_PATTERN_PATH[kind]} = '{value}']",
        "pattern_type": "stix",
        "valid_from": stamp,
        "confidence": rng.choice((30, 50, 70, 85, 95)),
    }


def indicators(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for serial in range(count):
        yield indicator(rng, serial)


def bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def write_bundle(stream: IO[bytes], objects: Iterator[dict[str, Any]]) -> int:
    """Writes a bundle object by object, never holding the whole document."""
    stream.write(b'{"type": "bundle", "id": "bundle--' + str(uuid.uuid4()).encode())
    stream.write(b'", "objects": [\n')
    written = 0
    for obj in objects:
        if written:
            stream.write(b",\n")
        stream.write(orjson.dumps(obj))
        written += 1
    stream.write(b"\n]}\n")
    return written
