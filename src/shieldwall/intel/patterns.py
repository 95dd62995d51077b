"""Observables from STIX patterns: a fast path for simple patterns, stix2-patterns for the rest.

`stix2-patterns` is the authority on the pattern grammar but parses only about
6,000 patterns/s on this machine (measured: 1,000 `[ipv4-addr:value = '...']`
in 0.16 s), which would cap ingest far below its target. Almost every
indicator in the wild is one bracketed observation of `path = 'literal'`
comparisons joined by OR or AND; those are recognised here with one regular
expression. Anything else goes to `stix2-patterns`. A property test proves the
two agree on every pattern the fast path accepts.
"""

from __future__ import annotations

import re

from stix2patterns.exceptions import ParseException
from stix2patterns.v21.pattern import Pattern

from shieldwall.intel.observables import PATH_KINDS, Observable, detect, normalise


class PatternError(ValueError):
    """The pattern is not valid STIX 2.1 patterning."""


# Only the paths we extract from (and a few silent ones) are accepted by the
# fast path, so that it can never accept an object type or property the
# grammar would refuse.
def _path_spellings(path: str) -> list[str]:
    """A path as patterns may spell it: `hashes.'SHA-256'`, and `hashes.MD5` bare."""
    if ".hashes." not in path and ":hashes." not in path:
        return [path]
    head, algo = path.rsplit(".", 1)
    spellings = [f"{head}.'{algo}'"]
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", algo):
        spellings.append(f"{head}.{algo}")
    return spellings


#: Comparisons through a reference, whose kind the value tells (`_through_reference`).
#: MISP's `domain|ip` and `ip-dst|port` become these: without them a quarter of
#: an ESET import went to stix2-patterns (measured by the formats benchmark).
_REFERENCE_PATHS = (
    "domain-name:resolves_to_refs[*].value",
    "network-traffic:dst_ref.value",
    "network-traffic:src_ref.value",
    "email-message:to_refs[*].value",
    "email-message:cc_refs[*].value",
    "email-message:bcc_refs[*].value",
)
#: Paths that carry no observable, compared in patterns MISP writes for its
#: `regkey`, `regkey|value` and `mutex` attributes: without them each of these
#: indicators went to stix2-patterns (0.1 s per 100,000 ESET attributes, for
#: 13 indicators of 3,401 attributes; measured by bench.misp_import).
SILENT_PATHS = (
    "windows-registry-key:key",
    "windows-registry-key:values[*].data",
    "mutex:name",
)
_SPELLINGS = (
    frozenset(spelling for path in PATH_KINDS for spelling in _path_spellings(path))
    | frozenset(_REFERENCE_PATHS)
    | frozenset(SILENT_PATHS)
)
_PATH = "|".join(re.escape(spelling) for spelling in sorted(_SPELLINGS, key=len, reverse=True))
#: Whitespace both grammars agree on (Python's \s also takes \x1c-\x1f, STIX's does not).
_WS = r"[ \t\r\n\x0b\x0c]"
_WS_CHARS = " \t\r\n\x0b\x0c"
_LITERAL = r"'((?:[^'\\]|\\['\\])*)'"
_COMPARISON = rf"({_PATH}){_WS}*={_WS}*{_LITERAL}"
# AND joins are as common as OR in MISP-made patterns (`filename|sha1` and the like).
_SIMPLE = re.compile(rf"\[{_WS}*{_COMPARISON}(?:{_WS}+(?:OR|AND){_WS}+{_COMPARISON})*{_WS}*\]")
_COMPARISON_RE = re.compile(_COMPARISON)
# The commonest pattern of all, one comparison, is matched by a cheap expression
# and its path checked against the accepted spellings (a third of the cost of
# the general expression, measured on 100,000 generated indicators).
_SINGLE_RE = re.compile(r"\[([a-z0-9-]+:[A-Za-z0-9_.'-]+) = '((?:[^'\\]|\\['\\])*)'\]")

_ESCAPE_RE = re.compile(r"\\(['\\])")


def _unescape(literal: str) -> str:
    return _ESCAPE_RE.sub(r"\1", literal) if "\\" in literal else literal


