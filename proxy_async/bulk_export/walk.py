"""The page walks of an export: the Service's Sessions listing, and one session's Interactions.

Both are :func:`patient_pages`: a 429 never ends them (see :mod:`proxy_async.bulk_export`
for what every other error does). :func:`walk_session` is what one walker of
:mod:`proxy_async.bulk_export.streams` runs per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, TypeVar

from ..client.proxy_client import ProxyClient
from ..errors import (
    AuthError,
    CertificateVerifyError,
    ClientClosedError,
    EgressProxyRefusedError,
    InvalidParameterError,
    ProxyError,
    RateLimitError,
    SessionDiscoveryError,
)
from ..models.records import Page, Session
from ..pagination import SeenRecords
from ..resources import ServiceContext
from ..validation import MAX_PAGE_SIZE, check_int, check_sid
from .events import SessionFailedEvent, SessionPage

logger = logging.getLogger("proxy_async")

T = TypeVar("T")

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
"""Records per request: the largest page Twilio serves, so the fewest requests."""

LISTING_PAGE_SIZE = MAX_PAGE_SIZE
"""Sessions per page when the export lists the Service: the fewest requests."""

MAX_THROTTLE_WAIT = 30.0
"""Longest wait, in seconds, after a 429 without ``Retry-After`` (the backoff's cap)."""

MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` honoured, in seconds, as :class:`~proxy_async.retry.RetryPolicy`'s
default: a larger one (99999, a date in 2099) is waited 60 s and the request tried again,
which is harmless since a 429 was not processed."""

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


def check_page_size(value: object, parameter: str = "page_size") -> int:
    """A walk's page size: an integer from 1 to 1000 (for an export, part of its state)."""
    return check_int(value, parameter, 1, MAX_PAGE_SIZE)


def unique_session_sids(sessions: Iterable[str]) -> list[str]:
    """Check that every item is a Session SID (``KC…``) and drop repeats, keeping order."""
    if isinstance(sessions, (str, bytes)) or not isinstance(sessions, Iterable):
        raise InvalidParameterError("sessions", "an iterable of KC SIDs, not a single string")
    return list(dict.fromkeys(check_sid(sid, "KC", "session_sid") for sid in sessions))


async def discover_sessions(
    client: ProxyClient, service_sid: str, *, page_size: int = MAX_PAGE_SIZE
) -> list[str]:
    """SIDs of every Session of the Service, in list order (all held in memory).

    :func:`~proxy_async.bulk_export.run.export` does not use this: it lists and exports
    at once, with the SIDs in its state database. Authentication errors propagate as
    they are; any other failure to list becomes :class:`SessionDiscoveryError`.
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
    pages = patient_pages(
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


def listed_session_sids(service_sid: str, page: Page[Session]) -> list[str]:
    """The session SIDs of a listing page; a record without a valid one is a bad answer."""
    sids = []
    for session in page.items:
        try:
            sids.append(check_sid(session.sid, "KC", "sid"))
        except InvalidParameterError as error:
            raise SessionDiscoveryError(service_sid, error) from None
    return sids


async def patient_pages(
    open_pages: Callable[[str | None, SeenRecords], AsyncGenerator[Page[T], None]],
    start_url: str | None,
    what: str,
) -> AsyncGenerator[Page[T], None]:
    """The pages of one list from ``start_url`` on, where a 429 never ends the walk.

    A 429 (Twilio: not processed) is waited out (:func:`wait_out`) and the walk is
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
            await wait_out(error, streak, what)


async def wait_out(error: RateLimitError, streak: int, what: str) -> None:
    """Sleep as a 429 asks: ``Retry-After`` if sent, else a jittered, capped backoff."""
    if error.retry_after is not None:
        delay = min(error.retry_after, MAX_RETRY_AFTER)
    else:
        ceiling = min(MAX_THROTTLE_WAIT, 0.5 * 2 ** min(streak, 16))
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
    logger.info("%s: throttled (429), waiting %.1f s before going on", what, delay)
    await asyncio.sleep(delay)


async def walk_session(
    service: ServiceContext,
    sid: str,
    start_url: str | None,
    page_size: int,
    events: asyncio.Queue[Any],
) -> None:
    """Put every page of one session on ``events``, then nothing, or a
    :class:`~proxy_async.bulk_export.events.SessionFailedEvent`."""
    interactions = service.sessions(sid).interactions
    pages = patient_pages(
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
        await events.put(SessionFailedEvent(sid, error, delivered, start_url))
