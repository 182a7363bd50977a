"""The record SIDs of a walk, for rule 3 of :mod:`proxy_async.pagination` and for exports.

:class:`SeenRecords` remembers the SIDs of the last pages of a walk; a page all of whose
SIDs were seen is a loop (:class:`PaginationLoopError`), a page repeating some of them
reports their positions (an export leaves those records out).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any

from ..errors import PaginationLoopError
from ..models.raw_records import DecodedRecords, RawRecords
from .urls import list_path, short_url

LOOP_SIDS_SHOWN = 5
"""Repeated record SIDs named in a :class:`PaginationLoopError` message (all are in ``sids``)."""

DEFAULT_MAX_SEEN_SIDS = 100_000
"""Record SIDs a walk remembers for rule 3: about 13 MiB (133 bytes a SID with the set,
measured). 250,000 (issue 11) took a 1,000,000-record stream's RSS growth past the
50 MiB it must stay under (issue 12); a cycle of 100,000 records with fresh page
tokens is still caught."""


class SeenRecords:
    """The record SIDs of one walk, remembered for rule 3 of :mod:`proxy_async.pagination`.

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
        f"every record on the page {short_url(url)!r} was already on an earlier page of"
        f" this walk ({shown}{more})",
        path=list_path(path, url),
        sids=sids,
    )
