"""Live export progress for the command line, drawn with rich; plain timestamped lines
when stderr is not a terminal; request logging that prints above the live display.

Records and sessions come from :func:`proxy_async.bulk_export.engine.export`'s ``progress``
callback; retries and 429s from the client's ``on_response`` hook, which sees every
attempt (``attempt > 1`` is a retry); bytes written from a caller's function, polled
at each redraw.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

import attrs
from rich.console import Console, Group, RenderableType
from rich.filesize import decimal
from rich.live import Live
from rich.logging import RichHandler
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..bulk_export.events import ExportProgress
from ..client.proxy_client import AttemptEvent
from ..errors import InvalidParameterError

T = TypeVar("T")

TTY_INTERVAL = 0.2
"""Seconds between redraws of the live display on a terminal."""

PLAIN_INTERVAL = 5.0
"""Seconds between progress lines when stderr is a file or a pipe (cron, CI logs)."""

RATE_WINDOW = 5.0
"""Seconds of history behind records/s, so the rate falls when the export stalls."""

ETA_WINDOW = 60.0
"""Seconds of history behind the sessions/s an ETA is computed from: sessions end in
bursts (one per session's last page), so a longer window than the record rate's."""

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
"""ISO 8601 local time to the second: the prefix of plain progress and log lines."""

_LOGGER = "proxy_async"
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
    terminal = _isatty(stream) if tty is None else tty
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

    While the listing runs (``ExportProgress.listing_done`` False) the total is what
    it found so far, and no ETA is shown. The ETA is the sessions left over the
    sessions/s of the last :data:`ETA_WINDOW` seconds.

    ``bytes_written`` is called at each redraw; it returns the output's size in bytes
    or None (not known yet); an ``OSError`` it raises counts as None, so a vanished
    file never stops an export. ``clock`` gives monotonic seconds (tests inject one).
    ``enabled=False`` draws nothing but still counts attempts for the summary:
    ``requests``, ``retries`` and ``rate_limited`` (429s).

    Raises InvalidParameterError (a ValueError) if ``interval`` is not a finite
    number of seconds > 0.
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
        if interval is not None and (
            isinstance(interval, bool)
            or not isinstance(interval, (int, float))
            or not math.isfinite(interval)
            or interval <= 0
        ):
            raise InvalidParameterError("interval", "a finite number of seconds > 0", interval)
        self._stream = stream
        self.tty = _isatty(stream) if tty is None else tty
        self.interval = float(
            interval if interval is not None else (TTY_INTERVAL if self.tty else PLAIN_INTERVAL)
        )
        self.enabled = enabled
        self.console = console_for(stream, tty=self.tty)
        self._clock = clock
        self._bytes_written = bytes_written
        self._started = clock()
        self._latest: ExportProgress | None = None
        self._records_rate = _Rate(RATE_WINDOW)
        self._records_rate.add(self._started, 0)
        self._sessions_rate = _Rate(ETA_WINDOW)
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
        return self._facts().rich()

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

    def _facts(self) -> _Facts:
        """Sample the rates and gather what a redraw shows."""
        now = self._clock()
        latest = self._latest
        records_rate = self._records_rate.add(now, 0 if latest is None else latest.records_this_run)
        eta = None
        if latest is not None:
            settled = _settled(latest)
            sessions_rate = self._sessions_rate.add(now, settled)
            left = latest.sessions_total - settled
            if latest.listing_done and left > 0 and sessions_rate > 0:
                eta = left / sessions_rate
        return _Facts(
            latest=latest,
            elapsed=now - self._started,
            records_rate=records_rate,
            eta=eta,
            bytes_written=self._poll_bytes(),
            retries=self.retries,
            rate_limited=self.rate_limited,
            now=now,
        )

    def _poll_bytes(self) -> int | None:
        if self._bytes_written is None:
            return None
        try:
            return self._bytes_written()
        except OSError:
            return None


@attrs.frozen(kw_only=True)
class _Facts:
    """One redraw's facts, and the two ways of showing them."""

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
            parts.insert(3, f"ETA {_duration(self.eta)}")
        return [*parts, f"elapsed {_duration(self.elapsed)}"]

    def rich(self) -> RenderableType:
        """Three lines, each under 80 columns for exports of up to billions of records:
        a bar with its share, the ETA and elapsed time; the sessions; the other facts.
        A line too long for the terminal ends in an ellipsis, never wraps."""
        latest = self.latest
        timing = [f"elapsed {_duration(self.elapsed)}"]
        if self.eta is not None:
            timing.insert(0, f"ETA {_duration(self.eta)}")
        if latest is None or not latest.listing_done or latest.sessions_total == 0:
            # The total is not known yet: rich's bar pulses instead of filling.
            bar = ProgressBar(total=None, width=_BAR_WIDTH, animation_time=self.now)
        else:
            settled = _settled(latest)
            bar = ProgressBar(total=latest.sessions_total, completed=settled, width=_BAR_WIDTH)
            timing.insert(0, f"{settled / latest.sessions_total:.0%}")
        top = Table.grid(padding=(0, 1))
        top.add_row(bar, _line("  ".join(timing), style="cyan"))
        sessions = _line(self.sessions(), style="bold")
        if latest is not None:
            sessions.highlight_words([f"{latest.sessions_failed:,} failed"], "red")
            sessions.highlight_words([f"{latest.sessions_missing:,} missing"], "yellow")
        details = _line(" · ".join(self.details()))
        if self.rate_limited or self.retries:
            details.highlight_words(
                [f"retries {self.retries:,}", f"429s {self.rate_limited:,}"], "yellow"
            )
        return Group(top, sessions, details)


def _line(text: str, *, style: str = "") -> Text:
    """A line of the live display: cut with an ellipsis rather than wrapped."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


class _Rate:
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


def configure_request_logging(
    verbosity: int, display: ProgressDisplay | None, stream: TextIO
) -> Callable[[], None]:
    """Send the ``proxy_async`` logger's records to ``stream``; return the undo.

    ``verbosity`` 0 shows warnings and errors; 1 or more (``-v``) also every request
    attempt, as the client logs it: ``GET /v1/Services/KS…/Sessions -> 200 (attempt 1,
    3.2 ms)`` (method, path without query, status or error type, attempt, duration: never
    a header, form or credential; see ``ProxyClient._report``). On a terminal the lines
    go through rich's RichHandler on ``display``'s console, so they print above its live
    display instead of tearing it; elsewhere they are plain lines with the progress
    lines' timestamp. The logger's level is lowered if needed, never raised. The
    returned function removes the handler and restores the level.
    """
    level = logging.DEBUG if verbosity >= 1 else logging.WARNING
    tty = display.tty if display is not None else _isatty(stream)
    handler: logging.Handler
    if tty:
        console = display.console if display is not None else console_for(stream, tty=True)
        handler = RichHandler(
            level,
            console=console,
            show_path=False,
            markup=False,
            rich_tracebacks=False,
            log_time_format="[%H:%M:%S]",  # the date is noise beside a live display
        )
    else:
        handler = logging.StreamHandler(stream)
        handler.setLevel(level)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt=TIMESTAMP_FORMAT)
        )
    logger = logging.getLogger(_LOGGER)
    previous = logger.level
    if previous == logging.NOTSET or previous > level:
        logger.setLevel(level)
    logger.addHandler(handler)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


def _settled(progress: ExportProgress) -> int:
    """Sessions this run has finished with: done, missing (404) or failed (left for
    ``--resume``)."""
    return progress.sessions_done + progress.sessions_missing + progress.sessions_failed


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    """``H:MM:SS`` (``1 day, H:MM:SS`` past a day), whole seconds."""
    return str(datetime.timedelta(seconds=int(seconds)))
