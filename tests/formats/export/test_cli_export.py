"""`shieldwall export --format F --as ORG --out PATH` as a subprocess on a SQLite store.

The store holds two indicators with one value of each kind: Sponsor A's
(TLP:AMBER, members), which Sponsor A may see, and Sponsor B's (TLP:RED, org
only), which it may not. Every format is exported as Sponsor A (side by side,
each a fresh process) and read back with the tool or grammar of its format:
each must exit 0, write non-empty files that parse, carry Sponsor A's values
where the format can hold them, and carry no trace of Sponsor B's object.
Bad formats and organisations exit 2 with one line on stderr and write nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import idstools.rule
import orjson
import pytest
from pymisp import MISPEvent

from shieldwall.db.engine import make_engine, read_transaction
from shieldwall.db.migrate import upgrade
from shieldwall.formats.detect import Format
from shieldwall.formats.service import FormatRequest, import_stream
from shieldwall.intel.ingest import Mode
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from tests.cli.runner import Shieldwall, assert_one_line_error
from tests.factories import build_coalition, bundle
from tests.formats.export.conftest import make_indicator
from tests.formats.helpers import SETTINGS

AS = "Sponsor A"
#: (owner, tlp, distribution, n): what Sponsor A may see, and what it may not.
VISIBLE = ("Sponsor A", "amber", "members", 1)
HIDDEN = ("Sponsor B", "red", "org", 2)
#: The detection formats would leave out documentation-range addresses by default.
INCLUDE = ["--include-warninglisted"]


def _post(database_url: str, owner: str, tlp: str, distribution: str, n: int) -> Any:
    """Imports one indicator as `owner`; returns (its id, its values)."""
    obj, values = make_indicator(n)
    engine = make_engine(database_url)
    try:
        with read_transaction(engine) as conn:
            principal = bootstrap.principal_for(conn, owner, Role.ANALYST)
        request = FormatRequest(
            principal=principal,
            owner=owner,
            tlp=tlp,
            distribution=distribution,
            mode=Mode.STRICT,
            format=Format.STIX21,
        )
        report = import_stream(
            engine, SETTINGS, request, io.BytesIO(orjson.dumps(bundle(obj))), "test"
        )
    finally:
        engine.dispose()
    assert report.created == 1
    return obj["id"], values


@pytest.fixture
def store(tmp_path: Path) -> tuple[Shieldwall, dict[str, list[str]]]:
    """The CLI on a fresh SQLite store; stix id -> values, visible object first."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        build_coalition(engine)
    finally:
        engine.dispose()
    posted = dict(_post(url, *marking) for marking in (VISIBLE, HIDDEN))
    return Shieldwall(url, tmp_path), posted


def _read_tree(path: Path) -> dict[str, bytes]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(path.parent)): p.read_bytes() for p in files}


def _json(files: dict[str, bytes]) -> None:
    for body in files.values():
        json.loads(body)


def _stix21(files: dict[str, bytes]) -> None:
    [body] = files.values()
    document = json.loads(body)
    assert document["type"] == "bundle"
    assert all(obj["spec_version"] == "2.1" for obj in document["objects"])


def _misp(files: dict[str, bytes]) -> None:
    [body] = files.values()
    for item in json.loads(body)["response"]:
        MISPEvent().load(item)


def _misp_feed(files: dict[str, bytes]) -> None:
    names = {Path(name).name: body for name, body in files.items()}
    manifest = json.loads(names.pop("manifest.json"))
    hashes = names.pop("hashes.csv").decode().splitlines()
    assert set(names) == {f"{uuid}.json" for uuid in manifest}
    for uuid in manifest:
        MISPEvent().load(json.loads(names[f"{uuid}.json"]))
        assert any(line.endswith("," + uuid) for line in hashes)


def _rules(files: dict[str, bytes]) -> None:
    for name, body in files.items():
        if not name.endswith(".rules"):
            continue  # suricata's hash lists, one value per line
        lines = [line for line in body.decode().splitlines() if line and line[0] != "#"]
        assert lines, name
        assert all(idstools.rule.parse(line) is not None for line in lines), name


def _zeek(files: dict[str, bytes]) -> None:
    [body] = files.values()
    header, *rows = body.decode().splitlines()
    assert header == "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    assert rows
    assert all(len(row.split("\t")) == 5 for row in rows)


def _csv(files: dict[str, bytes]) -> None:
    [body] = files.values()
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert rows
    assert {row["owner"] for row in rows} == {AS}


