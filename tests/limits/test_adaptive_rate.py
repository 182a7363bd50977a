"""AdaptiveRateLimiter: slots, the pacer and the rate control together, and end to end
against a fake server that refuses more than 10 requests/s.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from proxy_async.limits.base import Limiter
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer


async def settle() -> None:
    """Let every ready task run until they all wait again."""
    for _ in range(20):
        await asyncio.sleep(0)


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
