""":class:`AdaptiveLimiter`: an in-flight window learned from the server's 429s.

Composed of the pure window policy (:mod:`proxy_async.limits.window`, the AIMD rules),
the admission queue (:mod:`proxy_async.limits.admission`) that applies its window, and
an optional leaky bucket for the rate. This module reads the clock and the headers and
hands the policy numbers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import NamedTuple

from .admission import AdmissionQueue
from .base import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    Tickets,
    check_rate,
    leaky_bucket,
    wait_or_undo,
)
from .window import Grant, Window, WindowPolicy

logger = logging.getLogger("proxy_async")

DEFAULT_ADAPTIVE_MAX_CONCURRENCY = 100
"""Upper bound of an adaptive window: Twilio's default per-account concurrency."""

CONCURRENCY_HEADER = "Twilio-Concurrent-Requests"
"""Response header with the account's requests in flight, read by :class:`AdaptiveLimiter`."""

RTT_SMOOTHING = 8
"""The smoothed round trip moves 1/8 of the way to each new sample (as TCP's SRTT)."""


class _Admission(NamedTuple):
    """What an attempt's :meth:`AdaptiveLimiter.observe` needs to know about its admission."""

    grant: Grant
    admitted: float


_TICKETS: Tickets[_Admission] = Tickets("proxy_async_adaptive_ticket")


class AdaptiveLimiter:
    """An in-flight window learned from the server (AIMD), plus an optional leaky bucket.

    The window follows the rules of :mod:`proxy_async.limits.window`: it grows by one
    per window of healthy answers while in use, halves (``backoff``) on a 429 once per
    burst, remembers a ceiling and probes one above it every ``probe_windows`` windows.
    5xx and transport errors are neutral: they say nothing about concurrency.

    Admission (:mod:`proxy_async.limits.admission`) is FIFO; shrinking never revokes a
    slot; a cancelled :meth:`acquire` holds nothing. ``max_concurrency`` (the upper
    bound) sizes the connection pool. A 429 whose admission this task does not hold
    cuts at most once per smoothed round trip.
    """

    def __init__(
        self,
        *,
        initial_concurrency: int | None = None,
        min_concurrency: int = 1,
        max_concurrency: int = DEFAULT_ADAPTIVE_MAX_CONCURRENCY,
        requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND,
        burst: float | None = None,
        backoff: float = 0.5,
        probe_windows: int = 100,
    ) -> None:
        policy = WindowPolicy.checked(
            min_concurrency=min_concurrency,
            max_concurrency=max_concurrency,
            backoff=backoff,
            probe_windows=probe_windows,
        )
        if initial_concurrency is None:
            low, top = policy.min_concurrency, policy.max_concurrency
            initial_concurrency = min(max(DEFAULT_MAX_CONCURRENCY, low), top)
        self._policy = policy
        self._window = policy.start(initial_concurrency)
        self._queue = AdmissionQueue(self._window.grant())
        self.requests_per_second, self.burst = check_rate(requests_per_second, burst)
        self._bucket = leaky_bucket(self.requests_per_second, self.burst)
        self._rtt = 1.0  # smoothed seconds from admission to answer; a cooldown fallback
        self._throttled = 0

    # -- Limiter ------------------------------------------------------------------------

    @property
    def max_concurrency(self) -> int:
        """The largest window this limiter may reach (the connection pool's size)."""
        return self._policy.max_concurrency

    async def acquire(self) -> None:
        """Wait for a slot in the current window, then a rate token; cancellation-safe."""
        grant = await self._queue.enter()
        if self._bucket is not None:
            await wait_or_undo(self._bucket.acquire(), self._queue.leave)
        _TICKETS.issue(self, _Admission(grant, asyncio.get_running_loop().time()))

    def release(self) -> None:
        """Free the slot taken by :meth:`acquire` and admit the next waiter if it fits."""
        self._queue.leave()

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Grow the window on a healthy answer, cut it on a 429 (see the class docstring)."""
        admission = _TICKETS.take(self)
        grant: Grant | None = None
        if admission is not None:
            sample = asyncio.get_running_loop().time() - admission.admitted
            self._rtt += (sample - self._rtt) / RTT_SMOOTHING
            grant = admission.grant
        if status is None or status >= 500:
            return
        policy, window = self._policy, self._window
        account = concurrency_header(headers)
        if account is not None:
            window = policy.on_concurrency_header(window, account)
        if status != 429:
            demand = self._queue.in_flight + self._queue.waiting
            self._apply(policy.on_success(window, grant, demand))
            return
        self._throttled += 1
        now = asyncio.get_running_loop().time()
        self._apply(policy.on_throttle(window, grant, now=now, cooldown=self._rtt))
        if self._window.cuts != window.cuts:
            logger.debug(
                "adaptive limiter: 429, window %d -> %d (ceiling %s)",
                window.concurrency,
                self.concurrency,
                self._window.ceiling,
            )

    # -- state --------------------------------------------------------------------------

    @property
    def window(self) -> Window:
        """The window policy's state now (see :class:`~proxy_async.limits.window.Window`)."""
        return self._window

    @property
    def concurrency(self) -> int:
        """The current window: how many requests may be in flight now."""
        return self._window.concurrency

    @property
    def min_concurrency(self) -> int:
        """The window never shrinks below this."""
        return self._policy.min_concurrency

    @property
    def ceiling(self) -> int | None:
        """Where growth stops until a probe (learned from the last 429; None: unknown)."""
        return self._window.ceiling

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet released."""
        return self._queue.in_flight

    @property
    def waiting(self) -> int:
        """Callers waiting in :meth:`acquire` for a slot."""
        return self._queue.waiting

    @property
    def throttled(self) -> int:
        """429 answers observed so far."""
        return self._throttled

    @property
    def cuts(self) -> int:
        """How many times a 429 cut the window."""
        return self._window.cuts

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(concurrency={self.concurrency}, ceiling={self.ceiling}, "
            f"min_concurrency={self.min_concurrency}, max_concurrency={self.max_concurrency}, "
            f"requests_per_second={self.requests_per_second}, burst={self.burst})"
        )

    def _apply(self, window: Window) -> None:
        if window is not self._window:
            self._window = window
            self._queue.resize(window.grant())


def concurrency_header(headers: Mapping[str, str] | None) -> int | None:
    """``Twilio-Concurrent-Requests`` as a count (any header-name case), or None when it
    is absent or not a whole number >= 0."""
    if headers is None:
        return None
    value = headers.get(CONCURRENCY_HEADER)
    if value is None:
        value = headers.get(CONCURRENCY_HEADER.lower())
    if value is None:
        return None
    try:
        count = int(value.strip())
    except ValueError:
        return None
    return count if count >= 0 else None
