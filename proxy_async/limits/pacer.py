"""Spacing admissions at a rate that may change at any moment: :class:`Pacer` (GCRA).

Every time here is in seconds, every rate in requests per second. ``clock`` and
``sleep`` may be replaced (tests use a fake clock).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from ..validation import check_number
from .base import check_optional_rate

TOLERANCE = 1e-9
"""Seconds of wait treated as none: rounding must not make a due caller sleep again."""

Clock = Callable[[], float]
"""Monotonic seconds."""

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given seconds, like :func:`asyncio.sleep`."""


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
        self._rate = check_optional_rate("rate", rate)
        self._burst = (
            None if burst is None else check_number(burst, "burst", low=1.0, inclusive=True)
        )
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
        checked = check_optional_rate("rate", rate)
        self._settle(self._clock())
        self._rate = checked
        if checked is None:
            self._level = 0.0
        self._notify_head()

    def fill(self, requests: float) -> None:
        """Count ``requests`` as admitted (the level never drops): the next wait longer."""
        level = check_number(requests, "requests", inclusive=True)
        if self._rate is None:
            return
        self._settle(self._clock())
        self._level = max(self._level, level)
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
