"""What every page shares: templates, security headers, errors as pages, the session, CSRF.

Pages use `PageRoute`, which turns the project's errors into HTML pages with
the same status codes the API gives (a 404 for an object that is absent or
not visible alike), sends a browser without a session to the login page, and
puts the security headers on every answer:

* a strict Content-Security-Policy: scripts, styles and images only from this
  node, no inline script or style, no framing, forms posted only here;
* `Cache-Control: no-store`, since pages show intel and one-time secrets.

CSRF: every form carries the session's token (`csrf_token`), compared in
constant time before any write; the login form, which has no session yet,
uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from shieldwall.db.base import utcnow
from shieldwall.db.engine import read_transaction
from shieldwall.errors import Forbidden, ShieldwallError, Unauthorized, ValidationFailed
from shieldwall.web import presenting, sessions
from shieldwall.web.sessions import WebUser

log = logging.getLogger("shieldwall.web")

SESSION_COOKIE = "sw_session"
LOGIN_CSRF_COOKIE = "sw_login_csrf"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.filters.update(
    flag=presenting.flag,
    tlp_label=presenting.tlp_label,
    tlp_class=presenting.tlp_class,
    when=presenting.when,
    day=presenting.day,
    title=presenting.object_title,
)


class LoginRequired(Unauthorized):
    """No live session: the browser is sent to the login page."""


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    user: WebUser | None = getattr(request.state, "web_user", None)
    page = {"user": user, "csrf_token": user.csrf_token if user else None, **(context or {})}
    return templates.TemplateResponse(request, template, page, status_code=status_code)


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def _error_page(request: Request, error: ShieldwallError) -> Response:
    if isinstance(error, LoginRequired):
        target = request.url.path
        if request.url.query and request.method == "GET":
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    context = {"error": error, "status": error.status_code}
    return render(request, "error.html", context, status_code=error.status_code)


def _validation_page(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    detail = f"{first.get('msg', 'invalid request')} ({where})"
    return _error_page(request, ValidationFailed(detail, where=where))


class PageRoute(APIRoute):
    """An HTML page: project errors become pages, and every answer gets the headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
            except ShieldwallError as error:
                response = _error_page(request, error)
            except RequestValidationError as exc:
                response = _validation_page(request, exc)
            except Exception:
                # The trace goes to the operator's log, never to the browser.
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                response = _error_page(
                    request, ShieldwallError("an unexpected error occurred; see the node log")
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return page


# --------------------------------------------------------------------------- the session


def optional_user(request: Request) -> WebUser | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with read_transaction(request.app.state.engine) as conn:
        user = sessions.current_user(conn, token, utcnow())
    request.state.web_user = user
    if user is not None:
        request.state.org = user.org  # for the access log, as API keys do
    return user


def required_user(
    user: Annotated[WebUser | None, Depends(optional_user)],
) -> WebUser:
    if user is None:
        raise LoginRequired("log in to see this page")
    return user


async def form_user(request: Request, user: Annotated[WebUser, Depends(required_user)]) -> WebUser:
    """The user of a posted form whose CSRF token matches the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, user.csrf_token):
        raise Forbidden(
            "this form was refused: its security token is missing or out of date; "
            "reload the page and send it again",
            where=CSRF_FIELD,
        )
    return user


CurrentUser = Annotated[WebUser, Depends(required_user)]
MaybeUser = Annotated[WebUser | None, Depends(optional_user)]
FormUser = Annotated[WebUser, Depends(form_user)]


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def login_csrf_matches(request: Request, sent: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, sent)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_tls(request),
    )