def _canonical_path(path: str) -> str:
    """The path as stix2-patterns reports it: hash names unquoted, `[*]` as a `*` step."""
    return path.replace("'", "").replace("[*]", ".*")


def fast_comparisons(pattern: str) -> list[tuple[str, str]] | None:
    """`(path, value)` pairs of a simple pattern, or None when it is not simple."""
    single = _SINGLE_RE.fullmatch(pattern)
    if single is not None and single.group(1) in _SPELLINGS:
        return [(_canonical_path(single.group(1)), _unescape(single.group(2)))]
    text = pattern.strip(_WS_CHARS)
    if not _SIMPLE.fullmatch(text):
        return None
    return [
        (_canonical_path(path), _unescape(value)) for path, value in _COMPARISON_RE.findall(text)
    ]


def slow_comparisons(pattern: str) -> list[tuple[str, str]]:
    """`(path, value)` pairs of every equality comparison, through stix2-patterns."""
    try:
        inspected = Pattern(pattern).inspect()
    except ParseException as exc:
        raise PatternError(str(exc)) from None
    except Exception as exc:  # the grammar's own bugs must not crash an import
        raise PatternError(f"pattern could not be parsed: {exc}") from None
    pairs: list[tuple[str, str]] = []
    for stix_type, comparisons in inspected.comparisons.items():
        for path_steps, operator, value in comparisons:
            if operator != "=" or not isinstance(value, str) or not value.startswith("'"):
                continue
            # `[*]` comes back as a sentinel object: written `*` here.
            path = ".".join(
                str(step) if isinstance(step, str | int) else "*" for step in path_steps
            )
            pairs.append((f"{stix_type}:{path}", _unescape(value[1:-1])))
    return pairs


def _kind_of(path: str) -> str | None:
    """The observable kind of a path; hash names in any case (`hashes.md5` is common)."""
    kind = PATH_KINDS.get(path)
    if kind is None and (".hashes." in path or ":hashes." in path):
        head, _, algo = path.rpartition(".")
        kind = PATH_KINDS.get(f"{head}.{algo.upper()}")
    return kind


#: Each accepted spelling of a path and the kind of observable it carries
#: (None for a reference's `value`, whose kind its value tells, and for the
#: silent paths). Also the table of ingest's compiled fast path
#: (`_ingest.set_spellings`, which is told the silent paths apart).
SPELLING_KINDS = {spelling: _kind_of(_canonical_path(spelling)) for spelling in _SPELLINGS}


#: What a reference's `value` may be: `network-traffic:dst_ref.value`,
#: `domain-name:resolves_to_refs[*].value`, `email-message:to_refs[*].value`.
_REF_VALUE_KINDS = frozenset({"ipv4", "ipv6", "cidr", "domain", "email"})


def _through_reference(path: str, value: str) -> Observable | None:
    """The observable of a comparison on a referenced object's `value`.

    The path does not say the referenced object's type (a `dst_ref` may be an
    IPv4 or IPv6 address or a domain name), so the value does: an address or
    domain behind `resolves_to_refs` or `dst_ref` is what a member's logs hold.
    """
    head, _, last = path.rpartition(".")
    if last != "value" or not (head.endswith("_ref") or head.endswith("_refs.*")):
        return None
    found = detect(value)
    return found if found is not None and found[0] in _REF_VALUE_KINDS else None


def pattern_observables(pattern: str) -> list[Observable]:
    """Normalised observables of a STIX pattern; raises PatternError if invalid."""
    single = _SINGLE_RE.fullmatch(pattern)
    if single is not None:
        # The commonest case in one dictionary look-up: no list of pairs.
        path, literal = single.groups()
        kind = SPELLING_KINDS.get(path)
        if kind is not None:
            item = normalise(kind, _unescape(literal) if "\\" in literal else literal)
            return [item] if item else []
    pairs = fast_comparisons(pattern)
    if pairs is None:
        pairs = slow_comparisons(pattern)
    found: list[Observable] = []
    for path, value in pairs:
        kind = _kind_of(path)
        item = normalise(kind, value) if kind else _through_reference(path, value)
        if item and item not in found:
            found.append(item)
    return found
