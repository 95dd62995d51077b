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

from collections.abc import Iterable, Iterator

from shieldwall.formats.export import rules
from shieldwall.formats.export.model import ValueRow

HASH_KEYWORDS = {"md5": "filemd5", "sha1": "filesha1", "sha256": "filesha256"}
_CLASSTYPE = "classtype:trojan-activity;"


def list_file(kind: str) -> str:
    return f"shieldwall-{kind}.txt"


def _tail(row: ValueRow, sid: int) -> str:
    return f"{_CLASSTYPE} sid:{sid}; rev:{rules.revision(row)}; {rules.metadata(row)})"


def _address_rule(row: ValueRow, sids: rules.SidAllocator) -> list[str]:
    sid = sids.sid(f"{row.stix_id}|{row.kind}|{row.value}|ip")
    return [
        f'alert ip $HOME_NET any <> {row.value} any (msg:"{rules.message(row, row.kind)}"; '
        + _tail(row, sid)
    ]


def _domain_rules(row: ValueRow, sids: rules.SidAllocator) -> list[str]:
    name = rules.content(row.value)
    size = len(row.value.encode())
    found = []
    for variant, header, buffer, extra in (
        ("dns", "dns $HOME_NET any -> any any", "dns.query", ""),
        (
            "tls",
            "tls $HOME_NET any -> $EXTERNAL_NET any",
            "tls.sni",
            "flow:established,to_server; ",
        ),
        (
            "http",
            "http $HOME_NET any -> $EXTERNAL_NET any",
            "http.host",
            "flow:established,to_server; ",
        ),
    ):
        sid = sids.sid(f"{row.stix_id}|{row.kind}|{row.value}|{variant}")
        nocase = "" if buffer == "http.host" else " nocase;"
        found.append(
            f'alert {header} (msg:"{rules.message(row, "domain (" + variant + ")")}"; {extra}'
            f'{buffer}; bsize:{size}; content:"{name}";{nocase} ' + _tail(row, sid)
        )
    return found


def _url_rule(row: ValueRow, sids: rules.SidAllocator) -> list[str]:
    found = rules.url_parts(row.value)
    if found is None:
        return []
    host, target = found
    sid = sids.sid(f"{row.stix_id}|{row.kind}|{row.value}|http")
    return [
        f'alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"{rules.message(row, "url")}"; '
        f"flow:established,to_server; "
        f'http.host; bsize:{len(host.encode())}; content:"{rules.content(host)}"; '
        f'http.uri.raw; bsize:{len(target.encode())}; content:"{rules.content(target)}"; '
        "fast_pattern; " + _tail(row, sid)
    ]


_WRITERS = {
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


def write(pages: Iterable[list[ValueRow]], sid_base: int) -> Iterator[bytes]:
    sids = rules.SidAllocator(sid_base)
    hash_kinds: set[str] = set()
    try:
        yield b"# shieldwall export: Suricata rules (stable sids; see docs)\n"
        for page in pages:
            lines: list[str] = []
            for row in page:
                writer = _WRITERS.get(row.kind)
                if writer is not None:
                    lines.extend(writer(row, sids))
                elif row.kind in HASH_KEYWORDS:
                    hash_kinds.add(row.kind)
            if lines:
                yield ("\n".join(lines) + "\n").encode()
        for kind in HASH_KEYWORDS:
            if kind in hash_kinds:
                yield (hash_rule(kind, sid_base) + "\n").encode()
    finally:
        sids.close()
