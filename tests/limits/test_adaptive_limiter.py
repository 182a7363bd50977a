"""AdaptiveLimiter: AIMD on 429s, a remembered ceiling, probes, and safe admission.

The unit tests drive the limiter with a closed loop of tasks and a model server that
answers 429 to whatever was sent under a window above its cap; the last test runs it
against the fake server over real HTTP and measures at the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Mapping

import pytest

from proxy_async import ApiError, InvalidParameterError, ProxyClient, RetryPolicy
from proxy_async.limits.adaptive import CONCURRENCY_HEADER, AdaptiveLimiter, concurrency_header
from proxy_async.limits.base import Limiter
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer

Answer = Callable[[int], tuple[int | None, Mapping[str, str] | None]]
"""A model server: requests in flight when this one arrived -> (status, headers)."""


def capped(cap: Callable[[], int], headers: Mapping[str, str] | None = None) -> Answer:
    """A server that refuses a request arriving with more than ``cap()`` in flight."""

    def answer(in_flight: int) -> tuple[int | None, Mapping[str, str] | None]:
        return (429 if in_flight > cap() else 200), headers

    return answer


async def attempt(limiter: AdaptiveLimiter, answer: Answer) -> None:
    """One request as the client makes it: acquire, 'send', release, observe."""
    await limiter.acquire()
    arrived_with = limiter.in_flight
    await asyncio.sleep(0)
    limiter.release()
    status, headers = answer(arrived_with)
    limiter.observe(status, headers)


async def closed_loop(
    limiter: AdaptiveLimiter,
    answer: Answer,
    attempts: int,
    *,
    workers: int = 32,
    on_step: Callable[[], None] | None = None,
) -> None:
    """``workers`` tasks making ``attempts`` requests in all, back to back."""
    remaining = attempts

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await attempt(limiter, answer)
            if on_step is not None:
                on_step()

    await asyncio.gather(*(worker() for _ in range(workers)))


def test_is_a_limiter_and_validates_its_parameters() -> None:
    limiter: Limiter = AdaptiveLimiter(max_concurrency=50)
    assert limiter.max_concurrency == 50
    assert AdaptiveLimiter().concurrency == 20
    assert AdaptiveLimiter(max_concurrency=5).concurrency == 5
    assert "AdaptiveLimiter(concurrency=20" in repr(AdaptiveLimiter())
    for options in (
        {"max_concurrency": 0},
        {"min_concurrency": 0},
        {"min_concurrency": 5, "max_concurrency": 4},
        {"initial_concurrency": 10, "max_concurrency": 5},
        {"initial_concurrency": 1, "min_concurrency": 2},
        {"initial_concurrency": True},
        {"backoff": 1.0},
        {"backoff": 0},
        {"probe_windows": 0},
        {"requests_per_second": 0},
        {"requests_per_second": None, "burst": 5},
    ):
        with pytest.raises(InvalidParameterError):
            AdaptiveLimiter(**options)


def test_the_concurrency_header_is_a_count_in_any_case_or_nothing() -> None:
    assert concurrency_header({CONCURRENCY_HEADER: " 7 "}) == 7
    assert concurrency_header({CONCURRENCY_HEADER.lower(): "0"}) == 0
    for headers in (None, {}, {CONCURRENCY_HEADER: "-1"}, {CONCURRENCY_HEADER: "7.5"}):
        assert concurrency_header(headers) is None


async def test_grows_by_one_per_window_of_successes_while_in_use() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=4, max_concurrency=10, requests_per_second=None)
    after: list[int] = []  # the window after each answer
    await closed_loop(
        limiter, capped(lambda: 100), 40, on_step=lambda: after.append(limiter.concurrency)
    )
    assert (after[2], after[3]) == (4, 5)  # 4 successes in a window of 4
    assert (after[7], after[8]) == (5, 6)  # then 5 in a window of 5
    assert (after[13], after[14]) == (6, 7)
    await closed_loop(limiter, capped(lambda: 100), 1000)
    assert limiter.concurrency == 10  # never past max_concurrency
    assert limiter.ceiling is None
    assert limiter.in_flight == 0


async def test_a_client_using_few_slots_does_not_inflate_the_window() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=4, requests_per_second=None)
    await closed_loop(limiter, capped(lambda: 100), 200, workers=2)
    assert limiter.concurrency == 4


async def test_one_burst_of_429s_cuts_once() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=16, requests_per_second=None)
    gate = asyncio.Event()

    async def held() -> None:
        await limiter.acquire()
        await gate.wait()
        limiter.release()
        limiter.observe(429, {})

    burst = [asyncio.ensure_future(held()) for _ in range(16)]
    await asyncio.sleep(0)
    assert limiter.in_flight == 16
    gate.set()
    await asyncio.gather(*burst)
    assert (limiter.concurrency, limiter.ceiling, limiter.cuts, limiter.throttled) == (8, 15, 1, 16)
    # A 429 of a request sent after the cut is news: it cuts again.
    await attempt(limiter, lambda _: (429, None))
    assert (limiter.concurrency, limiter.ceiling, limiter.cuts) == (4, 7, 2)


async def test_429s_without_an_admission_in_this_task_cut_once_per_round_trip() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=16, requests_per_second=None)
    for _ in range(5):
        limiter.observe(429, None)
    assert (limiter.concurrency, limiter.cuts, limiter.throttled) == (8, 1, 5)


async def test_5xx_and_transport_errors_are_neutral() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=4, requests_per_second=None)
    await closed_loop(limiter, lambda _: (503, None), 100)
    await closed_loop(limiter, lambda _: (None, None), 100)
    assert (limiter.concurrency, limiter.cuts) == (4, 0)


async def test_converges_on_the_cap_then_only_probes_one_above_it() -> None:
    cap = 6
    limiter = AdaptiveLimiter(
        initial_concurrency=40, max_concurrency=64, requests_per_second=None, probe_windows=20
    )
    await closed_loop(limiter, capped(lambda: cap), 1000)
    assert limiter.ceiling == cap
    cuts, throttled = limiter.cuts, limiter.throttled
    samples: list[int] = []
    await closed_loop(
        limiter, capped(lambda: cap), 3000, on_step=lambda: samples.append(limiter.concurrency)
    )
    # It probes (a cut back to the ceiling each time) but never halves again.
    assert limiter.cuts > cuts
    assert set(samples) <= {cap, cap + 1}
    assert statistics.median(samples) == cap
    assert limiter.ceiling == cap
    # Here a probe costs about a window of 429s (every request of the probe's window
    # arrives over the cap); one every 20 windows stays near 5%.
    assert limiter.throttled - throttled < 3000 * 0.1


async def test_a_probe_that_holds_forgets_the_stale_ceiling() -> None:
    cap = 4
    limiter = AdaptiveLimiter(
        initial_concurrency=16, max_concurrency=64, requests_per_second=None, probe_windows=3
    )
    await closed_loop(limiter, capped(lambda: cap), 500)
    assert limiter.ceiling == 4
    cap = 12  # the server got more room (another client went away)
    await closed_loop(limiter, capped(lambda: cap), 3000)
    assert limiter.ceiling == 12
    assert limiter.concurrency in (12, 13)


async def test_a_shared_account_blocks_probing() -> None:
    cap = 4
    limiter = AdaptiveLimiter(
        initial_concurrency=16, max_concurrency=64, requests_per_second=None, probe_windows=2
    )
    await closed_loop(limiter, capped(lambda: cap), 500)
    cuts = limiter.cuts
    # The account runs more requests than this window: others use the room above it.
    busy = {CONCURRENCY_HEADER: "9"}
    await closed_loop(limiter, capped(lambda: cap, busy), 1000)
    assert limiter.cuts == cuts
    assert limiter.concurrency == 4
    # Headers of any case are read (a plain dict from another transport).
    await closed_loop(limiter, capped(lambda: cap, {CONCURRENCY_HEADER.lower(): "9"}), 300)
    assert limiter.cuts == cuts
    await closed_loop(limiter, capped(lambda: cap, {CONCURRENCY_HEADER: "3"}), 300)
    assert limiter.cuts > cuts  # alone again: probing resumes


async def test_shrinking_strands_no_waiter_and_admits_within_the_new_window() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=8, requests_per_second=None)
    gate = asyncio.Event()
    admitted_at: list[int] = []

    async def request() -> None:
        await limiter.acquire()
        admitted_at.append(limiter.in_flight)
        await gate.wait()
        limiter.release()
        limiter.observe(None, None)  # neutral: the window stays where the cut put it

    holders = [asyncio.ensure_future(request()) for _ in range(8)]
    await asyncio.sleep(0)
    waiters = [asyncio.ensure_future(request()) for _ in range(20)]
    await asyncio.sleep(0)
    assert (limiter.in_flight, limiter.waiting) == (8, 20)
    limiter.observe(429, None)
    assert (limiter.concurrency, limiter.in_flight) == (4, 8)
    admitted_at.clear()
    gate.set()
    await asyncio.wait_for(asyncio.gather(*holders, *waiters), 5)
    assert len(admitted_at) == 20
    assert max(admitted_at) <= 4
    assert (limiter.in_flight, limiter.waiting, limiter.concurrency) == (0, 0, 4)


async def test_cancelled_waiter_holds_nothing() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=1, requests_per_second=None)
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (limiter.in_flight, limiter.waiting) == (1, 0)
    limiter.release()
    assert limiter.in_flight == 0


async def test_a_slot_granted_to_a_cancelled_waiter_goes_to_the_next() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=1, requests_per_second=None)
    await limiter.acquire()
    second = asyncio.ensure_future(limiter.acquire())
    third = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    limiter.release()  # grants the slot to `second`...
    second.cancel()  # ...which is cancelled before it can run
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.wait_for(third, 5)
    assert (limiter.in_flight, limiter.waiting) == (1, 0)
    limiter.release()
    assert limiter.in_flight == 0


async def test_cancelled_while_waiting_for_a_rate_token_frees_the_slot() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=4, requests_per_second=1, burst=1)
    await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.05)
    assert limiter.in_flight == 2
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.in_flight == 1
    limiter.release()


async def test_growth_admits_waiters_at_once() -> None:
    limiter = AdaptiveLimiter(initial_concurrency=1, max_concurrency=4, requests_per_second=None)
    gate = asyncio.Event()

    async def slow() -> None:
        await limiter.acquire()
        await gate.wait()
        limiter.release()

    await limiter.acquire()
    blocked = [asyncio.ensure_future(slow()) for _ in range(3)]
    await asyncio.sleep(0)
    assert limiter.waiting == 3
    limiter.release()  # the one success of a window of 1: the window becomes 2
    limiter.observe(200, None)
    await asyncio.sleep(0)
    assert (limiter.concurrency, limiter.in_flight, limiter.waiting) == (2, 2, 1)
    gate.set()
    await asyncio.wait_for(asyncio.gather(*blocked), 5)


# -- against the fake server, over real HTTP ----------------------------------------------

CAP = 8
LATENCY = 0.03
RUN_SECONDS = 7.0
CONVERGED_BY = 3.0  # seconds: "within a few seconds", generous for a loaded machine


async def test_converges_near_the_servers_cap_over_http_with_few_429s() -> None:
    async with FakeProxyServer(
        max_in_flight=CAP, latency=LATENCY, concurrency_header=True
    ) as server:
        service = server.service_sids[0]
        path = f"/v1/Services/{service}/Sessions/{server.session_sids(service)[0]}"
        limiter = AdaptiveLimiter(
            initial_concurrency=8 * CAP, max_concurrency=16 * CAP, requests_per_second=None
        )
        windows: list[tuple[float, int]] = []
        async with ProxyClient(
            FAKE_ACCOUNT_SID,
            FAKE_AUTH_TOKEN,
            base_url=server.url,
            limiter=limiter,
            retry=RetryPolicy(retries=20, deadline=None, max_backoff=1.0),
        ) as client:
            started = time.monotonic()
            stop = started + RUN_SECONDS

            async def worker() -> None:
                while time.monotonic() < stop:
                    with contextlib.suppress(ApiError):
                        await client.request("GET", path)

            async def sample() -> None:
                while time.monotonic() < stop:
                    windows.append((time.monotonic() - started, limiter.concurrency))
                    await asyncio.sleep(0.02)

            await asyncio.gather(sample(), *(worker() for _ in range(16 * CAP)))
        requests = [(r.time - started, r.status) for r in server.requests]

    # When the window reached the cap for good: the last sample above CAP + 1.
    over = [at for at, window in windows if window > CAP + 1]
    converged = over[-1] if over else 0.0
    after = [status for at, status in requests if at >= CONVERGED_BY]
    rate_429 = after.count(429) / len(after)
    late_windows = [window for at, window in windows if at >= CONVERGED_BY]
    throughput = len(after) / (RUN_SECONDS - CONVERGED_BY)
    print(
        f"cap {CAP}: window at or under {CAP + 1} from {converged:.2f} s on; after "
        f"{CONVERGED_BY:g} s: 429 rate {rate_429:.2%} of {len(after)}, median window "
        f"{statistics.median(late_windows)}, {throughput:.0f} requests/s"
    )
    assert converged < CONVERGED_BY
    assert rate_429 < 0.02
    assert CAP - 1 <= statistics.median(late_windows) <= CAP + 1
    assert min(late_windows) >= CAP // 2
    assert all(status in (200, 429) for _, status in requests)
