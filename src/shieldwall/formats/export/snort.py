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

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from shieldwall.formats.export import rules
from shieldwall.formats.export.rules import Indicator, RuleContext

#: The columns each value is read with (see `repository.value_rows`).
FIELDS = ("kind", "value", "stix_id", "owner", "tlp", "version_key")
_CLASSTYPE = "classtype:trojan-activity;"
_TO_SERVER = "flow:to_server,established;"


def dns_wire(name: str) -> str:
    """A domain name as DNS writes it: length-prefixed labels, in rule content syntax."""
    parts = [f"|{len(label.encode()):02X}|{rules.content(label)}" for label in name.split(".")]
    return "".join(parts) + "|00|"


def _sid_key(found: Indicator, kind: str, variant: str) -> str:
    return f"{found.stix_id}|{kind}|{found.value}|{variant}"


def _address_rule(found: Indicator, kind: str, sids: rules.SidAllocator) -> list[str]:
    sid = sids.sid(_sid_key(found, kind, "ip"))
    return [
        f'alert ip $HOME_NET any <> {found.value} any (msg:"{RuleContext.message(found, kind)}"; '
        f"{_CLASSTYPE} sid:{sid}; {found.tail}"
    ]


def _host_header(host: str) -> str:
    return f'content:"Host|3A 20|{rules.content(host)}|0D 0A|"; nocase; http_header;'


#: Per variant: (sid key suffix, the rule up to the msg prefix, from the msg prefix
#: to the value): the fixed text of the three domain rules, put together once.
_DOMAIN_TEMPLATES = tuple(
    (f"|{variant}", f'alert {header} (msg:"', f"{rules.message_text(f'domain ({variant})')} ")
    for variant, header in (
        ("dns", "udp $HOME_NET any -> any 53"),
        ("tls", "tcp $HOME_NET any -> $EXTERNAL_NET 443"),
        ("http", "tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS"),
    )
)


def _domain_rules(found: Indicator, kind: str, sids: rules.SidAllocator) -> list[str]:
    name = found.value
    text = rules.content(name)
    bodies = (
        f'content:"{dns_wire(name)}"; nocase;',
        f'{_TO_SERVER} ssl_state:client_hello; content:"{text}"; nocase;',
        f'{_TO_SERVER} content:"Host|3A 20|{text}|0D 0A|"; nocase; http_header;',
    )
    prefix, shown, tail = found.prefix, found.shown, found.tail
    key = f"{found.stix_id}|{kind}|{name}"
    sid = sids.sid
    return [
        f'{start}{prefix}{what}{shown}"; {body} {_CLASSTYPE} sid:{sid(key + variant)}; {tail}'
        for (variant, start, what), body in zip(_DOMAIN_TEMPLATES, bodies, strict=True)
    ]


def _url_rule(found: Indicator, kind: str, sids: rules.SidAllocator) -> list[str]:
    parts = rules.url_parts(found.value)
    if parts is None:
        return []
    host, target = parts
    sid = sids.sid(_sid_key(found, kind, "http"))
    return [
        f"alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS "
        f'(msg:"{RuleContext.message(found, "url")}"; {_TO_SERVER} '
        f'content:"{rules.content(target)}"; http_uri; {_host_header(host)} '
        f"{_CLASSTYPE} sid:{sid}; {found.tail}"
    ]


_WRITERS: dict[str, Callable[[Indicator, str, rules.SidAllocator], list[str]]] = {
    "ipv4": _address_rule,
    "ipv6": _address_rule,
    "cidr": _address_rule,
    "domain": _domain_rules,
    "url": _url_rule,
}


def write(chunks: Iterable[Sequence[Sequence[Any]]], sid_base: int) -> Iterator[bytes]:
    """Rules from rows of `FIELDS`."""
    sids = rules.SidAllocator(sid_base)
    context = RuleContext()
    skipped: dict[str, int] = {}
    try:
        yield b"# shieldwall export: Snort rules (stable sids; see docs)\n"
        for chunk in chunks:
            lines: list[str] = []
            for kind, value, stix_id, owner, tlp, version_key in chunk:
                writer = _WRITERS.get(kind)
                if writer is None:
                    skipped[kind] = skipped.get(kind, 0) + 1
                else:
                    found = context.indicator(stix_id, value, owner, tlp, version_key)
                    lines.extend(writer(found, kind, sids))
            if lines:
                lines.append("")
                yield "\n".join(lines).encode()
        for kind, count in sorted(skipped.items()):
            yield f"# {count} {kind} value(s) left out: Snort rules cannot match them\n".encode()
    finally:
        sids.close()
