"""Pacer: GCRA spacing at a changeable rate, on a fake clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

import pytest

from proxy_async import InvalidParameterError
from proxy_async.limits.pacer import Pacer


async def settle() -> None:
    """Let every ready task run until they all wait again."""
    for _ in range(20):
        await asyncio.sleep(0)


class FakeClock:
    """A clock that moves only in :meth:`advance`, waking sleepers in due order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        waker = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + delay, next(self._order), waker))
        await waker

    async def advance(self, seconds: float) -> None:
        end = self.now + seconds
        await settle()
        while self._timers and self._timers[0][0] <= end:
            due, _, waker = heapq.heappop(self._timers)
            self.now = max(self.now, due)
            if not waker.done():
                waker.set_result(None)
            await settle()
        self.now = end
        await settle()


def start(pacer: Pacer, clock: FakeClock, count: int, admitted: list[float]) -> list[Any]:
    """``count`` tasks that each acquire once and record when they were admitted."""

    async def one() -> None:
        await pacer.acquire()
        admitted.append(clock.now)

    return [asyncio.ensure_future(one()) for _ in range(count)]


async def test_pacer_spaces_admissions_at_its_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, burst=1, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []
    tasks = start(pacer, clock, 5, admitted)
    await clock.advance(3.0)
    assert admitted == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert all(task.done() for task in tasks)


async def test_pacer_admits_a_burst_of_one_seconds_worth_then_paces() -> None:
    clock = FakeClock()
    pacer = Pacer(4.0, clock=clock, sleep=clock.sleep)
    assert pacer.burst == 4.0
    admitted: list[float] = []
    start(pacer, clock, 7, admitted)
    await clock.advance(2.0)
    assert admitted == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75])
    # Rested for a second, the burst is back.
    await clock.advance(1.0)
    start(pacer, clock, 4, admitted)
    await settle()
    assert admitted[7:] == [3.0] * 4


async def test_pacer_rate_changes_apply_to_callers_already_waiting() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, burst=1, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []
    start(pacer, clock, 4, admitted)
    await clock.advance(0.2)
    assert admitted == [0.0]
    pacer.set_rate(10.0)  # level 0.8 request left, now drained at 10/s
    await clock.advance(0.3)
    assert admitted == pytest.approx([0.0, 0.28, 0.38, 0.48])
    start(pacer, clock, 2, admitted)
    await clock.advance(0.01)
    # A cut at 0.51 s: the 0.7 request still owed now drains at 0.5/s, then one per 2 s.
    pacer.set_rate(0.5)
    await clock.advance(5.0)
    assert admitted[4:] == pytest.approx([0.51 + 0.7 / 0.5, 0.51 + 0.7 / 0.5 + 2.0])


async def test_pacer_fill_counts_requests_as_already_sent() -> None:
    clock = FakeClock()
    pacer = Pacer(5.0, clock=clock, sleep=clock.sleep)
    pacer.fill(9)  # burst 5: the next waits until the level is 4, (9 - 4) / 5 s
    admitted: list[float] = []
    start(pacer, clock, 1, admitted)
    await clock.advance(2.0)
    assert admitted == pytest.approx([1.0])


async def test_a_cancelled_pacer_acquire_takes_no_slot() -> None:
    clock = FakeClock()
    pacer = Pacer(1.0, burst=1, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []
    first = start(pacer, clock, 1, admitted)
    head, middle = start(pacer, clock, 2, admitted)
    last = start(pacer, clock, 1, admitted)
    await clock.advance(0.5)
    assert pacer.waiting == 3
    head.cancel()
    middle.cancel()
    await clock.advance(1.0)
    assert admitted == pytest.approx([0.0, 1.0])  # the last one took the head's turn
    assert pacer.waiting == 0
    assert head.cancelled()
    assert middle.cancelled()
    assert first[0].done()
    assert last[0].done()


async def test_an_unlimited_pacer_never_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []
    start(pacer, clock, 100, admitted)
    await settle()
    assert admitted == [0.0] * 100
    assert pacer.level() == 0.0


@pytest.mark.parametrize(
    "options", [{"rate": 0}, {"rate": True}, {"rate": 1, "burst": 0.5}, {"rate": 1, "burst": True}]
)
def test_pacer_validates_its_parameters(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        Pacer(**options)


def test_pacer_validates_rate_changes_and_fills() -> None:
    pacer = Pacer(1.0)
    with pytest.raises(InvalidParameterError, match="rate"):
        pacer.set_rate(-1)
    with pytest.raises(InvalidParameterError, match="requests"):
        pacer.fill(-1)
