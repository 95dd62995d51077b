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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from shieldwall.formats.export import rules
from shieldwall.formats.export.rules import Field, RuleContext

#: The columns each value is read with (see `repository.value_rows`); the owner's name is
#: looked up by its id (see `rules.RuleContext`).
FIELDS = ("kind", "value", "stix_id", "owner_org_id", "tlp", "version_key")
HASH_KEYWORDS = {"md5": "filemd5", "sha1": "filesha1", "sha256": "filesha256"}
_TO_SERVER = "flow:established,to_server; "


def list_file(kind: str) -> str:
    return f"shieldwall-{kind}.txt"


_DOMAIN_VARIANTS = (
    ("dns", "dns $HOME_NET any -> any any", "dns.query", "", " nocase;"),
    ("tls", "tls $HOME_NET any -> $EXTERNAL_NET any", "tls.sni", _TO_SERVER, " nocase;"),
    ("http", "http $HOME_NET any -> $EXTERNAL_NET any", "http.host", _TO_SERVER, ""),
)
#: Per variant: (the rule up to the msg prefix, from the msg prefix to the value, from
#: the value to bsize, from the content to the sid): the fixed text of the three domain
#: rules, put together once instead of per domain.
_DOMAIN_TEMPLATES = tuple(
    (
        f'alert {header} (msg:"',
        f"{rules.message_text(f'domain ({variant})')} ",
        f'"; {extra}{buffer}; bsize:',
        f'";{nocase} {rules.CLASSTYPE} sid:',
    )
    for variant, header, buffer, extra, nocase in _DOMAIN_VARIANTS
)
#: What a domain rule's sid key ends with, per variant (`|dns`...), in the templates' order.
_DOMAIN_KEY_ENDS = tuple(f"|{variant[0]}".encode() for variant in _DOMAIN_VARIANTS)


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _url_rule(url: tuple[str, str], message: str, sid: int, tail: str) -> str:
    host, target = url
    return (
        f"alert http $HOME_NET any -> $EXTERNAL_NET any "
        f'(msg:"{message}"; {_TO_SERVER}'
        f'http.host; bsize:{_byte_length(host)}; content:"{rules.content(host)}"; '
        f'http.uri.raw; bsize:{_byte_length(target)}; content:"{rules.content(target)}"; '
        f"fast_pattern; {rules.CLASSTYPE} sid:{sid}; {tail}"
    )


def hash_rule(kind: str, base: int) -> str:
    sid = base + 1 + list(HASH_KEYWORDS).index(kind)
    return (
        f'alert http any any -> any any (msg:"SHIELDWALL file {kind.upper()} on the shieldwall '
        f'list"; {HASH_KEYWORDS[kind]}:{list_file(kind)}; {rules.CLASSTYPE} sid:{sid}; rev:1;)'
    )


#: The rules of each kind as templates for the compiled loop (`rules.write_chunks`): the
#: same text as `_python_rules` writes, from the same pieces.
TEMPLATES: rules.Templates = {
    **{kind: rules.address_template(kind) for kind in ("ipv4", "ipv6", "cidr")},
    "domain": tuple(
        (
            key_end.decode(),
            (
                start,
                Field.PREFIX,
                what,
                Field.SHOWN,
                middle,
                Field.SIZE,
                '; content:"',
                Field.CONTENT,
                end,
                Field.SID,
                "; ",
                *rules.TAIL,
            ),
        )
        for (start, what, middle, end), key_end in zip(
            _DOMAIN_TEMPLATES, _DOMAIN_KEY_ENDS, strict=True
        )
    ),
    "url": (
        (
            "|http",
            (
                'alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"',
                Field.PREFIX,
                f"{rules.WHAT['url']} ",
                Field.SHOWN,
                f'"; {_TO_SERVER}http.host; bsize:',
                Field.HOST_SIZE,
                '; content:"',
                Field.HOST_CONTENT,
                '"; http.uri.raw; bsize:',
                Field.TARGET_SIZE,
                '; content:"',
                Field.TARGET_CONTENT,
                f'"; fast_pattern; {rules.CLASSTYPE} sid:',
                Field.SID,
                "; ",
                *rules.TAIL,
            ),
        ),
    ),
}


def _domain_rules(name: str, message: tuple[str, str], sids: Sequence[int], tail: str) -> list[str]:
    """The DNS, TLS and HTTP rules of a domain, given their sids in that order."""
    prefix, shown = message
    text, size = rules.content(name), _byte_length(name)
    return [
        f'{start}{prefix}{what}{shown}{middle}{size}; content:"{text}{end}{domain_sid}; {tail}'
        for (start, what, middle, end), domain_sid in zip(_DOMAIN_TEMPLATES, sids, strict=True)
    ]


def _python_rules(
    chunk: rules.Chunk, sids: rules.SidAllocator, context: RuleContext, others: dict[str, int]
) -> bytes:
    """Suricata's rules of a chunk in Python: the reference of `TEMPLATES`."""
    return rules.python_rules(
        chunk,
        sids,
        context,
        others,
        domain_variants=_DOMAIN_KEY_ENDS,
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

    Hash values get no rule of their own: one rule per algorithm that has a
    value, after the others.
    `owner_names`: organisation names by id, for rows that carry owner ids
    (None: the rows carry the names).
    """
    return rules.write_format(
        chunks,
        sid_base,
        owner_names,
        header=b"# shieldwall export: Suricata rules (stable sids; see docs)\n",
        templates=TEMPLATES,
        python_rules=_python_rules,
        closing=partial(_hash_rules, sid_base),
        compiled=compiled,
    )


def _hash_rules(sid_base: int, others: dict[str, int]) -> Iterator[bytes]:
    """One rule per hash algorithm with a value (`hash_rule`), in `HASH_KEYWORDS` order."""
    for kind in HASH_KEYWORDS:
        if kind in others:
            yield (hash_rule(kind, sid_base) + "\n").encode()
