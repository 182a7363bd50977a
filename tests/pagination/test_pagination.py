"""The paging routine on its own: when the next page is asked for, and what gets built.

``walk_pages`` asks for the next page *before* it builds the current page's records, so
the server prepares that page while the client does its most expensive work. These
tests pin that order with an in-memory ``fetch`` that logs what happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from proxy_async.errors import InvalidResponseError
from proxy_async.models import Interaction, ReceivedPage, receive_page
from proxy_async.pagination import walk_items, walk_pages

BASE = "https://proxy.twilio.com/v1/Services/KS/Sessions/KC/Interactions"


def _record(number: int) -> dict[str, Any]:
    return {"sid": f"KI{number:032x}", "type": "message", "date_created": "2015-07-30T20:00:00Z"}


def _body(page: int, pages: int, per_page: int) -> dict[str, Any]:
    url = f"{BASE}?PageSize={per_page}&Page={page}"
    return {
        "interactions": [_record(page * per_page + i) for i in range(per_page)],
        "meta": {
            "key": "interactions",
            "page": page,
            "page_size": per_page,
            "url": url,
            "first_page_url": f"{BASE}?PageSize={per_page}&Page=0",
            "next_page_url": f"{BASE}?PageSize={per_page}&Page={page + 1}"
            if page + 1 < pages
            else None,
        },
    }


class LoggedPage:
    """A ReceivedPage that logs when its records are built, and how many."""

    def __init__(self, received: ReceivedPage[Interaction], log: list[str]) -> None:
        self.received = received
        self.meta = received.meta
        self.records = received.records  # the walk compares records by sid
        self.path = received.path
        self.log = log

    def __len__(self) -> int:
        return len(self.received)

    def structure(self, limit: int | None = None) -> Any:
        self.log.append(f"build {self.meta.page} limit={limit}")
        return self.received.structure(limit)


class Pages:
    """An in-memory list endpoint: ``fetch`` logs when each request starts."""

    def __init__(self, pages: int, per_page: int) -> None:
        self.bodies = {
            body["meta"]["url"]: body for body in (_body(p, pages, per_page) for p in range(pages))
        }
        self.first = _body(0, pages, per_page)["meta"]["url"]
        self.log: list[str] = []

    async def fetch(self, url: str | None) -> Any:
        body = self.bodies[url or self.first]
        self.log.append(f"request {body['meta']['page']}")
        await asyncio.sleep(0)  # a real request suspends while the server works
        return LoggedPage(receive_page(body, Interaction, "interactions"), self.log)


async def test_next_page_is_requested_before_this_page_is_built() -> None:
    pages = Pages(pages=3, per_page=4)
    seen = [page.meta.page async for page in walk_pages(pages.fetch, prefetch=True)]
    assert seen == [0, 1, 2]
    assert pages.log == [
        "request 0",
        "request 1",
        "build 0 limit=None",
        "request 2",
        "build 1 limit=None",
        "build 2 limit=None",
    ]


async def test_without_prefetch_pages_are_requested_one_after_another() -> None:
    pages = Pages(pages=3, per_page=4)
    seen = [page.meta.page async for page in walk_pages(pages.fetch, prefetch=False)]
    assert seen == [0, 1, 2]
    assert pages.log == [
        "request 0",
        "build 0 limit=None",
        "request 1",
        "build 1 limit=None",
        "request 2",
        "build 2 limit=None",
    ]


@pytest.mark.parametrize("prefetch", [True, False])
async def test_limit_builds_only_the_records_returned(prefetch: bool) -> None:
    pages = Pages(pages=3, per_page=4)
    items = [item async for item in walk_items(pages.fetch, limit=6, prefetch=prefetch)]
    assert [item.sid for item in items] == [_record(n)["sid"] for n in range(6)]
    # The second page holds the limit: only 2 of its records are built, and the third
    # page is never asked for.
    assert "build 1 limit=2" in pages.log
    assert "request 2" not in pages.log


async def test_limited_page_keeps_items_and_raw_items_in_step() -> None:
    pages = Pages(pages=1, per_page=5)
    (page,) = [page async for page in walk_pages(pages.fetch, limit=3)]
    assert len(page.items) == len(page.raw_items) == 3
    assert [item.sid for item in page.items] == [raw["sid"] for raw in page.raw_items]


async def test_a_bad_record_fails_the_walk_and_cancels_the_prefetch() -> None:
    pages = Pages(pages=3, per_page=4)
    pages.bodies[pages.first]["interactions"][2]["date_created"] = 12

    async def drain() -> None:
        async with contextlib.aclosing(walk_pages(pages.fetch, prefetch=True)) as walk:
            async for _ in walk:
                pass

    with pytest.raises(InvalidResponseError) as caught:
        await drain()
    assert caught.value.field == "interactions[2].date_created"
    assert pages.log == ["request 0", "request 1", "build 0 limit=None"]
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert tasks == []  # the prefetch of page 1 was cancelled and awaited
