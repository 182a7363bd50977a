"""The retry settings: :class:`RetryPolicy`, one frozen value a client is built with.

Which failures are retried is decided by :mod:`~proxy_async.retry.rules`, how long to
wait by :mod:`~proxy_async.retry.backoff`; the policy holds the numbers both use, and
:func:`~proxy_async.retry.loop.call_with_retries` applies them.
"""

from __future__ import annotations

import random
from typing import Any, cast

import attrs

from ..errors import InvalidParameterError
from ..validation import check_int, check_number, is_finite_number
from .backoff import Jitter, retry_delay


def _seconds(parameter: str, default: float) -> Any:
    """An attrs field holding a finite number of seconds >= 0, made a float as it is set."""
    return attrs.field(
        default=default,
        converter=lambda value: check_number(value, parameter, inclusive=True),
    )


def _check_retries(value: object) -> int:
    return check_int(value, "retries", 0)


def _check_deadline(value: object) -> float | None:
    if value is None:
        return None
    if not is_finite_number(value) or value <= 0:
        raise InvalidParameterError("deadline", "None or a finite number of seconds > 0", value)
    return float(value)


def _check_jitter(value: object) -> Jitter:
    if not callable(value):
        raise InvalidParameterError("jitter", "a function (low, high) -> seconds", value)
    return cast(Jitter, value)


@attrs.frozen
class RetryPolicy:
    """How failed attempts are retried. ``RetryPolicy(retries=0)`` turns retrying off.

    ``retries``: extra attempts after the first (4 means up to 5 attempts).
    ``initial_backoff`` / ``max_backoff``: the full-jitter backoff window, seconds.
    ``max_retry_after``: the longest server-requested wait honoured; longer hints are capped.
    ``deadline``: seconds from the first attempt after which no new attempt starts.
    ``jitter`` (keyword only): draws a wait from ``(low, high)`` seconds, by default
    ``random.uniform``; a test passes e.g. ``lambda low, high: high`` to fix it.

    Every number must be finite (``deadline`` may be None: no deadline); anything else
    raises :class:`InvalidParameterError` naming the field.
    """

    retries: int = attrs.field(default=4, converter=_check_retries)
    initial_backoff: float = _seconds("initial_backoff", 0.5)
    max_backoff: float = _seconds("max_backoff", 20.0)
    max_retry_after: float = _seconds("max_retry_after", 60.0)
    deadline: float | None = attrs.field(default=120.0, converter=_check_deadline)
    jitter: Jitter = attrs.field(
        default=random.uniform, kw_only=True, repr=False, converter=_check_jitter
    )

    def backoff(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), given the server's
        ``retry_after`` hint in seconds (None: none); see
        :func:`~proxy_async.retry.backoff.retry_delay`."""
        return retry_delay(
            retry_number,
            retry_after,
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            max_retry_after=self.max_retry_after,
            jitter=self.jitter,
        )
