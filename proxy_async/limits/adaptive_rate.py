"""A request *rate* learned from the server's 429s: :class:`AdaptiveRateLimiter`.

:class:`~proxy_async.limits.adaptive.AdaptiveLimiter` learns how many requests may be in
flight. That cannot help when the server counts requests per second: with 1 ms of
latency even one request in flight at a time is 1000 requests/s. This module adapts
the rate instead, from three small parts, an arrangement borrowed from the "adaptive"
retry mode of botocore (which aiobotocore reuses): a rate calculator, a token bucket
and a throttling detector. Ideas only; the arithmetic here is AIMD, not botocore's CUBIC:

* :class:`~proxy_async.limits.rate_control.RateControl`: the arithmetic. Numbers in,
  numbers out; no asyncio, no clock.
* :class:`~proxy_async.limits.pacer.Pacer`: spaces admissions at a rate that may change
  at any moment (GCRA).
* :class:`AdaptiveRateLimiter`: the :class:`~proxy_async.limits.base.Limiter` that ties
  them together, detects throttling (status 429) and measures its admission rate.

Every time in this module is in seconds, every rate in requests per second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping

from .base import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    Tickets,
    check_max_concurrency,
    check_optional_rate,
    wait_or_undo,
)
from .pacer import Clock, Pacer
from .rate_control import RateControl

logger = logging.getLogger("proxy_async")

MEASURE_WINDOW = 1.0
"""Seconds of admissions behind the measured rate: what a per-second limit counts (the
fake server's is a sliding second; Twilio documents an average over 5 s, which a
one-second measure judges more strictly)."""

# The monotonic instant each attempt was admitted, for its observe(): a 429 of a request
# admitted before the last cut was sent before that cut could act.
_TICKETS: Tickets[float] = Tickets("proxy_async_adaptive_rate_ticket")


class AdaptiveRateLimiter:
    """A :class:`~proxy_async.limits.base.Limiter` whose request rate adapts to 429s.

    Each attempt takes an in-flight slot (``max_concurrency``, also the connection
    pool's size), then waits for its turn in a :class:`Pacer` running at ``rate``. A
    :class:`RateControl` moves the rate: a 429 cuts it (once per burst) from the rate
    measured over the last second, healthy answers (other 2xx-4xx) probe it upward
    after ``cooldown``, never above ``requests_per_second`` (None: no ceiling, and an
    unlimited start). 5xx and attempts without an answer are neutral.

    A cut also fills the pacer with the admissions of the last second, as if they had
    been sent at the new rate: a server counting requests per second has no room left
    right after refusing one, and a burst sent into it would only cut again.
    """

    def __init__(
        self,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND,
        initial_rate: float | None = None,
        min_rate: float | None = None,
        backoff: float = 0.5,
        increase: float = 0.1,
        cooldown: float = 1.0,
        burst: float | None = None,
    ) -> None:
        self._max_concurrency = check_max_concurrency(max_concurrency)
        self._control = RateControl(
            ceiling=check_optional_rate("requests_per_second", requests_per_second),
            initial_rate=initial_rate,
            min_rate=min_rate,
            backoff=backoff,
            increase=increase,
            cooldown=cooldown,
        )
        self._clock: Clock = time.monotonic
        self._pacer = Pacer(self._control.rate, burst=burst, clock=self._clock)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight = 0
        self._admissions: deque[float] = deque()
        self._throttled = 0

    # -- Limiter ------------------------------------------------------------------------

    @property
    def max_concurrency(self) -> int:
        """The in-flight cap (the connection pool's size)."""
        return self._max_concurrency

    async def acquire(self) -> None:
        """Take an in-flight slot, then wait for the pacer; on cancellation hold neither."""
        await self._slots.acquire()
        await wait_or_undo(self._pacer.acquire(), self._slots.release)
        self._in_flight += 1
        now = self._clock()
        self._admissions.append(now)
        _TICKETS.issue(self, now)

    def release(self) -> None:
        """Free the in-flight slot."""
        self._in_flight -= 1
        self._slots.release()

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """429: cut the rate (once per burst); other 2xx-4xx: probe; else nothing."""
        admitted = _TICKETS.take(self)
        if status is None or not 200 <= status < 500:
            return
        if status == 429:
            self._throttle(admitted)
        else:
            before = self._control.rate
            rate = self._control.on_success(self._clock(), self.measured_rate())
            if rate != before:
                self._pacer.set_rate(rate)

    # -- state --------------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """The current rate in requests/s (None: unlimited)."""
        return self._control.rate

    @property
    def ceiling(self) -> float | None:
        """``requests_per_second``: the rate never rises above it (None: no ceiling)."""
        return self._control.ceiling

    @property
    def min_rate(self) -> float:
        """The floor of every cut, in requests/s."""
        return self._control.min_rate

    @property
    def throttled(self) -> int:
        """429 answers observed so far."""
        return self._throttled

    @property
    def cuts(self) -> int:
        """How many times a 429 cut the rate."""
        return self._control.cuts

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet released."""
        return self._in_flight

    def measured_rate(self) -> float:
        """Admissions over the last :data:`MEASURE_WINDOW` seconds, per second."""
        return self._recent(self._clock()) / MEASURE_WINDOW

    def __repr__(self) -> str:
        return (
            f"AdaptiveRateLimiter(rate={_shown(self.rate)}, ceiling={self.ceiling}, "
            f"min_rate={self.min_rate}, max_concurrency={self._max_concurrency}, "
            f"in_flight={self._in_flight}, throttled={self._throttled}, cuts={self.cuts})"
        )

    # -- internals ----------------------------------------------------------------------

    def _recent(self, now: float) -> int:
        """Admissions within the last :data:`MEASURE_WINDOW` seconds."""
        admissions = self._admissions
        while admissions and admissions[0] <= now - MEASURE_WINDOW:
            admissions.popleft()
        return len(admissions)

    def _throttle(self, admitted: float | None) -> None:
        self._throttled += 1
        now = self._clock()
        recent = self._recent(now)
        before = self._control.rate
        cuts = self._control.cuts
        rate = self._control.on_throttle(now, recent / MEASURE_WINDOW, admitted=admitted)
        if self._control.cuts == cuts:
            return
        self._pacer.set_rate(rate)
        self._pacer.fill(recent)
        logger.debug(
            "adaptive rate limiter: 429, rate %s -> %s requests/s (%d admitted in the last %g s)",
            _shown(before),
            _shown(rate),
            recent,
            MEASURE_WINDOW,
        )


def _shown(rate: float | None) -> str:
    return "unlimited" if rate is None else f"{rate:.3g}"
