"""misp-stix as an oracle: it and our importer find the same indicator values in each ESET event.

MISP's own converter (`misp_stix_converter.MISPtoSTIX21Parser`) and ours
(`formats.misp.EventMapper`, what `shieldwall import` runs before the ingest)
both make an indicator of each `to_ids` attribute they can express as a STIX
pattern. Their patterns are written differently (misp-stix writes an ip-dst
as `[network-traffic:dst_ref.type = 'ipv4-addr' AND
network-traffic:dst_ref.value = '...']`, we write `[ipv4-addr:value = '...']`),
so each side's patterns are read the same way: the observables
`intel.patterns.pattern_observables` extracts (what shieldwall matches and
correlates on), plus the addresses compared through a reference
(`network-traffic:dst_ref.value`, `domain-name:resolves_to_refs[*].value`),
which `pattern_observables` does not follow.

The test lists every difference. A difference passes only if `EXPLAINED`
names it with the documented mapping decision behind it; on the ESET set
there is none today, and an entry that no longer matches anything fails too,
so the list cannot grow stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from misp_stix_converter import MISPtoSTIX21Parser

from shieldwall.formats import misp
from shieldwall.formats.common import Conversion
from shieldwall.intel.observables import Observable, detect
from shieldwall.intel.patterns import pattern_observables, slow_comparisons

pytestmark = pytest.mark.shared_data

#: (side that has the value, kind, value) -> the documented mapping decision explaining it.
#: "ours" = only our conversion has it, "misp-stix" = only misp-stix has it.
EXPLAINED: dict[tuple[str, str, str], str] = {}

_ADDRESS_KINDS = frozenset({"ipv4", "ipv6", "cidr"})


def _referenced_addresses(pattern: str) -> set[Observable]:
    """Addresses compared through a `*_ref(s)` path, which pattern_observables leaves out."""
    found: set[Observable] = set()
    for path, value in slow_comparisons(pattern):
        steps = path.partition(":")[2].split(".")
        if steps[0].endswith(("_ref", "_refs")) and steps[-1] == "value":
            observable = detect(value)
            if observable is not None and observable[0] in _ADDRESS_KINDS:
                found.add(observable)
    return found


def indicator_values(objects: Iterable[Any]) -> set[Observable]:
    """The observables of the STIX-pattern indicators among `objects` (dicts or stix2 objects)."""
    values: set[Observable] = set()
    for obj in objects:
        if obj["type"] != "indicator" or obj.get("pattern_type") != "stix":
            continue
        values.update(pattern_observables(obj["pattern"]))
        values |= _referenced_addresses(obj["pattern"])
    return values


def _event(document: Any) -> dict[str, Any]:
    if "response" in document:
        document = document["response"][0]
    return document.get("Event", document)  # type: ignore[no-any-return]


def theirs(event: dict[str, Any]) -> set[Observable]:
    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event({"Event": event})
    return indicator_values(parser.stix_objects)


def ours(event: dict[str, Any]) -> set[Observable]:
    conversion = Conversion(source="oracle", strict=False)
    return indicator_values(misp.EventMapper(conversion).objects([event]))


def test_indicator_values_match_misp_stix_on_every_eset_event(shared_data: Path) -> None:
    files = sorted((shared_data / "misp" / "eset").rglob("*.json"))
    assert len(files) == 39
    unexplained: list[str] = []
    used: set[tuple[str, str, str]] = set()
    compared = 0
    for path in files:
        event = _event(json.loads(path.read_bytes()))
        our_values, their_values = ours(event), theirs(event)
        compared += len(our_values | their_values)
        only = [("ours", v) for v in our_values - their_values]
        only += [("misp-stix", v) for v in their_values - our_values]
        for side, (kind, value) in sorted(only):
            key = (side, kind, value)
            if key in EXPLAINED:
                used.add(key)
            else:
                unexplained.append(f"{path.name}: only {side} has {kind} {value!r}")
    assert not unexplained, f"{len(unexplained)} unexplained difference(s):\n" + "\n".join(
        unexplained
    )
    assert used == set(EXPLAINED), f"stale EXPLAINED entries: {set(EXPLAINED) - used}"
    # Not an empty comparison: the ESET events hold over a thousand indicator values.
    assert compared > 1000


@pytest.mark.parametrize(
    ("misp_type", "value", "expected"),
    [
        ("ip-dst", "198.51.100.7", {("ipv4", "198.51.100.7")}),
        (
            "domain|ip",
            "evil.example|203.0.113.5",
            {("domain", "evil.example"), ("ipv4", "203.0.113.5")},
        ),
        ("filename|sha1", "a.exe|" + "a" * 40, {("filename", "a.exe"), ("sha1", "a" * 40)}),
        ("url", "http://evil.example/x", {("url", "http://evil.example/x")}),
    ],
)
def test_the_comparison_reads_both_pattern_styles(
    misp_type: str, value: str, expected: set[Observable]
) -> None:
    """The normalisation is fair: one attribute gives the same values on both sides."""
    event = {
        "uuid": "4a0f4c0e-8a3f-4f1e-9a51-2f0d8c7e1b23",
        "info": "oracle",
        "date": "2024-01-01",
        "timestamp": "1704067200",
        "threat_level_id": "2",
        "analysis": "2",
        "distribution": "1",
        "Attribute": [
            {
                "uuid": "6c1f3b8e-2d4a-4c5b-9e7f-0a1b2c3d4e5f",
                "type": misp_type,
                "category": "Network activity",
                "value": value,
                "to_ids": True,
                "timestamp": "1704067200",
                "distribution": "5",
            }
        ],
    }
    assert ours(event) == theirs(event) == expected
