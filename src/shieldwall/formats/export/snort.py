"""`snort`: Snort 2.9 rules (also read by Snort 3) for the detection values in scope.

* addresses and CIDRs: one `ip` rule each, both directions;
* domains: three rules, the DNS query (the name in DNS wire format, UDP/53),
  the TLS client hello (`ssl_state`) and the HTTP `Host` header;
* URLs: one rule on the HTTP URI and the `Host` header;
* file hashes, e-mail addresses and file names cannot be matched by Snort
  rules; the export counts them in a closing comment.

Sids are stable across exports and messages name the source and TLP, as for
Suricata (see `rules`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shieldwall.formats.export import rules
from shieldwall.formats.export.model import ValueRow

_CLASSTYPE = "classtype:trojan-activity;"
_TO_SERVER = "flow:to_server,established;"


def _tail(row: ValueRow, sid: int) -> str:
    return f"{_CLASSTYPE} sid:{sid}; rev:{rules.revision(row)}; {rules.metadata(row)})"


def dns_wire(name: str) -> str:
    """A domain name as DNS writes it: length-prefixed labels, in rule content syntax."""
    parts = [f"|{len(label.encode()):02X}|{rules.content(label)}" for label in name.split(".")]
    return "".join(parts) + "|00|"


def _address_rule(row: ValueRow, sids: rules.SidAllocator) -> list[str]:
    sid = sids.sid(f"{row.stix_id}|{row.kind}|{row.value}|ip")
    return [
        f'alert ip $HOME_NET any <> {row.value} any (msg:"{rules.message(row, row.kind)}"; '
        + _tail(row, sid)
    ]


def _host_header(host: str) -> str:
    return f'content:"Host|3A 20|{rules.content(host)}|0D 0A|"; nocase; http_header;'


def _domain_rules(row: ValueRow, sids: rules.SidAllocator) -> list[str]:
    name = row.value
    variants = (
        ("dns", "udp $HOME_NET any -> any 53", f'content:"{dns_wire(name)}"; nocase;'),
        (
            "tls",
            "tcp $HOME_NET any -> $EXTERNAL_NET 443",
            f'{_TO_SERVER} ssl_state:client_hello; content:"{rules.content(name)}"; nocase;',
        ),
        (
            "http",
            "tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS",
            f"{_TO_SERVER} {_host_header(name)}",
        ),
    )
    found = []
    for variant, header, body in variants:
        sid = sids.sid(f"{row.stix_id}|{row.kind}|{row.value}|{variant}")
        found.append(
            f'alert {header} (msg:"{rules.message(row, "domain (" + variant + ")")}"; {body} '
            + _tail(row, sid)
        )
    return found


def _url_rule(row: ValueRow, sids: rules.SidAllocator) -> list[str]:
    found = rules.url_parts(row.value)
    if found is None:
        return []
    host, target = found
    sid = sids.sid(f"{row.stix_id}|{row.kind}|{row.value}|http")
    return [
        f"alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS "
        f'(msg:"{rules.message(row, "url")}"; {_TO_SERVER} '
        f'content:"{rules.content(target)}"; http_uri; {_host_header(host)} ' + _tail(row, sid)
    ]


_WRITERS = {
    "ipv4": _address_rule,
    "ipv6": _address_rule,
    "cidr": _address_rule,
    "domain": _domain_rules,
    "url": _url_rule,
}


def write(pages: Iterable[list[ValueRow]], sid_base: int) -> Iterator[bytes]:
    sids = rules.SidAllocator(sid_base)
    skipped: dict[str, int] = {}
    try:
        yield b"# shieldwall export: Snort rules (stable sids; see docs)\n"
        for page in pages:
            lines: list[str] = []
            for row in page:
                writer = _WRITERS.get(row.kind)
                if writer is None:
                    skipped[row.kind] = skipped.get(row.kind, 0) + 1
                else:
                    lines.extend(writer(row, sids))
            if lines:
                yield ("\n".join(lines) + "\n").encode()
        for kind, count in sorted(skipped.items()):
            yield f"# {count} {kind} value(s) left out: Snort rules cannot match them\n".encode()
    finally:
        sids.close()
