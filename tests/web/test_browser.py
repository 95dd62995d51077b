"""The console in headless Chromium, as analysts and the steering committee use it.

Each person has a browser context of their own (their own cookies). Every
main page is photographed under test-output/screenshots/, at 1280 px and,
for the busiest pages, on a narrow screen.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect

from shieldwall.warninglists import default_index
from tests.factories import bundle, indicator
from tests.web.browser import NARROW, Session, log_in, open_session
from tests.web.conftest import Live
from tests.web.helpers import PASSWORD

EVENT = Path("misp") / "eset" / "stantinko"


def _event(shared_data: Path) -> tuple[Path, dict[str, Any]]:
    path = next((shared_data / EVENT).glob("*.json"))
    document = json.loads(path.read_bytes())
    event = document["Event"] if "Event" in document else document["response"][0]["Event"]
    return path, event


def _detection_domain(event: dict[str, Any]) -> str:
    """A domain of the event that is detection content and on no warninglist."""
    listed = default_index().is_listed
    for attribute in event["Attribute"]:
        wanted = attribute["type"] == "domain" and attribute.get("to_ids")
        if wanted and not listed("domain", attribute["value"]):
            return str(attribute["value"])
    raise AssertionError("the event has no usable domain")


def _share(live: Live, org: str, distribution: str, *objects: dict[str, Any]) -> None:
    import httpx

    response = httpx.post(
        f"{live.base}/api/v1/bundles?distribution={distribution}&tlp=green",
        content=orjson.dumps(bundle(*objects)),
        headers=live.coalition.auth(org),
        timeout=60,
    )
    assert response.status_code == 200, response.text


def _sightings(live: Live, org: str, value: str, days_ago: tuple[int, ...]) -> None:
    import httpx

    now = datetime.now(UTC)
    items = []
    for age in days_ago:
        seen = (now - timedelta(days=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append({"value": value, "count": 1, "first_seen": seen, "last_seen": seen})
    response = httpx.post(
        f"{live.base}/api/v1/sightings",
        json={"sightings": items, "tlp": "green", "distribution": "members"},
        headers=live.coalition.auth(org),
        timeout=60,
    )
    assert response.status_code == 200, response.text


def _person(browser: Browser, live: Live, who: str, **viewport: Any) -> Session:
    session = open_session(browser, live.base, **viewport)
    log_in(session, live.users[who], PASSWORD)
    return session


# --------------------------------------------------------------------------- an analyst's day


@pytest.mark.shared_data
def test_import_a_misp_event_find_an_indicator_see_its_correlation_and_export_suricata(
    browser: Browser, live: Live, shared_data: Path
) -> None:
    path, event = _event(shared_data)
    domain = _detection_domain(event)
    theirs = indicator(domain, "domain-name:value", name="seen by Sponsor B in its network")
    _share(live, "Sponsor B", "members", theirs)

    analyst = _person(browser, live, "Sponsor A")
    page = analyst.go("/intel/import")
    analyst.shot("import")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Import report")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Imported and committed.")).to_be_visible()
    created = int(page.locator("#report-created").inner_text())
    assert created > 0
    analyst.shot("import-report")

    page = analyst.go("/intel")
    page.get_by_label(re.compile("^Search")).fill(domain)
    page.get_by_role("button", name="Search").click()
    results = page.locator("table.objects tbody tr")
    expect(results.filter(has_text="Sponsor B")).to_have_count(1)
    analyst.shot("intel-search")
    results.filter(has_text="Sponsor A").first.get_by_role("link").click()

    expect(page.get_by_role("heading", name="Correlations")).to_be_visible()
    correlations = page.locator("ul.correlations")
    expect(correlations).to_contain_text("seen by Sponsor B in its network")
    expect(correlations).to_contain_text("Sponsor B")
    expect(page.get_by_role("heading", name="Relationships")).to_be_visible()
    expect(page.locator("ul.relations")).to_contain_text(event["info"][:20])
    analyst.shot("object")
    page.set_viewport_size(NARROW)
    analyst.shot("object-narrow")

    page = analyst.go("/intel/export")
    page.get_by_label("Format", exact=True).select_option("suricata")
    page.get_by_label("Owner").select_option("Sponsor A")
    analyst.shot("export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == "shieldwall-suricata.rules"
    rules = Path(download.path()).read_text()
    assert f'content:"{domain}"' in rules or domain in rules
    assert re.search(r"^alert dns ", rules, re.MULTILINE)
    analyst.context.close()


# --------------------------------------------------------------------------- an accession


def _vote(session: Session, decision_path: str, choice: str, reason: str = "") -> Page:
    page = session.go(decision_path)
    page.get_by_label(choice, exact=True).check()
    if reason:
        page.get_by_label(re.compile("^Reason")).fill(reason)
    page.get_by_role("button", name="Record position").click()
    expect(page.get_by_role("status")).to_contain_text("Your vote is recorded")
    return page


def test_an_accession_from_application_to_adoption_with_each_member_voting_in_its_own_browser(
    browser: Browser, live: Live
) -> None:
    applicant = _person(browser, live, "Applicant admin")
    page = applicant.go("/governance")
    page.get_by_label("Tier asked for").select_option("sponsoring")
    page.get_by_label("Statement to the steering committee").fill(
        "Our national CERT asks to join the coalition as a sponsoring member."
    )
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("application has been sent")

    host = _person(browser, live, "Host admin")
    page = host.go("/governance")
    page.get_by_role("button", name="Sponsor the application of Applicant").click()
    expect(page.get_by_role("status")).to_contain_text("sponsorship is recorded")
    host.shot("governance")
    page.get_by_role("link", name=re.compile(r"accession #\d+")).first.click()
    decision_path = page.url.removeprefix(live.base)
    assert re.fullmatch(r"/governance/decisions/\d+", decision_path)

    sponsor_a = _person(browser, live, "Sponsor A admin")
    sponsor_b = _person(browser, live, "Sponsor B admin")
    page = _vote(sponsor_b, decision_path, "object", "Not before the audit is complete.")
    expect(page.get_by_role("button", name="Withdraw the objection")).to_be_visible()
    _vote(host, decision_path, "concur")
    _vote(sponsor_a, decision_path, "abstain")
    page = host.go(decision_path)
    expect(page.locator("#decision-status")).to_have_text("open")  # one objection blocks
    page = applicant.go("/members/Applicant")
    expect(page.locator("ol.record")).to_contain_text("decision-opened")
    expect(page.locator("ol.record")).not_to_contain_text("Sponsor B")  # who objects is not told
    host.shot("decision")

    page = sponsor_b.go(decision_path)
    page.get_by_role("button", name="Withdraw the objection").click()
    expect(page.get_by_role("status")).to_contain_text("objection is withdrawn")
    page = _vote(sponsor_b, decision_path, "concur")
    # Every committee member concurred or abstained: adopted at once.
    expect(page.locator("#decision-status")).to_have_text("adopted")

    page = applicant.go("/")
    member = page.locator("li.member", has_text="Applicant")
    expect(member.locator(".tier")).to_have_text("sponsoring")
    expect(
        page.get_by_text("flag raised: Applicant accedes as a sponsoring member")
    ).to_be_visible()
    page = applicant.go("/members/Applicant")
    expect(page.locator("ol.record")).to_contain_text("accession")
    applicant.shot("member-record")

    page = host.go("/governance/ledger")
    expect(page.locator("#ledger-verification")).to_contain_text("Verified")
    expect(page.locator("table.ledger")).to_contain_text("objection-withdrawn")
    host.shot("ledger")
    for session in (applicant, host, sponsor_a, sponsor_b):
        session.context.close()


# --------------------------------------------------------------------------- the access policy


def test_another_organisation_reaches_no_page_or_download_of_intel_it_may_not_see(
    browser: Browser, live: Live
) -> None:
    hidden = indicator("hidden-c2.example.net", "domain-name:value", name="members-only C2")
    _share(live, "Sponsor A", "members", hidden)
    outsider = _person(browser, live, "Outsider")  # contributing: sees no `members` intel

    response = outsider.page.goto(f"{live.base}/intel/objects/{hidden['id']}")
    assert response is not None
    assert response.status == 404
    expect(outsider.page.get_by_role("heading", name="Not found")).to_be_visible()
    assert "members-only C2" not in outsider.page.content()
    outsider.shot("not-found")

    absent = outsider.page.goto(
        f"{live.base}/intel/objects/indicator--00000000-0000-4000-8000-000000000000"
    )
    assert absent is not None
    assert absent.status == 404

    for path in ("/", "/intel", "/intel?q=hidden-c2.example.net", "/intel?q=members-only"):
        page = outsider.go(path)
        assert hidden["id"] not in page.content(), path
        assert "members-only C2" not in page.content(), path
    for fmt in ("stix21", "misp", "csv", "suricata", "zeek"):
        download = outsider.context.request.get(
            f"{live.base}/intel/export/download?format={fmt}&include_warninglisted=true"
        )
        assert download.status == 200, fmt
        assert "hidden-c2.example.net" not in download.text(), fmt
    versions = outsider.context.request.get(f"{live.base}/intel/objects/{hidden['id']}")
    assert versions.status == 404

    # A form posted without its CSRF token is refused, and changes nothing.
    admin = _person(browser, live, "Outsider admin")
    page = admin.go("/admin")
    keys_before = page.locator("#keys-title + .table-wrap tbody tr").count()
    create = page.locator("form[action='/admin/keys']")
    create.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    create.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("security token is missing")).to_be_visible()
    admin.shot("csrf-refused")
    page = admin.go("/admin")
    expect(page.locator("#keys-title + .table-wrap tbody tr")).to_have_count(keys_before)
    outsider.context.close()
    admin.context.close()


# --------------------------------------------------------------------------- screenshots, a11y


def test_main_pages_at_1280_and_narrow_with_keyboard_focus_visible(
    browser: Browser, live: Live
) -> None:
    _share(live, "Host", "members", indicator("198.51.100.60", name="beacon to a C2"))
    _share(live, "Sponsor A", "public", indicator("c2.example.org", "domain-name:value"))
    _share(live, "Host", "members", indicator("c2.example.org", "domain-name:value"))
    _sightings(live, "Sponsor B", "198.51.100.60", days_ago=(1, 2, 2, 5, 9, 9, 9, 20))
    host = _person(browser, live, "Host admin")
    for name, path in (("dashboard", "/"), ("intel", "/intel"), ("admin", "/admin")):
        host.go(path)
        host.shot(name)
    page = host.go("/")
    touches = page.locator("#touch-title + ul")
    expect(touches).to_contain_text("c2.example.org")
    expect(touches).to_contain_text("Sponsor A")
    expect(page.locator("svg.chart title").first).to_contain_text("8 sightings")

    page = host.go("/")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent.trim(),"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Skip to content", "solid"]
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Dashboard"
    # Every form control on the main pages has a label.
    for path in ("/intel", "/intel/import", "/intel/export", "/governance", "/admin"):
        page = host.go(path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
                 .map(c => c.name)"""
        )
        assert unlabelled == [], path

    narrow = _person(browser, live, "Host admin", viewport=NARROW)
    for name, path in (("dashboard-narrow", "/"), ("intel-narrow", "/intel")):
        page = narrow.go(path)
        narrow.shot(name)
        overflow = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, name

    login = open_session(browser, live.base)
    login.go("/login")
    login.shot("login")
    for session in (host, narrow, login):
        session.context.close()
