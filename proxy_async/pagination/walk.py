"""The walk: :func:`walk_pages` and :func:`walk_items` (the rules: :mod:`proxy_async.pagination`).

A walk is four named steps a page: :meth:`_Walk.admit` checks the page just received
(rules 1 to 3), :meth:`_Walk.fills_limit` says whether it ends the walk,
:meth:`_Walk.follow` notes its ``next_page_url`` as requested (and counts empty pages),
and the records are built and yielded. All are per page, never per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

from ..errors import EmptyPagesError, PaginationLoopError
from ..models.pages import ReceivedPage
from ..models.records import Page
from .seen import DEFAULT_MAX_SEEN_SIDS, SeenRecords
from .urls import list_path, page_token

T = TypeVar("T")

# The package's name, as when the walk was one module: logging settings keep applying.
logger = logging.getLogger("proxy_async.pagination")

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
    max_seen_sids: int = DEFAULT_MAX_SEEN_SIDS,
    seen_records: SeenRecords | None = None,
) -> AsyncGenerator[Page[T], None]:
    """Yield pages in server order until the last page or ``limit`` records.

    ``start_url`` resumes a walk from a saved ``next_page_url`` instead of the first page.
    ``max_seen_sids`` bounds the record SIDs remembered for rule 3 (:class:`SeenRecords`).
    ``seen_records`` (then ``max_seen_sids`` is unused): the SIDs of the records of this list
    seen so far, by this walk and earlier ones; a page comes without the records seen
    before (see :mod:`proxy_async.pagination`). Raises :class:`PaginationLoopError` and
    :class:`EmptyPagesError` as that describes, and whatever ``fetch`` raises.
    """
    walk = _Walk(limit, start_url, max_empty_pages, seen_records, max_seen_sids)
    pending: asyncio.Task[ReceivedPage[T]] | None = None
    try:
        received = await fetch(start_url)
        while True:
            received = walk.admit(received)
            if walk.fills_limit(received):
                yield received.structure(limit=walk.remaining)
                return
            next_url = received.meta.next_page_url
            if next_url is not None:
                walk.follow(received, next_url)
                if prefetch:
                    pending = asyncio.ensure_future(fetch(next_url))
                    # One turn of the loop lets the prefetch send its request before
                    # the CPU-bound record building below keeps the loop busy.
                    await asyncio.sleep(0)
            page = received.structure()
            walk.count(page)
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


class _Walk:
    """What one walk remembers: the URLs and ``PageToken`` values requested (rules 1
    and 2), the record SIDs seen (rule 3), the empty pages in a row and the records
    still wanted (``remaining``, None: no limit)."""

    __slots__ = (
        "_empty_in_a_row",
        "_leaves_out",
        "_max_empty_pages",
        "_next_token",
        "_records",
        "_tokens",
        "_urls",
        "remaining",
    )

    def __init__(
        self,
        limit: int | None,
        start_url: str | None,
        max_empty_pages: int,
        seen_records: SeenRecords | None,
        max_seen_sids: int,
    ) -> None:
        self.remaining = limit
        self._urls: set[str] = set()
        self._tokens: set[str] = set()
        self._empty_in_a_row = 0
        self._max_empty_pages = max_empty_pages
        self._next_token: str | None = None  # of the page last admitted
        self._leaves_out = seen_records is not None
        if seen_records is None:  # (not `or`: an empty SeenRecords is falsy)
            seen_records = SeenRecords(max_seen_sids, fingerprints=True)
        self._records = seen_records
        if start_url is not None:
            self._urls.add(start_url)
            token = page_token(start_url)
            if token is not None:
                self._tokens.add(token)

    def admit(self, received: ReceivedPage[T]) -> ReceivedPage[T]:
        """Check the page just received against rules 1 to 3 (else
        :class:`PaginationLoopError`); returns it, without the records seen before
        if the walk was given ``seen_records`` (a warning counts them)."""
        self._urls.add(received.meta.url)
        next_url = received.meta.next_page_url
        self._next_token = None if next_url is None else page_token(next_url)
        if next_url is not None and not self.fills_limit(received):
            self._check_advances(received, next_url)
        repeats = self._records.admit(received.records, received.meta.url, received.path)
        if repeats and self._leaves_out:
            logger.warning(
                "%s: left out %d record(s) already on an earlier page of this list",
                list_path(received.path, received.meta.url),
                len(repeats),
            )
            received = received.without(repeats)
        return received

    def _check_advances(self, received: ReceivedPage[Any], next_url: str) -> None:
        """Rules 1 and 2 of :mod:`proxy_async.pagination`, for the page ``received``."""
        if next_url in self._urls:
            raise PaginationLoopError(next_url, path=list_path(received.path, received.meta.url))
        token = self._next_token if len(received) else None
        if token is not None and token in self._tokens:
            raise PaginationLoopError(
                next_url,
                f"next_page_url repeats PageToken {token!r}, already requested in this walk",
                path=list_path(received.path, received.meta.url),
                token=token,
            )

    def fills_limit(self, received: ReceivedPage[Any]) -> bool:
        """Whether ``received`` holds the last of the records wanted (then it is the last)."""
        return self.remaining is not None and len(received) >= self.remaining

    def follow(self, received: ReceivedPage[Any], next_url: str) -> None:
        """Note ``next_url`` (the ``next_page_url`` of ``received``, admitted last) as
        requested. Raises :class:`EmptyPagesError` after more than ``max_empty_pages``
        empty pages in a row."""
        self._urls.add(next_url)
        if self._next_token is not None:
            self._tokens.add(self._next_token)
        if len(received):
            self._empty_in_a_row = 0
            return
        self._empty_in_a_row += 1
        if self._empty_in_a_row > self._max_empty_pages:
            raise EmptyPagesError(self._empty_in_a_row)

    def count(self, page: Page[Any]) -> None:
        """Count ``page``'s records against the limit."""
        if self.remaining is not None:
            self.remaining -= len(page)


async def walk_items(
    fetch: PageFetch[T],
    *,
    limit: int | None = None,
    start_url: str | None = None,
    prefetch: bool = True,
    max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES,
    max_seen_sids: int = DEFAULT_MAX_SEEN_SIDS,
) -> AsyncGenerator[T, None]:
    """Yield the records of :func:`walk_pages`, one by one."""
    pages = walk_pages(
        fetch,
        limit=limit,
        start_url=start_url,
        prefetch=prefetch,
        max_empty_pages=max_empty_pages,
        max_seen_sids=max_seen_sids,
    )
    # Closing the inner generator here, not at garbage collection, cancels its prefetch
    # as soon as the caller stops.
    async with contextlib.aclosing(pages):
        async for page in pages:
            for item in page.iter_items():
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
