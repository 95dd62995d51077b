"""Running feeds: one pull each, its outcome recorded on the feed.

TAXII feeds pull through `taxii.pull.pull_collection`; MISP feeds through
`formats.misp_feed.pull_feed`. A run that fails is recorded (`last_status`
error, `last_error`) and does not stop the others. This is a job: it owns
its transactions.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, RowMapping

from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import read_transaction
from shieldwall.errors import ShieldwallError
from shieldwall.feeds import repository
from shieldwall.feeds.schemas import FeedKind
from shieldwall.feeds.service import feed_view
from shieldwall.intel.ingest import Mode
from shieldwall.members import bootstrap
from shieldwall.members.model import Role
from shieldwall.taxii.client import Credentials, TaxiiClient
from shieldwall.taxii.pull import PullTarget, pull_collection

log = logging.getLogger("shieldwall.feeds")


def _pull_taxii(engine: Engine, settings: Settings, feed: RowMapping) -> dict[str, Any]:
    target = PullTarget(org=feed["org"], tlp=feed["tlp"], distribution=feed["distribution"])
    credentials = Credentials(feed["username"], feed["secret"])
    with TaxiiClient(feed["url"], credentials) as client:
        result = pull_collection(engine, settings, client, feed["collection_id"], target)
    report = result.report
    return {
        "pages": result.pages,
        "objects": report.objects,
        "created": report.created,
        "new_versions": report.new_versions,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
    }


def _pull_misp(engine: Engine, settings: Settings, feed: RowMapping) -> dict[str, Any]:
    from shieldwall.formats.detect import Format
    from shieldwall.formats.misp_feed import pull_feed
    from shieldwall.formats.service import FormatRequest

    with read_transaction(engine) as conn:
        principal = bootstrap.principal_for(conn, feed["org"], Role.ANALYST)
    request = FormatRequest(
        principal=principal,
        owner=feed["org"],
        tlp=feed["tlp"],
        distribution=feed["distribution"],
        mode=Mode.LENIENT,
        format=Format.MISP,
    )
    report = pull_feed(engine, settings, request, feed["url"])
    return {
        "events_listed": report.listed,
        "events_skipped": report.skipped,
        "events_failed": len(report.failed),
        "objects": sum(r.objects for r in report.reports),
        "created": sum(r.created for r in report.reports),
        "new_versions": sum(r.new_versions for r in report.reports),
        "unchanged": sum(r.unchanged for r in report.reports),
        "rejected": sum(len(r.rejected) for r in report.reports),
    }


def run_feed(engine: Engine, settings: Settings, feed: RowMapping) -> dict[str, Any]:
    """Runs one feed now, records how it went, and returns the feed's new view."""
    started = utcnow()
    values: dict[str, Any] = {"last_run_at": started}
    try:
        if feed["kind"] == FeedKind.TAXII:
            counts = _pull_taxii(engine, settings, feed)
        else:
            counts = _pull_misp(engine, settings, feed)
    except ShieldwallError as exc:
        values.update(last_status="error", last_error=exc.one_line())
    except Exception as exc:
        log.exception("feed %s/%s failed", feed["org"], feed["name"])
        values.update(last_status="error", last_error=f"{type(exc).__name__}: {exc}")
    else:
        values.update(last_status="ok", last_error=None, last_counts=orjson.dumps(counts).decode())
    with engine.begin() as conn:
        repository.update_feed(conn, feed["id"], values)
        row = repository.feed_by_id(conn, feed["id"])
    assert row is not None
    return feed_view(row)


def run_due(
    engine: Engine, settings: Settings, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Runs every enabled feed whose time has come; returns their new views.

    Each feed is claimed first (its next run moved forward in one UPDATE), so
    several node processes over one PostgreSQL store never run a feed twice.
    """
    moment = now or utcnow()
    with read_transaction(engine) as conn:
        due = repository.due_feeds(conn, moment)
    ran: list[dict[str, Any]] = []
    for feed in due:
        with engine.begin() as conn:
            if not repository.claim(conn, feed, moment):
                continue
        ran.append(run_feed(engine, settings, feed))
    return ran
