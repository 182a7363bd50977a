"""A request *rate* learned from the server's 429s: :class:`AdaptiveRateLimiter`.

:class:`~proxy_async.limits.adaptive.AdaptiveLimiter` learns how many requests may be in
flight. That cannot help when the server counts requests per second: with 1 ms of
latency even one request in flight at a time is 1000 requests/s. This module adapts
the rate instead, from three small parts, an arrangement borrowed from the "adaptive"
retry mode of botocore (which aiobotocore reuses): a rate calculator, a token bucket
and a throttling detector. Ideas only; the arithmetic here is AIMD, not botocore's CUBIC:

* :class:`RateControl`: the arithmetic. Numbers in, numbers out; no asyncio, no clock.
* :class:`Pacer`: spaces admissions at a rate that may change at any moment (GCRA).
* :class:`AdaptiveRateLimiter`: the :class:`~proxy_async.limits.adaptive.Limiter` that ties
  them together, detects throttling (status 429) and measures its admission rate.

Every time in this module is in seconds, every rate in requests per second.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple, TypeGuard

from ..errors import InvalidParameterError
from ..validation import is_finite_number
from .adaptive import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    check_max_concurrency,
    check_requests_per_second,
)

logger = logging.getLogger("proxy_async")

DEFAULT_MIN_RATE = 0.5
"""The floor of cuts, in requests/s, unless the ceiling is lower (then the ceiling):
one request every 2 s still finds out when the server has room again."""

MIN_STEP = 0.5
"""Smallest upward probe, in requests/s, so a rate cut to its floor still recovers."""

IN_USE = 0.5
"""A rate is probed upward only while the measured rate is at least this share of it."""

MEASURE_WINDOW = 1.0
"""Seconds of admissions behind the measured rate: what a per-second limit counts (the
fake server's is a sliding second; Twilio documents an average over 5 s, which a
one-second measure judges more strictly)."""

TOLERANCE = 1e-9
"""Seconds of wait treated as none: rounding must not make a due caller sleep again."""

Clock = Callable[[], float]
"""Monotonic seconds."""

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given seconds, like :func:`asyncio.sleep`."""


class RateControl:
    """The arithmetic of an adaptive rate: AIMD between a floor and a ceiling.

    * ``rate``: the current rate; None means unlimited (only before the first cut, and
      only without a ceiling). Starts at ``initial_rate`` (default: the ceiling).
    * **cut** (:meth:`on_throttle`): ``rate = max(min_rate, backoff x base)`` where
      ``base = min(rate, measured_rate)`` (just ``measured_rate`` while unlimited). The
      measured rate matters when the client sends below its rate: cutting the rate it
      never reached would change nothing. One burst of 429s cuts once: a 429 of a
      request admitted at or before the last cut was sent before that cut could act.
      A 429 of unknown admission cuts only when the last cut is ``cooldown`` old.
    * **probe** (:meth:`on_success`): once the last cut is ``cooldown`` old, the rate
      rises by ``max(0.5, increase x base of the last cut)`` (the initial rate before
      any cut), at most one step per ``cooldown``, never above the ceiling, and only
      while the client uses at least half its rate (``measured_rate``, when given):
      an idle client learns nothing about the server by succeeding.

    ``min_rate`` None is :data:`DEFAULT_MIN_RATE`, or the ceiling when that is lower (a
    ceiling of 0.25/s is a valid setting, and its floor is then 0.25/s).

    With the defaults a rate cut from 10/s to 5/s is back at 10/s after five probes,
    about 5 s: the few 429s of one failed probe per cycle stay a small share.
    """

    def __init__(
        self,
        *,
        ceiling: float | None = DEFAULT_REQUESTS_PER_SECOND,
        initial_rate: float | None = None,
        min_rate: float | None = None,
        backoff: float = 0.5,
        increase: float = 0.1,
        cooldown: float = 1.0,
    ) -> None:
        self._ceiling = _optional_rate("ceiling", ceiling)
        self._min_rate = _floor(min_rate, self._ceiling)
        if self._ceiling is not None and self._min_rate > self._ceiling:
            raise InvalidParameterError(
                "min_rate", f"at most the ceiling ({self._ceiling})", min_rate
            )
        self._backoff = _fraction("backoff", backoff)
        self._increase = _positive("increase", increase)
        self._cooldown = _positive("cooldown", cooldown)
        self._rate = self._initial(initial_rate)
        self._base = self._rate  # the rate the last cut was computed from
        self._last_cut = -math.inf
        self._last_step = -math.inf
        self._cuts = 0

    def _initial(self, initial_rate: float | None) -> float | None:
        if initial_rate is None:
            return self._ceiling
        rate = _positive("initial_rate", initial_rate)
        top = math.inf if self._ceiling is None else self._ceiling
        if not self._min_rate <= rate <= top:
            raise InvalidParameterError(
                "initial_rate",
                f"between min_rate ({self._min_rate}) and the ceiling ({self._ceiling})",
                initial_rate,
            )
        return rate

    @property
    def rate(self) -> float | None:
        """The current rate in requests/s (None: unlimited)."""
        return self._rate

    @property
    def ceiling(self) -> float | None:
        """The rate is never raised above this (None: no ceiling)."""
        return self._ceiling

    @property
    def min_rate(self) -> float:
        """No cut goes below this floor."""
        return self._min_rate

    @property
    def cuts(self) -> int:
        """How many times :meth:`on_throttle` cut the rate."""
        return self._cuts

    @property
    def last_cut(self) -> float:
        """When the rate was last cut (``-inf``: never)."""
        return self._last_cut

    def on_throttle(
        self, now: float, measured_rate: float, *, admitted: float | None = None
    ) -> float | None:
        """A 429 answered a request admitted at ``admitted``: cut once per burst.

        ``measured_rate`` is the client's recent admission rate. Returns the rate.
        """
        measured = _non_negative("measured_rate", measured_rate)
        if admitted is not None:
            if admitted <= self._last_cut:
                return self._rate  # sent before the last cut: that cut answered it
        elif now - self._last_cut < self._cooldown:
            return self._rate
        base = measured if self._rate is None else min(self._rate, measured)
        self._base = base
        self._rate = max(self._min_rate, base * self._backoff)
        self._last_cut = now
        self._cuts += 1
        return self._rate

    def on_success(self, now: float, measured_rate: float | None = None) -> float | None:
        """A healthy answer: probe upward if the cooldown allows. Returns the rate."""
        rate = self._rate
        if rate is None or now - max(self._last_cut, self._last_step) < self._cooldown:
            return rate
        if measured_rate is not None and measured_rate < IN_USE * rate:
            return rate
        top = math.inf if self._ceiling is None else self._ceiling
        if rate >= top:
            return rate
        base = rate if self._base is None else self._base
        step = max(MIN_STEP, self._increase * base)
        self._rate = min(top, rate + step)
        self._last_step = now
        return self._rate

    def __repr__(self) -> str:
        return (
            f"RateControl(rate={self._rate}, ceiling={self._ceiling}, "
            f"min_rate={self._min_rate}, cuts={self._cuts})"
        )


