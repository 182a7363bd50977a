"""AdaptiveRateLimiter: RateControl as arithmetic, the Pacer on a fake clock, and the
limiter end to end against a fake server that refuses more than 10 requests/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from typing import Any

import pytest

from proxy_async import (
    AdaptiveRateLimiter,
    InvalidParameterError,
    ProxyClient,
    RateLimitError,
    RetryPolicy,
)
from proxy_async.limits.adaptive import Limiter
from proxy_async.limits.adaptive_rate import Pacer, RateControl
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer


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


# -- RateControl ----------------------------------------------------------------------


def test_a_429_cuts_by_backoff_from_the_lower_of_rate_and_measured_rate() -> None:
    control = RateControl(ceiling=30)
    assert control.on_throttle(10.0, 18.0, admitted=9.9) == 9.0  # measured 18 < rate 30
    control = RateControl(ceiling=30, backoff=0.75)
    assert control.on_throttle(10.0, 100.0, admitted=9.9) == 22.5  # rate 30 < measured
    assert (control.cuts, control.last_cut) == (1, 10.0)


def test_one_burst_of_429s_cuts_once() -> None:
    control = RateControl(ceiling=30)
    control.on_throttle(10.0, 40.0, admitted=9.9)
    assert control.rate == 15.0
    # Admitted before (or in the same instant as) the cut: the cut already answered them.
    assert control.on_throttle(10.2, 40.0, admitted=9.95) == 15.0
    assert control.on_throttle(10.3, 40.0, admitted=10.0) == 15.0
    assert control.cuts == 1
    # Admitted after the cut: news, it cuts again.
    assert control.on_throttle(10.4, 40.0, admitted=10.1) == 7.5
    # Admission unknown: counted with the last cut for one cooldown.
    assert control.on_throttle(11.3, 40.0) == 7.5
    assert control.on_throttle(11.4, 40.0) == 3.75
    assert control.cuts == 3


def test_cuts_stop_at_the_floor() -> None:
    control = RateControl(ceiling=8, min_rate=2)
    for second in range(1, 10):
        control.on_throttle(float(second), 8.0, admitted=second - 0.5)
    assert control.rate == 2.0
    assert control.cuts == 9


def test_probes_once_per_cooldown_by_a_tenth_of_the_cut_rate_up_to_the_ceiling() -> None:
    control = RateControl(ceiling=12)
    control.on_throttle(0.0, 20.0, admitted=-0.1)  # base min(12, 20) = 12 -> 6
    assert control.rate == 6.0
    assert control.on_success(0.9) == 6.0  # the cut is not a cooldown old yet
    assert control.on_success(1.0) == pytest.approx(7.2)  # step 0.1 x 12
    assert control.on_success(1.5) == pytest.approx(7.2)  # one step per cooldown
    assert control.on_success(2.0) == pytest.approx(8.4)
    for second in range(3, 10):
        control.on_success(float(second))
    assert control.rate == 12.0  # never above the ceiling


def test_small_rates_probe_by_at_least_half_a_request_per_second() -> None:
    control = RateControl(ceiling=30, cooldown=2.0)
    control.on_throttle(0.0, 2.0, admitted=-0.1)
    assert control.rate == 1.0
    assert control.on_success(1.0) == 1.0
    assert control.on_success(2.0) == 1.5  # max(0.5, 0.1 x 2)
    assert control.on_success(4.0) == 2.0


def test_a_rate_the_client_does_not_use_is_not_probed() -> None:
    control = RateControl(ceiling=30, initial_rate=10)
    assert control.on_success(5.0, measured_rate=4.0) == 10.0  # under half of 10/s
    assert control.on_success(5.0, measured_rate=6.0) == 11.0  # step 0.1 x initial 10


def test_an_unlimited_start_is_cut_from_the_measured_rate_and_has_no_ceiling() -> None:
    control = RateControl(ceiling=None)
    assert control.rate is None
    assert control.on_success(5.0) is None
    assert control.on_throttle(5.0, 40.0) == 20.0
    assert control.on_success(6.0) == 24.0  # step 0.1 x 40
    for second in range(7, 200):
        control.on_success(float(second))
    assert control.rate == pytest.approx(24.0 + 193 * 4.0)


@pytest.mark.parametrize(
    "options",
    [
        {"ceiling": 0},
        {"ceiling": True},
        {"ceiling": float("inf")},
        {"min_rate": 0},
        {"min_rate": 40},  # above the ceiling of 30
        {"initial_rate": 0.1},  # below min_rate
        {"initial_rate": 31},  # above the ceiling
        {"initial_rate": "5"},
        {"backoff": 1},
        {"backoff": 0},
        {"backoff": False},
        {"increase": 0},
        {"cooldown": 0},
        {"cooldown": float("nan")},
    ],
)
def test_rate_control_validates_its_parameters(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        RateControl(**options)


def test_rate_control_validates_the_measured_rate() -> None:
    with pytest.raises(InvalidParameterError, match="measured_rate"):
        RateControl().on_throttle(1.0, -1.0)


# -- Pacer ----------------------------------------------------------------------------


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


# -- AdaptiveRateLimiter --------------------------------------------------------------


def test_limiter_is_a_limiter_with_state_and_a_repr() -> None:
    limiter: Limiter = AdaptiveRateLimiter(max_concurrency=8)
    assert limiter.max_concurrency == 8
    adaptive = AdaptiveRateLimiter(requests_per_second=30, initial_rate=12)
    assert (adaptive.rate, adaptive.ceiling, adaptive.min_rate) == (12.0, 30.0, 0.5)
    assert (adaptive.throttled, adaptive.cuts, adaptive.in_flight) == (0, 0, 0)
    assert repr(adaptive).startswith("AdaptiveRateLimiter(rate=12, ceiling=30.0,")
    assert "rate=unlimited" in repr(AdaptiveRateLimiter(requests_per_second=None))


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"requests_per_second": 0}, "requests_per_second"),
        ({"requests_per_second": True}, "requests_per_second"),
        ({"initial_rate": 40}, "initial_rate"),
        ({"min_rate": -1}, "min_rate"),
        ({"backoff": 1.5}, "backoff"),
        ({"increase": True}, "increase"),
        ({"cooldown": -1}, "cooldown"),
        ({"burst": 0}, "burst"),
    ],
)
def test_limiter_validates_its_parameters(options: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        AdaptiveRateLimiter(**options)
    assert raised.value.parameter == parameter


async def test_limiter_cancelled_acquire_holds_no_slot() -> None:
    limiter = AdaptiveRateLimiter(max_concurrency=2, requests_per_second=1.0, burst=1)
    await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())  # has a slot, waits for the pacer
    blocked = asyncio.ensure_future(limiter.acquire())  # waits for a slot
    await settle()
    waiting.cancel()
    blocked.cancel()
    await settle()
    assert limiter.in_flight == 1
    limiter.release()
    assert limiter.in_flight == 0
    assert limiter._slots._value == 2  # both slots free again


async def test_limiter_cuts_once_per_burst_and_logs_the_cut(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="proxy_async")
    limiter = AdaptiveRateLimiter(requests_per_second=None)
    gate = asyncio.Event()

    async def attempt(status: int | None) -> None:
        await limiter.acquire()
        await gate.wait()
        limiter.release()
        limiter.observe(status, {})

    burst = [asyncio.ensure_future(attempt(429)) for _ in range(12)]
    neutral = [asyncio.ensure_future(attempt(status)) for status in (None, 503, 500)]
    await settle()
    gate.set()
    await asyncio.gather(*burst, *neutral)
    assert (limiter.throttled, limiter.cuts) == (12, 1)
    assert limiter.rate == 7.5  # 15 admitted in the last second, halved
    cuts = [r for r in caplog.records if "adaptive rate limiter" in r.getMessage()]
    assert len(cuts) == 1
    assert cuts[0].levelno == logging.DEBUG
    assert "unlimited -> 7.5" in cuts[0].getMessage()


async def test_limiter_cuts_on_a_429_from_another_task_once_per_cooldown() -> None:
    limiter = AdaptiveRateLimiter(requests_per_second=20)
    limiter.observe(429, None)  # no admission in this task: the time decides
    limiter.observe(429, None)
    assert (limiter.rate, limiter.cuts, limiter.throttled) == (0.5, 1, 2)  # none measured


@pytest.mark.slow
async def test_limiter_finds_a_servers_rate_limit_over_real_http() -> None:
    """120 GETs from 8 tasks, ceiling 30/s, against a server refusing more than 10/s."""
    requests, workers, warmup, limit = 120, 8, 2.0, 10
    async with FakeProxyServer(max_requests_per_second=limit, latency=0.002) as server:
        service = server.service_sids[0]
        limiter = AdaptiveRateLimiter(requests_per_second=30)
        async with ProxyClient(
            FAKE_ACCOUNT_SID,
            FAKE_AUTH_TOKEN,
            base_url=server.url,
            limiter=limiter,
            retry=RetryPolicy(retries=0),
        ) as client:
            session = client.services(service).sessions(server.session_sids(service)[0])
            remaining = requests
            started = time.monotonic()

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    with contextlib.suppress(RateLimitError):
                        await session.interactions.list(limit=20)

            await asyncio.gather(*(worker() for _ in range(workers)))
        arrivals = [(r.time - started, r.status) for r in server.requests]

    assert len(arrivals) == requests
    assert {status for _, status in arrivals} <= {200, 429}
    steady = [(at, status) for at, status in arrivals if at >= warmup]
    ok = [at for at, status in steady if status == 200]
    share_429 = 1 - len(ok) / len(steady)
    achieved = (len(ok) - 1) / (ok[-1] - ok[0])
    print(
        f"{limiter.cuts} cuts, {limiter.throttled} 429s in all; after {warmup:g} s: "
        f"429 share {share_429:.1%} of {len(steady)}, {achieved:.1f} successes/s, {limiter!r}"
    )
    assert limiter.cuts >= 1
    assert share_429 < 0.15
    assert 0.45 * limit <= achieved <= 1.1 * limit
