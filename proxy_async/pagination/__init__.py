"""The one paging routine every list uses: follow ``meta.next_page_url`` safely.

:func:`walk_pages` yields typed pages; :func:`walk_items` flattens them. Both are async
generators over a ``fetch`` callable supplied by the resource, which fetches the first
page (``fetch(None)``) or follows an absolute page URL (``fetch(url)``). The client
checks each page URL's origin before any credential is sent (see
:meth:`ProxyClient.request`); this package guards the walk itself:

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
  its 429 restarts, see :mod:`proxy_async.bulk_export.walk`). The error names the list path and
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

Modules: :mod:`~proxy_async.pagination.walk` (the walk and its steps),
:mod:`~proxy_async.pagination.seen` (:class:`SeenRecords`, rule 3) and
:mod:`~proxy_async.pagination.urls` (``PageToken`` and list paths).
"""

from .seen import DEFAULT_MAX_SEEN_SIDS, LOOP_SIDS_SHOWN, SeenRecords
from .urls import page_token
from .walk import DEFAULT_MAX_EMPTY_PAGES, PageFetch, walk_items, walk_pages

__all__ = [
    "DEFAULT_MAX_EMPTY_PAGES",
    "DEFAULT_MAX_SEEN_SIDS",
    "LOOP_SIDS_SHOWN",
    "PageFetch",
    "SeenRecords",
    "page_token",
    "walk_items",
    "walk_pages",
]
