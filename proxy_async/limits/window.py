"""The in-flight window of :class:`~proxy_async.limits.adaptive.AdaptiveLimiter`, as arithmetic.

Numbers in, numbers out: a :class:`WindowPolicy` takes the current :class:`Window` and
one event (a healthy answer, a 429, the account's concurrency header) and returns the
next :class:`Window`. No asyncio and no clock: the time of a 429 and the cooldown come
in as arguments, so every rule is tested as arithmetic (``tests/limits/test_window.py``).
The admission queue (:mod:`proxy_async.limits.admission`) applies the result.

The scheme is AIMD with a remembered ceiling:

* **increase**: every healthy answer adds ``1 / window``, so the window grows by one per
  window of successes, but only while the window is in use (``demand``, the requests
  holding or waiting for a slot, reaches ``window - 1``): a client with fewer requests
  than slots does not inflate it.
* **decrease**: a 429 halves the window (``backoff``) and remembers ``ceiling = window
  it was sent under - 1``. Each cut starts a new epoch (the count of cuts); 429s of
  requests sent before the cut belong to the burst it answered and do not cut again, so
  one burst of 429s cuts once however many requests it hits. A 429 whose admission is
  unknown cuts only once the last cut is ``cooldown`` old (a round trip).
* **ceiling**: growth stops at the ceiling. After ``probe_windows`` windows of
  successes there, a probe raises the window by one. A 429 while probing returns the
  window to the ceiling (no halving: the ceiling held). A probe that holds for a whole
  window raises the ceiling by one and the next probe follows after one window, so the
  window climbs back quickly when room appears (another client left). A failed probe
  costs up to about one window of 429s, so probing every 100 windows keeps the steady
  429 rate near 1% at worst.
* ``Twilio-Concurrent-Requests`` (the account's requests in flight, sent by Twilio with
  each answer) is the hint that the ceiling is shared: while it shows the account
  running more requests than this window, other clients are using the room above it,
  and the window does not probe past its ceiling.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import attrs

from ..errors import InvalidParameterError
from ..validation import check_int
from .base import check_backoff, check_max_concurrency

ROUNDING = 1e-9
"""Slack when a window of ``n - 1 + k / n`` (k = n) successes is read as ``n``."""


class Grant(NamedTuple):
    """The window a request was admitted under: the epoch (cuts so far) and the limit."""

    epoch: int
    limit: int


@attrs.frozen
class Window:
    """Where the window stands. Counts are requests; ``last_cut`` is in seconds of the
    caller's clock (``-inf``: never cut)."""

    size: float
    """The window as a fraction: each success adds ``1 / concurrency``."""
    probe_after: int
    """Windows of successes at the ceiling before a probe."""
    ceiling: int | None = None
    """Where growth stops until a probe (None: no 429 seen yet)."""
    cuts: int = 0
    """Cuts so far, also the epoch of :class:`Grant`."""
    last_cut: float = -math.inf
    account_in_flight: int | None = None
    """The last ``Twilio-Concurrent-Requests`` (None: never sent)."""
    at_ceiling: int = 0
    """Successes while the window sits at the ceiling."""
    above_ceiling: int = 0
    """Successes of requests sent above the ceiling (a probe) in this epoch."""

    @property
    def concurrency(self) -> int:
        """How many requests may be in flight."""
        return int(self.size + ROUNDING)

    def grant(self) -> Grant:
        """The :class:`Grant` of a request admitted now."""
        return Grant(self.cuts, self.concurrency)


