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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from shieldwall.formats.export import rules
from shieldwall.formats.export.rules import Field, RuleContext

#: The columns each value is read with (see `repository.value_rows`); the owner's name is
#: looked up by its id (see `rules.RuleContext`).
FIELDS = ("kind", "value", "stix_id", "owner_org_id", "tlp", "version_key")
_TO_SERVER = "flow:to_server,established;"


#: A label's length as DNS wire text (`|0C|`), for the lengths a label can have.
_LABEL_LENGTHS = tuple(f"|{length:02X}|" for length in range(64))


def dns_wire(name: str) -> str:
    """A domain name as DNS writes it: length-prefixed labels, in rule content syntax."""
    if rules.is_plain(name):
        # Every label is plain too: written as is, its length its byte count.
        try:
            parts = [_LABEL_LENGTHS[len(label)] + label for label in name.split(".")]
        except IndexError:  # a label longer than DNS allows: written all the same
            parts = [f"|{len(label):02X}|{label}" for label in name.split(".")]
    else:
        parts = [f"|{len(label.encode()):02X}|{rules.content(label)}" for label in name.split(".")]
    return "".join(parts) + "|00|"


def _host_header(host: str) -> str:
    return f'content:"Host|3A 20|{rules.content(host)}|0D 0A|"; nocase; http_header;'


#: The start of each domain rule, up to the msg prefix, and its msg text up to the value.
_DNS_START, _TLS_START, _HTTP_START = (
    f'alert {header} (msg:"'
    for header in (
        "udp $HOME_NET any -> any 53",
        "tcp $HOME_NET any -> $EXTERNAL_NET 443",
        "tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS",
    )
)
_DNS_WHAT, _TLS_WHAT, _HTTP_WHAT = (
    f"{rules.message_text(f'domain ({variant})')} " for variant in ("dns", "tls", "http")
)


_VARIANTS = (b"|dns", b"|tls", b"|http")


def _domain_rules(
    name: str, message: tuple[str, str], sids: Sequence[int], tail: str
) -> tuple[str, str, str]:
    """The DNS, TLS and HTTP rules of a domain, given their sids in that order.

    Written out rule by rule: zipping templates with bodies cost a third of
    a domain's rules.
    """
    prefix, shown = message
    dns_sid, tls_sid, http_sid = sids
    text = rules.content(name)
    return (
        f'{_DNS_START}{prefix}{_DNS_WHAT}{shown}"; content:"{dns_wire(name)}"; nocase; '
        f"{rules.CLASSTYPE} sid:{dns_sid}; {tail}",
        f'{_TLS_START}{prefix}{_TLS_WHAT}{shown}"; {_TO_SERVER} ssl_state:client_hello; '
        f'content:"{text}"; nocase; {rules.CLASSTYPE} sid:{tls_sid}; {tail}',
        f'{_HTTP_START}{prefix}{_HTTP_WHAT}{shown}"; {_TO_SERVER} content:"Host|3A 20|{text}'
        f'|0D 0A|"; nocase; http_header; {rules.CLASSTYPE} sid:{http_sid}; {tail}',
    )


def _url_rule(url: tuple[str, str], message: str, sid: int, tail: str) -> str:
    host, target = url
    return (
        f"alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS "
        f'(msg:"{message}"; {_TO_SERVER} '
        f'content:"{rules.content(target)}"; http_uri; {_host_header(host)} '
        f"{rules.CLASSTYPE} sid:{sid}; {tail}"
    )


#: The rules of each kind as templates for the compiled loop (`rules.write_chunks`): the
#: same text as `_domain_rules` and `_url_rule` write, from the same pieces.
TEMPLATES: rules.Templates = {
    **{kind: rules.address_template(kind) for kind in ("ipv4", "ipv6", "cidr")},
    "domain": (
        (
            "|dns",
            (
                _DNS_START,
                Field.PREFIX,
                _DNS_WHAT,
                Field.SHOWN,
                '"; content:"',
                Field.DNS_WIRE,
                f'"; nocase; {rules.CLASSTYPE} sid:',
                Field.SID,
                "; ",
                *rules.TAIL,
            ),
        ),
        (
            "|tls",
            (
                _TLS_START,
                Field.PREFIX,
                _TLS_WHAT,
                Field.SHOWN,
                f'"; {_TO_SERVER} ssl_state:client_hello; content:"',
                Field.CONTENT,
                f'"; nocase; {rules.CLASSTYPE} sid:',
                Field.SID,
                "; ",
                *rules.TAIL,
            ),
        ),
        (
            "|http",
            (
                _HTTP_START,
                Field.PREFIX,
                _HTTP_WHAT,
                Field.SHOWN,
                f'"; {_TO_SERVER} content:"Host|3A 20|',
                Field.CONTENT,
                f'|0D 0A|"; nocase; http_header; {rules.CLASSTYPE} sid:',
                Field.SID,
                "; ",
                *rules.TAIL,
            ),
        ),
    ),
    "url": (
        (
            "|http",
            (
                'alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:"',
                Field.PREFIX,
                f"{rules.WHAT['url']} ",
                Field.SHOWN,
                f'"; {_TO_SERVER} content:"',
                Field.TARGET_CONTENT,
                '"; http_uri; content:"Host|3A 20|',
                Field.HOST_CONTENT,
                f'|0D 0A|"; nocase; http_header; {rules.CLASSTYPE} sid:',
                Field.SID,
                "; ",
                *rules.TAIL,
            ),
        ),
    ),
}


def _python_rules(
    chunk: rules.Chunk, sids: rules.SidAllocator, context: RuleContext, others: dict[str, int]
) -> bytes:
    """Snort's rules of a chunk, in Python: the reference of `TEMPLATES` (`rules.python_rules`)."""
    return rules.python_rules(
        chunk,
        sids,
        context,
        others,
        domain_variants=_VARIANTS,
        domain_rules=_domain_rules,
        url_rule=_url_rule,
    )


def write(
    chunks: Iterable[Sequence[Sequence[Any]]],
    sid_base: int,
    owner_names: Mapping[int, str] | None = None,
    *,
    compiled: bool = True,
) -> Iterator[bytes]:
    """Rules from rows of `FIELDS` (`compiled`: with `_rules` when built, see `rules.write_chunks`).

    Values of kinds Snort rules cannot match are counted in closing comments.
    `owner_names`: organisation names by id, for rows that carry owner ids
    (None: the rows carry the names).
    """
    return rules.write_format(
        chunks,
        sid_base,
        owner_names,
        header=b"# shieldwall export: Snort rules (stable sids; see docs)\n",
        templates=TEMPLATES,
        python_rules=_python_rules,
        closing=_left_out,
        compiled=compiled,
    )


def _left_out(skipped: dict[str, int]) -> Iterator[bytes]:
    for kind, count in sorted(skipped.items()):
        yield f"# {count} {kind} value(s) left out: Snort rules cannot match them\n".encode()
