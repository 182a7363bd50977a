"""The client's default limiter: a fixed in-flight cap plus a leaky-bucket request rate.

See :mod:`proxy_async.limits.base` for why both bounds and the defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from .base import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    check_max_concurrency,
    check_rate,
    leaky_bucket,
    wait_or_undo,
)


class RateLimiter:
    """A fixed in-flight cap (an ``asyncio.Semaphore``) plus a leaky-bucket request rate."""

    def __init__(
        self,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND,
        burst: float | None = None,
    ) -> None:
        self._max_concurrency = check_max_concurrency(max_concurrency)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight = 0
        self.requests_per_second, self.burst = check_rate(requests_per_second, burst)
        self._bucket = leaky_bucket(self.requests_per_second, self.burst)

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
            await wait_or_undo(self._bucket.acquire(), self._slots.release)
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
