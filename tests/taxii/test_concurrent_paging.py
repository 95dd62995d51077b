"""Paging by `next` while another client posts: no object skipped, none repeated."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx

from shieldwall.taxii.schemas import TAXII_MEDIA_TYPE
from tests.factories import Coalition, indicator

INITIAL = 300
PAGE = 25


def _collection_url(base: str, key: str) -> str:
    auth = {"Accept": TAXII_MEDIA_TYPE, "Authorization": f"Bearer {key}"}
    found = httpx.get(f"{base}/taxii2/intel/collections/", headers=auth).json()
    [members] = [c["id"] for c in found["collections"] if c["title"] == "Members"]
    return f"{base}/taxii2/intel/collections/{members}/objects/"


def _post(url: str, key: str, objects: list[dict[str, Any]]) -> None:
    response = httpx.post(
        url,
        content=httpx.Request("POST", url, json={"objects": objects}).content,
        headers={
            "Accept": TAXII_MEDIA_TYPE,
            "Content-Type": TAXII_MEDIA_TYPE,
            "Authorization": f"Bearer {key}",
        },
        timeout=60,
    )
    assert response.status_code == 202, response.text


def test_union_of_pages_is_the_start_state_while_bundles_arrive(
    live_server: str, coalition: Coalition
) -> None:
    writer_key, reader_key = coalition.key("Sponsor A"), coalition.key("Sponsor B")
    url = _collection_url(live_server, writer_key)
    initial = [indicator(f"10.9.{i // 200}.{i % 200}") for i in range(INITIAL)]
    _post(url, writer_key, initial)

    posted = threading.Event()
    paging_done = threading.Event()
    # Posting starts once the first page (and with it the snapshot) is served:
    # a bundle landing before it would rightly be part of what is paged.
    first_page_served = threading.Event()
    errors: list[BaseException] = []

    def keep_posting() -> None:
        round_ = 0
        first_page_served.wait()
        try:
            while not paging_done.is_set():
                # New objects, and new versions of objects the pager has not reached yet.
                revised = {
                    **initial[-1 - round_ % INITIAL],
                    "modified": f"2025-01-01T00:00:{round_ % 60:02d}.{round_:06d}Z",
                }
                _post(
                    url, writer_key, [indicator(f"172.16.{round_ // 200}.{round_ % 200}"), revised]
                )
                round_ += 1
                posted.set()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            posted.set()

    poster = threading.Thread(target=keep_posting)
    poster.start()
    served: list[dict[str, Any]] = []
    pages = 0
    try:
        headers = {"Accept": TAXII_MEDIA_TYPE, "Authorization": f"Bearer {reader_key}"}
        params: dict[str, Any] = {"limit": PAGE}
        with httpx.Client(headers=headers, timeout=60) as client:
            while True:
                body = client.get(url, params=params).json()
                served.extend(body["objects"])
                pages += 1
                first_page_served.set()
                if not body["more"]:
                    break
                # At least one bundle lands between any two pages.
                posted.clear()
                posted.wait()
                params = {"limit": PAGE, "next": body["next"]}
    finally:
        paging_done.set()
        first_page_served.set()
        poster.join()
    assert not errors, errors

    assert pages == INITIAL // PAGE
    counts = Counter(obj["id"] for obj in served)
    assert [obj["id"] for obj in served] == [obj["id"] for obj in initial]
    assert set(counts.values()) == {1}
    # The versions served are those present when paging began.
    assert {obj["modified"] for obj in served} == {initial[0]["modified"]}

    after = httpx.get(
        url,
        params={"limit": 1000},
        headers={"Accept": TAXII_MEDIA_TYPE, "Authorization": f"Bearer {reader_key}"},
    ).json()
    assert len(after["objects"]) > INITIAL
