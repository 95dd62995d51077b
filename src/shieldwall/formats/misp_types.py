"""MISP attribute types and their STIX 2.1 counterparts: an SCO and/or a pattern.

One function per family of MISP types. Each takes the attribute's value and
returns a `Mapped`: the SCO type and properties (when STIX has a cyber
observable for the value) and the STIX pattern (when an indicator can detect
it). A value that is not what its type promises (a `url` without a scheme, a
registry key without a hive) raises `Unmappable` with the reason, so that the
importer reports it instead of storing an object STIX would refuse.

Types absent from `MAPPERS` have neither; the importer keeps them as notes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shieldwall.formats.common import Unmappable, quote
from shieldwall.intel.observables import normalise


class Mapped(NamedTuple):
    # A named tuple: one per attribute, where a frozen dataclass costs 3x as much.
    sco_type: str | None
    sco: dict[str, Any] | None
    pattern: str | None
    pattern_type: str = "stix"


Mapper = Callable[[str], Mapped]

# STIX 2.1 (6.13.1) requires the full hive name; the usual abbreviations are
# expanded rather than refused, and the verbatim value stays in x_misp_value.
_HIVES = {
    "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKEY_CURRENT_USER": "HKEY_CURRENT_USER",
    "HKCU": "HKEY_CURRENT_USER",
    "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKEY_USERS": "HKEY_USERS",
    "HKU": "HKEY_USERS",
    "HKEY_CURRENT_CONFIG": "HKEY_CURRENT_CONFIG",
    "HKCC": "HKEY_CURRENT_CONFIG",
    "HKEY_PERFORMANCE_DATA": "HKEY_PERFORMANCE_DATA",
    "HKEY_DYN_DATA": "HKEY_DYN_DATA",
}
_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")

#: MISP hash type -> (STIX hash algorithm name, hex length or 0 for fuzzy hashes).
HASHES: dict[str, tuple[str, int]] = {
    "md5": ("MD5", 32),
    "sha1": ("SHA-1", 40),
    "sha224": ("SHA-224", 56),
    "sha256": ("SHA-256", 64),
    "sha384": ("SHA-384", 96),
    "sha512": ("SHA-512", 128),
    "sha3-256": ("SHA3-256", 64),
    "sha3-512": ("SHA3-512", 128),
    "ssdeep": ("SSDEEP", 0),
    "tlsh": ("TLSH", 0),
}
_HASH_PATH = {
    algo: f"file:hashes.{algo}" if algo.isalnum() else f"file:hashes.'{algo}'"
    for algo, _ in HASHES.values()
}


def _one(sco_type: str, prop: str, value: Any, shown: str | None = None) -> Mapped:
    """An SCO with one property, and the pattern comparing that property."""
    literal = str(value) if isinstance(value, int) else quote(shown or value)
    return Mapped(sco_type, {prop: value}, f"[{sco_type}:{prop} = {literal}]")


def ip_type(value: str) -> str:
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise Unmappable(f"{value!r} is not an IP address or CIDR block") from None
    return "ipv4-addr" if network.version == 4 else "ipv6-addr"


def _ip(value: str) -> Mapped:
    return _one(ip_type(value), "value", value.strip())


def _domain(value: str) -> Mapped:
    if normalise("domain", value) is None:
        raise Unmappable(f"{value!r} is not a domain name")
    return _one("domain-name", "value", value.strip())


def _url(value: str) -> Mapped:
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise Unmappable(f"{value!r} is not a URL: {exc}") from None
    if not parts.scheme or not parts.netloc:
        raise Unmappable(
            f"{value!r} is not an absolute URL (scheme://host/...), which a STIX url needs"
        )
    return _one("url", "value", text)


def _email(value: str) -> Mapped:
    if normalise("email", value) is None:
        raise Unmappable(f"{value!r} is not an e-mail address")
    return _one("email-addr", "value", value.strip())


def _checked_hash(misp_type: str, value: str) -> tuple[str, str]:
    algo, length = HASHES[misp_type]
    text = value.strip()
    if length and (len(text) != length or not _HEX_RE.fullmatch(text)):
        raise Unmappable(f"{value!r} is not a {misp_type} hash ({length} hex digits)")
    if not text:
        raise Unmappable(f"an empty {misp_type} hash")
    return algo, text


def _hash(misp_type: str) -> Mapper:
    def mapper(value: str) -> Mapped:
        algo, text = _checked_hash(misp_type, value)
        return Mapped("file", {"hashes": {algo: text}}, f"[{_HASH_PATH[algo]} = {quote(text)}]")

    return mapper


def _filename(value: str) -> Mapped:
    if not value:
        raise Unmappable("an empty file name")
    return _one("file", "name", value)


def _filename_hash(misp_type: str) -> Mapper:
    def mapper(value: str) -> Mapped:
        name, bar, digest = value.rpartition("|")
        if not bar or not name:
            raise Unmappable(f"{value!r} is not 'filename|{misp_type}'")
        algo, text = _checked_hash(misp_type, digest)
        return Mapped(
            "file",
            {"name": name, "hashes": {algo: text}},
            f"[file:name = {quote(name)} AND {_HASH_PATH[algo]} = {quote(text)}]",
        )

    return mapper


def registry_key(value: str) -> str:
    """The key with its hive spelled out, or Unmappable when it has no hive STIX allows."""
    hive, sep, rest = value.strip().partition("\\")
    full = _HIVES.get(hive.upper())
    if full is None:
        raise Unmappable(
            f"registry key {value!r} does not start with a hive STIX allows "
            "(HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, HKEY_CLASSES_ROOT, HKEY_USERS, ...)"
        )
    return full + sep + rest


def _regkey(value: str) -> Mapped:
    return _one("windows-registry-key", "key", registry_key(value))


def _regkey_value(value: str) -> Mapped:
    key_text, _, data = value.partition("|")
    key = registry_key(key_text)
    return Mapped(
        "windows-registry-key",
        {"key": key, "values": [{"data": data}]},
        f"[windows-registry-key:key = {quote(key)} AND "
        f"windows-registry-key:values[*].data = {quote(data)}]",
    )


def _mutex(value: str) -> Mapped:
    if not value:
        raise Unmappable("an empty mutex name")
    return _one("mutex", "name", value)


def _domain_ip(value: str) -> Mapped:
    domain, _, address = value.partition("|")
    _domain(domain)
    ip_type(address)
    # One attribute is one STIX object: the SCO keeps the domain (the address
    # would need a second SCO to refer to); the pattern keeps both.
    return Mapped(
        "domain-name",
        {"value": domain.strip()},
        f"[domain-name:value = {quote(domain.strip())} AND "
        f"domain-name:resolves_to_refs[*].value = {quote(address.strip())}]",
    )


def _port(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise Unmappable(f"{value!r} is not a port number (0-65535)")
    return int(text)


def _ip_port(side: str) -> Mapper:
    def mapper(value: str) -> Mapped:
        address, _, port_text = value.rpartition("|")
        sco_type = ip_type(address)
        port = _port(port_text)
        # Without to_ids the attribute is an SCO: the address alone (a
        # network-traffic SCO would need a second object to refer to), so
        # that it is searchable, correlated and matched like any address; the
        # port stays in x_misp_value. The pattern keeps both.
        return Mapped(
            sco_type,
            {"value": address.strip()},
            f"[network-traffic:{side}_ref.value = {quote(address.strip())} AND "
            f"network-traffic:{side}_port = {port}]",
        )

    return mapper


def _port_only(value: str) -> Mapped:
    return Mapped(None, None, f"[network-traffic:dst_port = {_port(value)}]")


def _autonomous_system(value: str) -> Mapped:
    text = value.strip().upper().removeprefix("AS")
    if not text.isdigit():
        raise Unmappable(f"{value!r} is not an autonomous system number")
    return _one("autonomous-system", "number", int(text))


def _mac(value: str) -> Mapped:
    text = value.strip().lower().replace("-", ":")
    if not _MAC_RE.fullmatch(text):
        raise Unmappable(f"{value!r} is not a MAC address")
    return _one("mac-addr", "value", text)


def _user_agent(value: str) -> Mapped:
    return Mapped(
        None,
        None,
        "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = "
        f"{quote(value)}]",
    )


def _rule(pattern_type: str) -> Mapper:
    def mapper(value: str) -> Mapped:
        if not value.strip():
            raise Unmappable(f"an empty {pattern_type} rule")
        return Mapped(None, None, value, pattern_type)

    return mapper


MAPPERS: dict[str, Mapper] = {
    "ip-src": _ip,
    "ip-dst": _ip,
    "domain": _domain,
    "hostname": _domain,
    "url": _url,
    "link": _url,
    "email": _email,
    "email-src": _email,
    "email-dst": _email,
    "target-email": _email,
    "whois-registrant-email": _email,
    "filename": _filename,
    "mutex": _mutex,
    "regkey": _regkey,
    "regkey|value": _regkey_value,
    "domain|ip": _domain_ip,
    "ip-src|port": _ip_port("src"),
    "ip-dst|port": _ip_port("dst"),
    "port": _port_only,
    "AS": _autonomous_system,
    "mac-address": _mac,
    "user-agent": _user_agent,
    "yara": _rule("yara"),
    "sigma": _rule("sigma"),
    "snort": _rule("snort"),
    "suricata": _rule("suricata"),
    **{name: _hash(name) for name in HASHES},
    **{f"filename|{name}": _filename_hash(name) for name in HASHES},
}
