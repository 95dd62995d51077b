"""MISP event JSON in: shapes, the attribute mapping table, tags, distribution, refusals."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import Engine, select

from shieldwall.intel.ingest import ImportAborted, Mode
from shieldwall.intel.tables import observables, stix_objects
from shieldwall.sharing.tlp import TLP, TLP2_MARKING_ID
from tests.factories import Coalition
from tests.formats.helpers import import_bytes, stored

EVENT_UUID = "5bad1b96-53bc-4148-87eb-50d50a016219"


def attribute(
    uuid_tail: str, misp_type: str, value: str, to_ids: bool = False, **extra: Any
) -> dict[str, Any]:
    # MISP writes its scalars as strings; booleans stay booleans.
    return {
        "uuid": f"00000000-0000-4000-8000-{uuid_tail:0>12}",
        "type": misp_type,
        "category": "Network activity",
        "value": value,
        "to_ids": to_ids,
        "distribution": "5",
        "timestamp": "1538071642",
        "comment": "",
        **extra,
    }


def event(**extra: Any) -> dict[str, Any]:
    return {
        "uuid": EVENT_UUID,
        "info": "Test event",
        "date": "2018-09-27",
        "timestamp": "1539269641",
        "distribution": "1",
        "threat_level_id": "2",
        "analysis": "2",
        "published": True,
        "Orgc": {"name": "ESET", "uuid": "55f6ea5e-51ac-4344-bc8c-4170950d210f"},
        "Tag": [{"name": "tlp:green"}, {"name": "SSHDoor"}],
        "Attribute": [
            attribute("1", "ip-dst", "198.51.100.7", True),
            attribute("2", "domain", "evil.example", False),
        ],
        **extra,
    }


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda e: e, id="bare event"),
        pytest.param(lambda e: {"Event": e}, id="Event wrapper"),
        pytest.param(lambda e: {"response": [{"Event": e}]}, id="response list"),
        pytest.param(lambda e: [{"Event": e}], id="list of events"),
    ],
)
def test_every_misp_shape_imports_the_same_event(
    engine: Engine, coalition: Coalition, shape: Any
) -> None:
    report = import_bytes(engine, shape(event()))
    assert report.committed
    assert not report.rejected
    objects = stored(engine)
    assert objects[f"report--{EVENT_UUID}"]["name"] == "Test event"
    assert objects["indicator--00000000-0000-4000-8000-000000000001"]["pattern"] == (
        "[ipv4-addr:value = '198.51.100.7']"
    )
    assert objects["domain-name--00000000-0000-4000-8000-000000000002"]["value"] == "evil.example"


def test_event_becomes_a_report_with_the_contract_properties(
    engine: Engine, coalition: Coalition
) -> None:
    import_bytes(engine, {"Event": event()})
    report = stored(engine)[f"report--{EVENT_UUID}"]
    assert report["published"] == "2018-09-27T00:00:00.000Z"
    assert report["created"] == report["modified"] == "2018-10-11T14:54:01.000Z"
    assert report["report_types"] == ["threat-report"]
    assert report["created_by_ref"] == "identity--55f6ea5e-51ac-4344-bc8c-4170950d210f"
    assert sorted(report["object_refs"]) == [
        "domain-name--00000000-0000-4000-8000-000000000002",
        "indicator--00000000-0000-4000-8000-000000000001",
    ]
    assert report["x_misp_distribution"] == 1  # "1" read as the number it is
    assert report["x_misp_threat_level_id"] == 2
    assert report["x_misp_published"] is True
    assert report["x_misp_orgc"] == "ESET"
    assert report["x_misp_tags"] == ["tlp:green", "SSHDoor"]
    assert report["object_marking_refs"] == [TLP2_MARKING_ID[TLP.GREEN]]


# MISP type, value, to_ids -> the STIX id prefix and the property that holds the value.
MAPPING = [
    ("ip-src", "203.0.113.9", False, "ipv4-addr", ("value", "203.0.113.9")),
    ("ip-dst", "2001:db8::1", False, "ipv6-addr", ("value", "2001:db8::1")),
    ("ip-dst", "2001:db8::1", True, "indicator", ("pattern", "[ipv6-addr:value = '2001:db8::1']")),
    (
        "domain",
        "evil.example",
        True,
        "indicator",
        ("pattern", "[domain-name:value = 'evil.example']"),
    ),
    ("hostname", "c2.evil.example", False, "domain-name", ("value", "c2.evil.example")),
    ("url", "http://evil.example/a", False, "url", ("value", "http://evil.example/a")),
    (
        "url",
        "http://evil.example/it's",
        True,
        "indicator",
        ("pattern", "[url:value = 'http://evil.example/it\\'s']"),
    ),
    ("email-src", "bad@evil.example", False, "email-addr", ("value", "bad@evil.example")),
    (
        "md5",
        "d41d8cd98f00b204e9800998ecf8427e",
        True,
        "indicator",
        ("pattern", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
    ),
    (
        "sha1",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        False,
        "file",
        ("hashes", {"SHA-1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}),
    ),
    ("filename", "evil.exe", False, "file", ("name", "evil.exe")),
    (
        "filename|sha1",
        "a.exe|da39a3ee5e6b4b0d3255bfef95601890afd80709",
        True,
        "indicator",
        (
            "pattern",
            "[file:name = 'a.exe' AND "
            "file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
        ),
    ),
    ("mutex", "Global\\x", False, "mutex", ("name", "Global\\x")),
    (
        "regkey",
        "HKLM\\Software\\Evil",
        False,
        "windows-registry-key",
        ("key", "HKEY_LOCAL_MACHINE\\Software\\Evil"),
    ),
    (
        "regkey|value",
        "HKEY_CURRENT_USER\\Software\\X|data",
        False,
        "windows-registry-key",
        ("values", [{"data": "data"}]),
    ),
    (
        "domain|ip",
        "evil.example|198.51.100.1",
        True,
        "indicator",
        (
            "pattern",
            "[domain-name:value = 'evil.example' AND "
            "domain-name:resolves_to_refs[*].value = '198.51.100.1']",
        ),
    ),
    (
        "ip-dst|port",
        "198.51.100.1|443",
        True,
        "indicator",
        (
            "pattern",
            "[network-traffic:dst_ref.value = '198.51.100.1' AND network-traffic:dst_port = 443]",
        ),
    ),
    # Without to_ids: the address as an SCO, searchable like any address.
    ("ip-src|port", "198.51.100.7|8080", False, "ipv4-addr", ("value", "198.51.100.7")),
    ("ip-dst|port", "2001:db8::7|53", False, "ipv6-addr", ("value", "2001:db8::7")),
    ("AS", "AS64500", False, "autonomous-system", ("number", 64500)),
    ("yara", "rule x { condition: true }", True, "indicator", ("pattern_type", "yara")),
    ("vulnerability", "CVE-2021-44228", False, "vulnerability", ("name", "CVE-2021-44228")),
    ("text", "Linux/Ebury.J", True, "note", ("content", "Linux/Ebury.J")),
    (
        "btc",
        "1B8QtVGktfjBfNptp1Ay1DVt5C47rq3yWY",
        False,
        "note",
        ("content", "1B8QtVGktfjBfNptp1Ay1DVt5C47rq3yWY"),
    ),
    ("port", "80", False, "note", ("content", "80")),
]


@pytest.mark.parametrize(("misp_type", "value", "to_ids", "stix_type", "expected"), MAPPING)
def test_attribute_mapping_table(
    engine: Engine,
    coalition: Coalition,
    misp_type: str,
    value: str,
    to_ids: bool,
    stix_type: str,
    expected: tuple[str, Any],
) -> None:
    one = attribute("9", misp_type, value, to_ids, comment="seen in the wild")
    report = import_bytes(engine, {"Event": event(Attribute=[one])})
    assert not report.rejected, report.as_dict()
    obj = stored(engine)[f"{stix_type}--{one['uuid']}"]
    prop, wanted = expected
    assert obj[prop] == wanted
    assert obj["x_misp_value"] == value  # verbatim, whatever the STIX form
    assert obj["x_misp_type"] == misp_type
    assert obj["x_misp_to_ids"] is to_ids
    assert obj["x_misp_comment"] == "seen in the wild"
    assert obj["x_misp_event_uuid"] == EVENT_UUID


@pytest.mark.parametrize(
    ("misp_type", "value", "reason"),
    [
        ("url", "www.allsoulu.com", "not an absolute URL"),
        ("regkey", "Software\\Evil", "does not start with a hive"),
        ("ip-dst", "300.1.2.3", "not an IP address"),
        ("sha256", "abc", "not a sha256 hash"),
        ("domain", "not a domain", "not a domain name"),
    ],
)
def test_unmappable_attribute_is_listed_with_its_place_and_the_rest_imports(
    engine: Engine, coalition: Coalition, misp_type: str, value: str, reason: str
) -> None:
    bad = attribute("7", misp_type, value)
    report = import_bytes(engine, {"Event": event(Attribute=[*event()["Attribute"], bad])})
    assert report.committed
    [rejection] = report.rejected
    assert rejection.field == f"Event[{EVENT_UUID}].Attribute[2].value"
    assert reason in rejection.reason
    assert bad["uuid"] in rejection.reason
    # identity + 2 attributes + report imported; the refused attribute counted too.
    assert report.objects == 5
    assert report.created == 4


def test_strict_mode_refuses_the_whole_event_on_an_unmappable_attribute(
    engine: Engine, coalition: Coalition
) -> None:
    bad = attribute("7", "url", "not-a-url")
    with pytest.raises(ImportAborted) as aborted:
        import_bytes(
            engine, {"Event": event(Attribute=[*event()["Attribute"], bad])}, mode=Mode.STRICT
        )
    assert aborted.value.where == f"objects[0].Event[{EVENT_UUID}].Attribute[2].value"
    assert stored(engine) == {}


def test_objects_and_references(engine: Engine, coalition: Coalition) -> None:
    file_object = {
        "uuid": "11111111-1111-4111-8111-111111111111",
        "name": "file",
        "meta-category": "file",
        "distribution": "5",
        "Attribute": [
            attribute("a1", "filename", "dropper.exe", object_relation="filename"),
            attribute("a2", "sha256", "a" * 64, True, object_relation="sha256"),
        ],
        "ObjectReference": [
            {
                "uuid": "22222222-2222-4222-8222-222222222222",
                "object_uuid": "11111111-1111-4111-8111-111111111111",
                "referenced_uuid": "00000000-0000-4000-8000-000000000001",
                "relationship_type": "communicates-with",
                "timestamp": "1538071642",
            },
            {
                "uuid": "33333333-3333-4333-8333-333333333333",
                "object_uuid": "11111111-1111-4111-8111-111111111111",
                "referenced_uuid": "44444444-4444-4444-8444-444444444444",
                "relationship_type": "drops",
            },
        ],
    }
    report = import_bytes(engine, {"Event": event(Object=[file_object])})
    objects = stored(engine)
    name = objects["file--00000000-0000-4000-8000-0000000000a1"]
    assert name["x_misp_object_uuid"] == file_object["uuid"]
    assert name["x_misp_object_name"] == "file"
    assert name["x_misp_object_relation"] == "filename"
    relationship = objects["relationship--22222222-2222-4222-8222-222222222222"]
    assert relationship["source_ref"] == "file--00000000-0000-4000-8000-0000000000a1"
    assert relationship["target_ref"] == "indicator--00000000-0000-4000-8000-000000000001"
    assert relationship["x_misp_object_reference"] is True
    [dangling] = report.rejected
    assert dangling.field == f"Event[{EVENT_UUID}].Object[0].ObjectReference[1]"
    assert "not a mapped part of this event" in dangling.reason


def test_attribute_tlp_tag_and_event_tlp_tag_keep_the_most_restrictive(
    engine: Engine, coalition: Coalition
) -> None:
    red = attribute("5", "ip-dst", "198.51.100.5", Tag=[{"name": "tlp:red"}])
    import_bytes(engine, {"Event": event(Attribute=[*event()["Attribute"], red])})
    objects = stored(engine)
    assert objects[f"ipv4-addr--{red['uuid']}"]["_tlp"] == TLP.RED
    assert objects["domain-name--00000000-0000-4000-8000-000000000002"]["_tlp"] == TLP.GREEN


@pytest.mark.parametrize(
    ("event_level", "attribute_level", "expected"),
    [
        ("0", "5", "org"),
        ("1", "5", "members"),
        ("2", "5", "members"),
        ("3", "5", "public"),
        ("3", "0", "org"),  # one org-only attribute keeps the whole import org-only
        ("4", "5", "org"),  # a sharing group this node does not know
    ],
)
def test_misp_distribution_maps_to_the_narrowest_shieldwall_distribution(
    engine: Engine, coalition: Coalition, event_level: str, attribute_level: str, expected: str
) -> None:
    data = event(distribution=event_level)
    data["Attribute"][0]["distribution"] = attribute_level
    import_bytes(engine, data)
    assert stored(engine)[f"report--{EVENT_UUID}"]["_dist"] == expected


def test_sharing_group_maps_to_the_group_of_that_name(engine: Engine, coalition: Coalition) -> None:
    import_bytes(engine, event(distribution="4", SharingGroup={"name": "ics"}))
    assert stored(engine)[f"report--{EVENT_UUID}"]["_dist"] == "group"


def test_explicit_distribution_wins_over_the_event(engine: Engine, coalition: Coalition) -> None:
    import_bytes(engine, event(distribution="3"), distribution="org")
    assert stored(engine)[f"report--{EVENT_UUID}"]["_dist"] == "org"


def test_importing_the_same_event_again_changes_nothing(
    engine: Engine, coalition: Coalition
) -> None:
    import_bytes(engine, event())
    again = import_bytes(engine, copy.deepcopy(event()))
    assert again.created == 0
    assert again.new_versions == 0
    assert again.unchanged == again.objects


def test_address_and_port_without_to_ids_is_an_observable_of_its_address(
    engine: Engine, coalition: Coalition
) -> None:
    """MISP's `ip-dst|port` kept for context (no IDS flag) is still found by its address."""
    one = attribute("9", "ip-dst|port", "198.51.100.7|8080", False)
    import_bytes(engine, {"Event": event(Attribute=[one])})
    with engine.connect() as conn:
        found = conn.execute(
            select(observables.c.kind, observables.c.value)
            .join(stix_objects, stix_objects.c.pk == observables.c.object_pk)
            .where(stix_objects.c.stix_id == f"ipv4-addr--{one['uuid']}")
        ).all()
    assert [tuple(row) for row in found] == [("ipv4", "198.51.100.7")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 12 ", 12),
        (12, 12),
        (True, 7),
        ("x", 7),
        ("", 7),
        ("-1", 7),
        ("\u0663", 3),  # an Arabic-Indic three: int() reads it
        ("\u00b2", 7),  # a superscript two: a digit to isdigit, which int() refuses
        (None, 7),
        (1.5, 7),
    ],
)
def test_misp_numbers_are_read_as_int_reads_them(raw: Any, expected: int) -> None:
    from shieldwall.formats.misp import _int

    assert _int(raw, 7) == expected
    assert _int(raw, 7) == expected  # once more, from the cache


def test_a_timestamp_int_refuses_is_the_event_s_not_a_crash(
    engine: Engine, coalition: Coalition
) -> None:
    misp_event = event()
    misp_event["Attribute"][0]["timestamp"] = "\u00b2"
    report = import_bytes(engine, {"Event": misp_event})
    assert report.committed
    assert report.created == len(misp_event["Attribute"]) + 2  # and the report, the author
    indicator = stored(engine)["indicator--00000000-0000-4000-8000-000000000001"]
    assert indicator["x_misp_timestamp"] == 1539269641
