"""The web console through its routes (TestClient), on SQLite and PostgreSQL.

Sessions, CSRF, security headers, the access policy on every page and
download, and the forms that write (import, governance, administration).
"""

from __future__ import annotations

import io
import re
import zipfile

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from shieldwall.db.engine import read_transaction, write_transaction
from shieldwall.feeds import service as feeds
from shieldwall.feeds.schemas import FeedCreate, FeedKind
from shieldwall.members.tables import api_keys
from shieldwall.web.tables import web_sessions
from tests.factories import Coalition, bundle, indicator
from tests.web.helpers import PASSWORD, csrf_of, log_in, logged_in, post_form

SECRET_IP = "203.0.113.77"


def _share(client: TestClient, coalition: Coalition, org: str, dist: str, *objects: dict) -> None:
    response = client.post(
        f"/api/v1/bundles?distribution={dist}&tlp=amber",
        content=orjson.dumps(bundle(*objects)),
        headers=coalition.auth(org),
    )
    assert response.status_code == 200, response.text


def _key_count(engine: Engine) -> int:
    with read_transaction(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(api_keys)).scalar_one())


# --------------------------------------------------------------------------- sessions


def test_pages_send_a_browser_without_session_to_the_login_page(web_app: FastAPI) -> None:
    client = TestClient(web_app)
    for path in ("/", "/intel", "/intel/export", "/governance", "/admin", "/intel/objects/x"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(
    web_app: FastAPI, people: dict[str, str], engine: Engine
) -> None:
    client = TestClient(web_app)
    response = log_in(client, people["Sponsor A"])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "sw_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    stolen = client.cookies.get("sw_session")
    assert client.get("/").status_code == 200

    dashboard = client.get("/")
    assert post_form(client, "/", "/logout", {}).status_code == 303
    with read_transaction(engine) as conn:
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 0
    replay = TestClient(web_app, cookies={"sw_session": stolen or ""})
    assert replay.get("/", follow_redirects=False).status_code == 303
    assert dashboard.status_code == 200


def test_session_cookie_is_secure_over_tls(web_app: FastAPI, people: dict[str, str]) -> None:
    client = TestClient(web_app, base_url="https://testserver")
    response = log_in(client, people["Sponsor A"])
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    web_app: FastAPI, people: dict[str, str]
) -> None:
    client = TestClient(web_app)
    wrong = log_in(client, people["Sponsor A"], "not the password at all")
    unknown = log_in(client, "nobody-at-all", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "unknown user or wrong password" in wrong.text
    assert "unknown user or wrong password" in unknown.text
    assert "sw_session" not in client.cookies


def test_login_without_its_form_token_is_refused(web_app: FastAPI, people: dict[str, str]) -> None:
    client = TestClient(web_app)
    response = client.post(
        "/login",
        data={"username": people["Sponsor A"], "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "sw_session" not in client.cookies


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_the_node(
    web_app: FastAPI, people: dict[str, str], target: str
) -> None:
    client = TestClient(web_app)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": people["Sponsor A"],
            "password": PASSWORD,
            "csrf_token": csrf_of(form),
            "next": target,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(
    web_app: FastAPI, people: dict[str, str], coalition: Coalition
) -> None:
    client = logged_in(web_app, people["Host admin"])
    shared = indicator("198.51.100.9")
    _share(client, coalition, "Host", "members", shared)
    pages = ["/", "/intel", "/intel/import", "/intel/export", "/governance", "/admin"]
    pages += ["/governance/ledger", "/members/Host", f"/intel/objects/{shared['id']}"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " style=" not in html, path
        assert "<style" not in html, path
        assert not re.search(r"\bon[a-z]+=", html), path
        assert not re.search(r'(src|href)="(https?:)?//', html), path


# --------------------------------------------------------------------------- CSRF


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    web_app: FastAPI, people: dict[str, str], engine: Engine
) -> None:
    client = logged_in(web_app, people["Sponsor A admin"])
    before = _key_count(engine)
    form = {"org": "Sponsor A", "role": "sensor", "label": "forged"}
    missing = client.post("/admin/keys", data=form, follow_redirects=False)
    wrong = client.post("/admin/keys", data={**form, "csrf_token": "x" * 43})
    assert missing.status_code == wrong.status_code == 403
    assert "security token" in missing.text
    assert _key_count(engine) == before
    # The same form with the page's token goes through.
    created = post_form(client, "/admin", "/admin/keys", form)
    assert created.status_code == 200
    assert _key_count(engine) == before + 1


def test_a_csrf_token_of_another_session_is_refused(
    web_app: FastAPI, people: dict[str, str], engine: Engine
) -> None:
    attacker = logged_in(web_app, people["Outsider admin"])
    victim = logged_in(web_app, people["Sponsor A admin"])
    token = csrf_of(attacker.get("/admin"))
    response = victim.post(
        "/admin/keys", data={"org": "Sponsor A", "role": "sensor", "csrf_token": token}
    )
    assert response.status_code == 403


# --------------------------------------------------------------------------- the access policy


def test_another_organisations_intel_is_absent_from_every_page_and_download(
    web_app: FastAPI, people: dict[str, str], coalition: Coalition
) -> None:
    owner = logged_in(web_app, people["Sponsor A"])
    hidden = indicator(SECRET_IP)
    _share(owner, coalition, "Sponsor A", "members", hidden)
    assert SECRET_IP in owner.get(f"/intel?q={SECRET_IP}").text
    assert SECRET_IP in owner.get(f"/intel/objects/{hidden['id']}").text

    outsider = logged_in(web_app, people["Outsider"])  # contributing: no `members` intel
    page = outsider.get(f"/intel/objects/{hidden['id']}")
    absent = outsider.get("/intel/objects/indicator--00000000-0000-4000-8000-000000000000")
    assert page.status_code == absent.status_code == 404
    assert SECRET_IP not in page.text
    assert page.text.replace(hidden["id"], "ID") == absent.text.replace(
        "indicator--00000000-0000-4000-8000-000000000000", "ID"
    )
    for path in ("/", f"/intel?q={SECRET_IP}", "/intel?q=indicator", "/intel"):
        response = outsider.get(path)
        assert response.status_code == 200
        assert hidden["id"] not in response.text, path
    assert SECRET_IP not in outsider.get("/").text
    for fmt in ("stix21", "misp", "suricata", "snort", "zeek", "csv"):
        download = outsider.get(f"/intel/export/download?format={fmt}&include_warninglisted=true")
        assert download.status_code == 200, download.text
        assert SECRET_IP not in download.text, fmt
    txt = outsider.get("/intel/export/download?format=txt&type=ipv4")
    assert txt.status_code == 200
    assert SECRET_IP not in txt.text
    # The owner's own download has it: the filter is the policy, not a broken export.
    mine = owner.get("/intel/export/download?format=suricata&include_warninglisted=true")
    assert SECRET_IP in mine.text


def test_relationships_show_only_visible_neighbours(
    web_app: FastAPI, people: dict[str, str], coalition: Coalition
) -> None:
    shared = indicator("198.51.100.20", name="shared one")
    secret = indicator(SECRET_IP, name="secret one")
    api = logged_in(web_app, people["Sponsor A"])
    _share(api, coalition, "Sponsor A", "members", secret)
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--6a3f9d0e-7f3c-4c61-9d3a-2a1f0c7b9e01",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": shared["id"],
        "target_ref": secret["id"],
    }
    _share(api, coalition, "Sponsor A", "public", shared, relationship)
    insider = logged_in(web_app, people["Sponsor B"]).get(f"/intel/objects/{shared['id']}")
    assert "secret one" in insider.text
    assert "related-to" in insider.text
    outsider = logged_in(web_app, people["Outsider"]).get(f"/intel/objects/{shared['id']}")
    assert outsider.status_code == 200
    assert "secret one" not in outsider.text
    assert secret["id"] not in outsider.text


def test_administration_is_for_org_admins_and_only_of_their_organisation(
    web_app: FastAPI, people: dict[str, str], engine: Engine
) -> None:
    analyst = logged_in(web_app, people["Sponsor A"])
    assert analyst.get("/admin").status_code == 403
    admin = logged_in(web_app, people["Sponsor A admin"])
    page = admin.get("/admin")
    assert page.status_code == 200
    assert people["Sponsor A"] in page.text
    assert people["Sponsor B"] not in page.text
    before = _key_count(engine)
    response = post_form(admin, "/admin", "/admin/keys", {"org": "Sponsor B", "role": "reader"})
    assert response.status_code == 403
    assert _key_count(engine) == before
    # Another organisation's user is, to this admin, no user at all.
    reset = post_form(
        admin, "/admin", f"/admin/users/{people['Sponsor B']}/password", {"password": "x" * 20}
    )
    assert reset.status_code == 404


def test_a_new_key_is_shown_once_and_works(web_app: FastAPI, people: dict[str, str]) -> None:
    admin = logged_in(web_app, people["Sponsor A admin"])
    page = post_form(admin, "/admin", "/admin/keys", {"org": "Sponsor A", "role": "reader"})
    secret = re.search(r'value="(sw_[^"]+)"', page.text)
    assert secret is not None
    assert page.headers["cache-control"] == "no-store"
    me = admin.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert me.json() == {"org": "Sponsor A", "tier": "sponsoring", "role": "reader"}
    assert secret.group(1) not in admin.get("/admin").text


def test_an_org_admin_adds_a_user_who_can_log_in(web_app: FastAPI, people: dict[str, str]) -> None:
    admin = logged_in(web_app, people["Sponsor A admin"])
    form = {"org": "Sponsor A", "username": "new-analyst", "role": "analyst"}
    short = post_form(admin, "/admin", "/admin/users", {**form, "password": "short"})
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    added = post_form(admin, "/admin", "/admin/users", {**form, "password": PASSWORD})
    assert added.status_code == 303
    assert logged_in(web_app, "new-analyst").get("/").status_code == 200


# --------------------------------------------------------------------------- import


def test_import_by_upload_reports_and_stores(web_app: FastAPI, people: dict[str, str]) -> None:
    client = logged_in(web_app, people["Sponsor A"])
    good = indicator("198.51.100.30")
    bad = {"type": "indicator", "id": "indicator--not-a-uuid"}
    body = orjson.dumps(bundle(good, bad))
    token = csrf_of(client.get("/intel/import"))
    report = client.post(
        "/intel/import",
        data={"csrf_token": token, "mode": "lenient", "distribution": "members"},
        files={"upload": ("two.json", body, "application/json")},
    )
    assert report.status_code == 200, report.text
    assert re.search(r'id="report-created">1<', report.text)
    assert re.search(r'id="report-rejected">1<', report.text)
    assert good["id"] in client.get("/intel?q=198.51.100.30").text

    strict = client.post(
        "/intel/import",
        data={"csrf_token": token, "mode": "strict"},
        files={"upload": ("again.json", orjson.dumps(bundle(indicator("198.51.100.31"), bad)))},
    )
    assert strict.status_code == 422
    assert "Nothing was imported" in strict.text
    assert "Nothing to show." in client.get("/intel?q=198.51.100.31").text


def test_a_reader_cannot_import(web_app: FastAPI, people: dict[str, str], engine: Engine) -> None:
    from shieldwall.members.model import Role
    from tests.web.helpers import add_user

    add_user(engine, "Sponsor A", "reader-one", Role.READER)
    client = logged_in(web_app, "reader-one")
    response = post_form(client, "/intel/import", "/intel/import", {})
    assert response.status_code in (403, 422)
    token = csrf_of(client.get("/intel/import"))
    upload = client.post(
        "/intel/import",
        data={"csrf_token": token},
        files={"upload": ("x.json", orjson.dumps(bundle(indicator("198.51.100.40"))))},
    )
    assert upload.status_code == 403


# --------------------------------------------------------------------------- governance


def test_committee_votes_through_forms_and_an_analyst_cannot(
    web_app: FastAPI, people: dict[str, str]
) -> None:
    applicant = logged_in(web_app, people["Applicant admin"])
    applied = post_form(
        applicant,
        "/governance",
        "/governance/applications",
        {"tier": "sponsoring", "statement": "We ask to join."},
    )
    assert applied.status_code == 303
    host = logged_in(web_app, people["Host admin"])
    overview = host.get("/governance")
    application_id = re.search(r"/governance/applications/(\d+)/sponsor", overview.text)
    assert application_id is not None
    sponsored = post_form(
        host, "/governance", f"/governance/applications/{application_id.group(1)}/sponsor", {}
    )
    assert sponsored.status_code == 303
    decision_id = re.search(r"/governance/decisions/(\d+)", host.get("/governance").text)
    assert decision_id is not None
    path = f"/governance/decisions/{decision_id.group(1)}"

    analyst = logged_in(web_app, people["Sponsor A"])
    refused = post_form(analyst, path, f"{path}/vote", {"choice": "concur"})
    assert refused.status_code == 403
    assert "org-admin" in refused.text

    objector = logged_in(web_app, people["Sponsor B admin"])
    no_reason = post_form(objector, path, f"{path}/vote", {"choice": "object"})
    assert no_reason.status_code == 422
    objected = post_form(objector, path, f"{path}/vote", {"choice": "object", "reason": "Not yet."})
    assert objected.status_code == 303
    assert "Withdraw the objection" in objector.get(path).text
    withdrawn = post_form(objector, path, f"{path}/withdraw-objection", {})
    assert withdrawn.status_code == 303
    assert "Withdraw the objection" not in objector.get(path).text

    ledger = host.get("/governance/ledger")
    assert "Verified" in ledger.text
    assert "objection-withdrawn" in ledger.text
    # The applicant reads its own record, never who objected.
    record = applicant.get("/members/Applicant")
    assert "application" in record.text
    assert "Sponsor B" not in record.text


def test_misp_feed_downloads_as_a_zip_of_what_the_user_may_see(
    web_app: FastAPI, people: dict[str, str], coalition: Coalition
) -> None:
    owner = logged_in(web_app, people["Sponsor A"])
    _share(owner, coalition, "Sponsor A", "members", indicator(SECRET_IP))
    outsider = logged_in(web_app, people["Outsider"])
    for client, holds in ((owner, True), (outsider, False)):
        download = client.get("/intel/export/download?format=misp-feed")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            names = archive.namelist()
            assert "misp-feed/manifest.json" in names
            text = b"".join(archive.read(name) for name in names)
        assert (SECRET_IP.encode() in text) is holds


def test_feeds_are_listed_with_their_runs_and_toggled_by_their_org_admins(
    web_app: FastAPI, people: dict[str, str], engine: Engine
) -> None:
    with write_transaction(engine) as conn:
        feeds.create_feed_as_operator(
            conn,
            FeedCreate(
                name="partner-misp",
                kind=FeedKind.MISP,
                url="https://feeds.example.org/misp/",
                org="Sponsor A",
            ),
        )
    admin = logged_in(web_app, people["Sponsor A admin"])
    page = admin.get("/admin")
    assert "partner-misp" in page.text
    assert "never" in page.text  # not run yet
    assert "partner-misp" not in logged_in(web_app, people["Sponsor B admin"]).get("/admin").text
    other = logged_in(web_app, people["Sponsor B admin"])
    refused = post_form(other, "/admin", "/admin/feeds/partner-misp", {"enabled": "false"})
    assert refused.status_code == 404
    done = post_form(admin, "/admin", "/admin/feeds/partner-misp", {"enabled": "false"})
    assert done.status_code == 303
    assert "no — enable" in admin.get("/admin").text
    # The host's admins manage every organisation's feeds, naming the owner.
    host = logged_in(web_app, people["Host admin"])
    form = {"enabled": "true", "org": "Sponsor A"}
    assert post_form(host, "/admin", "/admin/feeds/partner-misp", form).status_code == 303
    assert "yes — disable" in admin.get("/admin").text


def test_a_committee_member_proposes_a_suspension_that_its_subject_cannot_vote_on(
    web_app: FastAPI, people: dict[str, str]
) -> None:
    host = logged_in(web_app, people["Host admin"])
    proposed = post_form(
        host, "/governance", "/governance/suspensions", {"org": "Outsider", "reason": "Leaks."}
    )
    assert proposed.status_code == 303
    path = proposed.headers["location"].split("?")[0]
    assert "Suspension of Outsider" in host.get(path).text
    subject = logged_in(web_app, people["Outsider admin"])
    page = subject.get(path)
    assert page.status_code == 200
    assert "Record position" not in page.text
    refused = post_form(subject, path, f"{path}/vote", {"choice": "object", "reason": "No."})
    assert refused.status_code == 403
    assert "does not vote" in refused.text
    contributor = logged_in(web_app, people["Contributor admin"])
    assert contributor.get(path).status_code == 404  # not its business
