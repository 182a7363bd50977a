"""A compact set of SIDs, for the listings that must never add a session twice.

Shared by the export state (:mod:`proxy_async.bulk_export.state`) and the workers'
manifest (:mod:`proxy_async.workers.manifest`): both keep their sessions in SQLite
without an index on the SID (see :meth:`ExportState.add_sessions
<proxy_async.bulk_export.state.ExportState.add_sessions>` for why), and ask this set
first.
"""

from __future__ import annotations

import bisect
import heapq
from array import array
from collections.abc import Callable, Iterable


class KnownSids:
    """A set of SIDs in 8 bytes each: 64-bit fingerprints, in a few sorted runs.

    :meth:`has` may answer True for a SID never added (when two SIDs share a 64-bit
    hash: at a million sessions, a chance of about 3 in 10^8 that any pair does), never
    False for one that was; the caller confirms a True against the database. New
    fingerprints collect in
    a small set and are sorted into a run of their own; runs of similar size are merged
    (as an LSM tree does), so there are O(log n) runs and each lookup is a bisection per run.
    """

    _PENDING = 4096
    _LOAD_CHUNK = 1 << 16

    def __init__(self) -> None:
        self._runs: list[array[int]] = []
        self._pending: set[int] = set()

    def has(self, sid: str) -> bool:
        """Whether ``sid`` may have been added (see the class docstring)."""
        key = _fingerprint(sid)
        return key in self._pending or any(_contains(run, key) for run in self._runs)

    def admit(self, sid: str, stored: Callable[[str], bool]) -> bool:
        """Remember ``sid`` and say True if it is new; a possible repeat is confirmed
        with ``stored(sid)``, the exact (and slow) check."""
        if self.has(sid) and stored(sid):
            return False
        self.add(sid)
        return True

    def add(self, sid: str) -> None:
        """Remember ``sid``."""
        self._pending.add(_fingerprint(sid))
        if len(self._pending) >= self._PENDING:
            self._flush()

    def load(self, sids: Iterable[str]) -> None:
        """Remember every SID of ``sids`` (a resumed listing's), sorted in chunks of
        :data:`_LOAD_CHUNK` so that memory stays bounded."""
        chunk: list[int] = []
        for sid in sids:
            chunk.append(_fingerprint(sid))
            if len(chunk) >= self._LOAD_CHUNK:
                self._add_run(array("Q", sorted(chunk)))
                chunk.clear()
        self._add_run(array("Q", sorted(chunk)))

    def _flush(self) -> None:
        self._add_run(array("Q", sorted(self._pending)))
        self._pending.clear()

    def _add_run(self, run: array[int]) -> None:
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = _merged(self._runs.pop(), run)
        self._runs.append(run)


def _fingerprint(sid: str) -> int:
    # Python's string hash (SipHash, 64 bits) spreads any SIDs evenly, random or not; it
    # changes between processes, which is fine for a set each process rebuilds.
    return hash(sid) & _UINT64


_UINT64 = (1 << 64) - 1


def _contains(run: array[int], key: int) -> bool:
    index = bisect.bisect_left(run, key)
    return index < len(run) and run[index] == key


def _merged(first: array[int], second: array[int]) -> array[int]:
    merged = array("Q")
    merged.extend(heapq.merge(first, second))  # streamed: no list of a million ints
    return merged