def _txt(files: dict[str, bytes]) -> None:
    assert {Path(name).name for name in files} == {
        "ipv4.txt",
        "domain.txt",
        "url.txt",
        "md5.txt",
        "sha256.txt",
    }


#: format -> (output name, extra options, parser, how many of the visible values it holds).
FORMATS: dict[str, tuple[str, list[str], Callable[[dict[str, bytes]], None], int]] = {
    "stix21": ("bundle.json", [], _stix21, 5),
    "misp": ("events.json", [], _misp, 5),
    "misp-feed": ("feed", [], _misp_feed, 5),
    # Suricata's hash rules read the hashes from lists beside the rules (checked below).
    "suricata": ("shieldwall.rules", INCLUDE, _rules, 3),
    # Snort rules cannot match file hashes.
    "snort": ("snort.rules", INCLUDE, _rules, 3),
    "zeek": ("intel.dat", INCLUDE, _zeek, 5),
    "csv": ("values.csv", [], _csv, 5),
    "txt": ("lists", INCLUDE, _txt, 5),
}


def _written(value: str, text: str) -> bool:
    """The value is in the text as is, or as Zeek writes URLs (without the scheme)."""
    return value in text or ("://" in value and value.partition("://")[2] in text)


def test_every_format_is_written_parseable_and_within_what_the_org_may_see(
    store: tuple[Shieldwall, dict[str, list[str]]], tmp_path: Path
) -> None:
    cli, posted = store
    (visible_id, visible), (hidden_id, hidden) = posted.items()
    out = tmp_path / "out"
    out.mkdir()
    commands = [
        ["export", "--format", fmt, "--as", AS, "--out", str(out / name), *options]
        for fmt, (name, options, _, _) in FORMATS.items()
    ]
    results = cli.many(commands)
    for fmt, result in zip(FORMATS, results, strict=True):
        name, _, parse, holds = FORMATS[fmt]
        assert result.code == 0, result.explain()
        assert result.stdout == "", result.explain()  # with --out, data goes to files only
        files = _read_tree(out / name)
        assert files, fmt
        assert all(body for body in files.values()), (fmt, [n for n, b in files.items() if not b])
        assert not any(n.endswith(".partial") for n in files), fmt
        parse(files)
        text = b"\n".join(files.values()).decode()
        leaked = [v for v in [hidden_id.partition("--")[2], *hidden] if _written(v, text)]
        assert not leaked, f"{fmt} export for {AS} reveals {leaked} of Sponsor B's object"
        carried = [value for value in visible if _written(value, text)]
        assert len(carried) == holds, (fmt, carried)
    # Suricata's hash rules read their lists from beside the rules file.
    assert (out / "shieldwall-md5.txt").read_text().split() == [visible[3]]
    assert (out / "shieldwall-sha256.txt").read_text().split() == [visible[4]]
    assert visible_id in (out / "bundle.json").read_text()


def test_unknown_format_or_org_exits_2_and_writes_nothing(
    store: tuple[Shieldwall, dict[str, list[str]]], tmp_path: Path
) -> None:
    cli, _ = store
    target = tmp_path / "never.json"
    bad = cli.many(
        [
            ["export", "--format", "stix", "--as", AS, "--out", str(target)],
            ["export", "--format", "stix21", "--as", "Nobody", "--out", str(target)],
        ]
    )
    for result in bad:
        assert result.code == 2, result.explain()
        assert_one_line_error(result)
    assert "unknown export format 'stix'" in bad[0].stderr
    assert "Nobody" in bad[1].stderr
    assert not any(tmp_path.glob("never.json*"))


def test_min_score_keeps_the_values_that_still_score(
    store: tuple[Shieldwall, dict[str, list[str]]], tmp_path: Path
) -> None:
    # Sponsor A's indicator (confidence 80) was modified on 2024-01-01: its
    # addresses, domain and URL have outlived their lifetimes (score 0), its
    # hashes, which live ten years, still score about 70.
    cli, posted = store
    visible = next(iter(posted.values()))
    txt = ["export", "-f", "txt", "--as", AS, "--out"]
    kept, refused = cli.many(
        [
            [*txt, str(tmp_path / "kept"), "--min-score", "50", *INCLUDE],
            [*txt, str(tmp_path / "no"), "--min-score", "150"],
        ]
    )
    assert kept.code == 0, kept.explain()
    lists = _read_tree(tmp_path / "kept")
    assert {Path(name).name: body.split() for name, body in lists.items()} == {
        "md5.txt": [visible[3].encode()],
        "sha256.txt": [visible[4].encode()],
    }
    assert refused.code == 2, refused.explain()
    assert_one_line_error(refused)
    assert "min_score" in refused.stderr
