"""Bulk export of Interactions: every session of a Service, into a file, resumable.

Three levels, each built on the one before:

* :func:`stream_pages` yields :class:`SessionPage` (one page of one session) and
  :class:`SessionFailed` events. ``concurrency`` walkers each walk one session at a
  time, page after page, and put the pages on a bounded queue; pages of one session
  arrive in server order, parallelism comes from walking many sessions. At most
  ``max_queued_pages + 2 * concurrency`` pages are in memory, however large the export.
* :func:`stream_interactions` yields the same records one by one, each a
  :class:`TaggedInteraction` carrying its session SID.
* :func:`export` writes every record to a file (NDJSON or CSV, gzip by name, or
  stdout), keeping its state in SQLite (:mod:`proxy_async.bulk_export.state`) so that an
  export killed at any instant resumes with ``resume=True`` losing nothing and writing
  nothing twice. It lists the Service's Sessions page by page *while* it exports them,
  so memory stays flat in the number of sessions.

What a session's trouble does (the same in every level):

* **429** (Twilio: not processed): always waited out (``Retry-After``, else a capped
  exponential backoff) and the walk continues from the last page it delivered,
  whatever the client's retry count. A 429 never fails a session.
* **404 on the first page** (the session was deleted or expired after the listing):
  the session is *missing*; :func:`export` counts it, lists it, and never retries it.
* **404 later in the walk**: the session *fails* with the records it had. The next
  resume retries it from its saved page; if that page answers 404 again the session is
  taken as deleted mid-walk and becomes missing, its records kept.
* Anything else (5xx after the client's retries, a record that does not match the
  spec) fails that session only; :func:`export` retries it on the next resume. So
  does a walk that does not advance (:class:`~proxy_async.errors.PaginationLoopError`,
  see :mod:`proxy_async.pagination`): the records before the looping page are kept,
  none is written twice, and a resume against a server that still loops fails again.
* :class:`~proxy_async.errors.AuthError`, a closed client, an untrusted TLS certificate
  or a forward proxy's refusal stops everything, since every other session would fail
  the same way. So does an **outage**: when
  :data:`OUTAGE_SESSIONS` sessions in a row fail on connection errors or 5xx with no
  page arriving in between, or the listing fails on one, :func:`export` stops with
  :class:`ApiUnavailableError` instead of spending every session's retries on a dead
  server.

Close the generators when stopping early (``async with contextlib.aclosing(...)``):
that cancels every walker at once instead of at garbage collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs

from ..client.proxy_client import ProxyClient
from ..errors import (
    FORCE_REMEDY,
    OUTAGE_ERRORS,
    RESUME_REMEDY,
    ApiUnavailableError,
    AuthError,
    BlankStateError,
    CertificateVerifyError,
    ClientClosedError,
    EgressProxyRefusedError,
    ExportError,
    ExportStateError,
    InvalidParameterError,
    NotFoundError,
    ProxyError,
    RateLimitError,
    SessionDiscoveryError,
    SessionsFailedError,
    TransportError,
)
from ..limits.ratelimit import MAX_CONCURRENCY
from ..models.json_codec import replace_lone_surrogates
from ..models.raw_records import Column, DecodedRecords, RawRecords
from ..models.records import Interaction, Page, Session
from ..pagination.seen import SeenRecords
from ..resources.contexts import ServiceContext
from ..validation import MAX_PAGE_SIZE, check_file_path, check_int, check_sid
from .csv_text import CSV_CHUNK_RECORDS, csv_text_chunked
from .files import (
    STDOUT,
    ChunkedFile,
    Compression,
    ExportPaths,
    outputs_naming,
    state_of,
    sync_directory,
)
from .state import ExportParams, ExportState, SessionRow, Status, import_legacy_checkpoint

logger = logging.getLogger("proxy_async")

T = TypeVar("T")

Format = Literal["ndjson", "csv"]
"""Output formats: one JSON object per line, or CSV with a header row."""

FORMATS: tuple[Format, ...] = ("ndjson", "csv")

DEFAULT_CONCURRENCY = 16
"""Sessions walked at once. The client's rate limit, not this, is usually the bound.
At most :data:`~proxy_async.limits.ratelimit.MAX_CONCURRENCY` (1000, why there), and never
more walkers than sessions handed out so far."""

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
"""Records per request: the largest page Twilio serves, so the fewest requests."""

DEFAULT_CHECKPOINT_INTERVAL = 0.5
"""Seconds between commits of the state; a crash redoes at most about this much work."""

MAX_CHUNK_BYTES = 8 << 20
"""A commit is also made when this many bytes wait to be written: bounds memory."""

LISTING_PAGE_SIZE = MAX_PAGE_SIZE
"""Sessions per page when the export lists the Service: the fewest requests."""

OUTAGE_SESSIONS = 3
"""Sessions failing in a row on connection errors, with no page between them, that
make :func:`export` stop with :class:`ApiUnavailableError`."""

OUTAGE_5XX_SESSIONS = 10
"""The same for sessions failing on connection errors *or* 5xx: more of them, since a
few sessions that always answer 500 fail alone (and would be all a resume retries)."""

MAX_THROTTLE_WAIT = 30.0
"""Longest wait, in seconds, after a 429 without ``Retry-After`` (the backoff's cap)."""

MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` honoured, in seconds, as :class:`~proxy_async.retry.RetryPolicy`'s
default: a larger one (99999, a date in 2099) is waited 60 s and the request tried again,
which is harmless since a 429 was not processed."""

CSV_COLUMNS: tuple[str, ...] = tuple(field.name for field in attrs.fields(Interaction))
"""CSV header: the Interaction fields of the Proxy v1 spec, in spec order."""

EXPORT_MAX_SEEN_SIDS = 250_000
"""Record SIDs the exporter remembers per list, to leave out a record the server sends
again (about 32 MiB at most, 133 bytes a SID). More than a stream's loop guard keeps
(:data:`~proxy_async.pagination.DEFAULT_MAX_SEEN_SIDS`): here a forgotten SID means a
record written twice, so the window stays where issue 11 set it."""

FATAL_ERRORS: tuple[type[ProxyError], ...] = (
    AuthError,
    ClientClosedError,
    # Settings errors: every request fails the same way until the trust or proxy changes.
    CertificateVerifyError,
    EgressProxyRefusedError,
)
"""Errors that stop a whole export instead of failing one session."""

_DISPATCH_BATCH = 512


# -- events -------------------------------------------------------------------------------


@attrs.frozen
class SessionPage:
    """One page of one session's Interactions (records typed in ``page.items``, as
    decoded in ``page.raw_items``)."""

    session_sid: str
    page: Page[Interaction]

    @property
    def next_page_url(self) -> str | None:
        """Where this session continues; None when this was its last page."""
        return self.page.meta.next_page_url

    @property
    def done(self) -> bool:
        """Whether this was the session's last page."""
        return self.page.meta.next_page_url is None


@attrs.frozen
class SessionFailed:
    """A session that could not be read to the end; its earlier pages were delivered.

    ``pages`` counts the pages this walk delivered before it failed; ``start_url`` is
    where the walk began (None: the session's first page).
    """

    session_sid: str
    error: ProxyError
    pages: int = 0
    start_url: str | None = None

    @property
    def missing(self) -> bool:
        """A 404 before any page, on the session's first page: the session is gone."""
        return isinstance(self.error, NotFoundError) and self.pages == 0 and not self.start_url


SessionEvent = SessionPage | SessionFailed
"""What :func:`stream_pages` yields."""


@attrs.frozen
class _SessionsListed:
    """One page of the Service's Sessions list, as the export's listing read it."""

    page: Page[Session]


@attrs.frozen
class _TaskExit:
    error: BaseException | None


@attrs.frozen
class TaggedInteraction:
    """One Interaction with the SID of the session it was listed under.

    ``raw`` is the record exactly as decoded from Twilio's JSON.
    """

    session_sid: str
    interaction: Interaction
    raw: dict[str, Any] = attrs.field(repr=False)


# -- progress and summary -----------------------------------------------------------------


@attrs.frozen
class ExportProgress:
    """Where an export stands; passed to ``export(progress=...)`` after every page.

    ``sessions_total`` counts the sessions known so far: while ``listing_done`` is
    False the listing is still finding more. ``records`` counts every record in the
    output, including those written by the runs this one resumes; ``records_this_run``
    and ``pages_this_run`` only this run's.
    """

    sessions_total: int
    sessions_done: int
    sessions_failed: int
    records: int
    records_this_run: int
    elapsed: float
    resumed: bool
    sessions_missing: int = 0
    listing_done: bool = True
    pages_this_run: int = 0


@attrs.frozen
class SessionFailure:
    """A session that failed or is missing: its SID, why (the error's type and message),
    and how many of its records the output holds."""

    session_sid: str
    error: str
    records: int = 0


@attrs.frozen
class ExportSummary:
    """The outcome of :func:`export`.

    ``complete``: every session is done or missing, ``output`` is the finished file (or
    ``-`` for stdout). Otherwise ``output`` is the ``.part`` file, kept with ``state``
    for a later ``resume=True``; ``failures`` are the sessions that failed. ``missing``
    lists every session of the export that answered 404 (see the module docstring).
    ``sessions_file`` holds the Session records of the listing (None when the caller
    named the sessions, or for stdout). ``state_bytes_written`` counts the bytes this
    run wrote to the state database (WAL and checkpoints). ``already_complete``: a
    resume found the export finished and did nothing.
    """

    output: Path
    state: Path | None
    format: Format
    complete: bool
    resumed: bool
    sessions_total: int
    sessions_done: int
    failures: tuple[SessionFailure, ...]
    records: int
    records_this_run: int
    elapsed: float
    already_complete: bool = False
    missing: tuple[SessionFailure, ...] = ()
    sessions_file: Path | None = None
    compression: Compression | None = None
    pages_this_run: int = 0
    state_bytes_written: int = 0

    @property
    def records_per_second(self) -> float:
        """Records written by this run per second of its wall time."""
        return self.records_this_run / self.elapsed if self.elapsed > 0 else 0.0


# -- argument checks ----------------------------------------------------------------------


def unique_session_sids(sessions: Iterable[str]) -> list[str]:
    """Check that every item is a Session SID (``KC…``) and drop repeats, keeping order."""
    if isinstance(sessions, (str, bytes)) or not isinstance(sessions, Iterable):
        raise InvalidParameterError("sessions", "an iterable of KC SIDs, not a single string")
    return list(dict.fromkeys(check_sid(sid, "KC", "session_sid") for sid in sessions))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(name, "an integer >= 1", value)
    return value


def check_page_size(value: object) -> int:
    """An export's page size: an integer from 1 to 1000 (it is part of the saved state)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidParameterError("page_size", f"an integer from 1 to {MAX_PAGE_SIZE}", value)
    return value


def check_format(value: object) -> Format:
    """An export's output format, ``'ndjson'`` or ``'csv'``."""
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidParameterError("fmt", "'ndjson' or 'csv'", value)


# -- walking ------------------------------------------------------------------------------


async def discover_sessions(
    client: ProxyClient, service_sid: str, *, page_size: int = MAX_PAGE_SIZE
) -> list[str]:
    """SIDs of every Session of the Service, in list order (all held in memory).

    :func:`export` does not use this: it lists and exports at once, with the SIDs in
    its state database. Authentication errors propagate as they are; any other
    failure to list becomes :class:`SessionDiscoveryError`.
    """
    service = client.services(service_sid)
    sids: list[str] = []
    async with contextlib.aclosing(listing_pages(service, None, page_size)) as pages:
        async for page in pages:
            sids.extend(listed_session_sids(service.sid, page))
    return list(dict.fromkeys(sids))


async def listing_pages(
    service: ServiceContext, start_url: str | None, page_size: int = LISTING_PAGE_SIZE
) -> AsyncGenerator[Page[Session], None]:
    """The Sessions pages of ``service`` from ``start_url`` (None: the first), 429s waited out.

    Raises :class:`SessionDiscoveryError` (or a fatal error) if a page cannot be had.
    """
    pages = _patient_pages(
        lambda url, seen: service.sessions.pages(
            page_size=page_size, start_url=url, seen_records=seen
        ),
        start_url,
        f"listing the sessions of {service.sid}",
    )
    try:
        async with contextlib.aclosing(pages):
            async for page in pages:
                yield page
    except FATAL_ERRORS:
        raise
    except ProxyError as error:
        raise SessionDiscoveryError(service.sid, error) from error


async def _patient_pages(
    open_pages: Callable[[str | None, SeenRecords], AsyncGenerator[Page[T], None]],
    start_url: str | None,
    what: str,
) -> AsyncGenerator[Page[T], None]:
    """The pages of one list from ``start_url`` on, where a 429 never ends the walk.

    A 429 (Twilio: not processed) is waited out (:func:`_wait_out`) and the walk is
    taken up again after the last page yielded, whatever the client's retry count.
    ``open_pages(url, seen)`` starts a walk at ``url`` (None: the first page) that
    checks its pages against the record SIDs in ``seen`` (:mod:`proxy_async.pagination`).
    One set is kept here, across the restarts, so a server repeating records before
    and after a 429 is caught too (:class:`PaginationLoopError`), and a record whose
    SID was already on a page of this list is left out of the page yielded (each time,
    a warning counts them): nothing is written twice. Repeats are caught within the
    last :data:`EXPORT_MAX_SEEN_SIDS` records of the list.
    """
    url, streak = start_url, 0
    seen = SeenRecords(EXPORT_MAX_SEEN_SIDS)
    while True:
        try:
            async with contextlib.aclosing(open_pages(url, seen)) as pages:
                async for page in pages:
                    streak = 0
                    yield page
                    url = page.meta.next_page_url
            return
        except RateLimitError as error:
            streak += 1
            await _wait_out(error, streak, what)


def listed_session_sids(service_sid: str, page: Page[Session]) -> list[str]:
    """The session SIDs of a listing page; a record without a valid one is a bad answer."""
    sids = []
    for session in page.items:
        try:
            sids.append(check_sid(session.sid, "KC", "sid"))
        except InvalidParameterError as error:
            raise SessionDiscoveryError(service_sid, error) from None
    return sids


async def _walk_session(
    service: ServiceContext,
    sid: str,
    start_url: str | None,
    page_size: int,
    events: asyncio.Queue[Any],
) -> None:
    """Put every page of one session on ``events``, then nothing, or a :class:`SessionFailed`."""
    interactions = service.sessions(sid).interactions
    pages = _patient_pages(
        lambda url, seen: interactions.pages(page_size=page_size, start_url=url, seen_records=seen),
        start_url,
        f"session {sid}",
    )
    delivered = 0
    try:
        async with contextlib.aclosing(pages):
            async for page in pages:
                # Blocks while the queue is full: this is the back-pressure.
                await events.put(SessionPage(sid, page))
                delivered += 1
    except FATAL_ERRORS:
        raise
    except ProxyError as error:
        await events.put(SessionFailed(sid, error, delivered, start_url))


async def _wait_out(error: RateLimitError, streak: int, what: str) -> None:
    """Sleep as a 429 asks: ``Retry-After`` if sent, else a jittered, capped backoff."""
    if error.retry_after is not None:
        delay = min(error.retry_after, MAX_RETRY_AFTER)
    else:
        ceiling = min(MAX_THROTTLE_WAIT, 0.5 * 2 ** min(streak, 16))
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
    logger.info("%s: throttled (429), waiting %.1f s before going on", what, delay)
    await asyncio.sleep(delay)


class _Walk:
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
            await _walk_session(self._service, item[0], item[1], self._page_size, self.queue)

    async def _reporting(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except Exception as error:
            # Reported through the queue, which the consumer is reading anyway; it then
            # raises the error and cancels every other task.
            await self.queue.put(_TaskExit(error))
            return
        await self.queue.put(_TaskExit(None))


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
    :func:`export` keeps each once). ``start_urls`` maps a session to a saved
    ``next_page_url`` to continue from. Each session ends with a :class:`SessionPage`
    whose ``done`` is true, or with a :class:`SessionFailed`. Errors in
    :data:`FATAL_ERRORS` and :class:`SessionDiscoveryError` end the whole stream.
    ``max_queued_pages`` (default: ``concurrency``) bounds the queue between the
    walkers and the consumer. Arguments are checked now, before anything is sent.
    """
    service = client.services(service_sid)
    selected = None if sessions is None else unique_session_sids(sessions)
    workers = check_int(concurrency, "concurrency", 1, MAX_CONCURRENCY)
    bound = (
        workers if max_queued_pages is None else _positive_int("max_queued_pages", max_queued_pages)
    )
    walk = _Walk(service, workers, check_page_size(page_size), bound)
    starts = dict(start_urls or {})
    return walk.events(lambda: _feed_sessions(walk, service, selected, starts))


async def _feed_sessions(
    walk: _Walk, service: ServiceContext, selected: list[str] | None, start_urls: dict[str, Any]
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
            if isinstance(event, SessionFailed):
                failures[event.session_sid] = event.error
                continue
            page = event.page
            for item, raw in zip(page.items, raw_records(page), strict=True):
                yield TaggedInteraction(event.session_sid, item, raw)
    if failures:
        raise SessionsFailedError(failures)


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


def raw_records(page: Page[Any]) -> tuple[dict[str, Any], ...]:
    """A page's records exactly as decoded (``Page.raw_items``): what the files hold."""
    return page_records(page).dicts()


def page_records(page: Page[Any]) -> RawRecords:
    """A page's records as sent (``Page.raw_records``), one per item."""
    records = page.raw_records
    if len(records) != len(page):
        # Only a hand-built Page can lack them; writing nothing would lose records silently.
        raise ExportError("a page came without its raw records (Page.raw_items)")
    return records


# -- encoding -----------------------------------------------------------------------------


def encode_ndjson(records: Sequence[dict[str, Any]]) -> bytes:
    """One JSON object per line, each record serialised exactly as decoded.

    Lossless: ``json.loads`` of a line gives the record back. A record orjson cannot
    write (a lone UTF-16 surrogate kept from the server, kept escaped as ``\\ud83d``;
    an integer beyond 64 bits) is written by :func:`~proxy_async.models.json_codec.encode_json`
    instead; only a page holding one pays for it. An export writes a page read by the
    fast path from each record's own bytes instead (:meth:`RawRecords.ndjson`).
    """
    return DecodedRecords(records).ndjson()


def encode_csv(records: Sequence[dict[str, Any]]) -> bytes:
    """CSV rows in :data:`CSV_COLUMNS` order: values as sent, null as an empty cell."""
    return csv_rows(DecodedRecords(records))


def csv_rows(records: RawRecords, columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    """The CSV rows of ``records`` (as sent), one field of ``columns`` a cell: a value as
    sent, null or absent as an empty cell, any other JSON value as its JSON text. What
    an export writes for a page; ``proxy-async sessions list`` uses it with
    the Session fields."""
    return _csv_bytes(records.column_chunks(columns, CSV_CHUNK_RECORDS))


def _csv_bytes(chunks: Iterable[Sequence[Column]]) -> bytes:
    """CSV of the records whose fields are the columns of ``chunks`` (None: an empty
    cell), chunk after chunk (:func:`~proxy_async.bulk_export.csv_text.csv_text_chunked`).

    A lone UTF-16 surrogate (half an emoji, kept by
    :func:`~proxy_async.models.json_codec.decode_json`) cannot be written in UTF-8: it
    becomes U+FFFD, the replacement character.
    """
    text = csv_text_chunked(chunks)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return replace_lone_surrogates(text).encode()


def csv_header(columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    """The CSV header row: the names of ``columns`` (default: an export's)."""
    return _csv_bytes([[[name] for name in columns]])


_ENCODERS: dict[Format, Callable[[RawRecords], bytes]] = {
    "ndjson": lambda records: records.ndjson(),
    "csv": csv_rows,
}
_HEADERS: dict[Format, Callable[[], bytes]] = {"ndjson": lambda: b"", "csv": csv_header}


# -- the export job -------------------------------------------------------------------------


class _Outage:
    """Tells an outage from one bad session: distinct sessions failing on connection
    errors or 5xx, with no page arriving in between."""

    def __init__(self) -> None:
        self._failing: dict[str, ProxyError] = {}

    def page_arrived(self) -> None:
        self._failing.clear()

    def check(self, event: SessionFailed) -> None:
        """Raise :class:`ApiUnavailableError` if ``event`` completes an outage."""
        if not isinstance(event.error, OUTAGE_ERRORS):
            return
        self._failing[event.session_sid] = event.error
        unreachable = sum(isinstance(error, TransportError) for error in self._failing.values())
        if unreachable >= OUTAGE_SESSIONS or len(self._failing) >= OUTAGE_5XX_SESSIONS:
            raise ApiUnavailableError(event.error, list(self._failing))


class _Job:
    """One run of an export: applies events to the files and the state, commits, finishes.

    Every file write and state change happens here, in the consumer of the walk's
    events, so they never interleave.
    """

    def __init__(
        self,
        state: ExportState,
        data: ChunkedFile,
        sessions_file: ChunkedFile | None,
        paths: ExportPaths | None,
        *,
        resumed: bool,
        started: float,
    ) -> None:
        self.state = state
        self.data = data
        self.sessions_file = sessions_file
        self.paths = paths
        self.resumed = resumed
        self.started = started
        self.format = check_format(state.params.format)
        self.encode = _ENCODERS[self.format]
        self.records_this_run = 0
        self.pages_this_run = 0
        self.complete = False
        self._active: dict[str, SessionRow] = {}
        self._listed = asyncio.Event()
        self._outage = _Outage()
        if data.size == 0 and state.counters.data_bytes == 0:
            # A new file, or one whose first commit never happened: the header first.
            data.append(_HEADERS[self.format]())

    # -- applying events ----------------------------------------------------------------

    def apply(self, event: object) -> None:
        """Append an event's records and note its progress in the open transaction."""
        if isinstance(event, SessionPage):
            self._page(event)
        elif isinstance(event, SessionFailed):
            self._failed(event)
        elif isinstance(event, _SessionsListed):
            self._listed_page(event.page)

    def _page(self, event: SessionPage) -> None:
        session = self._active[event.session_sid]
        records = page_records(event.page)
        if len(records):
            self.data.append(self.encode(records))
        self.state.page_written(session, len(records), event.next_page_url)
        if event.done:
            del self._active[event.session_sid]
        self.records_this_run += len(records)
        self.pages_this_run += 1
        self._outage.page_arrived()

    def _failed(self, event: SessionFailed) -> None:
        session = self._active.pop(event.session_sid)
        error = f"{type(event.error).__name__}: {event.error}"
        not_found = session.not_found
        status: Status = "failed"
        if event.missing:
            status = "missing"
        elif isinstance(event.error, NotFoundError) and event.pages == 0:
            # The saved page of a session that was deleted mid-walk: a second 404 there
            # in a row means the session is gone, not that the page is late.
            not_found += 1
            status = "missing" if not_found >= 2 else "failed"
        elif isinstance(event.error, NotFoundError):
            not_found = 1
        self.state.session_ended(session, status, error, not_found)
        if status == "failed":
            self._outage.check(event)

    def _listed_page(self, page: Page[Session]) -> None:
        sids = listed_session_sids(self.state.params.service_sid, page)
        added = self.state.add_sessions(sids)
        if self.sessions_file is not None:
            raw = raw_records(page)
            fresh = [record for record, new in zip(raw, added, strict=True) if new]
            if fresh:
                self.sessions_file.append(encode_ndjson(fresh))
        self.state.listing_moved(page.meta.next_page_url)
        self._listed.set()

    # -- commits ------------------------------------------------------------------------

    def commit(self) -> None:
        """Make the written records durable, then commit the state that describes them."""
        data_bytes = self.data.commit()
        sessions_bytes = 0 if self.sessions_file is None else self.sessions_file.commit()
        self.state.commit(data_bytes=data_bytes, sessions_bytes=sessions_bytes)

    def progress(self) -> ExportProgress:
        """A snapshot for the progress callback."""
        counters = self.state.counters
        return ExportProgress(
            sessions_total=counters.sessions,
            sessions_done=counters.done,
            sessions_failed=counters.failed,
            records=counters.records,
            records_this_run=self.records_this_run,
            elapsed=time.monotonic() - self.started,
            resumed=self.resumed,
            sessions_missing=counters.missing,
            listing_done=counters.listing_done,
            pages_this_run=self.pages_this_run,
        )

    # -- running ------------------------------------------------------------------------

    async def run(
        self,
        client: ProxyClient,
        *,
        concurrency: int,
        max_queued_pages: int | None,
        progress: Callable[[ExportProgress], None] | None,
        checkpoint_interval: float,
        first_listing: Page[Session] | None,
    ) -> None:
        """Export every session not finished yet, listing the rest on the way; commit on
        the way and on any exit; finish when every session is done or missing."""
        params = self.state.params
        service = client.services(params.service_sid)
        walk = _Walk(service, concurrency, params.page_size, max_queued_pages or concurrency)
        if first_listing is not None:
            self._listed_page(first_listing)
        listing_url = self.state.counters.listing_url
        others = []
        if not self.state.counters.listing_done:
            others.append(lambda: self._list(walk, service, listing_url))
        events = walk.events(lambda: self._dispatch(walk), others)
        if progress is not None:
            progress(self.progress())
        last_commit = time.monotonic()
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    self.apply(event)
                    now = time.monotonic()
                    if (
                        now - last_commit >= checkpoint_interval
                        or self.data.pending_bytes >= MAX_CHUNK_BYTES
                    ):
                        self.commit()
                        last_commit = now
                    if progress is not None:
                        progress(self.progress())
        except BaseException:
            # Fatal error, cancellation, Ctrl-C: keep what was written resumable. If even
            # this fails (disk full), the previous commit is still valid.
            with contextlib.suppress(Exception):
                self.commit()
            raise
        self.commit()
        if self.state.counters.finished:
            self.finish()

    async def _list(self, walk: _Walk, service: ServiceContext, start_url: str | None) -> None:
        try:
            async with contextlib.aclosing(listing_pages(service, start_url)) as pages:
                async for page in pages:
                    await walk.queue.put(_SessionsListed(page))
        except SessionDiscoveryError as error:
            raise ApiUnavailableError.unless_listing_error(error) from error.cause

    async def _dispatch(self, walk: _Walk) -> None:
        """Feed the walkers every unfinished session, in listing order, as it is listed.

        Reads the state in batches by row id, so memory stays flat in the number of
        sessions; waits for the listing when it has caught up with it.
        """
        cursor = 0
        while True:
            self._listed.clear()
            rows = self.state.unfinished_after(cursor, _DISPATCH_BATCH)
            for row in rows:
                self._active[row.sid] = row
                await walk.put(row.sid, row.next_page_url)
                cursor = row.row
            if rows:
                continue
            if self.state.counters.listing_done:
                return
            await self._listed.wait()

    def finish(self) -> None:
        """Rename the files into place, then mark the state complete. Each step is
        idempotent, so a resume after a kill anywhere in here finishes the rest."""
        paths = self.paths
        if paths is not None:
            if sys.platform == "win32":
                self._close_files()  # Windows cannot rename an open file
            renames = [(paths.partial, paths.output)]
            if self.state.params.sessions_file:
                # Only then is a sessions .part this export's: with named sessions it
                # may be another export's, unfinished.
                renames.insert(0, (paths.sessions_partial, paths.sessions))
            for partial, final in renames:
                if partial.exists():
                    os.replace(partial, final)
            sync_directory(paths.output.parent)
        self.state.mark_complete()
        self.complete = True

    def _close_files(self) -> None:
        self.data.close()
        if self.sessions_file is not None:
            self.sessions_file.close()

    def close(self) -> None:
        """Close the files and the state (dropping anything not committed)."""
        try:
            self._close_files()
        finally:
            self.state.close()

    def summary(self) -> ExportSummary:
        """What the export holds now, and what this run did (call before :meth:`close`)."""
        return _summarize(
            self.state,
            self.paths,
            complete=self.complete,
            resumed=self.resumed,
            started=self.started,
            records_this_run=self.records_this_run,
            pages_this_run=self.pages_this_run,
        )


def _summarize(
    state: ExportState,
    paths: ExportPaths | None,
    *,
    complete: bool,
    resumed: bool,
    started: float,
    records_this_run: int = 0,
    pages_this_run: int = 0,
    already_complete: bool = False,
) -> ExportSummary:
    counters = state.counters
    if paths is None:
        output, state_path, sessions_file = Path(STDOUT), None, None
    else:
        output = paths.output if complete else paths.partial
        state_path = paths.state
        sessions_file = None
        if state.params.sessions_file:
            sessions_file = paths.sessions if complete else paths.sessions_partial
    return ExportSummary(
        output=output,
        state=state_path,
        format=check_format(state.params.format),
        complete=complete,
        resumed=resumed,
        sessions_total=counters.sessions,
        sessions_done=counters.done,
        failures=_failures(state, "failed"),
        records=counters.records,
        records_this_run=records_this_run,
        elapsed=time.monotonic() - started,
        already_complete=already_complete,
        missing=_failures(state, "missing"),
        sessions_file=sessions_file,
        compression=state.params.compression,
        pages_this_run=pages_this_run,
        state_bytes_written=state.bytes_written,
    )


def _failures(state: ExportState, status: Status) -> tuple[SessionFailure, ...]:
    counters = state.counters
    if (counters.failed if status == "failed" else counters.missing) == 0:
        return ()  # no scan of the sessions when there is nothing to list
    return tuple(
        SessionFailure(row.sid, row.error or "", row.records) for row in state.sessions_with(status)
    )


# -- export ---------------------------------------------------------------------------------


async def export(
    client: ProxyClient,
    service_sid: str,
    out: str | os.PathLike[str],
    *,
    sessions: Iterable[str] | None = None,
    fmt: Format = "ndjson",
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = DEFAULT_PAGE_SIZE,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[ExportProgress], None] | None = None,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    max_queued_pages: int | None = None,
) -> ExportSummary:
    """Export the Interactions of a Service's sessions to the file ``out``.

    ``sessions`` None exports every Session of the Service, listed page by page while
    the export runs; the Session records of that listing go to the sessions file beside
    the output (see :class:`~proxy_async.bulk_export.files.ExportPaths`). Otherwise the given
    SIDs. ``fmt`` is ``"ndjson"`` (records exactly as Twilio sent them, one per line)
    or ``"csv"`` (header of the spec's Interaction fields, values as sent, null as
    empty). A name ending in ``.gz`` is written gzip-compressed, in independent members
    per commit, so it stays resumable. ``out`` ``"-"`` writes to standard output: no
    state file, no resume.

    Records go to ``out + ".part"`` with the state in ``out + ".state.db"``; when every
    session is done or missing the ``.part`` files are renamed into place and the state
    is marked complete (and kept, as the record of what was exported).

    If sessions failed, the summary says so (``complete`` False) and the files stay:
    ``resume=True`` continues every unfinished or failed session where it stopped,
    continues the listing where it stopped, and keeps the rest; it refuses a state made
    with another service, base URL, format, page size or session selection, and
    imports a 0.x JSON checkpoint (``out + ".checkpoint.json"``). Without ``resume``, an
    existing export is refused unless ``overwrite=True`` (an old output is replaced only
    when the new one is complete). ``resume=True`` with no state starts afresh, or, if
    ``out`` exists, returns at once with ``already_complete``.

    ``progress`` is called with an :class:`ExportProgress` after every page. Raises
    :class:`~proxy_async.errors.AuthError` (credentials refused),
    :class:`SessionDiscoveryError`, :class:`ApiUnavailableError`,
    :class:`~proxy_async.errors.ExportStateError` (files in the way, a directory, an
    unusable state, another export writing) or :class:`InvalidParameterError`; after
    any of them, or a cancellation, the state is left resumable.
    """
    started = time.monotonic()
    service_sid = check_sid(service_sid, "KS", "service_sid")
    selected = None if sessions is None else unique_session_sids(sessions)
    fmt = check_format(fmt)
    page_size = check_page_size(page_size)
    concurrency = check_int(concurrency, "concurrency", 1, MAX_CONCURRENCY)
    if max_queued_pages is not None:
        _positive_int("max_queued_pages", max_queued_pages)
    if (
        isinstance(checkpoint_interval, bool)
        or not isinstance(checkpoint_interval, (int, float))
        or not checkpoint_interval >= 0
    ):
        raise InvalidParameterError("checkpoint_interval", "a number of seconds >= 0")
    if resume and overwrite:
        raise InvalidParameterError("overwrite", "False when resume is True")
    if progress is not None and not callable(progress):
        raise InvalidParameterError("progress", "a callable taking an ExportProgress, or None")
    if client.closed:
        raise ClientClosedError()
    to_stdout = os.fspath(check_file_path(out, "out")) == STDOUT
    if to_stdout and resume:
        raise InvalidParameterError("resume", "False when writing to stdout ('-')")
    paths = None if to_stdout else ExportPaths.for_output(out)
    if paths is not None and not paths.output.parent.is_dir():
        raise ExportStateError(
            f"the directory of {paths.output} does not exist: create it first, or export to "
            "an existing one"
        )
    params = ExportParams(
        service_sid=service_sid,
        base_url=client.base_url,
        format=fmt,
        compression=None if paths is None else paths.compression,
        page_size=page_size,
        discovered=selected is None,
        sessions_file=selected is None and paths is not None,
    )

    first_listing = None
    if paths is not None and resume:
        opened = _resume_job(paths, params, selected, started)
        if opened is None:
            return _done_summary(paths, fmt, started)
        if isinstance(opened, ExportSummary):
            return opened
        job = opened
    else:
        if paths is not None:
            _refuse_existing(paths, params, overwrite=overwrite)
        if selected is None:
            # The first Sessions page before any file: wrong credentials or an unknown
            # Service leave nothing behind.
            first_listing = await _first_listing_page(client.services(service_sid))
        job = _fresh_job(paths, params, selected or [], started)
    try:
        await job.run(
            client,
            concurrency=concurrency,
            max_queued_pages=max_queued_pages,
            progress=progress,
            checkpoint_interval=checkpoint_interval,
            first_listing=first_listing,
        )
        summary = job.summary()
    finally:
        job.close()
    return summary


async def _first_listing_page(service: ServiceContext) -> Page[Session]:
    try:
        async with contextlib.aclosing(listing_pages(service, None)) as pages:
            async for page in pages:
                return page
    except SessionDiscoveryError as error:
        raise ApiUnavailableError.unless_listing_error(error) from error.cause
    raise SessionDiscoveryError(service.sid, ExportError("the Sessions list had no page"))


def _refuse_existing(paths: ExportPaths, params: ExportParams, *, overwrite: bool) -> None:
    """Refuse a fresh export whose files are in the way.

    Always when one of them is another export's (:func:`_refuse_claimed`); without
    ``overwrite``, when an earlier export to ``out`` did not finish or any file this
    export would create or replace exists (a blank state, left by a kill while it was
    being made, holds nothing and does not count).
    """
    _refuse_claimed(paths, writes_sessions=params.sessions_file)
    if overwrite:
        return
    unfinished = paths.legacy_checkpoint.exists()
    blank = False
    if paths.state.exists():
        try:
            state = ExportState.open(paths.state)  # "another export is writing" if locked
        except BlankStateError:
            blank = True  # killed while being made: nothing was written
        else:
            unfinished = not state.counters.complete
            state.close()
    if unfinished:
        raise ExportStateError(
            f"an earlier export to {paths.output} did not finish; continue it with "
            f"{RESUME_REMEDY}, or discard it with {FORCE_REMEDY}"
        )
    for path in paths.written(sessions_file=params.sessions_file):
        if path.exists() and not (blank and path == paths.state):
            raise ExportStateError(
                f"{path} already exists; use {FORCE_REMEDY} to replace it once the new export "
                "is complete"
            )


def _refuse_claimed(paths: ExportPaths, *, writes_sessions: bool) -> None:
    """Refuse, even with ``overwrite``, an export one of whose files is also a file of
    another export that has a state: its output is another's ``.part``, state or
    sessions file, or its sessions file is another's output. Sessions file names never
    collide (:func:`~proxy_async.bulk_export.files.sessions_name`), so these are the only
    ways two exports can share a file.
    """
    ours = set(paths.written(sessions_file=writes_sessions))
    others = set().union(*(outputs_naming(path) for path in ours))
    for other in sorted(others - {paths.output}):
        if not state_of(other).exists():
            continue
        try:
            shared = ours & ExportPaths.for_output(other).claimable()
        except ProxyError:
            continue  # not a file an export could write to
        if shared:
            raise ExportStateError(
                f"{min(shared)} is also a file of the export to {other} (its state is "
                f"{state_of(other)}); export to another name, or finish or delete that "
                "export first"
            )


def _fresh_job(
    paths: ExportPaths | None, params: ExportParams, selected: list[str], started: float
) -> _Job:
    state = ExportState.create(None if paths is None else paths.state, params)
    files: list[ChunkedFile] = []
    try:
        state.add_sessions(selected)
        if paths is None:
            data, sessions_file = ChunkedFile.stdout(), None
            files.append(data)
        else:
            if paths.legacy_checkpoint.exists():
                paths.legacy_checkpoint.unlink()  # --force discards a 0.x export too
            data = ChunkedFile.open(paths.partial, compression=params.compression, create=True)
            files.append(data)
            data.cut(0)
            sessions_file = None
            if params.sessions_file:
                sessions_file = ChunkedFile.open(
                    paths.sessions_partial, compression=params.compression, create=True
                )
                files.append(sessions_file)
                sessions_file.cut(0)
        job = _Job(state, data, sessions_file, paths, resumed=False, started=started)
        job.commit()
    except BaseException:
        for file in files:
            file.close()
        state.close()
        raise
    return job


def _resume_job(
    paths: ExportPaths, params: ExportParams, selected: list[str] | None, started: float
) -> _Job | ExportSummary | None:
    """Reopen an unfinished export, to be run.

    Returns instead its summary if it had finished (``already_complete``) or had only
    the renames left (done now), and None if there is no state but ``OUT`` exists.
    """
    if not paths.state.exists():
        if paths.legacy_checkpoint.exists():
            import_legacy_checkpoint(paths.legacy_checkpoint, paths.state)
        elif paths.output.exists():
            return None
        else:
            logger.info("no export state at %s: starting afresh", paths.state)
            _refuse_claimed(paths, writes_sessions=params.sessions_file)
            return _fresh_job(paths, params, selected or [], started)
    try:
        state = ExportState.open(paths.state)
    except BlankStateError:
        logger.info("%s holds no export yet: starting afresh", paths.state)
        _refuse_claimed(paths, writes_sessions=params.sessions_file)
        return _fresh_job(paths, params, selected or [], started)
    files: list[ChunkedFile] = []
    try:
        _check_same_export(state, paths, params, selected)
        if state.params.sessions_file:
            paths = paths.resuming(state.counters.sessions_bytes)
        if state.counters.complete:
            summary = _summarize(
                state, paths, complete=True, resumed=True, started=started, already_complete=True
            )
            state.close()
            return summary
        counters = state.counters
        data = _reopen(paths.partial, paths.output, params, counters.data_bytes, counters.finished)
        files.append(data)
        sessions_file = None
        if state.params.sessions_file:
            sessions_file = _reopen(
                paths.sessions_partial,
                paths.sessions,
                params,
                counters.sessions_bytes,
                counters.finished,
            )
            files.append(sessions_file)
        state.retry_failed()
        job = _Job(state, data, sessions_file, paths, resumed=True, started=started)
    except BaseException:
        for file in files:
            file.close()
        state.close()
        raise
    if not state.counters.finished:
        return job
    try:
        job.finish()  # killed after the last commit, before or during the renames
        return job.summary()
    finally:
        job.close()


def _reopen(
    partial: Path, final: Path, params: ExportParams, length: int, finished: bool
) -> ChunkedFile:
    """A data file cut to its committed ``length``, to append to or to finish.

    That is the ``.part`` file; or the final file, if every session was finished and a
    kill came after its rename; or a new ``.part`` file if nothing was committed to it
    yet (killed right after the state was made). A final file is never touched
    otherwise: it may be an older export that ``--force`` will replace.
    """
    finished_file = finished and not partial.exists() and final.exists()
    path = final if finished_file else partial
    create = length == 0 and not finished_file
    file = ChunkedFile.open(path, compression=params.compression, create=create)
    try:
        file.cut(length)
    except BaseException:
        file.close()
        raise
    return file


def _check_same_export(
    state: ExportState, paths: ExportPaths, params: ExportParams, selected: list[str] | None
) -> None:
    saved = state.params
    differences = []
    if saved.service_sid != params.service_sid:
        differences.append(f"service {saved.service_sid}, not {params.service_sid}")
    if saved.base_url != params.base_url:
        differences.append(f"base URL {saved.base_url}, not {params.base_url}")
    if saved.format != params.format:
        differences.append(f"format {saved.format}, not {params.format}")
    if saved.compression != params.compression:
        differences.append(f"compression {saved.compression}, not {params.compression}")
    if saved.page_size != params.page_size:
        differences.append(f"page size {saved.page_size}, not {params.page_size}")
    if selected is None and not saved.discovered:
        differences.append("an explicit session list, not every session of the service")
    elif selected is not None and saved.discovered:
        differences.append("every session of the service, not an explicit session list")
    elif selected is not None and set(selected) != set(state.all_sids()):
        differences.append("another session list")
    if differences:
        raise ExportStateError(
            f"{paths.state} was made with " + "; ".join(differences) + ". Resume with "
            f"the original options, or discard it with {FORCE_REMEDY}"
        )


def _done_summary(paths: ExportPaths, fmt: Format, started: float) -> ExportSummary:
    return ExportSummary(
        output=paths.output,
        state=None,
        format=fmt,
        complete=True,
        resumed=True,
        sessions_total=0,
        sessions_done=0,
        failures=(),
        records=0,
        records_this_run=0,
        elapsed=time.monotonic() - started,
        already_complete=True,
    )
