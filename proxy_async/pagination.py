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
  3. it is not empty and every record ``sid`` on it was already on a page of this walk,
     however the tokens and URLs change and however long the cycle (records are keyed
     by ``sid``; pages whose records lack one are not compared). The walk remembers the
     SIDs of its last :data:`DEFAULT_MAX_SEEN_SIDS` records as 64-bit fingerprints
     (:class:`SeenRecords`): a cycle longer than that, with fresh tokens, is not caught,
     and a page is taken for a loop only if every one of its SIDs matches one seen
     (a chance below 1 in 10^14 for even a one-record page). Keeping the SID strings
     themselves alive cost 1.3 us a record of a 100,000-record stream against 0.8 for
     fingerprints (measured side by side; both against none).

  The looping page is **not** yielded: the walk raises when it receives it, so the
  records yielded are exactly those of the pages before it. A walk restarted from the
  ``next_page_url`` of the last page yielded (a resume, or the exporter after a 429)
  receives that same page again and raises again, yielding nothing twice. Rule 3 needs
  the walk's history: a restarted walk starts with none (the exporter carries it across
  its 429 restarts, see :mod:`proxy_async.bulk_export.engine`). The error names the list path and
  the repeated token or SIDs (at most :data:`LOOP_SIDS_SHOWN` of them), never a record
  body.

  A page that repeats only *some* records already seen (Twilio's ``PageToken`` paging
  is keyset-based, so a healthy listing never does) is yielded as received: a walk
  reports what the server sent. A walk given ``seen_records`` (a :class:`SeenRecords` that
  outlives it: the exporter's, carried across its 429 restarts) leaves them out
  instead, with a warning that counts them: an export must not write a record twice.
  That set keeps exact SIDs and serves as the walk's loop guard too, so an export
  checks each SID once (two sets cost 0.46 us a record, one 0.18, measured);
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
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .errors import EmptyPagesError, PaginationLoopError
from .models.pages import ReceivedPage
from .models.raw_records import DecodedRecords, RawRecords
from .models.records import Page

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEFAULT_MAX_EMPTY_PAGES = 10
"""Empty pages with a next_page_url tolerated in a row before the walk gives up."""

LOOP_SIDS_SHOWN = 5
"""Repeated record SIDs named in a :class:`PaginationLoopError` message (all are in ``sids``)."""

DEFAULT_MAX_SEEN_SIDS = 100_000
"""Record SIDs a walk remembers for rule 3: about 13 MiB (133 bytes a SID with the set,
measured). 250,000 (issue 11) took a 1,000,000-record stream's RSS growth past the
50 MiB it must stay under (issue 12); a cycle of 100,000 records with fresh page
tokens is still caught."""

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
    before (see the module docstring).
    """
    remaining = limit
    seen: set[str] = set()
    tokens: set[str] = set()
    empty_in_a_row = 0
    if start_url is not None:
        seen.add(start_url)
        _note_token(tokens, start_url)
    records = seen_records
    if records is None:  # (not `or`: an empty SeenRecords is falsy)
        records = SeenRecords(max_seen_sids, fingerprints=True)
    pending: asyncio.Task[ReceivedPage[T]] | None = None
    try:
        received = await fetch(start_url)
        while True:
            seen.add(received.meta.url)
            next_url = received.meta.next_page_url
            next_token = None if next_url is None else page_token(next_url)
            if next_url is not None and (remaining is None or len(received) < remaining):
                _check_advances(received, next_url, next_token, seen, tokens)
            repeats = records.admit(received.records, received.meta.url, received.path)
            if repeats and seen_records is not None:
                logger.warning(
                    "%s: left out %d record(s) already on an earlier page of this list",
                    _list_path(received.path, received.meta.url),
                    len(repeats),
                )
                received = received.without(repeats)
            if remaining is not None and len(received) >= remaining:
                yield received.structure(limit=remaining)
                return
            if next_url is not None:
                seen.add(next_url)
                if next_token is not None:
                    tokens.add(next_token)
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
                remaining -= len(page)
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
    received: ReceivedPage[Any],
    next_url: str,
    next_token: str | None,
    seen: set[str],
    tokens: set[str],
) -> None:
    """Rules 1 and 2 of the module docstring, for the page ``received`` (``next_token``:
    the ``PageToken`` of its ``next_url``)."""
    if next_url in seen:
        raise PaginationLoopError(next_url, path=_list_path(received.path, received.meta.url))
    token = next_token if len(received) else None
    if token is not None and token in tokens:
        raise PaginationLoopError(
            next_url,
            f"next_page_url repeats PageToken {token!r}, already requested in this walk",
            path=_list_path(received.path, received.meta.url),
            token=token,
        )


class SeenRecords:
    """The record SIDs of one walk, remembered for rule 3 of the module docstring.

    By default the SIDs are kept as they are (the record's own string objects, about
    133 bytes a SID with the set, measured), not as 64-bit fingerprints (77 bytes): the
    exporter leaves out a record whose SID was seen, and a sid collision, however
    unlikely, would then lose a record. A walk's loop guard, which only ever raises
    when *every* SID of a page matches, keeps fingerprints (``fingerprints=True``).
    Once more than ``max_sids`` are held the oldest pages are forgotten, whole, so
    memory is bounded (about 13 MiB at the default, 7.5 MiB as fingerprints) and the
    newest page is always kept. Partial repeats (see :meth:`admit`)
    are only reported.
    """

    __slots__ = ("_fingerprints", "_held", "_known", "_pages", "max_sids")

    def __init__(
        self, max_sids: int = DEFAULT_MAX_SEEN_SIDS, *, fingerprints: bool = False
    ) -> None:
        """``fingerprints``: keep each SID's 64-bit ``hash`` instead of the SID, for a
        walk's loop guard (never for the exporter, see above)."""
        self.max_sids = max_sids
        self._fingerprints = fingerprints
        self._known: set[Hashable] = set()
        self._pages: deque[tuple[Hashable, ...]] = deque()
        self._held = 0

    def __len__(self) -> int:
        """The number of SIDs remembered."""
        return self._held

    def __repr__(self) -> str:
        return (
            f"SeenRecords(max_sids={self.max_sids}, fingerprints={self._fingerprints}, "
            f"held={self._held})"
        )

    @property
    def fingerprints(self) -> bool:
        """Whether SIDs are kept as 64-bit fingerprints (a loop guard's), not exactly."""
        return self._fingerprints

    def admit(
        self, records: RawRecords | Sequence[dict[str, Any]], url: str, path: str = ""
    ) -> tuple[int, ...]:
        """Remember the SIDs of the page at ``url`` (its records as sent, ``records``,
        or their dicts).

        Returns the positions on the page of the records whose SID was seen before (on
        an earlier page or earlier on this one): normally ``()``. Raises
        :class:`PaginationLoopError` if the page is not empty and every one of its
        records was seen before (rule 3); the page is then not remembered. A page whose
        records are not all objects with a hashable ``sid`` is not compared (building
        its records names what is wrong); nor is one holding a record whose ``sid`` is
        null. ``path`` (default: the URL's) names the list.
        Costs two set operations a record: 0.25 to 0.4 ms for a page of 1,000 (measured).
        """
        if not len(records):
            return ()
        if not isinstance(records, RawRecords):
            records = DecodedRecords(records)
        sids = records.sids()
        if sids is None or None in sids:
            # A record without a SID cannot be told from another: comparing two null
            # SIDs would leave out a record that was never seen.
            return ()
        keys = tuple(map(hash, sids)) if self._fingerprints else sids
        known = self._known
        if known.isdisjoint(keys):
            before = len(known)
            known.update(keys)
            if len(known) - before == len(keys):
                self._remember(keys)
                return ()
            # A SID twice on this page: undo (none was known before) and take it slowly.
            known.difference_update(keys)
        return self._admit_repeats(keys, sids, url, path)

    def _admit_repeats(
        self, keys: tuple[Hashable, ...], sids: tuple[Hashable, ...], url: str, path: str
    ) -> tuple[int, ...]:
        known = self._known
        repeats: list[int] = []
        new: dict[Hashable, None] = {}
        for index, sid in enumerate(keys):
            if sid in known or sid in new:
                repeats.append(index)
            else:
                new[sid] = None
        if not new:
            raise _records_loop(sids, url, path)
        added = tuple(new)
        known.update(added)
        self._remember(added)
        return tuple(repeats)

    def _remember(self, sids: tuple[Hashable, ...]) -> None:
        """Keep a page's new SIDs; forget the oldest pages beyond ``max_sids``."""
        pages = self._pages
        pages.append(sids)
        self._held += len(sids)
        while self._held > self.max_sids and len(pages) > 1:
            oldest = pages.popleft()
            self._held -= len(oldest)
            # Each SID is held by one page only (see _admit_repeats), so this
            # forgets exactly that page's SIDs.
            self._known.difference_update(oldest)


def _records_loop(page_sids: tuple[Hashable, ...], url: str, path: str) -> PaginationLoopError:
    sids = tuple(str(sid) for sid in page_sids)
    shown = ", ".join(sid[:64] for sid in sids[:LOOP_SIDS_SHOWN])
    more = f" and {len(sids) - LOOP_SIDS_SHOWN} more" if len(sids) > LOOP_SIDS_SHOWN else ""
    return PaginationLoopError(
        url,
        f"every record on the page {_short_url(url)!r} was already on an earlier page of"
        f" this walk ({shown}{more})",
        path=_list_path(path, url),
        sids=sids,
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
