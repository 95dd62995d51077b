"""CSV with a column mapping, and free text with refanging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shieldwall.errors import BadInput
from shieldwall.formats.detect import Format, detect
from shieldwall.formats.freetext import extract, refang
from tests.factories import Coalition
from tests.formats.helpers import import_bytes, stored

CSV = b"""first seen,address,host,comment
2024-01-02,198.51.100.7,evil.example,C2 server
2024-01-03,not-an-ip,update.evil.example,
2024-01-04,10.0.0.0/8,,internal range
"""


def patterns(engine: Engine) -> dict[str, str]:
    return {
        o["pattern"]: o.get("description", "") for o in stored(engine).values() if "pattern" in o
    }


def test_csv_with_a_column_mapping(engine: Engine, coalition: Coalition) -> None:
    report = import_bytes(engine, CSV, csv_mapping="address=ip,host=domain,comment=description")
    assert patterns(engine) == {
        "[ipv4-addr:value = '198.51.100.7']": "C2 server",
        "[domain-name:value = 'evil.example']": "C2 server",
        "[domain-name:value = 'update.evil.example']": "",
        "[ipv4-addr:value = '10.0.0.0/8']": "internal range",
    }
    [bad] = report.rejected
    assert (bad.index, bad.field) == (3, "line[3].address")
    assert "'not-an-ip' is not a valid ipv4 value" in bad.reason
    assert report.objects == 5


def test_csv_columns_by_number_without_a_header(engine: Engine, coalition: Coalition) -> None:
    data = b"d41d8cd98f00b204e9800998ecf8427e,dropper\n"
    import_bytes(engine, data, csv_mapping="0=md5,1=name")
    [indicator] = stored(engine).values()
    assert indicator["name"] == "dropper"
    assert indicator["pattern"] == "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"


def test_csv_header_names_are_used_without_a_mapping(engine: Engine, coalition: Coalition) -> None:
    data = b"ip-dst,sha256\n198.51.100.9," + b"b" * 64 + b"\n"
    assert detect(data) is Format.CSV
    assert import_bytes(engine, data).created == 2


def test_a_mapping_naming_an_unknown_column_is_bad_input(
    engine: Engine, coalition: Coalition
) -> None:
    with pytest.raises(BadInput, match="no CSV column named 'ip'"):
        import_bytes(engine, CSV, csv_mapping="ip=ip")


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("hxxp://evil[.]example/a", "http://evil.example/a"),
        ("hxxps[://]evil[.]example", "https://evil.example"),
        ("198.51.100[.]7", "198.51.100.7"),
        ("evil(dot)example", "evil.example"),
        ("evil{.}example", "evil.example"),
        ("bad[@]evil[.]example", "bad@evil.example"),
        ("bad(at)evil(dot)example", "bad@evil.example"),
        ("evil\\.example", "evil.example"),
        ("fxp://files[.]evil.example", "ftp://files.evil.example"),
    ],
)
def test_refang(defanged: str, plain: str) -> None:
    assert refang(defanged) == plain


PROSE = """The actor staged its payload at hxxp://cdn-update[.]example/dl/setup.exe and
used 203.0.113[.]45 as well as the range 198.51.100.0/24 for command and control.
Victims received mail from billing[@]invoice-portal(dot)example, with an attachment
named invoice.pdf whose SHA-256 is
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 (MD5
d41d8cd98f00b204e9800998ecf8427e). The loader exploits CVE-2017-11882 and talks to
2001:db8::beef over port 443. Version 1.2.3 of the tool is not an indicator.
"""


def test_extraction_from_prose() -> None:
    found = {(f.kind, f.value) for f in extract(PROSE)}
    assert found == {
        ("url", "http://cdn-update.example/dl/setup.exe"),
        ("ipv4", "203.0.113.45"),
        ("cidr", "198.51.100.0/24"),
        ("email", "billing@invoice-portal.example"),
        ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("cve", "CVE-2017-11882"),
        ("ipv6", "2001:db8::beef"),
    }


def test_free_text_import(engine: Engine, coalition: Coalition) -> None:
    data = PROSE.encode()
    assert detect(data, "report.txt") is Format.TEXT
    report = import_bytes(engine, data)
    assert report.created == 8
    assert not report.rejected
    objects = stored(engine)
    assert any(
        o["type"] == "vulnerability" and o["name"] == "CVE-2017-11882" for o in objects.values()
    )
    again = import_bytes(engine, data)
    assert again.created == 0  # one id per value: the same value is the same object


def test_warninglisted_values_are_dropped_only_when_asked(
    engine: Engine, coalition: Coalition
) -> None:
    data = b"Beacons to 8.8.8.8 and to hxxp://evil-c2[.]example/gate.php"
    assert import_bytes(engine, data).created == 2
    kept = import_bytes(engine, data, skip_warninglisted=True)
    assert kept.objects == 1  # the public resolver is left out


@pytest.mark.shared_data
def test_extraction_from_eset_event_texts(shared_data: Path) -> None:
    texts: list[str] = []
    for path in sorted((shared_data / "misp" / "eset").rglob("*.json")):
        document = json.loads(path.read_bytes())
        event = document["response"][0]["Event"] if "response" in document else document["Event"]
        texts.append(event["info"])
        attributes = event.get("Attribute", []) + [
            a for o in event.get("Object", []) for a in o.get("Attribute", [])
        ]
        texts.extend(a["comment"] for a in attributes if a["comment"])
        texts.extend(a["value"] for a in attributes if a["type"] == "text")
    found = {(f.kind, f.value) for f in extract("\n".join(texts))}
    # Every value found is valid of its kind (extract normalises or drops), and
    # the comments name real infrastructure: hashes and domains are among them.
    kinds = {kind for kind, _ in found}
    assert {"sha1", "domain"} <= kinds, kinds
    assert all(value for _, value in found)
