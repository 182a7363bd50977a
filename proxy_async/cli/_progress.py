"""Live export progress for the command line, drawn with rich; plain timestamped lines
when stderr is not a terminal.

Records and sessions come from :func:`proxy_async.bulk_export.run.export`'s ``progress``
callback; retries and 429s from the client's ``on_response`` hook, which sees every
attempt (``attempt > 1`` is a retry); bytes written from a caller's function, polled
at each redraw. What is shown is sampled and worded in :mod:`._progress_facts`; the
``-v`` request log that prints above the display is :mod:`._request_log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..bulk_export.events import ExportProgress
from ..client.attempts import AttemptEvent
from ..validation import check_number
from ._progress_facts import ProgressFacts, ProgressSampler, duration, settled

T = TypeVar("T")

TTY_INTERVAL = 0.2
"""Seconds between redraws of the live display on a terminal."""

PLAIN_INTERVAL = 5.0
"""Seconds between progress lines when stderr is a file or a pipe (cron, CI logs)."""

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
"""ISO 8601 local time to the second: the prefix of plain progress and log lines."""

_BAR_WIDTH = 30

MIN_CONSOLE_WIDTH = 60
"""Columns a log line needs beside its time and level columns (see :func:`console_for`)."""


def console_for(stream: TextIO, *, tty: bool | None = None) -> Console:
    """A rich Console writing to ``stream``; a terminal one when ``tty`` (default:
    ``stream.isatty()``). Syntax highlighting is off: numbers in messages keep the
    style the caller gives them. Use it for tables too, so they share the width.

    Never narrower than :data:`MIN_CONSOLE_WIDTH`: rich drops what does not fit, so a
    terminal reporting 0 columns (``COLUMNS=0``, a pty never sized) showed no start
    line, no progress and no ``-v`` line at all; a narrow one now wraps them instead."""
    terminal = isatty(stream) if tty is None else tty
    console = Console(file=stream, force_terminal=terminal, highlight=False)
    console.width = max(console.width, MIN_CONSOLE_WIDTH)
    return console


class ProgressDisplay:
    """Renders an export's progress on ``stream`` while the export runs.

    On a terminal (``tty``, default ``stream.isatty()``): a rich live display of two
    lines, redrawn every ``interval`` seconds (default :data:`TTY_INTERVAL`): a bar
    and sessions settled of total, ETA and elapsed time; then records, records/s,
    bytes written, retries, 429s, and failed/missing sessions when there are any.
    Elsewhere: the same facts as one plain line every ``interval`` seconds (default
    :data:`PLAIN_INTERVAL`), starting with a local ISO 8601 timestamp, no escape code.

    While the listing runs the total is what it found so far, and no ETA is shown
    (see :class:`~._progress_facts.ProgressSampler`).

    ``bytes_written`` is called at each redraw; it returns the output's size in bytes
    or None (not known yet); an ``OSError`` it raises counts as None, so a vanished
    file never stops an export. ``clock`` gives monotonic seconds (tests inject one).
    ``enabled=False`` draws nothing but still counts attempts for the summary:
    ``requests``, ``retries`` and ``rate_limited`` (429s).

    Raises InvalidParameterError (a ValueError) if ``interval`` is not a finite
    number > 0 (seconds).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        interval: float | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        bytes_written: Callable[[], int | None] | None = None,
    ) -> None:
        if interval is not None:
            interval = check_number(interval, "interval")
        self._stream = stream
        self.tty = isatty(stream) if tty is None else tty
        self.interval = float(
            interval if interval is not None else (TTY_INTERVAL if self.tty else PLAIN_INTERVAL)
        )
        self.enabled = enabled
        self.console = console_for(stream, tty=self.tty)
        self._bytes_written = bytes_written
        self._sampler = ProgressSampler(clock)
        self._latest: ExportProgress | None = None
        self._live: Live | None = None
        self._drawn = False
        self._closed = False
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0

    async def follow(self, work: Awaitable[T]) -> T:
        """Await ``work`` while redrawing; draw the final state however it ends."""
        ticker = asyncio.ensure_future(self.run())
        try:
            return await work
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.close()

    def print(self, message: str) -> None:
        """Say one line (a start line, a notice) on the display's stream, above the live
        display on a terminal. Nothing when disabled (``--quiet``)."""
        if not self.enabled:
            return
        if self.tty:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            self._stream.write(message + "\n")
            self._stream.flush()

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
        """The current state as one plain line, without the timestamp."""
        return " | ".join(self._facts().plain())

    def renderable(self) -> RenderableType:
        """The current state as the live display's rich renderable."""
        return _live_view(self._facts())

    def draw(self) -> None:
        """Show the current state now: redraw the live display on a terminal, write a
        timestamped line elsewhere. Does nothing when disabled or closed, or before the
        export's first progress (so nothing precedes the command's start line)."""
        if not self.enabled or self._closed or self._latest is None:
            return
        if self.tty:
            self._started_live().update(self.renderable(), refresh=True)
        else:
            stamp = datetime.datetime.now().strftime(TIMESTAMP_FORMAT)
            self._stream.write(f"{stamp} {self.line()}\n")
            self._stream.flush()
        self._drawn = True

    async def run(self) -> None:
        """Draw every ``interval`` seconds until cancelled (on a terminal, at once too)."""
        if self.tty:
            self.draw()
        while True:
            await asyncio.sleep(self.interval)
            self.draw()

    def close(self) -> None:
        """Draw the final state and leave the terminal clean (cursor shown, line ended).
        Idempotent. Nothing is written for an export that never started (a refusal)."""
        if not self.enabled or self._closed:
            return
        if self._latest is None:
            pass  # no progress ever came: nothing to show, no live display to start
        elif self.tty:
            live = self._started_live()
            live.update(self.renderable())  # stop() draws it, once
            live.stop()
            self._live = None
        else:
            self.draw()
        self._closed = True

    def _started_live(self) -> Live:
        """The live display on the console, started on first use."""
        if self._live is None:
            self._live = Live(
                console=self.console,
                auto_refresh=False,  # run() paces redraws: no thread of rich's own
                # The export may write records to stdout ('-'): never capture it.
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self._live

    def _facts(self) -> ProgressFacts:
        """Sample the rates and gather what a redraw shows."""
        return self._sampler.sample(
            self._latest,
            bytes_written=self._poll_bytes(),
            retries=self.retries,
            rate_limited=self.rate_limited,
        )

    def _poll_bytes(self) -> int | None:
        if self._bytes_written is None:
            return None
        try:
            return self._bytes_written()
        except OSError:
            return None


def _live_view(facts: ProgressFacts) -> RenderableType:
    """Three lines, each under 80 columns for exports of up to billions of records:
    a bar with its share, the ETA and elapsed time; the sessions; the other facts.
    A line too long for the terminal ends in an ellipsis, never wraps."""
    latest = facts.latest
    timing = [f"elapsed {duration(facts.elapsed)}"]
    if facts.eta is not None:
        timing.insert(0, f"ETA {duration(facts.eta)}")
    if latest is None or not latest.listing_done or latest.sessions_total == 0:
        # The total is not known yet: rich's bar pulses instead of filling.
        bar = ProgressBar(total=None, width=_BAR_WIDTH, animation_time=facts.now)
    else:
        done = settled(latest)
        bar = ProgressBar(total=latest.sessions_total, completed=done, width=_BAR_WIDTH)
        timing.insert(0, f"{done / latest.sessions_total:.0%}")
    top = Table.grid(padding=(0, 1))
    top.add_row(bar, _line("  ".join(timing), style="cyan"))
    sessions = _line(facts.sessions(), style="bold")
    if latest is not None:
        sessions.highlight_words([f"{latest.sessions_failed:,} failed"], "red")
        sessions.highlight_words([f"{latest.sessions_missing:,} missing"], "yellow")
    details = _line(" · ".join(facts.details()))
    if facts.rate_limited or facts.retries:
        details.highlight_words(
            [f"retries {facts.retries:,}", f"429s {facts.rate_limited:,}"], "yellow"
        )
    return Group(top, sessions, details)


def _line(text: str, *, style: str = "") -> Text:
    """A line of the live display: cut with an ellipsis rather than wrapped."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def isatty(stream: TextIO) -> bool:
    """``stream.isatty()``; False for a stream without one, or closed."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
