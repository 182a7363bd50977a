"""The arithmetic of :class:`~proxy_async.limits.adaptive_rate.AdaptiveRateLimiter`'s rate.

:class:`RateControl` is AIMD between a floor and a ceiling. Numbers in, numbers out: the
time of each event (seconds of the caller's monotonic clock) and the measured rate come
in as arguments; no asyncio, no clock. Every rate is in requests per second.
"""

from __future__ import annotations

import math

from ..errors import InvalidParameterError
from ..validation import check_number
from .base import (
    DEFAULT_REQUESTS_PER_SECOND,
    check_backoff,
    check_optional_rate,
    check_requests_per_second,
)

DEFAULT_MIN_RATE = 0.5
"""The floor of cuts, in requests/s, unless the ceiling is lower (then the ceiling):
one request every 2 s still finds out when the server has room again."""

MIN_STEP = 0.5
"""Smallest upward probe, in requests/s, so a rate cut to its floor still recovers."""

IN_USE = 0.5
"""A rate is probed upward only while the measured rate is at least this share of it."""


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
        self._ceiling = check_optional_rate("ceiling", ceiling)
        self._min_rate = _floor(min_rate, self._ceiling)
        if self._ceiling is not None and self._min_rate > self._ceiling:
            raise InvalidParameterError(
                "min_rate", f"at most the ceiling ({self._ceiling})", min_rate
            )
        self._backoff = check_backoff(backoff)
        self._increase = check_number(increase, "increase")
        self._cooldown = check_number(cooldown, "cooldown")
        self._rate = self._initial(initial_rate)
        self._base = self._rate  # the rate the last cut was computed from
        self._last_cut = -math.inf
        self._last_step = -math.inf
        self._cuts = 0

    def _initial(self, initial_rate: float | None) -> float | None:
        if initial_rate is None:
            return self._ceiling
        rate = check_number(initial_rate, "initial_rate")
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
        measured = check_number(measured_rate, "measured_rate", inclusive=True)
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


def _floor(min_rate: object, ceiling: float | None) -> float:
    """The floor of cuts: ``min_rate``, by default :data:`DEFAULT_MIN_RATE` or the ceiling
    if that is lower, so a ceiling of 0.25/s works; an explicit floor above it is refused."""
    if min_rate is None:
        return DEFAULT_MIN_RATE if ceiling is None else min(DEFAULT_MIN_RATE, ceiling)
    return check_requests_per_second("min_rate", min_rate)
