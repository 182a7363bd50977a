"""One request rate shared by every process that uses the same Redis and key.

Each process keeps its own in-flight cap (a local :class:`~proxy_async.limits.base.Limiter`,
fixed or adaptive); the rate is decided in Redis by one atomic Lua script implementing
GCRA (the generic cell rate algorithm). The key holds a single number, the theoretical
arrival time (TAT) of the next request, in Redis's own clock (``TIME``), so the clocks
of the clients never matter. Each call *reserves* the next free instant and returns how
long to wait for it, so a request costs one round trip however busy the limit is, and
waiting clients are served in the order they asked, across processes.

If Redis fails (connection refused, an error, or no answer within ``timeout``), the
limiter logs a warning on the ``proxy_async`` logger and falls back to a local leaky
bucket of ``fallback_requests_per_second`` for ``retry_interval`` seconds, then tries
Redis again; a request never fails because Redis did.

Needs the optional extra: ``pip install 'proxy-async[redis]'``. Importing this module
does not import ``redis``; constructing a :class:`RedisLimiter` does.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter

from ..errors import InvalidParameterError
from ..validation import check_number
from .base import DEFAULT_MAX_CONCURRENCY, Limiter, wait_or_undo
from .fixed import RateLimiter

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

logger = logging.getLogger("proxy_async")

DEFAULT_KEY = "proxy-async:rate"
"""The Redis key of the shared limit when none is given."""

DEFAULT_TIMEOUT = 0.5
"""Seconds a Redis call may take before the limiter falls back to its local limit."""

DEFAULT_RETRY_INTERVAL = 5.0
"""Seconds between attempts to reach Redis again after a failure."""

# KEYS[1]: the TAT key. ARGV[1]: emission interval, ARGV[2]: burst tolerance, both in
# microseconds. Returns the microseconds the caller waits before sending.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
    tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
    wait = 0
end
local next_tat = tat + interval
local ttl = math.ceil((next_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', ttl)
return wait
"""


class RedisLimiter:
    """A :class:`~proxy_async.limits.base.Limiter` whose rate is shared through Redis.

    ``redis`` is a URL (``redis://127.0.0.1:6379/0``; the limiter then owns the
    connection and :meth:`aclose` closes it) or a ``redis.asyncio.Redis`` you own.
    Every limiter with the same Redis and ``key`` shares ``requests_per_second``;
    ``burst`` requests may go at once after an idle spell (1: evenly spaced).

    In flight, each process is bounded by ``local``: any Limiter, e.g. an
    :class:`~proxy_async.limits.adaptive.AdaptiveLimiter` with ``requests_per_second=None``;
    by default a fixed cap of ``max_concurrency``. Its ``observe`` gets the feedback.

    ``fallback_requests_per_second`` is this process's own rate while Redis is
    unreachable (default: ``requests_per_second``, right for a single process; with N
    processes, ``requests_per_second / N`` keeps the account within the limit).
    ``timeout`` bounds every Redis call, so a hung Redis cannot hang a request.

    A cancelled :meth:`acquire` holds no slot; a reservation it made in Redis is left
    unused, which only slows the others for that one interval.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        requests_per_second: float,
        burst: float = 1.0,
        key: str = DEFAULT_KEY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        local: Limiter | None = None,
        fallback_requests_per_second: float | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
    ) -> None:
        """Checks every argument (:class:`InvalidParameterError` naming it); about 50
        lines by its ten parameters. ImportError without the ``redis`` extra."""
        try:
            from redis.exceptions import RedisError
        except ImportError as error:
            raise ImportError(
                "RedisLimiter needs the redis package: pip install 'proxy-async[redis]'"
            ) from error

        self.requests_per_second = check_number(requests_per_second, "requests_per_second")
        self.burst = check_number(burst, "burst", low=1.0, inclusive=True)
        if not isinstance(key, str) or not key:
            raise InvalidParameterError("key", "a non-empty string", key)
        self.key = key
        self.timeout = check_number(timeout, "timeout")
        self.retry_interval = check_number(retry_interval, "retry_interval")
        fallback = (
            self.requests_per_second
            if fallback_requests_per_second is None
            else check_number(fallback_requests_per_second, "fallback_requests_per_second")
        )
        self.fallback_requests_per_second = fallback
        if local is None:
            local = RateLimiter(max_concurrency=max_concurrency, requests_per_second=None)
        self._local = local
        self._owns_redis = isinstance(redis, str)
        self._redis: Redis = self._connect(redis) if isinstance(redis, str) else redis
        self._script: AsyncScript = self._redis.register_script(GCRA_SCRIPT)
        interval = 1_000_000 / self.requests_per_second
        self._args = (round(interval), round((self.burst - 1) * interval))
        fallback_burst = max(1.0, min(self.burst, fallback))
        self._fallback = AsyncLimiter(fallback_burst, fallback_burst / fallback)
        self._errors: tuple[type[BaseException], ...] = (
            RedisError,
            OSError,
            asyncio.TimeoutError,
        )
        self._retry_at = -math.inf  # while in the future, Redis is not asked
        self._degraded = False
        self._reconnecting = False

    def _connect(self, url: str) -> Redis:
        from redis.asyncio import Redis

        client: Redis = Redis.from_url(
            url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
        )
        return client

    # -- Limiter ------------------------------------------------------------------------

    @property
    def max_concurrency(self) -> int:
        """This process's in-flight cap (the local limiter's)."""
        return self._local.max_concurrency

    @property
    def local(self) -> Limiter:
        """The local limiter that bounds this process's requests in flight."""
        return self._local

    @property
    def degraded(self) -> bool:
        """Whether Redis was unreachable at the last try (the local fallback is in use)."""
        return self._degraded

    async def acquire(self) -> None:
        """Take a local in-flight slot, then wait for the shared rate; cancellation-safe."""
        await self._local.acquire()
        await wait_or_undo(self._wait_for_turn(), self._local.release)

    def release(self) -> None:
        """Give the local slot back (the shared turn was spent)."""
        self._local.release()

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Pass the feedback on to the local limiter."""
        self._local.observe(status, headers)

    # -- lifecycle ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the Redis connection if this limiter opened it. Idempotent."""
        if self._owns_redis:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisLimiter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"RedisLimiter(key={self.key!r}, requests_per_second={self.requests_per_second}, "
            f"burst={self.burst}, local={self._local!r}, degraded={self._degraded})"
        )

    # -- internals ----------------------------------------------------------------------

    async def _wait_for_turn(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at or self._reconnecting:
            await self._fallback.acquire()
            return
        # After a failure only one caller at a time tests Redis; the rest stay local.
        self._reconnecting = self._degraded
        try:
            wait = await asyncio.wait_for(self._reserve(), self.timeout)
        except self._errors as error:
            self._fail(error, loop.time())
            await self._fallback.acquire()
            return
        finally:
            self._reconnecting = False
        if self._degraded:
            self._degraded = False
            logger.info("shared rate limit %r: Redis is back, using it again", self.key)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _reserve(self) -> float:
        reply: Any = await self._script(keys=[self.key], args=self._args)
        return int(reply) / 1_000_000

    def _fail(self, error: BaseException, now: float) -> None:
        self._retry_at = now + self.retry_interval
        if self._degraded:
            logger.debug("shared rate limit %r: Redis still unavailable: %r", self.key, error)
            return
        self._degraded = True
        logger.warning(
            "shared rate limit %r: Redis unavailable (%s: %s); using the local limit of "
            "%g requests/s, retrying Redis in %g s",
            self.key,
            type(error).__name__,
            error,
            self.fallback_requests_per_second,
            self.retry_interval,
        )
