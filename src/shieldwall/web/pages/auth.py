"""Login and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shieldwall.db.base import utcnow
from shieldwall.db.engine import write_transaction
from shieldwall.errors import Unauthorized
from shieldwall.web import sessions
from shieldwall.web.routing import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormUser,
    MaybeUser,
    PageRoute,
    login_csrf_matches,
    new_login_csrf,
    render,
    set_cookie,
)
from shieldwall.web.settings import WebSettings, get_web_settings
from shieldwall.web.throttle import LoginThrottle

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_LOGIN_FORM_SECONDS = 3600


def _safe_next(target: str | None) -> str:
    """Only a path of this node: never an open redirect to somewhere else."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request, next_url: str, problem: str | None = None, status_code: int = 200
) -> Response:
    token = new_login_csrf()
    context = {"next": next_url, "problem": problem, "login_csrf": token}
    response = render(request, "login.html", context, status_code=status_code)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, _LOGIN_FORM_SECONDS)
    return response


def _throttle(request: Request, settings: WebSettings) -> LoginThrottle:
    """The app's login throttle, made on first use from the web settings."""
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle(
            max_failures=settings.web_login_max_failures,
            window=settings.web_login_window,
            max_per_address=settings.web_login_max_failures_per_address,
        )
    assert isinstance(throttle, LoginThrottle)
    return throttle


@router.get("/login")
def login_form(request: Request, user: MaybeUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, _safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = _safe_next(next)
    if not login_csrf_matches(request, csrf_token):
        return _login_page(
            request, target, "the login form had expired; please try again", status_code=403
        )
    settings, now = get_web_settings(), utcnow()
    throttle = _throttle(request, settings)
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(username, address, now)
    if wait is not None:
        # The password is not even checked: guessing gains nothing while refused.
        minutes = max(1, -(-wait // 60))
        problem = f"too many failed logins; try again in {minutes} minute(s)"
        refused_page = _login_page(request, target, problem, status_code=429)
        refused_page.headers["Retry-After"] = str(wait)
        return refused_page
    try:
        with write_transaction(request.app.state.engine) as conn:
            session = sessions.login(conn, settings, username, password, now)
    except Unauthorized as refused:
        throttle.failed(username, address, now)
        return _login_page(request, target, refused.detail, status_code=401)
    throttle.succeeded(username)
    response = RedirectResponse(target, status_code=303)
    lifetime = int(settings.web_session_lifetime.total_seconds())
    set_cookie(request, response, SESSION_COOKIE, session.token, lifetime)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, user: FormUser) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    with write_transaction(request.app.state.engine) as conn:
        sessions.logout(conn, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
