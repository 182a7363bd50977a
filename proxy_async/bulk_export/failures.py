"""What an export makes of a session whose walk failed: failed, missing, or part of an outage.

Pure decisions on :class:`~proxy_async.bulk_export.events.SessionFailedEvent`, applied by
:class:`~proxy_async.bulk_export.job.ExportJob` (the rules are in
:mod:`proxy_async.bulk_export`).
"""

from __future__ import annotations

from ..errors import (
    OUTAGE_ERRORS,
    ApiUnavailableError,
    NotFoundError,
    ProxyError,
    TransportError,
)
from .events import SessionFailedEvent
from .schema import Status

OUTAGE_SESSIONS = 3
"""Sessions failing in a row on connection errors, with no page between them, that
make :func:`~proxy_async.bulk_export.run.export` stop with :class:`ApiUnavailableError`."""

OUTAGE_5XX_SESSIONS = 10
"""The same for sessions failing on connection errors *or* 5xx: more of them, since a
few sessions that always answer 500 fail alone (and would be all a resume retries)."""


def ended_status(event: SessionFailedEvent, not_found: int) -> tuple[Status, int]:
    """The status a failed walk leaves its session in, and its new count of 404s in a row
    on its saved page (``not_found``: the count before this walk)."""
    if event.missing:
        return "missing", not_found
    if isinstance(event.error, NotFoundError) and event.pages == 0:
        # The saved page of a session that was deleted mid-walk: a second 404 there
        # in a row means the session is gone, not that the page is late.
        not_found += 1
        return ("missing" if not_found >= 2 else "failed"), not_found
    if isinstance(event.error, NotFoundError):
        return "failed", 1
    return "failed", not_found


class OutageWatch:
    """Tells an outage from one bad session: distinct sessions failing on connection
    errors or 5xx, with no page arriving in between."""

    def __init__(self) -> None:
        self._failing: dict[str, ProxyError] = {}

    def page_arrived(self) -> None:
        """A page came: whatever failed before was not an outage."""
        self._failing.clear()

    def check(self, event: SessionFailedEvent) -> None:
        """Raise :class:`ApiUnavailableError` if ``event`` completes an outage."""
        if not isinstance(event.error, OUTAGE_ERRORS):
            return
        self._failing[event.session_sid] = event.error
        unreachable = sum(isinstance(error, TransportError) for error in self._failing.values())
        if unreachable >= OUTAGE_SESSIONS or len(self._failing) >= OUTAGE_5XX_SESSIONS:
            raise ApiUnavailableError(event.error, list(self._failing))