@attrs.frozen
class WindowPolicy:
    """The rules of the module docstring, between ``min_concurrency`` and
    ``max_concurrency``; build a checked one with :meth:`checked`."""

    min_concurrency: int
    max_concurrency: int
    backoff: float = 0.5
    """The share of the window a cut keeps."""
    probe_windows: int = 100

    @classmethod
    def checked(
        cls,
        *,
        min_concurrency: object,
        max_concurrency: object,
        backoff: object,
        probe_windows: object,
    ) -> WindowPolicy:
        """A policy from caller input; raises :class:`InvalidParameterError` naming the
        parameter (``max_concurrency`` at most :data:`~proxy_async.limits.base.MAX_CONCURRENCY`)."""
        top = check_max_concurrency(max_concurrency)
        low = check_int(min_concurrency, "min_concurrency", 1)
        if low > top:
            raise InvalidParameterError(
                "min_concurrency", f"at most max_concurrency ({top})", min_concurrency
            )
        share = check_backoff(backoff)
        return cls(low, top, share, check_int(probe_windows, "probe_windows", 1))

    def start(self, initial_concurrency: object) -> Window:
        """The first window: an integer from min to max concurrency."""
        initial = check_int(initial_concurrency, "initial_concurrency", 1)
        if not self.min_concurrency <= initial <= self.max_concurrency:
            raise InvalidParameterError(
                "initial_concurrency",
                f"between min_concurrency ({self.min_concurrency}) and max_concurrency "
                f"({self.max_concurrency})",
                initial_concurrency,
            )
        return Window(float(initial), self.probe_windows)

    def on_concurrency_header(self, window: Window, account_in_flight: int) -> Window:
        """The account's requests in flight, as ``Twilio-Concurrent-Requests`` said."""
        if window.account_in_flight == account_in_flight:
            return window
        return attrs.evolve(window, account_in_flight=account_in_flight)

    def on_success(self, window: Window, sent: Grant | None, demand: int) -> Window:
        """A healthy answer (2xx-4xx but 429) to a request sent under ``sent`` (None:
        unknown); ``demand``: requests in flight or waiting, this one released."""
        window = self._count_probe(window, sent)
        limit = window.concurrency
        ceiling = window.ceiling
        if demand < limit - 1:
            return window  # not in use: successes say nothing about a larger window
        if ceiling is None or window.size < ceiling:
            step = window.size + 1 / limit
            return attrs.evolve(
                window, size=self._bounded(step if ceiling is None else min(step, ceiling))
            )
        if limit > ceiling:
            return window  # a probe is under way
        if window.account_in_flight is not None and window.account_in_flight > limit:
            # The account is shared and busy: leave the room to others.
            return window if window.at_ceiling == 0 else attrs.evolve(window, at_ceiling=0)
        at_ceiling = window.at_ceiling + 1
        if at_ceiling < window.probe_after * limit:
            return attrs.evolve(window, at_ceiling=at_ceiling)
        return attrs.evolve(window, size=self._bounded(ceiling + 1), at_ceiling=0, above_ceiling=0)

    def on_throttle(
        self, window: Window, sent: Grant | None, *, now: float, cooldown: float
    ) -> Window:
        """A 429 at ``now`` to a request sent under ``sent`` (None: unknown, then it cuts
        only once the last cut is ``cooldown`` seconds old)."""
        if sent is not None:
            if sent.epoch != window.cuts:
                return window  # sent before the last cut, which already answered this burst
            sent_under = sent.limit
        elif now - window.last_cut < cooldown:
            return window
        else:
            sent_under = window.concurrency
        ceiling = window.ceiling
        if ceiling is not None and (sent_under > ceiling or window.concurrency > ceiling):
            size = float(ceiling)  # a probe failed: the ceiling held
        else:
            size = max(
                float(self.min_concurrency),
                math.floor(min(window.size, sent_under) * self.backoff),
            )
            ceiling = max(int(size), sent_under - 1)
        return attrs.evolve(
            window,
            size=self._bounded(size),
            ceiling=ceiling,
            cuts=window.cuts + 1,
            last_cut=now,
            probe_after=self.probe_windows,
            at_ceiling=0,
            above_ceiling=0,
        )

    def _count_probe(self, window: Window, sent: Grant | None) -> Window:
        """Count a success of a probe (sent above the ceiling in this epoch); a whole
        window of them raises the ceiling to the window, and the next probe comes soon."""
        ceiling = window.ceiling
        limit = window.concurrency
        if (
            ceiling is None
            or limit <= ceiling
            or sent is None
            or sent.epoch != window.cuts
            or sent.limit <= ceiling
        ):
            return window
        if window.above_ceiling + 1 < limit:
            return attrs.evolve(window, above_ceiling=window.above_ceiling + 1)
        return attrs.evolve(window, ceiling=limit, above_ceiling=0, at_ceiling=0, probe_after=1)

    def _bounded(self, size: float) -> float:
        """``size`` within min and max concurrency, as a float."""
        return min(float(self.max_concurrency), max(float(self.min_concurrency), float(size)))
