"""What every limiter shares: the :class:`Limiter` protocol, the defaults and their checks.

Every request attempt passes a limiter before it is sent, and limiters bound two
things, both needed:

* **in flight** (``max_concurrency``): also the size of the connection pool, so a
  request never waits for a socket once admitted.
* **rate** (``requests_per_second`` with ``burst``): a leaky bucket (aiolimiter's, see
  :func:`leaky_bucket`) that holds ``burst`` requests and drains at ``requests_per_second``.

Defaults follow Twilio Proxy's documented limit of about 30 requests/s per endpoint per
Service, judged as an average over 5 s with bursts tolerated up to 5x. A bucket of
``burst = requests_per_second`` (one second's worth) keeps the steady rate at exactly
30/s, lets a cold client fire 30 at once (well under the 5x = 150/s burst ceiling) and
bounds any 5 s window to 30 + 5 x 30 = 180 requests, 36/s, so a client that starts at
full speed stays near the documented average. Raise ``burst`` (up to 150) if you know
your traffic is bursty and sparse.

The limit is per client. Several processes on one account need a shared limiter
(:mod:`proxy_async.limits.redis`, see the README's scale-out section). The limiters:
:mod:`~proxy_async.limits.fixed` (fixed cap and rate), :mod:`~proxy_async.limits.adaptive`
(an in-flight window learned from 429s), :mod:`~proxy_async.limits.adaptive_rate` (a
rate learned from 429s) and :mod:`~proxy_async.limits.redis` (a rate shared through Redis).
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, Protocol, TypeVar

from aiolimiter import AsyncLimiter

from ..errors import InvalidParameterError
from ..validation import check_int, check_number, is_finite_number

DEFAULT_REQUESTS_PER_SECOND = 30.0
DEFAULT_MAX_CONCURRENCY = 20

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

T = TypeVar("T")


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


class Tickets(Generic[T]):
    """Hands what :meth:`Limiter.acquire` knew about an admission to the same attempt's
    :meth:`Limiter.observe`, through a context variable.

    Both run in the attempt's own task (see ``ProxyClient._attempt``), so a 429 can be
    matched with the admission it answers. Each ticket names its limiter: another
    limiter in the same task neither reads nor clears it. Create one per module, at
    import time (a context variable lives as long as the interpreter).
    """

    def __init__(self, name: str) -> None:
        self._var: contextvars.ContextVar[tuple[int, T] | None] = contextvars.ContextVar(
            name, default=None
        )

    def issue(self, owner: object, value: T) -> None:
        """Remember ``value`` for ``owner``'s next :meth:`take` in this task."""
        self._var.set((id(owner), value))

    def take(self, owner: object) -> T | None:
        """``owner``'s ticket, consumed (None: this task holds none of ``owner``'s)."""
        ticket = self._var.get()
        if ticket is None or ticket[0] != id(owner):
            return None
        self._var.set(None)
        return ticket[1]


async def wait_or_undo(waiting: Awaitable[object], undo: Callable[[], None]) -> None:
    """Await ``waiting``, the second step of an admission (a rate token, a turn); if it is
    cancelled or fails, call ``undo`` (give back the slot the first step took) and re-raise,
    so a cancelled :meth:`Limiter.acquire` holds nothing."""
    try:
        await waiting
    except BaseException:
        undo()
        raise


def leaky_bucket(rate: float | None, burst: float | None) -> AsyncLimiter | None:
    """aiolimiter's bucket of ``burst`` requests draining at ``rate`` per second (None:
    no rate limit). Takes the values :func:`check_rate` returns."""
    if rate is None or burst is None:
        return None
    return AsyncLimiter(burst, burst / rate)


def check_max_concurrency(value: object) -> int:
    """An in-flight cap: an integer from 1 to :data:`MAX_CONCURRENCY`."""
    return check_int(value, "max_concurrency", 1, MAX_CONCURRENCY)


def check_backoff(value: object) -> float:
    """The share of a window or rate that a cut keeps: a finite number > 0 and < 1."""
    if not is_finite_number(value) or not 0 < value < 1:
        raise InvalidParameterError("backoff", "a finite number > 0 and < 1", value)
    return float(value)


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
    return checked, check_number(burst, "burst", low=1.0, inclusive=True)


def check_requests_per_second(name: str, rate: object) -> float:
    """A request rate: a finite number of requests per second, at least
    :data:`MIN_REQUESTS_PER_SECOND`; raises :class:`InvalidParameterError` naming ``name``."""
    if not is_finite_number(rate) or not rate >= MIN_REQUESTS_PER_SECOND:
        raise InvalidParameterError(
            name, "a finite number >= 1/86400 (a request a day), or None for no limit", rate
        )
    return float(rate)


def check_optional_rate(name: str, rate: object) -> float | None:
    """None (no limit), or a rate as :func:`check_requests_per_second` checks it."""
    return None if rate is None else check_requests_per_second(name, rate)
