"""What is seen of each attempt: the :class:`AttemptEvent` hooks get, and the log line.

Neither holds a header or a credential: an attempt is its method, path, number,
status or error, and how long it took.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable

import attrs

from ..transports.base import Request

logger = logging.getLogger("proxy_async")


@attrs.frozen
class AttemptEvent:
    """What hooks and logs see of one attempt. Holds no header and no credential."""

    method: str
    path: str
    attempt: int
    status: int | None = None
    elapsed: float | None = None
    error: BaseException | None = None


Hook = Callable[[AttemptEvent], Awaitable[None] | None]
"""A request/response hook: a function or coroutine function taking an AttemptEvent."""


async def report_attempt(
    on_response: Hook | None,
    request: Request,
    number: int,
    started: float,
    status: int | None,
    error: BaseException | None,
) -> None:
    """Log attempt ``number`` of ``request`` (begun at ``started``, a ``perf_counter``
    reading) and call ``on_response`` with its event (built only for the hook).

    A 2xx or 3xx logs at DEBUG, anything else at INFO, with the method, path, outcome,
    attempt and milliseconds in the message and as ``extra`` fields.
    """
    elapsed = time.perf_counter() - started
    succeeded = error is None and status is not None and status < 400
    level = logging.DEBUG if succeeded else logging.INFO
    if logger.isEnabledFor(level):
        outcome = str(status) if status is not None else type(error).__name__
        method, path = request.method, request.path
        logger.log(
            level,
            "%s %s -> %s (attempt %d, %.1f ms)",
            method,
            path,
            outcome,
            number,
            elapsed * 1000,
            extra={
                "http_method": method,
                "http_path": path,
                "http_status": status,
                "attempt": number,
                "elapsed": elapsed,
            },
        )
    if on_response is not None:
        event = AttemptEvent(request.method, request.path, number, status, elapsed, error)
        await call_hook(on_response, event)


async def call_hook(hook: Hook, event: AttemptEvent) -> None:
    result = hook(event)
    if inspect.isawaitable(result):
        await result
