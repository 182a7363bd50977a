"""The admission queue of :class:`~proxy_async.limits.adaptive.AdaptiveLimiter`.

It admits requests in FIFO order while fewer than the current limit are in flight, and
stamps each admission with the :class:`~proxy_async.limits.window.Grant` it was made
under, so a later 429 can tell which window it answers. The limit comes from the pure
window policy (:mod:`proxy_async.limits.window`) through :meth:`AdmissionQueue.resize`.

Shrinking never revokes a slot: requests already in flight finish, and no one is
admitted until the count is below the new limit. Growing admits waiters at once. A
cancelled :meth:`AdmissionQueue.enter` holds nothing, even when the slot was granted
just as it was cancelled (the slot goes to the next waiter).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from .window import Grant


class AdmissionQueue:
    """Requests in flight under a changeable limit, and the FIFO queue of those waiting."""

    def __init__(self, grant: Grant) -> None:
        self._grant = grant
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[Grant]] = deque()

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet released."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers waiting in :meth:`enter`."""
        return len(self._waiters)

    async def enter(self) -> Grant:
        """Wait for a slot (FIFO) and return the grant it was given under; cancellation-safe."""
        if self._in_flight < self._grant.limit and not self._waiters:
            self._in_flight += 1
            return self._grant
        waiter: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # granted as we were cancelled: hand it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def leave(self) -> None:
        """Free a slot taken by :meth:`enter` and admit the next waiter if it fits."""
        self._in_flight -= 1
        self._admit()

    def resize(self, grant: Grant) -> None:
        """Admit from now on under ``grant`` (its limit may have grown or shrunk)."""
        self._grant = grant
        self._admit()

    def _admit(self) -> None:
        while self._waiters and self._in_flight < self._grant.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                # The grant is stamped now: a cut before the waiter resumes is a later epoch.
                waiter.set_result(self._grant)
                self._in_flight += 1
