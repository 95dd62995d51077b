"""Free text in: IPs, CIDRs, domains, URLs, e-mail addresses, hashes and CVE ids from prose.

Reports defang what they quote (`hxxp://evil[.]com`, `10.0.0[.]1`,
`user[@]mail(dot)ru`); `refang()` undoes the usual spellings before
extraction. Each value found becomes one indicator (a vulnerability for a
CVE) with an id derived from its value, so a value found twice is one object.

Domains are the noisy part of prose: a word with a dot is only taken when its
last label is alphabetic and not a common file extension (`invoice.pdf`).
With `skip_warninglisted`, values the MISP warninglists flag (public
resolvers, top sites, documentation ranges) are left out.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from shieldwall.formats.common import (
    Conversion,
    Unmappable,
    canonical_value,
    stix_now,
    value_object,
)

# --------------------------------------------------------------------------- refanging

_REFANGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bhxxp(s?)\b", re.IGNORECASE), r"http\1"),
    (re.compile(r"\bh\[?tt\]?p(s?)\b", re.IGNORECASE), r"http\1"),
    (re.compile(r"\bfxp\b", re.IGNORECASE), "ftp"),
    (re.compile(r"\[(:(?://)?)\]"), r"\1"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\s\[\.\]\s", re.IGNORECASE), "."),
    (re.compile(r"(?<=\w) dot (?=\w)", re.IGNORECASE), "."),
    (re.compile(r"\[@\]|\(@\)|\{@\}|\[at\]|\(at\)|\{at\}", re.IGNORECASE), "@"),
    (re.compile(r"(?<=\w) at (?=[\w-]+(?:\.|\[\.\]|\(dot\)))", re.IGNORECASE), "@"),
    (re.compile(r"\\\."), "."),
]


def refang(text: str) -> str:
    """Text with the usual defanging undone."""
    for pattern, replacement in _REFANGS:
        text = pattern.sub(replacement, text)
    return text


# --------------------------------------------------------------------------- extraction

_URL_RE = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`\]\[(){}]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,63}\b", re.IGNORECASE)
_IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w.]*\w)")
_IPV6_RE = re.compile(
    r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:/\d{1,3})?(?![\w:])", re.IGNORECASE
)
_HASH_RE = re.compile(
    r"\b(?:[0-9a-f]{128}|[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b", re.IGNORECASE
)
_CVE_RE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)
_DOMAIN_RE = re.compile(
    r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b", re.IGNORECASE
)
_HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}

#: File extensions that look like top-level domains in prose.
_NOT_TLDS = frozenset(
    {
        "exe",
        "dll",
        "sys",
        "bat",
        "cmd",
        "ps1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "hta",
        "jar",
        "zip",
        "rar",
        "gz",
        "tgz",
        "bz2",
        "xz",
        "7z",
        "cab",
        "iso",
        "img",
        "vhd",
        "msi",
        "lnk",
        "scr",
        "cpl",
        "ocx",
        "doc",
        "docx",
        "docm",
        "xls",
        "xlsx",
        "xlsm",
        "ppt",
        "pptx",
        "pdf",
        "rtf",
        "txt",
        "log",
        "tmp",
        "dat",
        "bin",
        "elf",
        "so",
        "dylib",
        "plist",
        "json",
        "xml",
        "yml",
        "yaml",
        "ini",
        "cfg",
        "conf",
        "html",
        "htm",
        "php",
        "asp",
        "aspx",
        "jsp",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "bmp",
        "svg",
        "pdb",
        "db",
        "sql",
        "csv",
        "py",
        "pl",
        "rb",
        "go",
        "java",
        "class",
        "apk",
        "ipa",
        "dmg",
        "pkg",
        "deb",
        "rpm",
        "eml",
        "msg",
        "lib",
        "obj",
    }
)
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Found:
    kind: str
    value: str
    line: int


def _candidates(line: str) -> Iterator[tuple[str, str]]:
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        start, end = match.span()
        if any(s < end and start < e for s, e in taken):
            return False
        taken.append((start, end))
        return True

    for match in _URL_RE.finditer(line):
        if free(match):
            yield "url", match.group(0).rstrip(_TRAILING)
    for match in _EMAIL_RE.finditer(line):
        if free(match):
            yield "email", match.group(0)
    for match in _IPV4_RE.finditer(line):
        if free(match):
            yield ("cidr" if "/" in match.group(0) else "ipv4"), match.group(0)
    for match in _IPV6_RE.finditer(line):
        if match.group(0).count(":") >= 2 and _is_ipv6(match.group(0)) and free(match):
            yield ("cidr" if "/" in match.group(0) else "ipv6"), match.group(0)
    for match in _HASH_RE.finditer(line):
        if free(match):
            yield _HASH_KINDS[len(match.group(0))], match.group(0)
    for match in _CVE_RE.finditer(line):
        if free(match):
            yield "cve", match.group(0)
    for match in _DOMAIN_RE.finditer(line):
        tld = match.group(0).rsplit(".", 1)[-1].lower()
        if tld not in _NOT_TLDS and free(match):
            yield "domain", match.group(0)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def extract(text: str) -> list[Found]:
    """Every distinct value in `text` (refanged first), in order of appearance."""
    seen: set[tuple[str, str]] = set()
    found: list[Found] = []
    for number, line in enumerate(refang(text).splitlines(), start=1):
        for kind, raw in _candidates(line):
            try:
                item = canonical_value(kind, raw)
            except Unmappable:
                continue  # prose is full of near-misses (version numbers, ...)
            if item not in seen:
                seen.add(item)
                found.append(Found(item[0], item[1], number))
    return found


class TextMapper:
    """Yields the objects of one text document."""

    def __init__(
        self, conversion: Conversion, is_listed: Callable[[str, str], bool] | None = None
    ) -> None:
        self.conversion = conversion
        self.is_listed = is_listed
        self.timestamp = stix_now()

    def objects(self, stream: IO[bytes]) -> Iterator[dict[str, Any]]:
        text = stream.read().decode("utf-8", errors="replace")
        for item in extract(text):
            if self.is_listed is not None and self.is_listed(item.kind, item.value):
                continue
            self.conversion.emitted(item.line, f"line[{item.line}]")
            yield value_object(item.kind, item.value, self.timestamp)
