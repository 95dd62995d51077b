"""Fixtures of the governance tests: a manual clock, a ledger key per test, an API helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from shieldwall.db.engine import write_transaction
from shieldwall.governance.clock import ManualClock
from shieldwall.governance.service import Governance
from shieldwall.governance.settings import GovernanceSettings
from shieldwall.members import service as members
from shieldwall.members.model import Role, Tier
from tests.factories import Coalition, bundle, indicator

#: 1 March 2022, 09:00 UTC: when the reference story starts.
START = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
PERIOD = timedelta(days=7)
ADMIN = Role.ORG_ADMIN


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def gov_settings(tmp_path: Path) -> GovernanceSettings:
    return GovernanceSettings(
        ledger_key_file=tmp_path / "ledger-key.pem",
        governance_decision_period=PERIOD,
        governance_sponsors_required=1,
        governance_tick_seconds=0,
    )


@pytest.fixture
def gov(clock: ManualClock, gov_settings: GovernanceSettings) -> Governance:
    return Governance(clock, gov_settings)


def add_org(engine: Engine, coalition: Coalition, name: str, tier: Tier) -> None:
    """Adds an organisation with an org-admin and an analyst key to the coalition."""
    with write_transaction(engine) as conn:
        members.create_org(conn, name, tier, None)
        coalition.keys[name] = {
            role: members.create_key(conn, name, role).secret
            for role in (Role.ORG_ADMIN, Role.ANALYST)
        }


class Api:
    """The governance API as organisations use it (org-admin keys unless told otherwise)."""

    def __init__(self, client: TestClient, coalition: Coalition) -> None:
        self.client = client
        self.coalition = coalition

    def _auth(self, org: str, role: Role = ADMIN) -> dict[str, str]:
        return self.coalition.auth(org, role)

    def post(self, org: str, path: str, body: Any = None, role: Role = ADMIN) -> Response:
        return self.client.post(
            f"/api/v1/governance{path}", json=body, headers=self._auth(org, role)
        )

    def get(self, org: str, path: str, role: Role = ADMIN) -> Response:
        return self.client.get(f"/api/v1/governance{path}", headers=self._auth(org, role))

    def ok(self, response: Response, code: int = 200) -> Any:
        assert response.status_code == code, response.text
        return response.json()

    def apply(self, org: str, tier: str = "sponsoring", statement: str = "We ask to join.") -> int:
        body = {"tier": tier, "statement": statement}
        return int(self.ok(self.post(org, "/applications", body), 201)["id"])

    def sponsor(self, org: str, application_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(self.post(org, f"/applications/{application_id}/sponsor"))
        return result

    def open_accession(
        self, applicant: str, sponsor: str = "Sponsor A", tier: str = "sponsoring"
    ) -> int:
        """An application sponsored once: the decision it opens."""
        decision = self.sponsor(sponsor, self.apply(applicant, tier))["decision"]
        assert decision is not None
        return int(decision)

    def vote(self, org: str, decision_id: int, choice: str, reason: str | None = None) -> Response:
        body = {"choice": choice, "reason": reason}
        return self.post(org, f"/decisions/{decision_id}/votes", body)

    def decision(self, org: str, decision_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(self.get(org, f"/decisions/{decision_id}"))
        return result

    def tier(self, org: str) -> str:
        response = self.client.get("/api/v1/me", headers=self._auth(org))
        return str(self.ok(response)["tier"])

    def visible_ids(self, org: str) -> set[str]:
        response = self.client.get("/api/v1/objects", headers=self._auth(org, Role.ANALYST))
        return {o["id"] for o in self.ok(response)["objects"]}

    def share(self, org: str, distribution: str, value: str = "203.0.113.50") -> str:
        """`org` shares one indicator (TLP:GREEN) with `distribution`; returns its id."""
        obj = indicator(value)
        response = self.client.post(
            f"/api/v1/bundles?tlp=green&distribution={distribution}",
            json=bundle(obj),
            headers=self._auth(org, Role.ANALYST),
        )
        assert response.status_code == 200, response.text
        return str(obj["id"])


@pytest.fixture
def gov_client(
    client: TestClient, clock: ManualClock, gov_settings: GovernanceSettings
) -> TestClient:
    app: Any = client.app
    app.state.clock = clock
    app.state.governance_settings = gov_settings
    return client


@pytest.fixture
def api(gov_client: TestClient, coalition: Coalition) -> Api:
    return Api(gov_client, coalition)
