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
(:mod:`proxy_async.limits.redis`, see the README's scale-out section); every limiter
implements :class:`Limiter`. :class:`AdaptiveLimiter` replaces the fixed in-flight cap
with a window learned from the server's 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
from collections import deque
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from aiolimiter import AsyncLimiter

from ..errors import InvalidParameterError
from ..validation import check_int, is_finite_number

logger = logging.getLogger("proxy_async")

DEFAULT_REQUESTS_PER_SECOND = 30.0
DEFAULT_MAX_CONCURRENCY = 20
DEFAULT_ADAPTIVE_MAX_CONCURRENCY = 100
"""Upper bound of an adaptive window: Twilio's default per-account concurrency."""

MIN_REQUESTS_PER_SECOND = 1 / 86_400
"""The slowest rate accepted: one request a day. A slower one is a typo (``1e-300``
would wait forever between requests, silently), and a day is also the longest timeout
(:data:`proxy_async.transports.base.MAX_TIMEOUT`)."""

MAX_CONCURRENCY = 1000
"""The largest in-flight cap, and the most sessions an export walks at once.

Twilio Proxy serves about 30 requests/s per Service and an account runs 100 requests
at once by default: beyond about 100, more requests in flight or more walkers only
wait in the limiter (at 1 s per answer, 30 in flight already reach 30/s). 1000 leaves
ten times that room (a raised account limit, a fast fake server) while bounding what a
typo costs: each export walker holds up to two pages, about 1 MiB each at 1000 records.
A larger value (``--concurrency 10000000``) is refused, never allocated.
"""

CONCURRENCY_HEADER = "Twilio-Concurrent-Requests"
"""Response header with the account's requests in flight, read by :class:`AdaptiveLimiter`."""


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
        self._max_concurrency = check_max_concurrency(max_concurrency)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight = 0
        self._bucket: AsyncLimiter | None = None
        self.requests_per_second, self.burst = check_rate(requests_per_second, burst)
        if self.requests_per_second is not None and self.burst is not None:
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


class _Grant(NamedTuple):
    """The window a slot was granted under: the epoch (cuts so far) and the limit."""

    epoch: int
    limit: int


class _Ticket(NamedTuple):
    """What an attempt's :meth:`AdaptiveLimiter.observe` needs to know about its admission."""

    owner: int
    grant: _Grant
    admitted: float


# Which admission the current task's attempt holds: acquire() and observe() of one attempt
# run in the same task, so a 429 can be matched with the window it was sent under.
_TICKET: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar(
    "proxy_async_adaptive_ticket", default=None
)


class AdaptiveLimiter:
    """An in-flight window learned from the server (AIMD), plus an optional leaky bucket.

    The scheme is AIMD with a remembered ceiling:

    * **increase**: every healthy answer (any status but 429 and 5xx) adds
      ``1 / window``, so the window grows by one per window of successes, but only
      while the window is in use: a client with fewer requests than slots does not
      inflate it.
    * **decrease**: a 429 halves the window (``backoff``) and remembers ``ceiling =
      window it was sent under - 1``. Each cut starts a new epoch; 429s of requests
      sent before the cut belong to the burst it answered and do not cut again, so one
      burst of 429s cuts once however many requests it hits.
    * **ceiling**: growth stops at the ceiling. After ``probe_windows`` windows of
      successes there, a probe raises the window by one. A 429 while probing returns
      the window to the ceiling (no halving: the ceiling held). A probe that holds for
      a whole window raises the ceiling by one and the next probe follows after one
      window, so the window climbs back quickly when room appears (another client
      left). A failed probe costs up to about one window of 429s, so probing every
      100 windows keeps the steady 429 rate near 1% at worst.
    * ``Twilio-Concurrent-Requests`` (the account's requests in flight, sent by
      Twilio with each answer) is the hint that the ceiling is shared: while it shows
      the account running more requests than this window, other clients are using
      the room above it, and the window does not probe past its ceiling.

    5xx and transport errors are neutral: they say nothing about concurrency.
    Shrinking never revokes a slot: requests already in flight finish, and no one is
    admitted until the count is below the new window. Waiters are admitted in FIFO
    order as slots free up or the window grows. A cancelled :meth:`acquire` holds
    nothing. ``max_concurrency`` (the upper bound) sizes the connection pool.
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
        self._max = check_max_concurrency(max_concurrency)
        self._min = _check_count("min_concurrency", min_concurrency)
        if self._min > self._max:
            raise InvalidParameterError(
                "min_concurrency", f"at most max_concurrency ({self._max})", min_concurrency
            )
        if initial_concurrency is None:
            initial = min(max(DEFAULT_MAX_CONCURRENCY, self._min), self._max)
        else:
            initial = _check_count("initial_concurrency", initial_concurrency)
            if not self._min <= initial <= self._max:
                raise InvalidParameterError(
                    "initial_concurrency",
                    f"between min_concurrency ({self._min}) and max_concurrency ({self._max})",
                    initial_concurrency,
                )
        if (
            isinstance(backoff, bool)
            or not isinstance(backoff, (int, float))
            or not 0 < backoff < 1
        ):
            raise InvalidParameterError("backoff", "a number with 0 < backoff < 1", backoff)
        self._backoff = float(backoff)
        self._probe_windows = _check_count("probe_windows", probe_windows)
        self._bucket: AsyncLimiter | None = None
        self.requests_per_second, self.burst = check_rate(requests_per_second, burst)
        if self.requests_per_second is not None and self.burst is not None:
            self._bucket = AsyncLimiter(self.burst, self.burst / self.requests_per_second)
        self._window = float(initial)
        self._ceiling: int | None = None
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[_Grant]] = deque()
        self._epoch = 0
        self._last_cut = -math.inf
        self._rtt = 1.0  # smoothed seconds from admission to answer; a cooldown fallback
        self._account_in_flight: int | None = None  # the last Twilio-Concurrent-Requests
        self._at_ceiling = 0  # successes while the window sits at the ceiling
        self._probe_after = self._probe_windows  # windows at the ceiling before a probe
        self._above_ceiling = 0  # successes of requests sent above the ceiling (a probe)
        self._throttled = 0
        self._cuts = 0

    # -- Limiter ------------------------------------------------------------------------

    @property
    def max_concurrency(self) -> int:
        """The largest window this limiter may reach (the connection pool's size)."""
        return self._max

    async def acquire(self) -> None:
        """Wait for a slot in the current window, then a rate token; cancellation-safe."""
        if self._in_flight < self.concurrency and not self._waiters:
            self._in_flight += 1
            grant = self._grant()
        else:
            waiter: asyncio.Future[_Grant] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                grant = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._free_slot()  # granted as we were cancelled: hand it on
                else:
                    self._discard(waiter)
                raise
        if self._bucket is not None:
            try:
                await self._bucket.acquire()
            except BaseException:
                self._free_slot()
                raise
        _TICKET.set(_Ticket(id(self), grant, asyncio.get_running_loop().time()))

    def release(self) -> None:
        """Free the slot taken by :meth:`acquire` and admit the next waiter if it fits."""
        self._free_slot()

    def observe(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """Grow the window on a healthy answer, cut it on a 429 (see the class docstring)."""
        ticket = _TICKET.get()
        if ticket is not None and ticket.owner == id(self):
            _TICKET.set(None)
            sample = asyncio.get_running_loop().time() - ticket.admitted
            self._rtt += (sample - self._rtt) / 8
            grant: _Grant | None = ticket.grant
        else:
            grant = None
        if status is None or status >= 500:
            return
        account = _concurrency_header(headers)
        if account is not None:
            self._account_in_flight = account
        if status == 429:
            self._throttle(grant)
        else:
            self._succeed(grant)

    # -- state --------------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        """The current window: how many requests may be in flight now."""
        return int(self._window + 1e-9)

    @property
    def min_concurrency(self) -> int:
        """The window never shrinks below this."""
        return self._min

    @property
    def ceiling(self) -> int | None:
        """Where growth stops until a probe (learned from the last 429; None: unknown)."""
        return self._ceiling

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet released."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers waiting in :meth:`acquire` for a slot."""
        return len(self._waiters)

    @property
    def throttled(self) -> int:
        """429 answers observed so far."""
        return self._throttled

    @property
    def cuts(self) -> int:
        """How many times a 429 cut the window."""
        return self._cuts

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(concurrency={self.concurrency}, ceiling={self._ceiling}, "
            f"min_concurrency={self._min}, max_concurrency={self._max}, "
            f"requests_per_second={self.requests_per_second}, burst={self.burst})"
        )

    # -- internals ----------------------------------------------------------------------

    def _grant(self) -> _Grant:
        return _Grant(self._epoch, self.concurrency)

    def _free_slot(self) -> None:
        self._in_flight -= 1
        self._admit()

    def _admit(self) -> None:
        while self._waiters and self._in_flight < self.concurrency:
            waiter = self._waiters.popleft()
            if not waiter.done():
                # The grant is stamped now: a cut before the waiter resumes is a later epoch.
                waiter.set_result(self._grant())
                self._in_flight += 1

    def _discard(self, waiter: asyncio.Future[_Grant]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _set_window(self, value: float) -> None:
        self._window = min(float(self._max), max(float(self._min), value))
        self._admit()

    def _succeed(self, grant: _Grant | None) -> None:
        limit = self.concurrency
        ceiling = self._ceiling
        if (
            ceiling is not None
            and limit > ceiling
            and grant is not None
            and grant.epoch == self._epoch
            and grant.limit > ceiling
        ):
            self._above_ceiling += 1
            if self._above_ceiling >= limit:
                # The probe held for a whole window: there is room, so probe again soon.
                self._ceiling = ceiling = limit
                self._above_ceiling = 0
                self._at_ceiling = 0
                self._probe_after = 1
        # Grow only while the window is in use (released just before: hence the - 1).
        if self._in_flight + len(self._waiters) < limit - 1:
            return
        if ceiling is None or self._window < ceiling:
            step = self._window + 1 / limit
            self._set_window(step if ceiling is None else min(step, float(ceiling)))
            return
        if limit > ceiling:
            return  # a probe is under way
        if self._account_in_flight is not None and self._account_in_flight > limit:
            self._at_ceiling = 0  # the account is shared and busy: leave the room to others
            return
        self._at_ceiling += 1
        if self._at_ceiling >= self._probe_after * limit:
            self._at_ceiling = 0
            self._above_ceiling = 0
            self._set_window(float(ceiling + 1))

    def _throttle(self, grant: _Grant | None) -> None:
        self._throttled += 1
        now = asyncio.get_running_loop().time()
        if grant is not None:
            if grant.epoch != self._epoch:
                return  # sent before the last cut, which already answered this burst
            sent_under = grant.limit
        else:
            if now - self._last_cut < self._rtt:
                return
            sent_under = self.concurrency
        before = self.concurrency
        ceiling = self._ceiling
        if ceiling is not None and (sent_under > ceiling or before > ceiling):
            target = float(ceiling)  # a probe failed: the ceiling held
        else:
            target = max(
                float(self._min), math.floor(min(self._window, sent_under) * self._backoff)
            )
            self._ceiling = max(int(target), sent_under - 1)
        self._probe_after = self._probe_windows
        self._epoch += 1
        self._cuts += 1
        self._last_cut = now
        self._at_ceiling = 0
        self._above_ceiling = 0
        self._set_window(target)
        logger.debug(
            "adaptive limiter: 429, window %d -> %d (ceiling %s)",
            before,
            self.concurrency,
            self._ceiling,
        )


def _concurrency_header(headers: Mapping[str, str] | None) -> int | None:
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


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(name, "an integer >= 1", value)
    return value


def check_max_concurrency(value: object) -> int:
    """An in-flight cap: an integer from 1 to :data:`MAX_CONCURRENCY`."""
    return check_int(value, "max_concurrency", 1, MAX_CONCURRENCY)


def check_rate(rate: object, burst: object) -> tuple[float | None, float | None]:
    """Check ``requests_per_second`` (None: no limit, else see check_requests_per_second) and its
    ``burst`` (None: one second's worth, at least 1; else a finite number >= 1; it must
    be None without a rate). Returns both as floats; raises :class:`InvalidParameterError`.
    """
    if rate is None:
        if burst is not None:
            raise InvalidParameterError("burst", "None when requests_per_second is None", burst)
        return None, None
    checked = check_requests_per_second("requests_per_second", rate)
    if burst is None:
        return checked, max(1.0, checked)
    if not is_finite_number(burst) or burst < 1:
        raise InvalidParameterError("burst", "a finite number >= 1", burst)
    return checked, float(burst)


def check_requests_per_second(name: str, rate: object) -> float:
    """A request rate: a finite number of requests per second, at least
    :data:`MIN_REQUESTS_PER_SECOND`; raises :class:`InvalidParameterError` naming ``name``."""
    if not is_finite_number(rate) or not rate >= MIN_REQUESTS_PER_SECOND:
        raise InvalidParameterError(
            name, "a finite number >= 1/86400 (a request a day), or None for no limit", rate
        )
    return float(rate)
