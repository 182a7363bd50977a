"""The one paging routine every list uses: follow ``meta.next_page_url`` safely.

:func:`walk_pages` yields typed pages; :func:`walk_items` flattens them. Both are async
generators over a ``fetch`` callable supplied by the resource, which fetches the first
page (``fetch(None)``) or follows an absolute page URL (``fetch(url)``). The client
checks each page URL's origin before any credential is sent (see
:meth:`ProxyClient.request`); this module guards the walk itself:

* a walk that does not advance raises :class:`PaginationLoopError` instead of
  streaming the same records forever. Within one walk (from ``fetch(None)`` or from
  ``start_url``), a page is a loop when

  1. its ``next_page_url`` is a URL already fetched or about to be fetched in this walk
     (compared as strings), or
  2. it is not empty and its ``next_page_url`` carries a ``PageToken`` already requested
     in this walk, even with another ``Page`` (``...&Page=2&PageToken=PAX`` then
     ``...&Page=3&PageToken=PAX``: Twilio's token names where a page starts, so the same
     token is the same page again). An *empty* page may point back at its own start
     ("nothing there yet, ask again"); ``max_empty_pages`` bounds that instead, or
  3. it is not empty and every record ``sid`` on it was on the last non-empty page
     before it in this walk (records are keyed by ``sid``; pages whose records lack
     one are not compared).

  The looping page is **not** yielded: the walk raises when it receives it, so the
  records yielded are exactly those of the pages before it. A walk restarted from the
  ``next_page_url`` of the last page yielded (a resume, or the exporter after a 429)
  receives that same page again and raises again, yielding nothing twice. Rule 3 needs
  the page before: a restarted walk compares its first page with nothing (the exporter
  carries the comparison across its 429 restarts, see :mod:`proxy_async.export`). The
  error names the list path and the repeated token or SIDs (at most
  :data:`LOOP_SIDS_SHOWN` of them), never a record body;
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
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .conversion import ReceivedPage
from .errors import EmptyPagesError, PaginationLoopError
from .models import Page

T = TypeVar("T")

DEFAULT_MAX_EMPTY_PAGES = 10
"""Empty pages with a next_page_url tolerated in a row before the walk gives up."""

LOOP_SIDS_SHOWN = 5
"""Repeated record SIDs named in a :class:`PaginationLoopError` message (all are in ``sids``)."""

_SID = itemgetter("sid")

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
    tokens: set[str] = set()
    empty_in_a_row = 0
    if start_url is not None:
        seen.add(start_url)
        _note_token(tokens, start_url)
    previous: Sequence[Any] = ()
    pending: asyncio.Task[ReceivedPage[T]] | None = None
    try:
        received = await fetch(start_url)
        while True:
            seen.add(received.meta.url)
            next_url = received.meta.next_page_url
            if next_url is not None and (remaining is None or len(received) < remaining):
                _check_advances(received, next_url, seen, tokens)
            check_records_advance(previous, received.raw_items, received.meta.url, received.path)
            if received.raw_items:
                previous = received.raw_items
            if remaining is not None and len(received) >= remaining:
                yield received.structure(limit=remaining)
                return
            if next_url is not None:
                seen.add(next_url)
                _note_token(tokens, next_url)
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


def page_token(url: str) -> str | None:
    """The ``PageToken`` query parameter of a page URL, or None if it has none.

    Reads the query by hand (not ``urlsplit``) so that a malformed URL never raises
    here; the client judges the URL before anything is sent to it.
    """
    query = url.partition("?")[2].partition("#")[0]
    for name, value in parse_qsl(query):
        if name == "PageToken" and value:
            return value
    return None


def _note_token(tokens: set[str], url: str) -> None:
    token = page_token(url)
    if token is not None:
        tokens.add(token)


def _check_advances(
    received: ReceivedPage[Any], next_url: str, seen: set[str], tokens: set[str]
) -> None:
    """Rules 1 and 2 of the module docstring, for the page ``received``."""
    if next_url in seen:
        raise PaginationLoopError(next_url, path=_list_path(received.path, received.meta.url))
    token = page_token(next_url) if received.raw_items else None
    if token is not None and token in tokens:
        raise PaginationLoopError(
            next_url,
            f"next_page_url repeats PageToken {token!r}, already requested in this walk",
            path=_list_path(received.path, received.meta.url),
            token=token,
        )


def check_records_advance(
    previous: Sequence[Any], current: Sequence[Any], url: str, path: str = ""
) -> None:
    """Rule 3 of the module docstring: raise :class:`PaginationLoopError` if the page at
    ``url`` is not empty and each of its raw records ``current`` has the ``sid`` of one
    of ``previous`` (the raw records of the last non-empty page before it).

    Costs a scan of the previous page's SIDs for the first record only, unless that
    one repeats; records that are not objects with a ``sid`` are not compared
    (building them names what is wrong). ``path`` (default: the URL's) names the list.
    """
    if not current or not previous:
        return
    try:
        if _SID(current[0]) not in map(_SID, previous):
            return
        before = set(map(_SID, previous))
        sids = tuple(map(_SID, current))
        if not all(sid in before for sid in sids):
            return
    except (TypeError, KeyError, IndexError):
        return
    shown = ", ".join(str(sid)[:64] for sid in sids[:LOOP_SIDS_SHOWN])
    more = f" and {len(sids) - LOOP_SIDS_SHOWN} more" if len(sids) > LOOP_SIDS_SHOWN else ""
    raise PaginationLoopError(
        url,
        f"the page {_short_url(url)!r} repeats the previous page's records ({shown}{more})",
        path=_list_path(path, url),
        sids=tuple(str(sid) for sid in sids),
    )


def _list_path(path: str, url: str) -> str:
    """The list's path, for messages: the request's, else the page URL's."""
    if path:
        return path.partition("?")[0]
    after_scheme = url.partition("://")[2] or url
    return "/" + after_scheme.partition("/")[2].partition("?")[0]


def _short_url(url: str) -> str:
    return url if len(url) <= 200 else url[:197] + "..."


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
