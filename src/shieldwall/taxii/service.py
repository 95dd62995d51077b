"""Rules of the TAXII server: which collections a caller has, and what pages hold.

Collections are not stored: they are derived from the access policy for each
caller, one per distribution it may read — its own organisation (`org`), the
steering committee (`members`, for committee members), each sharing group it
takes part in (`group:NAME`), and `public`. A collection holds the objects
whose distribution is that collection's AND that the caller may see (the
policy's SQL filter, `intel.repository.visible`). A collection id the caller
is not entitled to is answered exactly as one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection

from shieldwall.db.secrets import cursor_box
from shieldwall.errors import Forbidden, NotFound
from shieldwall.intel import repository as intel_repository
from shieldwall.intel.service import Reader
from shieldwall.sharing import repository as sharing_repository
from shieldwall.sharing.policy import Action, Principal, may, require
from shieldwall.sharing.tlp import DistKind
from shieldwall.taxii import repository
from shieldwall.taxii.schemas import (
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
    Cursor,
    ObjectQuery,
    VersionMatch,
    VersionSelector,
    format_timestamp,
)

#: The one API root of a node, under /taxii2/.
API_ROOT = "intel"
#: Collection ids are UUIDs derived from what the collection stands for, so
#: they are stable without being stored.
_COLLECTION_NAMESPACE = uuid.UUID("1b0c6a55-2f4e-4f57-9a43-5d1e0f1f7c21")


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    title: str
    description: str
    dist: DistKind
    group_id: int | None
    group_name: str | None
    can_write: bool

    def distribution_text(self) -> str:
        """The distribution objects posted here receive, as `run_import` names it."""
        if self.dist is DistKind.GROUP:
            return f"group:{self.group_name}"
        return self.dist.name.lower()

    def default_tlp(self) -> str:
        """TLP of posted objects that carry no TLP marking of their own."""
        return "clear" if self.dist is DistKind.PUBLIC else "amber"

    def scope(self) -> ColumnElement[bool]:
        return repository.collection_clause(self.dist, self.group_id)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "can_read": True,
            "can_write": self.can_write,
            "media_types": [STIX_MEDIA_TYPE],
        }


def collection_id(key: str) -> str:
    return str(uuid.uuid5(_COLLECTION_NAMESPACE, key))


def _public(principal: Principal) -> Collection:
    return Collection(
        id=collection_id("public"),
        title="Public",
        description="Intel shared with every organisation (TLP:CLEAR of it also anonymously "
        "where the node allows).",
        dist=DistKind.PUBLIC,
        group_id=None,
        group_name=None,
        can_write=may(principal, Action.WRITE_INTEL),
    )


def collections_for(conn: Connection, reader: Reader) -> list[Collection]:
    """The collections this caller may read, in a stable order."""
    principal = reader.principal
    if principal.is_anonymous:
        return [_public(principal)] if reader.anonymous_public else []
    can_write = may(principal, Action.WRITE_INTEL)
    found = [
        Collection(
            id=collection_id(f"org:{principal.org_id}"),
            title=f"{principal.org_name} (own)",
            description="Intel this organisation keeps to itself (distribution org).",
            dist=DistKind.ORG,
            group_id=None,
            group_name=None,
            can_write=can_write,
        )
    ]
    if principal.tier is not None and principal.tier.on_steering_committee:
        found.append(
            Collection(
                id=collection_id("members"),
                title="Members",
                description="Intel shared with the steering committee (distribution members).",
                dist=DistKind.MEMBERS,
                group_id=None,
                group_name=None,
                can_write=can_write,
            )
        )
    groups = principal.effective_groups
    for group in sharing_repository.list_groups(conn, principal.org_id):
        if group["id"] in groups:
            found.append(
                Collection(
                    id=collection_id(f"group:{group['id']}"),
                    title=f"Group {group['name']}",
                    description=f"Intel shared with the sharing group {group['name']}.",
                    dist=DistKind.GROUP,
                    group_id=group["id"],
                    group_name=group["name"],
                    can_write=can_write,
                )
            )
    found.append(_public(principal))
    return found


def find_collection(conn: Connection, reader: Reader, wanted: str) -> Collection:
    for collection in collections_for(conn, reader):
        if collection.id == wanted:
            return collection
    raise NotFound("no such collection", where="collection")


def require_writable(collection: Collection) -> None:
    if not collection.can_write:
        raise Forbidden(f"this key may not add objects to the collection {collection.id}")


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[repository.PageRow]
    more: bool
    next: str | None
    #: Date added of the first and last rows (None on an empty page).
    added_first: datetime | None = None
    added_last: datetime | None = None

    def headers(self) -> dict[str, str]:
        if self.added_first is None or self.added_last is None:
            return {}
        return {
            "X-TAXII-Date-Added-First": format_timestamp(self.added_first),
            "X-TAXII-Date-Added-Last": format_timestamp(self.added_last),
        }

    def head(self) -> dict[str, Any]:
        head: dict[str, Any] = {"more": self.more}
        if self.next is not None:
            head["next"] = self.next
        return head


def _page(
    conn: Connection,
    reader: Reader,
    collection: Collection,
    query: ObjectQuery,
    token: str | None,
    limit: int,
    columns: repository.Columns,
) -> Page:
    if not query.spec_version_ok:
        return Page([], False, None)
    box = cursor_box(conn.engine)
    cursor = Cursor.decode(token, box) if token else Cursor(0, repository.snapshot_upper(conn))
    rows = repository.page(
        conn,
        columns,
        reader.policy(),
        reader.policy_on,
        collection.scope(),
        query,
        after_pk=cursor.after_pk,
        upper_pk=cursor.upper_pk,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return Page(rows, False, None)
    following = Cursor(rows[-1].pk, cursor.upper_pk).encode(box) if more else None
    added = repository.added_at_of(conn, [rows[0].pk, rows[-1].pk])
    return Page(rows, more, following, added[rows[0].pk], added[rows[-1].pk])


def objects_page(
    conn: Connection,
    reader: Reader,
    collection: Collection,
    query: ObjectQuery,
    token: str | None,
    limit: int,
) -> Page:
    return _page(conn, reader, collection, query, token, limit, repository.OBJECT_COLUMNS)


def object_page(
    conn: Connection,
    reader: Reader,
    collection: Collection,
    stix_id: str,
    query: ObjectQuery,
    token: str | None,
    limit: int,
) -> Page:
    """Versions of one object; 404 when the caller sees none of it in the collection."""
    page = objects_page(conn, reader, collection, replace(query, ids=(stix_id,)), token, limit)
    if not page.rows and token is None:
        raise NotFound("no such object in this collection", where="object_id")
    return page


def manifest_page(
    conn: Connection,
    reader: Reader,
    collection: Collection,
    query: ObjectQuery,
    token: str | None,
    limit: int,
) -> Page:
    return _page(conn, reader, collection, query, token, limit, repository.MANIFEST_COLUMNS)


def versions_page(
    conn: Connection,
    reader: Reader,
    collection: Collection,
    stix_id: str,
    query: ObjectQuery,
    token: str | None,
    limit: int,
) -> Page:
    every = replace(query, ids=(stix_id,), versions=VersionMatch(frozenset({VersionSelector.ALL})))
    page = _page(conn, reader, collection, every, token, limit, repository.MANIFEST_COLUMNS)
    if not page.rows and token is None:
        raise NotFound("no such object in this collection", where="object_id")
    return page


def _version_of(data: str, added_at: datetime) -> str:
    """The STIX version string: `modified`, else `created`, else the date added (SCOs)."""
    obj = orjson.loads(data)
    version = obj.get("modified") or obj.get("created")
    return version if isinstance(version, str) else format_timestamp(added_at)


def render_objects(page: Page) -> bytes:
    """The envelope, spliced from the stored JSON without decoding it."""
    head = orjson.dumps(page.head())[:-1]
    body = ",".join(row.data for row in page.rows)
    return head + b',"objects":[' + body.encode() + b"]}"


def render_manifest(page: Page) -> bytes:
    entries = [
        {
            "id": row.stix_id,
            "date_added": format_timestamp(row.added_at),
            "version": _version_of(row.data, row.added_at),
            "media_type": STIX_MEDIA_TYPE,
        }
        for row in page.rows
    ]
    return orjson.dumps({**page.head(), "objects": entries})


def render_versions(page: Page) -> bytes:
    versions = [_version_of(row.data, row.added_at) for row in page.rows]
    return orjson.dumps({**page.head(), "versions": versions})


# --------------------------------------------------------------------------- delete


def delete_object(
    conn: Connection,
    principal: Principal,
    collection: Collection,
    stix_id: str,
    versions: VersionMatch,
) -> None:
    """Deletes the caller's own versions of an object selected by `versions`.

    A caller that sees no such version gets 404; one that sees only other
    organisations' versions gets 403, as it already knows they exist.
    """
    require(principal, Action.WRITE_INTEL)
    policy = intel_repository.visible(principal)
    rows = repository.matching_versions(
        conn,
        policy,
        lambda table: intel_repository.visible(principal, table=table),
        collection.scope(),
        stix_id,
        versions,
    )
    if not rows:
        raise NotFound("no such object in this collection", where="object_id")
    own = [row["pk"] for row in rows if row["owner_org_id"] == principal.org_id]
    if not own:
        raise Forbidden("only the organisation that owns an object may delete it")
    assert principal.org_id is not None  # require() refuses anonymous callers
    repository.delete_versions(conn, own)
    repository.restore_latest(conn, principal.org_id, stix_id)


# --------------------------------------------------------------------------- discovery


def discovery(base_url: str) -> dict[str, Any]:
    root = f"{base_url}taxii2/{API_ROOT}/"
    return {
        "title": "shieldwall",
        "description": "TAXII 2.1 server of a shieldwall cyber defence coalition node.",
        "default": root,
        "api_roots": [root],
    }


def api_root_information(max_content_length: int) -> dict[str, Any]:
    return {
        "title": "shieldwall intel",
        "description": "The intel this node shares, one collection per distribution "
        "the caller may read.",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": max_content_length,
    }


def require_api_root(name: str) -> None:
    if name != API_ROOT:
        raise NotFound(f"no API root {name!r}", where="api_root")
