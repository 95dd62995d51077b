"""`suricata`: Suricata 7 rules for the detection values in scope.

* addresses and CIDRs: one `ip` rule each, both directions;
* domains: three rules, the DNS query, the TLS SNI and the HTTP host, each an
  exact match (`bsize` of the name);
* URLs: one `http` rule on the host and the raw URI (path and query);
* file hashes: MD5, SHA-1 and SHA-256 go to list files read by the
  `filemd5`/`filesha1`/`filesha256` keywords, which is how Suricata matches
  hashes at scale; one rule per algorithm that has values, with a fixed sid
  (base+1..3). The lists are `shieldwall-<algo>.txt` in Suricata's rules
  directory: the CLI writes them beside the rules file; over the API fetch
  them with `format=txt&type=<algo>` (same filters).
* e-mail addresses, file names and SHA-512 have no rule (see `zeek`).

Every rule names the source organisation and TLP in its `msg` and carries a
stable sid (see `rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from shieldwall.formats.export import rules
from shieldwall.formats.export.rules import Indicator, RuleContext

#: The columns each value is read with (see `repository.value_rows`).
FIELDS = ("kind", "value", "stix_id", "owner", "tlp", "version_key")
HASH_KEYWORDS = {"md5": "filemd5", "sha1": "filesha1", "sha256": "filesha256"}
_CLASSTYPE = "classtype:trojan-activity;"
_TO_SERVER = "flow:established,to_server; "


def list_file(kind: str) -> str:
    return f"shieldwall-{kind}.txt"


def _sid_key(found: Indicator, kind: str, variant: str) -> str:
    return f"{found.stix_id}|{kind}|{found.value}|{variant}"


def _address_rule(found: Indicator, kind: str, sids: rules.SidAllocator) -> list[str]:
    sid = sids.sid(_sid_key(found, kind, "ip"))
    return [
        f'alert ip $HOME_NET any <> {found.value} any (msg:"{RuleContext.message(found, kind)}"; '
        f"{_CLASSTYPE} sid:{sid}; {found.tail}"
    ]


_DOMAIN_VARIANTS = (
    ("dns", "dns $HOME_NET any -> any any", "dns.query", "", " nocase;"),
    ("tls", "tls $HOME_NET any -> $EXTERNAL_NET any", "tls.sni", _TO_SERVER, " nocase;"),
    ("http", "http $HOME_NET any -> $EXTERNAL_NET any", "http.host", _TO_SERVER, ""),
)
#: Per variant: (sid key suffix, the rule up to the msg prefix, from the msg prefix to the
#: value, from the value to bsize, from the content to the sid): the fixed text of the
#: three domain rules, put together once instead of per domain.
_DOMAIN_TEMPLATES = tuple(
    (
        f"|{variant}",
        f'alert {header} (msg:"',
        f"{rules.message_text(f'domain ({variant})')} ",
        f'"; {extra}{buffer}; bsize:',
        f'";{nocase} {_CLASSTYPE} sid:',
    )
    for variant, header, buffer, extra, nocase in _DOMAIN_VARIANTS
)


def _domain_rules(found: Indicator, kind: str, sids: rules.SidAllocator) -> list[str]:
    value, prefix, shown, tail = found.value, found.prefix, found.shown, found.tail
    name = rules.content(value)
    size = len(value.encode())
    key = f"{found.stix_id}|{kind}|{value}"
    sid = sids.sid
    return [
        f'{start}{prefix}{what}{shown}{middle}{size}; content:"{name}{end}'
        f"{sid(key + variant)}; {tail}"
        for variant, start, what, middle, end in _DOMAIN_TEMPLATES
    ]


def _url_rule(found: Indicator, kind: str, sids: rules.SidAllocator) -> list[str]:
    parts = rules.url_parts(found.value)
    if parts is None:
        return []
    host, target = parts
    sid = sids.sid(_sid_key(found, kind, "http"))
    return [
        f"alert http $HOME_NET any -> $EXTERNAL_NET any "
        f'(msg:"{RuleContext.message(found, "url")}"; {_TO_SERVER}'
        f'http.host; bsize:{len(host.encode())}; content:"{rules.content(host)}"; '
        f'http.uri.raw; bsize:{len(target.encode())}; content:"{rules.content(target)}"; '
        f"fast_pattern; {_CLASSTYPE} sid:{sid}; {found.tail}"
    ]


_WRITERS: dict[str, Callable[[Indicator, str, rules.SidAllocator], list[str]]] = {
    "ipv4": _address_rule,
    "ipv6": _address_rule,
    "cidr": _address_rule,
    "domain": _domain_rules,
    "url": _url_rule,
}


def hash_rule(kind: str, base: int) -> str:
    sid = base + 1 + list(HASH_KEYWORDS).index(kind)
    return (
        f'alert http any any -> any any (msg:"SHIELDWALL file {kind.upper()} on the shieldwall '
        f'list"; {HASH_KEYWORDS[kind]}:{list_file(kind)}; {_CLASSTYPE} sid:{sid}; rev:1;)'
    )


def write(chunks: Iterable[Sequence[Sequence[Any]]], sid_base: int) -> Iterator[bytes]:
    """Rules from rows of `FIELDS`."""
    sids = rules.SidAllocator(sid_base)
    context = RuleContext()
    hash_kinds: set[str] = set()
    try:
        yield b"# shieldwall export: Suricata rules (stable sids; see docs)\n"
        for chunk in chunks:
            lines: list[str] = []
            for kind, value, stix_id, owner, tlp, version_key in chunk:
                writer = _WRITERS.get(kind)
                if writer is not None:
                    found = context.indicator(stix_id, value, owner, tlp, version_key)
                    lines.extend(writer(found, kind, sids))
                elif kind in HASH_KEYWORDS:
                    hash_kinds.add(kind)
            if lines:
                lines.append("")
                yield "\n".join(lines).encode()
        for kind in HASH_KEYWORDS:
            if kind in hash_kinds:
                yield (hash_rule(kind, sid_base) + "\n").encode()
    finally:
        sids.close()