class _Waiter:
    """One caller queued in :meth:`Pacer.acquire`; ``wake`` is resolved to recheck."""

    __slots__ = ("wake",)

    def __init__(self, wake: asyncio.Future[None]) -> None:
        self.wake = wake


class Pacer:
    """Spaces admissions at a changeable rate: GCRA, with a burst allowance.

    GCRA (the generic cell rate algorithm, ITU-T I.371) keeps a *theoretical arrival
    time*; here it is kept as the equivalent *level*, ``(TAT - now) x rate``: requests
    admitted and not yet paid for at the current rate, draining at ``rate``. A request
    is admitted when the level is at most ``burst - 1``, then adds 1. So a cold pacer
    admits ``burst`` at once, then one per ``1 / rate`` seconds.

    ``burst`` (None: one second's worth at the current rate, at least 1) follows the
    rate. :meth:`set_rate` keeps the level in requests: what was sent still counts,
    now paid back at the new rate. Waiters are served in FIFO order; whether the head
    may go is decided when it wakes, so a rate change applies to those already waiting.
    Nothing is reserved before admission, so a cancelled :meth:`acquire` holds nothing.
    ``clock`` and ``sleep`` may be replaced (tests use a fake clock).
    """

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate = _optional_rate("rate", rate)
        if burst is not None and (not _is_number(burst) or burst < 1):
            raise InvalidParameterError("burst", "a number >= 1, or None", burst)
        self._burst = None if burst is None else float(burst)
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0
        self._stamp = clock()
        self._queue: deque[_Waiter] = deque()

    @property
    def rate(self) -> float | None:
        """Admissions per second (None: unlimited)."""
        return self._rate

    @property
    def burst(self) -> float:
        """Requests admitted at once by a rested pacer."""
        if self._burst is not None:
            return self._burst
        return 1.0 if self._rate is None else max(1.0, self._rate)

    @property
    def waiting(self) -> int:
        """Callers queued in :meth:`acquire`."""
        return len(self._queue)

    def level(self) -> float:
        """Requests admitted and not yet drained at the current rate, now."""
        self._settle(self._clock())
        return self._level

    def set_rate(self, rate: float | None) -> None:
        """Change the rate from now on; the level (in requests) carries over."""
        checked = _optional_rate("rate", rate)
        self._settle(self._clock())
        self._rate = checked
        if checked is None:
            self._level = 0.0
        self._notify_head()

    def fill(self, requests: float) -> None:
        """Count ``requests`` as admitted (the level never drops): the next wait longer."""
        if not _is_number(requests) or requests < 0:
            raise InvalidParameterError("requests", "a number >= 0", requests)
        if self._rate is None:
            return
        self._settle(self._clock())
        self._level = max(self._level, float(requests))
        self._notify_head()

    async def acquire(self) -> None:
        """Wait for this request's turn (FIFO); cancellation-safe."""
        if not self._queue and self._admit():
            return
        waiter = _Waiter(asyncio.get_running_loop().create_future())
        self._queue.append(waiter)
        try:
            while not (self._queue[0] is waiter and self._admit()):
                await self._wait(waiter)
        finally:
            self._leave(waiter)

    def __repr__(self) -> str:
        return f"Pacer(rate={self._rate}, burst={self.burst}, waiting={len(self._queue)})"

    # -- internals ----------------------------------------------------------------------

    def _settle(self, now: float) -> None:
        """Drain the level up to ``now``."""
        if self._rate is not None and now > self._stamp:
            self._level = max(0.0, self._level - (now - self._stamp) * self._rate)
        self._stamp = max(self._stamp, now)

    def _delay(self) -> float:
        """Seconds until the next admission may happen (0: now)."""
        if self._rate is None:
            return 0.0
        self._settle(self._clock())
        return max(0.0, (self._level - (self.burst - 1)) / self._rate)

    def _admit(self) -> bool:
        if self._delay() > TOLERANCE:
            return False
        if self._rate is not None:
            self._level += 1.0
        return True

    async def _wait(self, waiter: _Waiter) -> None:
        waiter.wake = asyncio.get_running_loop().create_future()
        if self._queue[0] is not waiter:
            await waiter.wake  # resolved when this waiter becomes the head
            return
        sleeper = asyncio.ensure_future(self._sleep(self._delay()))
        try:
            await asyncio.wait((sleeper, waiter.wake), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()

    def _leave(self, waiter: _Waiter) -> None:
        was_head = bool(self._queue) and self._queue[0] is waiter
        try:
            self._queue.remove(waiter)
        except ValueError:  # pragma: no cover - each waiter leaves once
            return
        if was_head:
            self._notify_head()

    def _notify_head(self) -> None:
        if self._queue and not self._queue[0].wake.done():
            self._queue[0].wake.set_result(None)


class _Ticket(NamedTuple):
    """The admission an attempt's :meth:`AdaptiveRateLimiter.observe` answers."""

    owner: int
    admitted: float


# acquire() and observe() of one attempt run in the same task (see ProxyClient._attempt),
# so a 429 can be matched with the moment its request was admitted.
_TICKET: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar(
    "proxy_async_adaptive_rate_ticket", default=None
)


class AdaptiveRateLimiter:
    """A :class:`~proxy_async.limits.adaptive.Limiter` whose request rate adapts to 429s.

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
            ceiling=_optional_rate("requests_per_second", requests_per_second),
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
        try:
            await self._pacer.acquire()
        except BaseException:
            self._slots.release()
            raise
        self._in_flight += 1
        now = self._clock()
        self._admissions.append(now)
        _TICKET.set(_Ticket(id(self), now))

    def release(self) -> None:
        """Free the in-flight slot."""
        self._in_flight -= 1
        self._slots.release()

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """429: cut the rate (once per burst); other 2xx-4xx: probe; else nothing."""
        ticket = _TICKET.get()
        admitted: float | None = None
        if ticket is not None and ticket.owner == id(self):
            _TICKET.set(None)
            admitted = ticket.admitted
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


def _is_number(value: object) -> TypeGuard[int | float]:
    return is_finite_number(value)


def _floor(min_rate: object, ceiling: float | None) -> float:
    """The floor of cuts: ``min_rate``, by default :data:`DEFAULT_MIN_RATE` or the ceiling
    if that is lower, so a ceiling of 0.25/s works; an explicit floor above it is refused."""
    if min_rate is None:
        return DEFAULT_MIN_RATE if ceiling is None else min(DEFAULT_MIN_RATE, ceiling)
    return _positive("min_rate", _optional_rate("min_rate", min_rate))


def _positive(name: str, value: object) -> float:
    if not _is_number(value) or not value > 0:
        raise InvalidParameterError(name, "a finite number > 0", value)
    return float(value)


def _non_negative(name: str, value: object) -> float:
    if not _is_number(value) or value < 0:
        raise InvalidParameterError(name, "a finite number >= 0", value)
    return float(value)


def _optional_rate(name: str, value: object) -> float | None:
    return None if value is None else check_requests_per_second(name, value)


def _fraction(name: str, value: object) -> float:
    if not _is_number(value) or not 0 < value < 1:
        raise InvalidParameterError(name, "a number with 0 < value < 1", value)
    return float(value)
