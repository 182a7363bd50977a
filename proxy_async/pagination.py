"""The one paging routine every list uses: follow ``meta.next_page_url`` safely.

:func:`walk_pages` yields typed pages; :func:`walk_items` flattens them. Both are async
generators over a ``fetch`` callable supplied by the resource, which fetches the first
page (``fetch(None)``) or follows an absolute page URL (``fetch(url)``). The client
checks each page URL's origin before any credential is sent (see
:meth:`ProxyClient.request`); this module guards the walk itself:

* a ``next_page_url`` that repeats a page already seen in this walk raises
  :class:`PaginationLoopError` instead of streaming forever;
* more than ``max_empty_pages`` empty pages in a row that still point onward raise
  :class:`EmptyPagesError`;
* ``limit`` truncates the last page and fetches nothing further.

With ``prefetch`` the next page is requested before the current one's records are
built, so the server prepares it while this client builds records and the caller
consumes them: at most one page ahead, and cancelled (never leaked) if the caller
stops early.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from .conversion import ReceivedPage
from .errors import EmptyPagesError, PaginationLoopError
from .models import Page

T = TypeVar("T")

DEFAULT_MAX_EMPTY_PAGES = 10
"""Empty pages with a next_page_url tolerated in a row before the walk gives up."""

PageFetch = Callable[[str | None], Awaitable[ReceivedPage[T]]]
"""``fetch(None)`` gets the first page; ``fetch(url)`` follows an absolute page URL.

Either returns the page as received; the walk builds its records."""


async def walk_pages(
    fetch: PageFetch[T],
    *,
    limit: int | None = None,
    start_url: str | None = None,
    prefetch: bool = True,
    max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES,
) -> AsyncGenerator[Page[T], None]:
    """Yield pages in server order until the last page or ``limit`` records.

    ``start_url`` resumes a walk from a saved ``next_page_url`` instead of the first page.
    """
    remaining = limit
    seen: set[str] = set()
    empty_in_a_row = 0
    if start_url is not None:
        seen.add(start_url)
    pending: asyncio.Task[ReceivedPage[T]] | None = None
    try:
        received = await fetch(start_url)
        while True:
            seen.add(received.meta.url)
            next_url = received.meta.next_page_url
            if remaining is not None and len(received) >= remaining:
                yield received.structure(limit=remaining)
                return
            if next_url is not None:
                if next_url in seen:
                    raise PaginationLoopError(next_url)
                seen.add(next_url)
                if len(received):
                    empty_in_a_row = 0
                else:
                    empty_in_a_row += 1
                    if empty_in_a_row > max_empty_pages:
                        raise EmptyPagesError(empty_in_a_row)
                if prefetch:
                    pending = asyncio.ensure_future(fetch(next_url))
                    # One turn of the loop lets the prefetch send its request before
                    # the CPU-bound record building below keeps the loop busy.
                    await asyncio.sleep(0)
            page = received.structure()
            if remaining is not None:
                remaining -= len(page.items)
            yield page
            if next_url is None:
                return
            if pending is not None:
                task, pending = pending, None
                received = await task
            else:
                received = await fetch(next_url)
    finally:
        if pending is not None:
            await _cancel(pending)


async def walk_items(
    fetch: PageFetch[T],
    *,
    limit: int | None = None,
    start_url: str | None = None,
    prefetch: bool = True,
    max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES,
) -> AsyncGenerator[T, None]:
    """Yield the records of :func:`walk_pages`, one by one."""
    pages = walk_pages(
        fetch, limit=limit, start_url=start_url, prefetch=prefetch, max_empty_pages=max_empty_pages
    )
    # Closing the inner generator here, not at garbage collection, cancels its prefetch
    # as soon as the caller stops.
    async with contextlib.aclosing(pages):
        async for page in pages:
            for item in page.items:
                yield item


async def _cancel(task: asyncio.Task[ReceivedPage[T]]) -> None:
    """Cancel a prefetch the caller no longer wants and wait for it to finish.

    ``asyncio.wait`` (not ``await task``) so that only a cancellation of the *caller*
    propagates; the done callback collects the prefetch's own error, if any, so asyncio
    never reports it as unretrieved.
    """
    task.add_done_callback(_collect)
    task.cancel()
    await asyncio.wait([task])


def _collect(task: asyncio.Task[ReceivedPage[T]]) -> None:
    if not task.cancelled():
        task.exception()
