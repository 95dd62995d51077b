"""How values look: flags from ISO codes, TLP badge classes, titles of STIX objects."""

from __future__ import annotations

import pytest

from shieldwall.web.presenting import flag, object_title, references, tlp_class, tlp_label


@pytest.mark.parametrize(
    ("country", "shown"),
    [
        ("EE", "\U0001f1ea\U0001f1ea"),
        ("ua", "\U0001f1fa\U0001f1e6"),
        (None, ""),
        ("", ""),
        ("EST", ""),
        ("E1", ""),
        ("ÉE", ""),
    ],
)
def test_flags_are_regional_indicator_pairs(country: str | None, shown: str) -> None:
    assert flag(country) == shown


@pytest.mark.parametrize(
    ("slug", "css", "label"),
    [
        ("clear", "tlp-clear", "TLP:CLEAR"),
        ("green", "tlp-green", "TLP:GREEN"),
        ("amber", "tlp-amber", "TLP:AMBER"),
        ("amber+strict", "tlp-amber-strict", "TLP:AMBER+STRICT"),
        ("red", "tlp-red", "TLP:RED"),
    ],
)
def test_tlp_badges(slug: str, css: str, label: str) -> None:
    assert tlp_class(slug) == css
    assert tlp_label(slug) == label


@pytest.mark.parametrize(
    ("obj", "title"),
    [
        ({"type": "indicator", "name": "C2 beacon", "pattern": "[x]"}, "C2 beacon"),
        (
            {"type": "indicator", "pattern": "[ipv4-addr:value = '1.2.3.4']"},
            "[ipv4-addr:value = '1.2.3.4']",
        ),
        ({"type": "domain-name", "value": "evil.example"}, "evil.example"),
        ({"type": "relationship", "relationship_type": "uses"}, "uses"),
        (
            {"type": "sighting", "count": 3, "x_shieldwall_where": "dc1"},
            "sighting, seen 3 times at dc1",
        ),
        ({"type": "sighting"}, "sighting"),
        ({"type": "identity"}, "identity"),
        ({"type": "report", "name": "x" * 200}, "x" * 157 + "..."),
    ],
)
def test_object_titles(obj: dict[str, object], title: str) -> None:
    assert object_title(obj) == title


def test_references_leave_out_markings_and_the_creator() -> None:
    obj = {
        "type": "relationship",
        "source_ref": "indicator--1",
        "target_ref": "malware--2",
        "created_by_ref": "identity--3",
        "object_marking_refs": ["marking-definition--4"],
        "object_refs": ["a--5", 6],
        "x_custom_ref": "x--7",
    }
    assert references(obj) == [
        ("source_ref", "indicator--1"),
        ("target_ref", "malware--2"),
        ("object_refs", "a--5"),
    ]
