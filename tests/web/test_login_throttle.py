"""Online password guessing at the web console's login form is throttled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from shieldwall.web.throttle import LoginThrottle
from tests.web.helpers import PASSWORD, log_in

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def _throttle(max_failures: int = 3, max_per_address: int = 10) -> LoginThrottle:
    return LoginThrottle(max_failures=max_failures, window=WINDOW, max_per_address=max_per_address)


def test_a_name_is_refused_after_its_failures_until_the_window_passes() -> None:
    throttle = _throttle()
    for minute in range(3):
        assert throttle.retry_after("alice", "192.0.2.1", T0 + timedelta(minutes=minute)) is None
        throttle.failed("alice", "192.0.2.1", T0 + timedelta(minutes=minute))
    now = T0 + timedelta(minutes=3)
    # Refused until the first failure (at T0) leaves the 15-minute window.
    assert throttle.retry_after("alice", "192.0.2.1", now) == 12 * 60
    # Whatever the spelling of the name and the address it comes from.
    assert throttle.retry_after(" ALICE ", "198.51.100.7", now) == 12 * 60
    assert throttle.retry_after("bob", "192.0.2.1", now) is None
    assert throttle.retry_after("alice", "192.0.2.1", T0 + WINDOW) is None


def test_a_success_clears_the_names_failures() -> None:
    throttle = _throttle()
    throttle.failed("alice", "192.0.2.1", T0)
    throttle.failed("alice", "192.0.2.1", T0)
    throttle.succeeded("alice")
    throttle.failed("alice", "192.0.2.1", T0)
    assert throttle.retry_after("alice", "192.0.2.1", T0) is None


def test_one_address_spraying_many_names_is_refused() -> None:
    throttle = _throttle(max_failures=3, max_per_address=4)
    for number in range(4):
        throttle.failed(f"user{number}", "203.0.113.9", T0)
    assert throttle.retry_after("someone-else", "203.0.113.9", T0) == WINDOW.total_seconds()
    assert throttle.retry_after("someone-else", "192.0.2.1", T0) is None


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_failures=1, window=WINDOW, max_per_address=1000, max_tracked=10)
    for number in range(100):
        throttle.failed(f"user{number}", "203.0.113.9", T0)
    assert len(throttle._failures) <= 10
    assert throttle.retry_after("user99", "192.0.2.1", T0) is not None  # the newest are kept


def test_the_login_page_refuses_guessing_even_with_the_right_password(
    web_app: FastAPI, people: dict[str, str]
) -> None:
    client = TestClient(web_app)
    victim = people["Sponsor A"]
    for _ in range(5):  # the default SHIELDWALL_WEB_LOGIN_MAX_FAILURES
        assert log_in(client, victim, "a wrong guess").status_code == 401
    refused = log_in(client, victim, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "too many failed logins" in refused.text
    assert "sw_session" not in client.cookies
    # Another user is not held up by the victim's lockout.
    assert log_in(TestClient(web_app), people["Sponsor B"]).status_code == 303
