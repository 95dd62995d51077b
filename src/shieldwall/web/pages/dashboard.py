"""The dashboard: the coalition, recent intel, open decisions and the coalition's news."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shieldwall.db.base import utcnow
from shieldwall.governance import service as governance
from shieldwall.governance.model import DecisionStatus
from shieldwall.intel.service import object_view
from shieldwall.members import service as members
from shieldwall.members.model import Tier
from shieldwall.web import detection, repository
from shieldwall.web.chart import Chart
from shieldwall.web.pages.deps import GovernanceDep, ReadConn
from shieldwall.web.routing import CurrentUser, PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RECENT = 10
#: The organisation's newest objects whose correlations the dashboard shows.
CORRELATION_SCAN = 25
CHART_DAYS = 30
_TIER_ORDER = [Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING, Tier.APPLICANT, Tier.SUSPENDED]


def _coalition(orgs: list[dict[str, object]]) -> list[dict[str, object]]:
    """Members by tier (host first), withdrawn organisations left out."""
    rank = {tier.value: index for index, tier in enumerate(_TIER_ORDER)}
    present = [org for org in orgs if org["tier"] in rank]
    return sorted(present, key=lambda org: (rank[str(org["tier"])], str(org["name"])))


@router.get("/")
def dashboard(request: Request, user: CurrentUser, conn: ReadConn, gov: GovernanceDep) -> Response:
    recent = repository.newest_visible(conn, user.reader.policy(), RECENT)
    settings, now = request.app.state.settings, utcnow()
    context = {
        "coalition": _coalition(members.list_orgs(conn)),
        "touches": detection.touching_org(conn, user, settings, CORRELATION_SCAN)[:RECENT],
        "chart": Chart(detection.sightings_per_day(conn, user, CHART_DAYS, now)),
        "recent": [object_view(row) for row in recent],
        "decisions": governance.list_decisions(conn, user.principal, DecisionStatus.OPEN),
        "activity": governance.activity(conn, RECENT),
    }
    return render(request, "dashboard.html", context)
