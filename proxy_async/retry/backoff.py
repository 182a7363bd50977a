"""How long to wait before a retry: full-jitter backoff, or the server's ``Retry-After``.

Waiting: exponential backoff with full jitter, ``uniform(0, min(max_backoff,
initial_backoff * 2**(n-1)))`` before retry ``n``, so many clients retrying at once
spread out. When the server sends ``Retry-After`` (seconds or an HTTP date) it is
honoured, capped at ``max_retry_after``.

Everything here is a pure function of its arguments. The one random draw is the
``jitter`` argument (:data:`Jitter`, ``random.uniform`` by default), so a test passes
its own and asserts exact sleep times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from ..errors import InvalidParameterError
from ..validation import is_finite_number

Jitter = Callable[[float, float], float]
"""Draws a number of seconds from ``low`` to ``high``, as ``random.uniform(low, high)``."""

_MAX_EXPONENT = 1023
"""``2.0 ** 1024`` overflows a float; past this the ceiling is ``max_backoff`` anyway."""


def backoff_ceiling(retry_number: int, initial_backoff: float, max_backoff: float) -> float:
    """The longest wait before retry ``retry_number`` (1-based), in seconds:
    ``min(max_backoff, initial_backoff * 2**(retry_number - 1))``."""
    exponent = min(retry_number - 1, _MAX_EXPONENT)
    return min(max_backoff, initial_backoff * 2.0**exponent)


def full_jitter(ceiling: float, jitter: Jitter = random.uniform) -> float:
    """A wait drawn by ``jitter`` from 0 to ``ceiling`` seconds ("full jitter").

    Raises :class:`~proxy_async.errors.InvalidParameterError` naming ``jitter`` when it
    draws anything but a number in that range: NaN or infinity would make the retry
    sleep forever, past any deadline.
    """
    drawn = jitter(0.0, ceiling)
    if not is_finite_number(drawn) or not 0.0 <= drawn <= ceiling:
        raise InvalidParameterError(
            "jitter", f"a function drawing a number of seconds from 0 to {ceiling:g}", drawn
        )
    return float(drawn)


def retry_delay(
    retry_number: int,
    retry_after: float | None,
    *,
    initial_backoff: float,
    max_backoff: float,
    max_retry_after: float,
    jitter: Jitter = random.uniform,
) -> float:
    """Seconds to wait before retry ``retry_number`` (1-based).

    The server's ``retry_after`` (seconds, or None when it sent none) capped at
    ``max_retry_after`` if there is one, else :func:`full_jitter` under
    :func:`backoff_ceiling`.
    """
    if retry_after is not None:
        return min(retry_after, max_retry_after)
    return full_jitter(backoff_ceiling(retry_number, initial_backoff, max_backoff), jitter)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date
    (RFC 9110 section 10.2.3), never negative.

    ``now`` is the current POSIX time (``time.time()`` when None), for an HTTP date.
    None for a missing header, an unreadable one, NaN or an infinity.
    """
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
    if not is_finite_number(seconds):
        return None
    return max(0.0, seconds)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` hint of a response, in seconds, if any."""
    return parse_retry_after(headers.get("Retry-After"))
