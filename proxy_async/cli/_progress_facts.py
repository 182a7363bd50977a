"""What the export's progress display shows, sampled and worded without rich: sessions
settled, records, records/s, ETA, bytes written, retries and 429s.

:class:`ProgressSampler` keeps the rates' history and turns the latest
:class:`~proxy_async.bulk_export.events.ExportProgress` into :class:`ProgressFacts`,
which :mod:`._progress` shows as a plain line or as its live display.
"""

from __future__ import annotations

import collections
import datetime
from collections.abc import Callable

import attrs
from rich.filesize import decimal

from ..bulk_export.events import ExportProgress

RATE_WINDOW = 5.0
"""Seconds of history behind records/s, so the rate falls when the export stalls."""

ETA_WINDOW = 60.0
"""Seconds of history behind the sessions/s an ETA is computed from: sessions end in
bursts (one per session's last page), so a longer window than the record rate's."""


@attrs.frozen(kw_only=True)
class ProgressFacts:
    """One redraw's facts, and their words."""

    latest: ExportProgress | None
    elapsed: float
    records_rate: float
    eta: float | None
    bytes_written: int | None
    retries: int
    rate_limited: int
    now: float

    def sessions(self) -> str:
        """``sessions 4/10 done (1 failed)``, or ``... of 12 listed so far`` while listing."""
        latest = self.latest
        if latest is None:
            return "listing sessions..."
        notes = [
            f"{count:,} {what}"
            for count, what in (
                (latest.sessions_failed, "failed"),
                (latest.sessions_missing, "missing"),
            )
            if count
        ]
        extra = f" ({', '.join(notes)})" if notes else ""
        done, total = latest.sessions_done, latest.sessions_total
        if latest.listing_done:
            return f"sessions {done:,}/{total:,} done{extra}"
        return f"sessions {done:,} done{extra} of {total:,} listed so far"

    def details(self) -> list[str]:
        """Records, rate, bytes, retries and 429s, each a short phrase."""
        records = 0 if self.latest is None else self.latest.records
        parts = [f"records {records:,}", f"{self.records_rate:,.0f} rec/s"]
        if self.bytes_written is not None:
            parts.append(f"{decimal(self.bytes_written)} written")
        parts += [f"retries {self.retries:,}", f"429s {self.rate_limited:,}"]
        return parts

    def plain(self) -> list[str]:
        """The plain line's fields, in order."""
        parts = [self.sessions(), *self.details()]
        if self.eta is not None:
            parts.insert(3, f"ETA {duration(self.eta)}")
        return [*parts, f"elapsed {duration(self.elapsed)}"]


class ProgressSampler:
    """Samples an export's progress against ``clock`` (monotonic seconds): the record
    rate over :data:`RATE_WINDOW`, the ETA from the sessions/s of :data:`ETA_WINDOW`.

    While the listing runs (``ExportProgress.listing_done`` False) the total is what
    it found so far, and no ETA is given. The ETA is the sessions left over the
    sessions/s of the last :data:`ETA_WINDOW` seconds.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._started = clock()
        self._records_rate = WindowRate(RATE_WINDOW)
        self._records_rate.add(self._started, 0)
        self._sessions_rate = WindowRate(ETA_WINDOW)

    def sample(
        self,
        latest: ExportProgress | None,
        *,
        bytes_written: int | None,
        retries: int,
        rate_limited: int,
    ) -> ProgressFacts:
        """Sample the rates now and gather what a redraw shows."""
        now = self._clock()
        records_rate = self._records_rate.add(now, 0 if latest is None else latest.records_this_run)
        eta = None
        if latest is not None:
            done = settled(latest)
            sessions_rate = self._sessions_rate.add(now, done)
            left = latest.sessions_total - done
            if latest.listing_done and left > 0 and sessions_rate > 0:
                eta = left / sessions_rate
        return ProgressFacts(
            latest=latest,
            elapsed=now - self._started,
            records_rate=records_rate,
            eta=eta,
            bytes_written=bytes_written,
            retries=retries,
            rate_limited=rate_limited,
            now=now,
        )


class WindowRate:
    """Count per second over the last ``window`` seconds of samples."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, now: float, count: int) -> float:
        """Record ``count`` at ``now``; the rate since the oldest sample in the window."""
        samples = self._samples
        samples.append((now, count))
        while len(samples) > 2 and samples[1][0] <= now - self._window:
            samples.popleft()
        then, before = samples[0]
        if now - then <= 0:
            return 0.0
        return (count - before) / (now - then)


def settled(progress: ExportProgress) -> int:
    """Sessions this run has finished with: done, missing (404) or failed (left for
    ``--resume``)."""
    return progress.sessions_done + progress.sessions_missing + progress.sessions_failed


def duration(seconds: float) -> str:
    """``H:MM:SS`` (``1 day, H:MM:SS`` past a day), whole seconds."""
    return str(datetime.timedelta(seconds=int(seconds)))
