"""Admission control: every request attempt passes here before it is sent.

Two independent bounds, both needed:

* **in flight** (``max_concurrency``): an ``asyncio.Semaphore``; also the size of the
  connection pool, so a request never waits for a socket once admitted.
* **rate** (``requests_per_second`` with ``burst``): aiolimiter's leaky bucket, which
  holds ``burst`` requests and drains at ``requests_per_second``.

Defaults follow Twilio Proxy's documented limit of about 30 requests/s per endpoint per
Service, judged as an average over 5 s with bursts tolerated up to 5x. A bucket of
``burst = requests_per_second`` (one second's worth) keeps the steady rate at exactly
30/s, lets a cold client fire 30 at once (well under the 5x = 150/s burst ceiling) and
bounds any 5 s window to 30 + 5 x 30 = 180 requests, 36/s, so a client that starts at
full speed stays near the documented average. Raise ``burst`` (up to 150) if you know
your traffic is bursty and sparse.

The limit is per client. Several processes on one account need a shared limiter
(see the README's scale-out section); every limiter implements :class:`Limiter`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from aiolimiter import AsyncLimiter

from .errors import InvalidParameterError

DEFAULT_REQUESTS_PER_SECOND = 30.0
DEFAULT_MAX_CONCURRENCY = 20


class Limiter(Protocol):
    """What the client needs from a limiter: a slot per attempt, and feedback."""

    @property
    def max_concurrency(self) -> int:
        """Upper bound on requests in flight (the connection pool is sized from it)."""
        ...

    async def acquire(self) -> None:
        """Wait for a free in-flight slot and a rate token. Cancellation-safe."""
        ...

    def release(self) -> None:
        """Give back the slot taken by :meth:`acquire`."""
        ...

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Feedback after each attempt (status None: no response). Adaptive limiters use it."""
        ...


class RateLimiter:
    """A fixed in-flight cap plus a leaky-bucket request rate."""

    def __init__(
        self,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND,
        burst: float | None = None,
    ) -> None:
        if (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise InvalidParameterError("max_concurrency", "an integer >= 1", max_concurrency)
        self._max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight = 0
        self._bucket: AsyncLimiter | None = None
        self.requests_per_second = _check_rate(requests_per_second)
        if self.requests_per_second is None:
            if burst is not None:
                raise InvalidParameterError("burst", "None when requests_per_second is None", burst)
            self.burst: float | None = None
        else:
            self.burst = _check_burst(burst, self.requests_per_second)
            self._bucket = AsyncLimiter(self.burst, self.burst / self.requests_per_second)

    @property
    def max_concurrency(self) -> int:
        """The in-flight cap."""
        return self._max_concurrency

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet released."""
        return self._in_flight

    async def acquire(self) -> None:
        """Take an in-flight slot, then a rate token; on cancellation hold neither."""
        await self._slots.acquire()
        if self._bucket is not None:
            try:
                await self._bucket.acquire()
            except BaseException:
                self._slots.release()
                raise
        self._in_flight += 1

    def release(self) -> None:
        """Free the in-flight slot (the rate token is spent for good)."""
        self._in_flight -= 1
        self._slots.release()

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """A fixed limiter ignores feedback."""

    def __repr__(self) -> str:
        return (
            f"RateLimiter(max_concurrency={self._max_concurrency}, "
            f"requests_per_second={self.requests_per_second}, burst={self.burst})"
        )


def _check_rate(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidParameterError(
            "requests_per_second", "a number > 0, or None for no limit", value
        )
    return float(value)


def _check_burst(value: object, rate: float) -> float:
    if value is None:
        return max(1.0, rate)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        raise InvalidParameterError("burst", "a number >= 1", value)
    return float(value)
