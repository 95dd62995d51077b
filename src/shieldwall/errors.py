"""The one error hierarchy of shieldwall.

    ShieldwallError                 (500, the base; never shown with a trace)
    ├── BadInput                    (400: malformed input; `where` names the place)
    │   └── ValidationFailed        (422: well-formed but invalid; `where` names the field)
    ├── Unauthorized                (401: missing or wrong credentials)
    ├── Forbidden                   (403: authenticated, action not allowed)
    ├── NotFound                    (404: absent, or present but not visible to the caller)
    ├── Conflict                    (409: the request contradicts the current state)
    └── PayloadTooLarge             (413: the body exceeds the configured limit)

Services raise these; the API turns them into `{"error", "detail", "where"}`
bodies and the CLI into a one-line message with exit code 2 (input) or 1.
"""

from __future__ import annotations

from typing import Any


class ShieldwallError(Exception):
    status_code = 500
    code = "internal_error"
    #: CLI exit code: 2 for anything the user can fix in their input, 1 otherwise.
    exit_code = 1

    def __init__(
        self, detail: str, *, where: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        # One line always: parsers' messages (yajl's) draw carets over several lines.
        detail = " ".join(detail.split())
        super().__init__(detail)
        self.detail = detail
        self.where = where
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.where is not None:
            body["where"] = self.where
        body.update(self.extra)
        return body

    def one_line(self) -> str:
        return f"{self.detail} (at {self.where})" if self.where else self.detail


class BadInput(ShieldwallError):
    status_code = 400
    code = "bad_input"
    exit_code = 2


class ValidationFailed(BadInput):
    status_code = 422
    code = "validation_failed"


class Unauthorized(ShieldwallError):
    status_code = 401
    code = "unauthorized"
    exit_code = 2


class Forbidden(ShieldwallError):
    status_code = 403
    code = "forbidden"
    exit_code = 2


class NotFound(ShieldwallError):
    status_code = 404
    code = "not_found"
    exit_code = 2


class Conflict(ShieldwallError):
    status_code = 409
    code = "conflict"
    exit_code = 2


class PayloadTooLarge(ShieldwallError):
    status_code = 413
    code = "payload_too_large"
    exit_code = 2
