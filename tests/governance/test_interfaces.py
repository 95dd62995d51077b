"""The issue's interfaces: REST directly under /api/v1, `governance status`, `members list`.

The paths the issue names (`/api/v1/applications`, `decisions`, `ledger`,
`members`) are the governance endpoints themselves, so they must answer
exactly as `/api/v1/governance/...` does, rules and refusals included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from shieldwall.cli import governance as governance_cli
from shieldwall.cli.main import run
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.service import Governance
from shieldwall.members.model import Role
from tests.cli.runner import Shieldwall, assert_one_line_error, assert_usage_error, init_in_process
from tests.factories import Coalition
from tests.governance.conftest import PERIOD, START, Api

TOP = "/api/v1"
GOVERNANCE = "/api/v1/governance"


def _get(api: Api, org: str, path: str, role: Role = Role.ORG_ADMIN) -> Any:
    response = api.client.get(path, headers=api.coalition.auth(org, role))
    assert response.status_code == 200, response.text
    return response.json()


def _post(api: Api, org: str, path: str, body: Any = None) -> Any:
    return api.client.post(path, json=body, headers=api.coalition.auth(org, Role.ORG_ADMIN))


# --------------------------------------------------------------------------- REST


def test_an_accession_through_the_top_level_paths(api: Api, clock: ManualClock) -> None:
    applied = _post(
        api, "Applicant", f"{TOP}/applications", {"tier": "sponsoring", "statement": "hi"}
    )
    assert applied.status_code == 201, applied.text
    sponsored = _post(api, "Sponsor A", f"{TOP}/applications/{applied.json()['id']}/sponsor")
    decision = sponsored.json()["decision"]
    for org in ("Host", "Sponsor A"):
        voted = _post(api, org, f"{TOP}/decisions/{decision}/votes", {"choice": "concur"})
        assert voted.status_code == 200, voted.text
    objected = {"choice": "object", "reason": "not yet"}
    assert _post(api, "Sponsor B", f"{TOP}/decisions/{decision}/votes", objected).status_code == 200
    withdrawn = _post(api, "Sponsor B", f"{TOP}/decisions/{decision}/withdraw-objection")
    assert withdrawn.json()["silent"] == ["Sponsor B"]

    clock.advance(PERIOD)
    closed = _get(api, "Host", f"{TOP}/decisions/{decision}")
    assert (closed["status"], closed["closed_at"]) == ("adopted", (START + PERIOD).isoformat())
    assert api.tier("Applicant") == "sponsoring"


@pytest.mark.parametrize(
    "path",
    ["/applications", "/applications/1", "/decisions", "/decisions/1", "/ledger", "/ledger/verify"],
)
def test_top_level_reads_answer_as_the_governance_paths(api: Api, path: str) -> None:
    decision = api.open_accession("Applicant")
    api.ok(api.vote("Host", decision, "concur"))
    for org in ("Host", "Applicant"):
        assert _get(api, org, TOP + path) == _get(api, org, GOVERNANCE + path)


def test_refusals_are_the_same_on_both_paths(api: Api) -> None:
    decision = api.open_accession("Applicant")
    concur = {"choice": "concur"}
    for prefix in (TOP, GOVERNANCE):
        refused = _post(api, "Applicant", f"{prefix}/decisions/{decision}/votes", concur)
        assert refused.status_code == 403
        assert "steering-committee" in refused.text
        outsider = api.coalition.auth("Outsider", Role.ORG_ADMIN)
        hidden = api.client.get(f"{prefix}/decisions/{decision}", headers=outsider)
        assert hidden.status_code == 404
    assert api.decision("Host", decision)["votes"] == []


def test_only_the_issue_paths_are_served_at_the_top_level(api: Api) -> None:
    headers = api.coalition.auth("Host", Role.ORG_ADMIN)
    assert api.client.get(f"{TOP}/activity", headers=headers).status_code == 404
    assert api.client.get(f"{GOVERNANCE}/activity", headers=headers).status_code == 200


def test_members_lists_every_organisation_with_tier_country_and_accession(
    api: Api, clock: ManualClock
) -> None:
    decision = api.open_accession("Applicant")
    before = {m["name"]: m for m in _get(api, "Outsider", f"{TOP}/members", Role.READER)}
    assert set(before) == {"Host", "Sponsor A", "Sponsor B", "Contributor", "Outsider", "Applicant"}
    assert (before["Host"]["tier"], before["Host"]["country"]) == ("host", "EE")
    assert (before["Applicant"]["tier"], before["Applicant"]["accession_at"]) == ("applicant", None)
    assert before["Contributor"]["accession_at"] is not None

    api.ok(api.vote("Sponsor B", decision, "concur"))
    clock.advance(PERIOD)
    # The deadline passed with no tick: the members list itself closes the decision.
    after = {m["name"]: m for m in _get(api, "Applicant", f"{TOP}/members", Role.READER)}
    assert (after["Applicant"]["tier"], after["Applicant"]["accession_at"]) == (
        "sponsoring",
        (START + PERIOD).isoformat(),
    )
    assert _get(api, "Host", f"{GOVERNANCE}/members") == list(after.values())


def test_members_needs_a_key(api: Api) -> None:
    assert api.client.get(f"{TOP}/members").status_code == 401
    bad = {"Authorization": "Bearer not-a-key"}
    assert api.client.get(f"{TOP}/members", headers=bad).status_code == 401


def test_members_sits_beside_orgs_without_replacing_it(api: Api) -> None:
    """`/members` and `/orgs` are two routes over one list of organisations."""
    orgs = _get(api, "Contributor", f"{TOP}/orgs", Role.ANALYST)
    assert _get(api, "Contributor", f"{TOP}/members", Role.ANALYST) == orgs
    assert _get(api, "Contributor", f"{TOP}/orgs/Host", Role.ANALYST)["tier"] == "host"


# --------------------------------------------------------------------------- CLI


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def shell(
    engine: Engine,
    coalition: Coalition,
    gov: Governance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Outcome]:
    """Runs `shieldwall ARGS` against the test store and the manual clock."""
    monkeypatch.setattr(governance_cli, "store_engine", lambda: engine)
    monkeypatch.setattr(governance_cli, "node_governance", lambda: gov)

    def invoke(*args: str) -> Outcome:
        monkeypatch.setattr("sys.argv", ["shieldwall", *args])
        capsys.readouterr()
        try:
            run()
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


def _open_decision(shell: Callable[..., Outcome]) -> None:
    shell("governance", "apply", "--as", "Applicant", "--tier", "sponsoring", "--statement", "hi")
    assert shell("governance", "sponsor", "1", "--as", "Sponsor A").code == 0


def test_each_voting_verb_from_the_shell(shell: Callable[..., Outcome]) -> None:
    _open_decision(shell)
    assert shell("governance", "concur", "1", "--as", "Host").code == 0
    assert shell("governance", "abstain", "1", "--as", "Sponsor A").code == 0
    objected = shell(
        "governance", "object", "1", "--as", "Sponsor B", "--reason", "not yet", "--json"
    )
    assert objected.code == 0
    votes = {v["org"]: (v["choice"], v["reason"]) for v in objected.json()["votes"]}
    assert votes == {
        "Host": ("concur", None),
        "Sponsor A": ("abstain", None),
        "Sponsor B": ("object", "not yet"),
    }
    withdrawn = shell("governance", "withdraw-objection", "1", "--as", "Sponsor B", "--json")
    assert withdrawn.code == 0
    assert withdrawn.json()["silent"] == ["Sponsor B"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("concur", "1", "--as", "Applicant"), "steering-committee"),
        (("abstain", "9", "--as", "Host"), "decision 9 does not exist"),
        (("object", "1", "--as", "Host"), "Missing option '--reason'"),
        (("withdraw-objection", "1", "--as", "Host"), "objection"),
        (("status", "9"), "decision 9 does not exist"),
        (("status", "one"), "Invalid value"),
    ],
)
def test_new_verbs_exit_2_and_change_nothing(
    shell: Callable[..., Outcome], args: tuple[str, ...], message: str
) -> None:
    _open_decision(shell)
    refused = shell("governance", *args)
    assert refused.code == 2
    assert message in refused.err
    assert "Traceback" not in refused.err
    assert shell("governance", "show", "1", "--json").json()["votes"] == []


def test_status_shows_one_decision_or_every_open_one(
    shell: Callable[..., Outcome], clock: ManualClock
) -> None:
    _open_decision(shell)
    shell("governance", "concur", "1", "--as", "Host")
    one = shell("governance", "status", "1", "--json")
    assert one.code == 0
    assert (one.json()["status"], one.json()["silent"]) == ("open", ["Sponsor A", "Sponsor B"])
    text = shell("governance", "status", "1")
    assert "decision 1: accession of Applicant, open" in text.err
    assert "Host: concur" in text.err
    assert [d["id"] for d in shell("governance", "status", "--json").json()] == [1]

    clock.advance(PERIOD)
    assert shell("governance", "status", "--json").json() == []
    assert shell("governance", "status", "1", "--json").json()["status"] == "adopted"


def test_members_list_from_the_shell(shell: Callable[..., Outcome], clock: ManualClock) -> None:
    _open_decision(shell)
    listed = {m["name"]: m for m in shell("members", "list", "--json").json()}
    assert listed["Applicant"]["tier"] == "applicant"
    assert listed["Host"]["country"] == "EE"
    shell("governance", "concur", "1", "--as", "Sponsor B")
    clock.advance(PERIOD)
    # No tick ran: `members list` closes the due decision before it reads.
    after = {m["name"]: m for m in shell("members", "list", "--json").json()}
    assert (after["Applicant"]["tier"], after["Applicant"]["accession_at"]) == (
        "sponsoring",
        (START + PERIOD).isoformat(),
    )
    table = shell("members", "list")
    assert table.code == 0
    assert "sponsoring" in table.out + table.err


def test_the_new_verbs_from_a_real_process(tmp_path: Path) -> None:
    """The installed entry point knows them (exit codes, stdout and stderr as a script sees)."""
    url = f"sqlite:///{tmp_path / 'node.db'}"
    init_in_process(url)
    cli = Shieldwall(url, tmp_path)
    listed = cli.ok("members", "list", "--json").json()
    assert [(m["name"], m["tier"]) for m in listed] == [("Host", "host")]
    assert cli.ok("governance", "status", "--json").json() == []
    missing = cli("governance", "status", "3")
    assert missing.code == 2
    assert_one_line_error(missing)
    unreasoned = cli("governance", "object", "3", "--as", "Host")
    assert_usage_error(unreasoned)
