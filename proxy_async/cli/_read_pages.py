"""The records a read command prints, as Twilio sent them, a page at a time.

Pages of :class:`~proxy_async.models.raw_records.RawRecords` are streamed: memory
holds one page (at most 1,000 records, plus the one the client prefetches), however
long the list. :func:`~.read_output.write_records` prints them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from ..bulk_export.formats import page_records
from ..bulk_export.walk import DEFAULT_PAGE_SIZE
from ..client.proxy_client import ProxyClient
from ..models.raw_records import DecodedRecords, RawRecords
from ..resources import ListResource


def _page_size(page_size: int | None, limit: int | None) -> int | None:
    """An unlimited listing asks for the largest pages (the fewest requests, as an
    export does); with a limit the resource asks for ``min(limit, 1000)``."""
    if page_size is None and limit is None:
        return DEFAULT_PAGE_SIZE
    return page_size


async def session_pages(
    client: ProxyClient,
    service_sid: str,
    *,
    limit: int | None = None,
    page_size: int | None = None,
) -> AsyncGenerator[RawRecords, None]:
    """The Service's Session records as sent, a page at a time, in server order.

    ``limit``: stop after this many records (the last page is cut, nothing more is
    requested). ``page_size`` (capped at 1000): records a request; default 1000, or
    ``min(limit, 1000)`` with a limit. Arguments are checked when the first page is
    asked for (:class:`~proxy_async.errors.InvalidParameterError`); the client's
    errors propagate as they are (an unknown Service: a
    :class:`~proxy_async.errors.NotFoundError`).
    """
    async for records in _records_of(client.services(service_sid).sessions, limit, page_size):
        yield records


async def interaction_pages(
    client: ProxyClient,
    service_sid: str,
    session_sid: str,
    *,
    limit: int | None = None,
    page_size: int | None = None,
) -> AsyncGenerator[RawRecords, None]:
    """A Session's Interaction records as sent, a page at a time (as :func:`session_pages`)."""
    interactions = client.services(service_sid).sessions(session_sid).interactions
    async for records in _records_of(interactions, limit, page_size):
        yield records


async def _records_of(
    resource: ListResource[Any], limit: int | None, page_size: int | None
) -> AsyncGenerator[RawRecords, None]:
    """``resource``'s records as sent, a page at a time; its walk closed however this ends."""
    pages = resource.pages(limit=limit, page_size=_page_size(page_size, limit))
    async with contextlib.aclosing(pages):
        async for page in pages:
            yield page_records(page)


async def fetch_interaction(
    client: ProxyClient, service_sid: str, session_sid: str, interaction_sid: str
) -> AsyncGenerator[RawRecords, None]:
    """One Interaction, as sent: a single page of one record, so that it is written as
    lists are (an array of one in ``json``, as twilio-cli prints a fetch).

    A missing Interaction (or Session, or Service) raises the client's
    :class:`~proxy_async.errors.NotFoundError` when the page is asked for, before
    :func:`write_records` has written anything; SIDs are checked then too.
    """
    interactions = client.services(service_sid).sessions(session_sid).interactions
    _, raw = await interactions.fetch_raw(interaction_sid)
    yield DecodedRecords((raw,))
