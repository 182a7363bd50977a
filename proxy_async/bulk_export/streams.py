"""Many sessions walked at once: the walker pool, :func:`stream_pages`, :func:`stream_interactions`.

``concurrency`` walkers each walk one session at a time, page after page
(:func:`~proxy_async.bulk_export.walk.walk_session`), and put the pages on one bounded
queue; pages of one session arrive in server order, parallelism comes from walking many
sessions. At most ``max_queued_pages + 2 * concurrency`` pages are in memory, however
large the export. :func:`~proxy_async.bulk_export.run.export` runs the same pool.

Close the generators when stopping early (``async with contextlib.aclosing(...)``):
that cancels every walker at once instead of at garbage collection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..client.proxy_client import ProxyClient
from ..errors import ProxyError, SessionsFailedError
from ..limits.base import MAX_CONCURRENCY
from ..resources import ServiceContext
from ..validation import check_int
from .events import SessionEvent, SessionFailedEvent, TaggedInteraction
from .formats import raw_records
from .walk import (
    DEFAULT_PAGE_SIZE,
    check_page_size,
    listed_session_sids,
    listing_pages,
    unique_session_sids,
    walk_session,
)

DEFAULT_CONCURRENCY = 16
"""Sessions walked at once. The client's rate limit, not this, is usually the bound.
At most :data:`~proxy_async.limits.base.MAX_CONCURRENCY` (1000, why there), and never
more walkers than sessions handed out so far."""


@attrs.frozen
class _TaskExit:
    error: BaseException | None


class WalkerPool:
    """Walkers pulling sessions from a work queue, reporting on one bounded event queue.

    :meth:`events` runs ``feed()`` (which hands ``(sid, start_url)`` items to
    :meth:`put`) and any ``others()`` as tasks, and yields what they put on
    :attr:`queue`; it ends when all have ended, raises the first error one of them
    raised, and cancels every task however it is left. Walkers are started as work
    arrives, up to ``concurrency``, and only while every walker started has work: an
    export of 3 sessions starts 3 walkers, whatever ``concurrency`` says.
    """

    def __init__(
        self, service: ServiceContext, concurrency: int, page_size: int, max_queued: int
    ) -> None:
        self._service = service
        self._concurrency = concurrency
        self._page_size = page_size
        self.queue: asyncio.Queue[Any] = asyncio.Queue(max_queued)
        self.work: asyncio.Queue[tuple[str, str | None] | None] = asyncio.Queue(concurrency)
        self._tasks: list[asyncio.Future[None]] = []
        self._walkers = 0
        self._idle = 0  # walkers waiting for work

    async def put(self, sid: str, start_url: str | None) -> None:
        """Hand a session to the walkers, starting one more if none is free for it."""
        # Items already queued will be taken by the idle walkers first.
        if self._walkers < self._concurrency and self.work.qsize() >= self._idle:
            self._walkers += 1
            self._start(self._walker())
        await self.work.put((sid, start_url))

    async def events(
        self,
        feed: Callable[[], Coroutine[Any, Any, None]],
        others: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    ) -> AsyncGenerator[Any, None]:
        """Yield every event the tasks put on the queue (see the class docstring)."""
        # The coroutines are made here, not by the caller: a generator closed before
        # its first step must leave no coroutine never awaited.
        for coroutine in (self._feed(feed()), *(other() for other in others)):
            self._start(coroutine)
        try:
            ended = 0
            while ended < len(self._tasks):
                event = await self.queue.get()
                if isinstance(event, _TaskExit):
                    ended += 1
                    if event.error is not None:
                        raise event.error
                    continue
                yield event
        finally:
            await _cancel_all(self._tasks)

    def _start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.ensure_future(self._reporting(coroutine)))

    async def _feed(self, feed: Coroutine[Any, Any, None]) -> None:
        await feed
        for _ in range(self._walkers):
            await self.work.put(None)

    async def _walker(self) -> None:
        while True:
            self._idle += 1
            try:
                item = await self.work.get()
            finally:
                self._idle -= 1
            if item is None:
                return
            await walk_session(self._service, item[0], item[1], self._page_size, self.queue)

    async def _reporting(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except Exception as error:
            # Reported through the queue, which the consumer is reading anyway; it then
            # raises the error and cancels every other task.
            await self.queue.put(_TaskExit(error))
            return
        await self.queue.put(_TaskExit(None))


async def _cancel_all(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Cancel ``tasks`` and wait until each has finished, even if we are cancelled meanwhile."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    interrupted = False
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            interrupted = True  # finish cleaning up first, then honour it
        pending = [task for task in pending if not task.done()]
    for task in tasks:
        if not task.cancelled():
            task.exception()  # mark retrieved; tasks report their errors via the queue
    if interrupted:
        raise asyncio.CancelledError


def stream_pages(
    client: ProxyClient,
    service_sid: str,
    sessions: Iterable[str] | None = None,
    *,
    start_urls: Mapping[str, str | None] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_queued_pages: int | None = None,
) -> AsyncGenerator[SessionEvent, None]:
    """Yield the Interaction pages of many sessions, walked ``concurrency`` at a time.

    ``sessions`` None lists the Service's Sessions, page by page, while walking them
    (a session listed twice, if the list changed while it was read, is walked twice:
    :func:`~proxy_async.bulk_export.run.export` keeps each once). ``start_urls`` maps a
    session to a saved ``next_page_url`` to continue from. Each session ends with a
    :class:`~proxy_async.bulk_export.events.SessionPage` whose ``done`` is true, or with
    a :class:`~proxy_async.bulk_export.events.SessionFailedEvent`. Errors in
    :data:`~proxy_async.bulk_export.walk.FATAL_ERRORS` and :class:`SessionDiscoveryError`
    end the whole stream. ``max_queued_pages`` (default: ``concurrency``) bounds the
    queue between the walkers and the consumer. Arguments are checked now, before
    anything is sent.
    """
    service = client.services(service_sid)
    selected = None if sessions is None else unique_session_sids(sessions)
    workers = check_int(concurrency, "concurrency", 1, MAX_CONCURRENCY)
    bound = (
        workers if max_queued_pages is None else check_int(max_queued_pages, "max_queued_pages", 1)
    )
    walk = WalkerPool(service, workers, check_page_size(page_size), bound)
    starts = dict(start_urls or {})
    return walk.events(lambda: _feed_sessions(walk, service, selected, starts))


async def _feed_sessions(
    walk: WalkerPool,
    service: ServiceContext,
    selected: list[str] | None,
    start_urls: dict[str, Any],
) -> None:
    if selected is not None:
        for sid in selected:
            await walk.put(sid, start_urls.get(sid))
        return
    async with contextlib.aclosing(listing_pages(service, None)) as pages:
        async for page in pages:
            for sid in listed_session_sids(service.sid, page):
                await walk.put(sid, start_urls.get(sid))


def stream_interactions(
    client: ProxyClient,
    service_sid: str,
    sessions: Iterable[str] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_queued_pages: int | None = None,
) -> AsyncGenerator[TaggedInteraction, None]:
    """Yield the Interactions of many sessions, each tagged with its session SID.

    Records of one session come in server order; sessions interleave. A failed
    session does not stop the others: once everything else was yielded,
    :class:`SessionsFailedError` names the failed ones. See :func:`stream_pages`.
    """
    events = stream_pages(
        client,
        service_sid,
        sessions,
        concurrency=concurrency,
        page_size=page_size,
        max_queued_pages=max_queued_pages,
    )
    return _interactions_of(events)


async def _interactions_of(
    events: AsyncGenerator[SessionEvent, None],
) -> AsyncGenerator[TaggedInteraction, None]:
    failures: dict[str, ProxyError] = {}
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, SessionFailedEvent):
                failures[event.session_sid] = event.error
                continue
            page = event.page
            for item, raw in zip(page.items, raw_records(page), strict=True):
                yield TaggedInteraction(event.session_sid, item, raw)
    if failures:
        raise SessionsFailedError(failures)
