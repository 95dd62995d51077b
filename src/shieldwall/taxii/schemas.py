"""The TAXII 2.1 wire vocabulary: media types, negotiation, timestamps, cursors, errors.

Everything here is pure (no SQL, no HTTP objects) so that the server and the
client share one reading of the specification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shieldwall.db.secrets import CursorBox
from shieldwall.errors import BadInput, ShieldwallError, Unauthorized
from shieldwall.intel.stix import ObjectInvalid, timestamp_key

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"

_TAXII_BASE = "application/taxii+json"
_STIX_BASE = "application/stix+json"


# --------------------------------------------------------------------------- media types


@dataclass(frozen=True, slots=True)
class MediaRange:
    full_type: str
    params: dict[str, str]
    quality: float


def _parse_media_range(text: str) -> MediaRange | None:
    parts = [part.strip() for part in text.split(";")]
    full_type = parts[0].lower()
    if "/" not in full_type:
        return None
    params: dict[str, str] = {}
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    try:
        quality = float(params.pop("q", "1"))
    except ValueError:
        quality = 0.0
    return MediaRange(full_type, params, quality)


def accepts_taxii(accept: str | None) -> bool:
    """Whether an Accept header admits `application/taxii+json;version=2.1`.

    A missing header admits anything; a TAXII range with another version
    (2.0) does not, since that client would misread our envelopes.
    """
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        media = _parse_media_range(item)
        if media is None or media.quality <= 0:
            continue
        if media.full_type in ("*/*", "application/*"):
            return True
        if media.full_type == _TAXII_BASE and media.params.get("version", "2.1") == "2.1":
            return True
    return False


def is_postable(content_type: str | None) -> bool:
    """A TAXII envelope, or a STIX 2.1 bundle, as the body of an objects POST."""
    if content_type is None:
        return False
    media = _parse_media_range(content_type)
    if media is None or media.full_type not in (_TAXII_BASE, _STIX_BASE):
        return False
    return media.params.get("version") == "2.1"


# --------------------------------------------------------------------------- timestamps

_TIMESTAMP_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]00:?00)"
)


def parse_timestamp(text: str, where: str) -> datetime:
    """A TAXII/STIX timestamp (UTC, any precision; kept to the microsecond)."""
    match = _TIMESTAMP_RE.fullmatch(text.strip())
    if not match:
        raise BadInput(
            f"{text!r} is not a UTC timestamp like 2024-01-31T12:00:00.000Z", where=where
        )
    fraction = (match.group(3) or "").ljust(6, "0")[:6]
    try:
        return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}.{fraction}+00:00")
    except ValueError:
        raise BadInput(f"{text!r} is not a valid date and time", where=where) from None


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- paging


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts, and the end of the snapshot the first page saw.

    Objects committed after the first page have larger keys than `upper`, so a
    client paging by `next` gets exactly the objects present when it started.
    """

    after_pk: int
    upper_pk: int

    def encode(self, box: CursorBox) -> str:
        # Sealed: the keys count every organisation's objects (see CursorBox).
        return box.seal(f"t{self.after_pk}.{self.upper_pk}")

    @classmethod
    def decode(cls, token: str, box: CursorBox) -> Cursor:
        text = box.open(token)
        after, _, upper = (text or "").removeprefix("t").partition(".")
        if text is None or not text.startswith("t") or not (after.isdigit() and upper.isdigit()):
            raise BadInput("next is not a value this server returned", where="next")
        cursor = cls(int(after), int(upper))
        if cursor.upper_pk < cursor.after_pk:
            raise BadInput("next is not a value this server returned", where="next")
        return cursor


class VersionSelector(StrEnum):
    FIRST = "first"
    LAST = "last"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class VersionMatch:
    """`match[version]`: first, last, all and/or exact versions (normalised keys)."""

    selectors: frozenset[VersionSelector] = frozenset({VersionSelector.LAST})
    keys: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: list[str] | None) -> VersionMatch:
        items = split_values(values)
        if not items:
            return cls()
        selectors: set[VersionSelector] = set()
        keys: list[str] = []
        for item in items:
            if item in VersionSelector._value2member_map_:
                selectors.add(VersionSelector(item))
                continue
            try:
                keys.append(timestamp_key(item, "match[version]"))
            except ObjectInvalid as exc:
                raise BadInput(
                    f"match[version] {item!r}: use first, last, all or a timestamp ({exc.reason})",
                    where="match[version]",
                ) from None
        return cls(frozenset(selectors), tuple(sorted(set(keys))))


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """The filters of an objects, manifest, object or versions request."""

    added_after: datetime | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionMatch = VersionMatch()
    #: False when match[spec_version] names only versions this store never holds.
    spec_version_ok: bool = True


def split_values(values: list[str] | None) -> list[str]:
    """Comma-separated (and possibly repeated) filter values, trimmed."""
    found: list[str] = []
    for value in values or ():
        found.extend(part.strip() for part in value.split(",") if part.strip())
    return found


def spec_version_matches(values: list[str] | None) -> bool:
    """The store holds STIX 2.1 only: a filter without 2.1 matches nothing."""
    wanted = split_values(values)
    return not wanted or "2.1" in wanted


# --------------------------------------------------------------------------- errors

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
}


class NotAcceptable(ShieldwallError):
    status_code = 406
    code = "not_acceptable"
    exit_code = 2


class UnsupportedMediaType(ShieldwallError):
    status_code = 415
    code = "unsupported_media_type"
    exit_code = 2


def error_envelope(error: ShieldwallError) -> dict[str, Any]:
    """A TAXII 2.1 error message for one of our errors."""
    body: dict[str, Any] = {
        "title": _TITLES.get(error.status_code, "Error"),
        "description": error.detail,
        "error_code": error.code,
        "http_status": str(error.status_code),
    }
    if error.where is not None:
        body["details"] = {"where": error.where}
    return body


def error_headers(error: ShieldwallError) -> dict[str, str] | None:
    if isinstance(error, Unauthorized):
        return {"WWW-Authenticate": 'Basic realm="shieldwall TAXII", Bearer'}
    return None
