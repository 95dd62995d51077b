"""Correlation keys: values written so that containment is a range of strings.

See `correlate.tables`. Also the other direction: the CIDRs that may contain
an address and the parent domains of a name, as exact values to look up.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

#: Sorts after every character a key may hold (hex digits, labels, dots, `:`).
KEY_END = "~"


def _address_key(prefix: str, family: int, value: str) -> str | None:
    """`4:` or `6:` and the address as fixed-width hex.

    The packed address's own hex is that width already (big-endian, two
    digits a byte): no int conversion and formatting per key at ingest.
    """
    try:
        return prefix + socket.inet_pton(family, value).hex()
    except (OSError, ValueError):  # ValueError: a NUL, which no address holds
        return None


def reversed_labels(name: str) -> str:
    """`www.example.com` -> `com.example.www.` (the trailing dot ends the last label)."""
    return ".".join(reversed(name.split("."))) + "."


def url_host(value: str) -> str | None:
    """The host of a normalised URL when it is a domain name (not an address).

    Normalised URLs are `scheme://netloc/...` with a lower-case netloc, so
    string cuts do what `urlsplit` would, at a fraction of its cost at ingest.
    """
    netloc = value.partition("://")[2].partition("/")[0].partition("?")[0]
    host = netloc.rpartition("@")[2]
    if not host or host.startswith("["):
        return None
    host = host.partition(":")[0].rstrip(".")
    if not host or host.replace(".", "").isdigit():
        return None
    return host


def key_of_python(kind: str, value: str) -> str | None:
    """The correlation key of a normalised observable, if its kind has one.

    The reference: `key_of` is the compiled copy (`intel/_ingest.c`) where
    it is built, which hands this one the values it does not take itself.
    """
    if kind == "ipv4":
        return _address_key("4:", socket.AF_INET, value)
    if kind == "ipv6":
        return _address_key("6:", socket.AF_INET6, value)
    if kind == "domain":
        return "d:" + reversed_labels(value)
    if kind == "url":
        host = url_host(value)
        return "u:" + reversed_labels(host) if host else None
    return None


key_of: Callable[[str, str], str | None]
try:
    from shieldwall.intel import _ingest
except ImportError:  # installed without a C compiler
    key_of = key_of_python
else:
    # Ingest keys every address, domain and URL it stores: in C, a third of
    # the Python cost (0.15 s per 100,000 generated indicators).
    _ingest.set_key_fallback(key_of_python)
    key_of = _ingest.key_of


def cidr_key_range(value: str) -> tuple[str, str] | None:
    """The first and last address keys of a CIDR (inclusive)."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    width = 8 if network.version == 4 else 32
    first = int(network.network_address)
    last = int(network.broadcast_address)
    return f"{network.version}:{first:0{width}x}", f"{network.version}:{last:0{width}x}"


def containing_networks(value: str) -> list[str]:
    """Every wider CIDR (as normalised text) containing an address or a CIDR."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return []
    return [
        str(network.supernet(new_prefix=prefix)) for prefix in range(network.prefixlen - 1, -1, -1)
    ]


def parent_domains(name: str) -> list[str]:
    """`a.b.example.com` -> `b.example.com`, `example.com`, `com`."""
    labels = name.split(".")
    return [".".join(labels[position:]) for position in range(1, len(labels))]
