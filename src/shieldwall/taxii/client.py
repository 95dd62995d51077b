"""A TAXII 2.1 client for pulling collections from any server (ours, medallion, OpenCTI...).

It pages by `next` (or, for servers that give no `next`, by the
X-TAXII-Date-Added-Last of the page), and retries on 429, 5xx and network
failures with exponential backoff, waiting as long as a `Retry-After` header
asks (up to a cap). It knows nothing of the store: `taxii.pull` imports what
it fetches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shieldwall import __version__
from shieldwall.errors import ShieldwallError
from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE


class RemoteError(ShieldwallError):
    """The remote TAXII server refused, failed, or answered something that is not TAXII."""

    status_code = 502
    code = "remote_error"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    #: The longest Retry-After we honour; a server asking more is treated as down.
    max_retry_after: float = 600.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))


@dataclass(frozen=True, slots=True)
class RemotePage:
    objects: list[dict[str, Any]]
    more: bool
    next: str | None
    #: X-TAXII-Date-Added-Last as the server wrote it (None when absent).
    date_added_last: str | None


@dataclass(slots=True)
class Credentials:
    """HTTP Basic when a username is given, else Bearer with the secret."""

    username: str | None = None
    secret: str | None = None

    def apply(self, request_headers: dict[str, str]) -> httpx.Auth | None:
        if self.username is not None:
            return httpx.BasicAuth(self.username, self.secret or "")
        if self.secret:
            request_headers["Authorization"] = f"Bearer {self.secret}"
        return None


@dataclass
class TaxiiClient:
    """One API root of a remote TAXII 2.1 server."""

    api_root: str
    credentials: Credentials = field(default_factory=Credentials)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 60.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.api_root = self.api_root.rstrip("/") + "/"
        headers = {"Accept": TAXII_MEDIA_TYPE, "User-Agent": f"shieldwall/{__version__}"}
        auth = self.credentials.apply(headers)
        self._http = httpx.Client(
            headers=headers, auth=auth, timeout=self.timeout, transport=self.transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TaxiiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- requests

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        url = self.api_root + path.lstrip("/")
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._http.get(url, params=params)
            except httpx.TransportError as exc:
                if attempt == self.retry.attempts:
                    raise RemoteError(f"{url}: {type(exc).__name__}: {exc}", where=url) from None
                self.sleep(self.retry.backoff(attempt))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == self.retry.attempts:
                    raise RemoteError(_describe(response), where=url)
                self.sleep(self._delay(response, attempt))
                continue
            if response.status_code >= 400:
                raise RemoteError(_describe(response), where=url)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, response: httpx.Response, attempt: int) -> float:
        asked = _retry_after(response.headers.get("retry-after"))
        if asked is None:
            return self.retry.backoff(attempt)
        if asked > self.retry.max_retry_after:
            raise RemoteError(
                f"{_describe(response)}; it asks to retry after {asked:.0f} s, longer than "
                f"the {self.retry.max_retry_after:.0f} s this client waits",
                where=str(response.url),
            )
        return asked

    def objects_page(self, collection_id: str, params: dict[str, Any]) -> RemotePage:
        response = self.get_json(f"collections/{collection_id}/objects/", params)
        body = _envelope(response)
        objects = body.get("objects", [])
        next_token = body.get("next")
        return RemotePage(
            objects=objects,
            more=bool(body.get("more", False)),
            next=next_token if isinstance(next_token, str) and next_token else None,
            date_added_last=response.headers.get("x-taxii-date-added-last"),
        )

    def pages(
        self, collection_id: str, added_after: str | None, limit: int | None = None
    ) -> Iterator[RemotePage]:
        """Every page of a collection added after `added_after` (everything when None)."""
        base: dict[str, Any] = {}
        if limit is not None:
            base["limit"] = limit
        if added_after is not None:
            base["added_after"] = added_after
        params = dict(base)
        while True:
            page = self.objects_page(collection_id, params)
            yield page
            if not page.more:
                return
            if "limit" not in base and page.objects:
                # Ask for the page size the server chose: some servers (medallion)
                # fail on a `next` request without a limit.
                base["limit"] = len(page.objects)
            if page.next is not None:
                params = {**base, "next": page.next}
            elif page.date_added_last is not None and page.objects:
                # A server without `next` pages by date added.
                params = {**base, "added_after": page.date_added_last}
            else:
                raise RemoteError(
                    "the server says there is more but gives neither next nor "
                    "X-TAXII-Date-Added-Last to ask for it",
                    where=collection_id,
                )


def _envelope(response: httpx.Response) -> dict[str, Any]:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/taxii+json", "application/json"):
        raise RemoteError(
            f"{response.url} answered {media or 'no content type'}, not a TAXII envelope",
            where=str(response.url),
        )
    try:
        body = response.json()
    except ValueError:
        raise RemoteError(
            f"{response.url} answered invalid JSON", where=str(response.url)
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("objects", []), list):
        raise RemoteError(f"{response.url} answered no TAXII envelope", where=str(response.url))
    return body


def _describe(response: httpx.Response) -> str:
    """The status and, for a TAXII error message, its title and description."""
    summary = f"{response.request.method} {response.url} answered {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return summary
    if isinstance(body, dict):
        detail = ": ".join(str(body[k]) for k in ("title", "description") if body.get(k))
        if detail:
            return f"{summary} ({detail})"
    return summary


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
