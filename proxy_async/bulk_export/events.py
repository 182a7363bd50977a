"""What the bulk export hands back: stream events, progress snapshots and the summary.

Three names around a failed session, three different things:

* :class:`SessionFailedEvent`: an *event* of :func:`~proxy_async.bulk_export.streams.stream_pages`,
  carrying the error object, as the walk of a session ends;
* :class:`SessionFailure`: a *row* of :class:`ExportSummary` (``failures``, ``missing``),
  the error as text and the records the output holds, as read back from the state;
* :class:`~proxy_async.errors.SessionsFailedError`: the *exception*
  :func:`~proxy_async.bulk_export.streams.stream_interactions` raises at its end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ..errors import NotFoundError, ProxyError
from ..models.records import Interaction, Page
from .formats import Format
from .paths import Compression


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
class SessionFailedEvent:
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


SessionFailed = SessionFailedEvent
"""The name :class:`SessionFailedEvent` had before issue 14, kept working for code written
against it (the README's examples imported it)."""

SessionEvent = SessionPage | SessionFailedEvent
"""What :func:`~proxy_async.bulk_export.streams.stream_pages` yields."""


@attrs.frozen
class TaggedInteraction:
    """One Interaction with the SID of the session it was listed under.

    ``raw`` is the record exactly as decoded from Twilio's JSON.
    """

    session_sid: str
    interaction: Interaction
    raw: dict[str, Any] = attrs.field(repr=False)


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
    """The outcome of :func:`~proxy_async.bulk_export.run.export`.

    ``complete``: every session is done or missing, ``output`` is the finished file (or
    ``-`` for stdout). Otherwise ``output`` is the ``.part`` file, kept with ``state``
    for a later ``resume=True``; ``failures`` are the sessions that failed. ``missing``
    lists every session of the export that answered 404 (see :mod:`proxy_async.bulk_export`).
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
