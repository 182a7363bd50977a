"""One run of an export: the walk's events applied to the files and the state, committed.

:class:`ExportJob` is made by :mod:`proxy_async.bulk_export.resume` (a fresh export, or
one resumed from its state) and run by :func:`~proxy_async.bulk_export.run.export`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import attrs

from ..client.proxy_client import ProxyClient
from ..errors import ApiUnavailableError, SessionDiscoveryError
from ..models.records import Page, Session
from ..resources import ServiceContext
from .events import ExportProgress, ExportSummary, SessionFailedEvent, SessionPage
from .failures import OutageWatch, ended_status
from .files import ChunkedFile, sync_directory
from .formats import ENCODERS, HEADERS, check_format, encode_ndjson, page_records, raw_records
from .paths import ExportPaths
from .schema import SessionRow
from .state import ExportState
from .streams import WalkerPool
from .summary import summarize
from .walk import listed_session_sids, listing_pages

MAX_CHUNK_BYTES = 8 << 20
"""A commit is also made when this many bytes wait to be written: bounds memory."""

_DISPATCH_BATCH = 512


@attrs.frozen
class SessionsListed:
    """One page of the Service's Sessions list, as the export's listing read it."""

    page: Page[Session]


class ExportJob:
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
        self.encode = ENCODERS[self.format]
        self.records_this_run = 0
        self.pages_this_run = 0
        self.complete = False
        self._active: dict[str, SessionRow] = {}
        self._listed = asyncio.Event()
        self._outage = OutageWatch()
        if data.size == 0 and state.counters.data_bytes == 0:
            # A new file, or one whose first commit never happened: the header first.
            data.append(HEADERS[self.format]())

    # -- applying events ----------------------------------------------------------------

    def apply(self, event: object) -> None:
        """Append an event's records and note its progress in the open transaction."""
        if isinstance(event, SessionPage):
            self._page(event)
        elif isinstance(event, SessionFailedEvent):
            self._failed(event)
        elif isinstance(event, SessionsListed):
            self.listed_page(event.page)

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

    def _failed(self, event: SessionFailedEvent) -> None:
        session = self._active.pop(event.session_sid)
        error = f"{type(event.error).__name__}: {event.error}"
        status, not_found = ended_status(event, session.not_found)
        self.state.session_ended(session, status, error, not_found)
        if status == "failed":
            self._outage.check(event)

    def listed_page(self, page: Page[Session]) -> None:
        """Add the sessions of a Sessions page (new ones to the sessions file too)."""
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
        if first_listing is not None:
            self.listed_page(first_listing)
        events = self._events(client, concurrency, max_queued_pages)
        if progress is not None:
            progress(self.progress())
        try:
            await self._consume(events, progress, checkpoint_interval)
        except BaseException:
            # Fatal error, cancellation, Ctrl-C: keep what was written resumable. If even
            # this fails (disk full), the previous commit is still valid.
            with contextlib.suppress(Exception):
                self.commit()
            raise
        self.commit()
        if self.state.counters.finished:
            self.finish()

    def _events(
        self, client: ProxyClient, concurrency: int, max_queued_pages: int | None
    ) -> AsyncGenerator[Any, None]:
        """The walk of every unfinished session, and of the rest of the listing."""
        params = self.state.params
        service = client.services(params.service_sid)
        walk = WalkerPool(service, concurrency, params.page_size, max_queued_pages or concurrency)
        listing_url = self.state.counters.listing_url
        others = []
        if not self.state.counters.listing_done:
            others.append(lambda: self._list(walk, service, listing_url))
        return walk.events(lambda: self._dispatch(walk), others)

    async def _consume(
        self,
        events: AsyncGenerator[Any, None],
        progress: Callable[[ExportProgress], None] | None,
        checkpoint_interval: float,
    ) -> None:
        """Apply every event, committing every ``checkpoint_interval`` seconds or
        :data:`MAX_CHUNK_BYTES`."""
        last_commit = time.monotonic()
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

    async def _list(self, walk: WalkerPool, service: ServiceContext, start_url: str | None) -> None:
        try:
            async with contextlib.aclosing(listing_pages(service, start_url)) as pages:
                async for page in pages:
                    await walk.queue.put(SessionsListed(page))
        except SessionDiscoveryError as error:
            raise ApiUnavailableError.unless_listing_error(error) from error.cause

    async def _dispatch(self, walk: WalkerPool) -> None:
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

    # -- finishing ----------------------------------------------------------------------

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
        return summarize(
            self.state,
            self.paths,
            complete=self.complete,
            resumed=self.resumed,
            started=self.started,
            records_this_run=self.records_this_run,
            pages_this_run=self.pages_this_run,
        )
