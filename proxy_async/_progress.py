"""Live export progress for the command line: one redrawn line on a TTY, plain lines otherwise.

Records and sessions come from :func:`proxy_async.export.export`'s ``progress``
callback; retries and 429s from the client's ``on_response`` hook, which sees every
attempt (``attempt > 1`` is a retry).
"""

from __future__ import annotations

import asyncio
import collections
import shutil
import time
from collections.abc import Callable
from typing import TextIO

from .client import AttemptEvent
from .export import ExportProgress

TTY_INTERVAL = 0.2
"""Seconds between redraws of the progress line on a terminal."""

PLAIN_INTERVAL = 5.0
"""Seconds between progress lines when stderr is a file or a pipe (cron, CI logs)."""

_RATE_WINDOW = 5.0


class ProgressDisplay:
    """Renders an export's progress on ``stream`` while the export runs.

    ``tty`` (default: ``stream.isatty()``) chooses between redrawing one line in
    place and writing a plain line every ``interval`` seconds. ``enabled=False``
    draws nothing but still counts attempts for the summary.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        interval: float | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.tty = _isatty(stream) if tty is None else tty
        self.interval = (
            interval if interval is not None else (TTY_INTERVAL if self.tty else PLAIN_INTERVAL)
        )
        self.enabled = enabled
        self._clock = clock
        self._started = clock()
        self._latest: ExportProgress | None = None
        self._samples: collections.deque[tuple[float, int]] = collections.deque(
            [(self._started, 0)]
        )
        self._drawn = False
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0

    def on_response(self, event: AttemptEvent) -> None:
        """Client ``on_response`` hook: count requests, retries and 429s."""
        self.requests += 1
        if event.attempt > 1:
            self.retries += 1
        if event.status == 429:
            self.rate_limited += 1

    def update(self, progress: ExportProgress) -> None:
        """Export ``progress`` callback: remember the latest snapshot."""
        self._latest = progress

    def line(self) -> str:
        """The current progress line."""
        now = self._clock()
        elapsed = _clock_text(now - self._started)
        latest = self._latest
        counts = f"retries {self.retries} | 429s {self.rate_limited}"
        if latest is None:
            return f"[{elapsed}] listing sessions... | {counts}"
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
            sessions = f"sessions {done:,}/{total:,} done{extra}"
        else:  # the total is what the listing found so far
            sessions = f"sessions {done:,} done{extra} of {total:,} listed so far"
        return (
            f"[{elapsed}] {sessions}"
            f" | records {latest.records:,}"
            f" | {self._rate(now, latest.records_this_run):,.0f} rec/s"
            f" | {counts}"
        )

    def draw(self) -> None:
        """Write the progress line now (redrawn in place on a TTY)."""
        if not self.enabled:
            return
        text = self.line()
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self._stream.write("\r" + text[:width] + "\x1b[K")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
        self._drawn = True

    async def run(self) -> None:
        """Draw every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            self.draw()

    def close(self) -> None:
        """Draw the final state and end the line (on a TTY)."""
        if not self.enabled:
            return
        if self.tty or self._drawn or self._latest is not None:
            self.draw()
        if self.tty and self._drawn:
            self._stream.write("\n")
            self._stream.flush()

    def _rate(self, now: float, records: int) -> float:
        """Records per second over the last few seconds (so it falls when things stall)."""
        samples = self._samples
        samples.append((now, records))
        while len(samples) > 2 and samples[1][0] <= now - _RATE_WINDOW:
            samples.popleft()
        then, before = samples[0]
        if now - then <= 0:
            return 0.0
        return (records - before) / (now - then)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
