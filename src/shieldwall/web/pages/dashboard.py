"""The dashboard: the coalition, recent intel, open decisions and the coalition's news."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shieldwall.governance import service as governance
from shieldwall.governance.model import DecisionStatus
from shieldwall.intel.service import object_view
from shieldwall.members import service as members
from shieldwall.members.model import Tier
from shieldwall.web import repository
from shieldwall.web.pages.deps import GovernanceDep, ReadConn
from shieldwall.web.routing import CurrentUser, PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RECENT = 10
_TIER_ORDER = [Tier.HOST, Tier.SPONSORING, Tier.CONTRIBUTING, Tier.APPLICANT, Tier.SUSPENDED]


def _coalition(orgs: list[dict[str, object]]) -> list[dict[str, object]]:
    """Members by tier (host first), withdrawn organisations left out."""
    rank = {tier.value: index for index, tier in enumerate(_TIER_ORDER)}
    present = [org for org in orgs if org["tier"] in rank]
    return sorted(present, key=lambda org: (rank[str(org["tier"])], str(org["name"])))


@router.get("/")
def dashboard(request: Request, user: CurrentUser, conn: ReadConn, gov: GovernanceDep) -> Response:
    recent = repository.newest_visible(conn, user.reader.policy(), RECENT)
    context = {
        "coalition": _coalition(members.list_orgs(conn)),
        "recent": [object_view(row) for row in recent],
        "decisions": governance.list_decisions(conn, user.principal, DecisionStatus.OPEN),
        "activity": governance.activity(conn, RECENT),
    }
    return render(request, "dashboard.html", context)
