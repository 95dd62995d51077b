"""Reading the object store, always through the access policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, FromClause, RowMapping

from shieldwall.db.secrets import CursorBox, cursor_box
from shieldwall.errors import BadInput, NotFound
from shieldwall.intel import repository
from shieldwall.intel.observables import KINDS, Observable, detect, normalise
from shieldwall.intel.repository import ObjectFilters
from shieldwall.sharing.policy import Principal
from shieldwall.sharing.tlp import TLP, DistKind


@dataclass(frozen=True, slots=True)
class Reader:
    """A caller and what the node allows anonymous callers, fixed per request."""

    principal: Principal
    anonymous_public: bool = False

    def policy(self) -> ColumnElement[bool]:
        return repository.visible(self.principal, anonymous_public=self.anonymous_public)

    def policy_on(self, table: FromClause) -> ColumnElement[bool]:
        """The same filter over an alias of `stix_objects` (self-joins)."""
        return repository.visible(
            self.principal, anonymous_public=self.anonymous_public, table=table
        )


def encode_cursor(box: CursorBox, pk: int) -> str:
    return box.seal(f"o{pk}")


def decode_cursor(box: CursorBox, cursor: str | None) -> int:
    if not cursor:
        return 0
    text = box.open(cursor)
    if text is None or not text.startswith("o") or not text[1:].isdigit():
        raise BadInput("cursor is not one this node returned", where="cursor")
    return int(text[1:])


def object_view(
    row: RowMapping, found: list[tuple[str, str]] | None = None, *, latest: bool = True
) -> dict[str, Any]:
    """The API form of a stored version.

    `latest` means the newest version the caller may see: the store's own flag
    would tell a caller that a newer version it may not see exists.
    """
    dist = DistKind(row["dist"])
    distribution = f"group:{row['group_name']}" if dist is DistKind.GROUP else dist.name.lower()
    view: dict[str, Any] = {
        "id": row["stix_id"],
        "type": row["type"],
        "owner": row["owner"],
        "tlp": TLP(row["tlp"]).slug,
        "distribution": distribution,
        "added_at": row["added_at"].isoformat(),
        "latest": latest,
        "object": orjson.loads(row["data"]),
    }
    if found is not None:
        view["observables"] = [{"type": kind, "value": value} for kind, value in found]
    return view


def list_objects(
    conn: Connection, reader: Reader, filters: ObjectFilters, cursor: str | None, limit: int
) -> dict[str, Any]:
    box = cursor_box(conn.engine)
    after = decode_cursor(box, cursor)
    rows = repository.list_latest(conn, reader.policy(), filters, after_pk=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    found = repository.observables_of(conn, [row["pk"] for row in rows])
    next_cursor = encode_cursor(box, rows[-1]["pk"]) if rows else cursor
    return {
        "objects": [object_view(row, found.get(row["pk"], [])) for row in rows],
        "more": more,
        # Always a cursor (when the caller has seen anything): passing it later
        # returns what arrived since, so a client can poll without gaps.
        "next": next_cursor,
    }


def count_objects(conn: Connection, reader: Reader, filters: ObjectFilters) -> int:
    return repository.count_latest(conn, reader.policy(), filters)


def _visible_versions(conn: Connection, reader: Reader, stix_id: str) -> list[RowMapping]:
    rows = repository.versions_of(conn, reader.policy(), stix_id)
    if not rows:
        # The same answer whether the object is absent or not visible.
        raise NotFound(f"no object {stix_id!r}", where="id")
    return rows


def get_object(conn: Connection, reader: Reader, stix_id: str) -> dict[str, Any]:
    rows = _visible_versions(conn, reader, stix_id)
    newest = max(rows, key=lambda row: (row["version_key"], row["pk"]))
    found = repository.observables_of(conn, [newest["pk"]])
    return object_view(newest, found.get(newest["pk"], []))


def get_versions(conn: Connection, reader: Reader, stix_id: str) -> dict[str, Any]:
    rows = _visible_versions(conn, reader, stix_id)
    newest = max(rows, key=lambda row: (row["version_key"], row["pk"]))
    return {
        "id": stix_id,
        "versions": [object_view(row, latest=row is newest) for row in rows],
    }


def observable_of_query(value: str, kind: str | None) -> Observable:
    """A value asked for by a caller, typed or untyped, as a normalised observable."""
    if kind is not None and kind not in KINDS:
        raise BadInput(
            f"unknown observable type {kind!r}; use one of {sorted(KINDS)}", where="type"
        )
    found = normalise(kind, value) if kind else detect(value)
    if found is None:
        raise BadInput(f"{value!r} is not a recognisable observable value", where="value")
    return found


def find_by_value(
    conn: Connection, reader: Reader, value: str, kind: str | None, limit: int
) -> dict[str, Any]:
    found = observable_of_query(value, kind)
    rows = repository.latest_containing(conn, reader.policy(), found[0], found[1], limit)
    return {
        "value": found[1],
        "type": found[0],
        "objects": [object_view(row) for row in rows],
    }
