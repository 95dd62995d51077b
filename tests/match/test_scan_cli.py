"""`shieldwall scan` and `shieldwall sightings` as a user runs them (SQLite store)."""

from __future__ import annotations

from pathlib import Path

import orjson

from shieldwall.db.engine import make_engine
from shieldwall.db.migrate import upgrade
from shieldwall.sharing.tlp import DistKind, Distribution
from tests.cli.runner import Shieldwall, assert_one_line_error
from tests.factories import build_coalition, indicator
from tests.sharing import ingest_as


def test_scan_prints_hits_and_files_them_as_sightings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    build_coalition(engine)
    address = indicator("45.148.10.7")
    domain = indicator("evil.example", "domain-name:value")
    ingest_as(engine, "Sponsor A", Distribution(DistKind.MEMBERS), [address, domain])
    engine.dispose()
    log = tmp_path / "eve.json"
    log.write_text(
        '{"src_ip":"45.148.10.7","dest_ip":"10.0.0.1"}\n'
        "Nov 26 fw: DROP SRC=45.148.10.7 DST=10.0.0.2\n"
        '{"http":{"url":"http://cdn.evil.example/x?a=1"},"src_ip":"10.0.0.3"}\n'
        "nothing to see on 10.0.0.4\n"
    )
    cli = Shieldwall(url, tmp_path)

    scanned = cli.ok("scan", str(log), "--as", "Sponsor B", "--json")
    hits = [orjson.loads(line) for line in scanned.stdout.splitlines()]
    assert {(h["type"], h["value"], h["count"]) for h in hits} == {
        ("ipv4", "45.148.10.7", 2),
        ("domain", "cdn.evil.example", 1),
    }
    assert "4 line(s)" in scanned.stderr

    filed = cli.ok("scan", str(log), "--as", "Sponsor B", "--report-sightings")
    assert "filed 2 sighting(s)" in filed.stderr
    listed = cli.ok("sightings", "list", address["id"], "--as", "Sponsor A", "--json").json()
    assert [(s["by"], s["count"]) for s in listed["sightings"]] == [("Sponsor B", 2)]

    # A contributing participant does not see committee intel: no hits, nothing to file.
    assert cli.ok("scan", str(log), "--as", "Contributor", "--json").stdout == ""
    assert_one_line_error(cli("scan", str(log)))
    assert_one_line_error(cli("scan", str(tmp_path / "absent.log"), "--as", "Sponsor B"))
