"""When a failed attempt is retried, how long to wait, and when to give up.

What is retried:

* GET and DELETE (idempotent): HTTP 429, 500, 502, 503, 504, connection errors, resets
  and timeouts.
* POST (create a Message Interaction) is **at most once**. It is retried only on 429
  (Twilio documents that a 429 was not processed) and when the request provably never
  left the client (connection refused, DNS failure, connect/pool timeout). A 5xx, a
  reset or a timeout after the body was sent becomes :class:`OutcomeUnknownError`:
  the message may have gone out, and a retry could send it twice.
* A DELETE that answers 404 after an earlier attempt may have gone through counts as
  done: the earlier attempt deleted it.

Never retried: other 4xx (the request is wrong and will stay wrong), invalid 2xx
bodies (resending would not fix the server), a TLS certificate that fails
verification or a forward proxy that refuses (only new settings fix those), and
anything after the deadline.

Waiting: exponential backoff with full jitter, ``uniform(0, min(max_backoff,
initial_backoff * 2**(n-1)))``, so many clients retrying at once spread out. When the
server sends ``Retry-After`` (seconds or an HTTP date) it is honoured, capped at
``max_retry_after``. No attempt starts after ``deadline`` seconds from the first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TypeVar

import attrs

from ..errors import (
    ApiError,
    InvalidParameterError,
    NotFoundError,
    OutcomeUnknownError,
    ProxyError,
    RateLimitError,
    TransportError,
)

logger = logging.getLogger("proxy_async")

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses an idempotent request retries on."""


def _non_negative(name: str) -> Callable[[object, attrs.Attribute[float], float], None]:
    def check(_: object, __: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidParameterError(name, "a number >= 0", value)

    return check


def _check_retries(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError("retries", "an integer >= 0", value)


def _check_deadline(_: object, __: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
    ):
        raise InvalidParameterError("deadline", "None or a number of seconds > 0", value)


@attrs.frozen
class RetryPolicy:
    """How failed attempts are retried. ``RetryPolicy(retries=0)`` turns retrying off.

    ``retries``: extra attempts after the first (4 means up to 5 attempts).
    ``initial_backoff`` / ``max_backoff``: the full-jitter backoff window, seconds.
    ``max_retry_after``: the longest server-requested wait honoured; longer hints are capped.
    ``deadline``: seconds from the first attempt after which no new attempt starts.
    """

    retries: int = attrs.field(default=4, validator=_check_retries)
    initial_backoff: float = attrs.field(default=0.5, validator=_non_negative("initial_backoff"))
    max_backoff: float = attrs.field(default=20.0, validator=_non_negative("max_backoff"))
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative("max_retry_after"))
    deadline: float | None = attrs.field(default=120.0, validator=_check_deadline)  # type: ignore[arg-type]

    def backoff(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (retry_number - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        current = time.time() if now is None else now
        seconds = when.timestamp() - current
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or inf
        return None
    return max(0.0, seconds)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` hint of a response, in seconds, if any."""
    return parse_retry_after(headers.get("Retry-After"))


def _is_retryable(error: ProxyError, method: str) -> bool:
    if isinstance(error, TransportError) and not error.retryable:
        return False  # an untrusted certificate, a proxy that refuses: the same again
    if isinstance(error, RateLimitError):
        return True  # Twilio: a 429 was not processed, so even a POST may retry
    if method == "POST":
        return isinstance(error, TransportError) and not error.request_sent
    if isinstance(error, ApiError):
        return error.status in RETRYABLE_STATUSES
    return isinstance(error, TransportError)


def _may_have_applied(error: ProxyError) -> bool:
    """Whether the failed attempt might still have changed state on the server."""
    if isinstance(error, TransportError):
        return error.request_sent
    return isinstance(error, ApiError) and error.status >= 500


async def call_with_retries(
    attempt: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    *,
    method: str,
    path: str,
    on_delete_gone: Callable[[], T] | None = None,
) -> T:
    """Run ``attempt(n)`` for n = 1, 2, ... until it succeeds or the policy gives up.

    ``on_delete_gone`` (DELETE only) supplies the result when a retry answers 404 after
    an earlier attempt may have deleted the resource. The error raised at the end is
    the last attempt's, with ``attempts`` set to how many were made.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    maybe_applied = False
    number = 1
    while True:
        try:
            return await attempt(number)
        except ProxyError as error:
            if on_delete_gone is not None and maybe_applied and isinstance(error, NotFoundError):
                logger.info(
                    "%s %s: 404 after an earlier attempt may have succeeded; done", method, path
                )
                return on_delete_gone()
            maybe_applied = maybe_applied or _may_have_applied(error)
            _set_attempts(error, number)
            if method == "POST" and not _is_retryable(error, method) and _may_have_applied(error):
                raise OutcomeUnknownError(
                    error, method=method, path=path, attempts=number
                ) from error
            if not _is_retryable(error, method) or number > policy.retries:
                raise
            delay = policy.backoff(number, getattr(error, "retry_after", None))
            if policy.deadline is not None and loop.time() + delay - started > policy.deadline:
                logger.warning(
                    "%s %s: giving up after %d attempts, retry deadline %.1f s",
                    method,
                    path,
                    number,
                    policy.deadline,
                )
                raise
            logger.info(
                "%s %s: attempt %d failed (%s); retrying in %.2f s",
                method,
                path,
                number,
                _brief(error),
                delay,
            )
            await asyncio.sleep(delay)
            number += 1


def _set_attempts(error: ProxyError, attempts: int) -> None:
    if hasattr(error, "attempts"):
        error.attempts = attempts


def _brief(error: ProxyError) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status}"
    return type(error).__name__
