"""``-v``: the ``proxy_async`` logger's records on stderr, above the progress display.

The client logs each request attempt (``ProxyClient._report``); this module only
decides where those lines go and how they look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TextIO

from rich.logging import RichHandler

from ._progress import TIMESTAMP_FORMAT, ProgressDisplay, console_for, isatty

_LOGGER = "proxy_async"


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
    handler = _handler(level, display, stream)
    logger = logging.getLogger(_LOGGER)
    previous = logger.level
    if previous == logging.NOTSET or previous > level:
        logger.setLevel(level)
    logger.addHandler(handler)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


def _handler(level: int, display: ProgressDisplay | None, stream: TextIO) -> logging.Handler:
    """A RichHandler on the display's console on a terminal, else timestamped lines."""
    tty = display.tty if display is not None else isatty(stream)
    if tty:
        console = display.console if display is not None else console_for(stream, tty=True)
        return RichHandler(
            level,
            console=console,
            show_path=False,
            markup=False,
            rich_tracebacks=False,
            log_time_format="[%H:%M:%S]",  # the date is noise beside a live display
        )
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt=TIMESTAMP_FORMAT)
    )
    return handler
