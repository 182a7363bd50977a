"""The bulk export engine: every session of a Service, into a file, resumable.

Three levels, each built on the one before:

* :func:`stream_pages` yields :class:`SessionPage` (one page of one session) and
  :class:`SessionFailedEvent` events. ``concurrency`` walkers each walk one session at a
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
  :data:`~proxy_async.bulk_export.failures.OUTAGE_SESSIONS` sessions in a row fail on
  connection errors or 5xx with no page arriving in between, or the listing fails on
  one, :func:`export` stops with :class:`ApiUnavailableError` instead of spending every
  session's retries on a dead server.

Close the generators when stopping early (``async with contextlib.aclosing(...)``):
that cancels every walker at once instead of at garbage collection.

The modules, in the order an export uses them:

* :mod:`~proxy_async.bulk_export.run`: :func:`export`, the entry point (argument checks,
  opening the job, running it);
* :mod:`~proxy_async.bulk_export.resume`: a fresh job or a resumed one, and the refusals
  of files in the way; :mod:`~proxy_async.bulk_export.legacy` imports a 0.x checkpoint;
* :mod:`~proxy_async.bulk_export.job`: one run, applying events to the files and the state;
  :mod:`~proxy_async.bulk_export.failures` decides what a failed session is;
  :mod:`~proxy_async.bulk_export.summary` makes the :class:`ExportSummary`;
* :mod:`~proxy_async.bulk_export.streams`: the walker pool, :func:`stream_pages` and
  :func:`stream_interactions`; :mod:`~proxy_async.bulk_export.walk`: the page walks
  themselves (listing, one session, 429s) and :func:`discover_sessions`;
* :mod:`~proxy_async.bulk_export.events`: what they hand back (events, progress, summary);
* :mod:`~proxy_async.bulk_export.formats` and :mod:`~proxy_async.bulk_export.csv_text`:
  NDJSON and CSV;
* :mod:`~proxy_async.bulk_export.paths` (file names) and
  :mod:`~proxy_async.bulk_export.files` (durable chunked writes);
* :mod:`~proxy_async.bulk_export.state` (the SQLite state; its SQL in
  :mod:`~proxy_async.bulk_export.schema`), with :mod:`~proxy_async.bulk_export.known_sids`
  and :mod:`~proxy_async.bulk_export.sqlite_db`, which the workers' manifest shares.
"""

from ..errors import ApiUnavailableError, SessionDiscoveryError, SessionsFailedError
from .events import (
    ExportProgress,
    ExportSummary,
    SessionFailed,
    SessionFailedEvent,
    SessionFailure,
    SessionPage,
    TaggedInteraction,
)
from .paths import ExportPaths
from .run import export
from .streams import stream_interactions, stream_pages
from .walk import discover_sessions

__all__ = [
    "ApiUnavailableError",
    "ExportPaths",
    "ExportProgress",
    "ExportSummary",
    "SessionDiscoveryError",
    "SessionFailed",
    "SessionFailedEvent",
    "SessionFailure",
    "SessionPage",
    "SessionsFailedError",
    "TaggedInteraction",
    "discover_sessions",
    "export",
    "stream_interactions",
    "stream_pages",
]
