"""RedisLimiter against a real redis-server: one rate shared by many processes.

The ``redis_server`` fixture (conftest.py, harness in redis_server.py) starts a real
``redis-server`` on a free loopback port and stops it afterwards.

Run as a script (``python tests/limits/test_redis_limiter.py --worker CONFIG``), this file is
the worker process of the multi-process tests: it prints ``ready``, waits for a line on
stdin, hammers the fake server through a shared limiter for a while, and prints a JSON
summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis_server import RedisServer

from proxy_async import ProxyClient, ProxyError, RetryPolicy
from proxy_async.limits.adaptive import AdaptiveLimiter
from proxy_async.limits.fixed import RateLimiter
from proxy_async.limits.redis import RedisLimiter
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer

ROOT = Path(__file__).resolve().parents[2]
WORKER_PATH = os.pathsep.join(
    [str(ROOT), str(ROOT / "tests"), *filter(None, [os.environ.get("PYTHONPATH")])]
)
"""The worker's import path: the package and the helpers beside conftest.py (pytest puts
both on the path from pyproject; a script run from tests/limits/ would see neither)."""

WORKERS = 4
RATE = 50.0  # shared requests/s across every worker
SHARED_SECONDS = 4.5  # the shared limit is measured over this run...
FALLBACK_SECONDS = 2.5  # ...then Redis is killed and the workers go on for this long


# -- the worker process -------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerConfig:
    """What one worker process does."""

    base_url: str
    path: str
    redis_url: str
    key: str
    rate: float
    fallback_rate: float
    seconds: float
    tasks: int = 8
    retry_interval: float = 1.0


async def _hammer(config: WorkerConfig) -> dict[str, int]:
    ok = failed = 0
    limiter = RedisLimiter(
        config.redis_url,
        requests_per_second=config.rate,
        key=config.key,
        max_concurrency=config.tasks,
        fallback_requests_per_second=config.fallback_rate,
        # Killing Redis resets its connections, which is noticed at once whatever the
        # timeout; a generous one keeps a loaded CI machine's slow answer from sending a
        # worker to its local limit (on top of the shared rate) while Redis is fine.
        timeout=2.0,
        retry_interval=config.retry_interval,
    )
    async with (
        limiter,
        ProxyClient(
            FAKE_ACCOUNT_SID,
            FAKE_AUTH_TOKEN,
            base_url=config.base_url,
            limiter=limiter,
            retry=RetryPolicy(retries=2, deadline=None),
        ) as client,
    ):
        await client.request("GET", config.path)  # connect to Redis and the server
        print("ready", flush=True)
        if not await asyncio.to_thread(sys.stdin.readline):
            return {"ok": 0, "failed": 0}
        stop = time.monotonic() + config.seconds

        async def loop() -> None:
            nonlocal ok, failed
            while time.monotonic() < stop:
                try:
                    await client.request("GET", config.path)
                    ok += 1
                except ProxyError:
                    failed += 1

        await asyncio.gather(*(loop() for _ in range(config.tasks)))
    return {"ok": ok, "failed": failed}


def worker_main(argv: Sequence[str]) -> int:
    """The worker process: warm up, print ready, wait for go, hammer, print a summary."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    config = WorkerConfig(**json.loads(argv[0]))
    summary = asyncio.run(_hammer(config))
    print(json.dumps(summary), flush=True)
    return 0


@dataclass
class WorkerResult:
    """A finished worker: exit status, summary and stderr."""

    returncode: int
    summary: dict[str, int]
    stderr: str


async def run_workers(
    configs: Sequence[WorkerConfig], *, during: Callable[[], Awaitable[None]] | None = None
) -> tuple[float, list[WorkerResult]]:
    """Start the workers, release them together, run ``during()`` meanwhile; returns
    the start instant (``time.monotonic()``, the fake server's clock) and the results."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            json.dumps(config.__dict__),
            env={**os.environ, "PYTHONPATH": WORKER_PATH},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for config in configs
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line == b"ready\n", line
        started = time.monotonic()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        if during is not None:
            await during()
        outputs = [
            await asyncio.wait_for(process.communicate(), 60 + configs[0].seconds)
            for process in processes
        ]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    results = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        lines = out.decode().splitlines()
        assert process.returncode is not None
        summary = json.loads(lines[-1]) if lines else {}
        results.append(WorkerResult(process.returncode, summary, err.decode()))
    return started, results


def max_in_any_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most arrivals in any window ``[t, t + width)``."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
async def fake() -> AsyncIterator[FakeProxyServer]:
    """The fake Proxy server, in this process, recording arrival times."""
    async with FakeProxyServer(latency=0.01) as server:
        yield server


def session_path(server: FakeProxyServer) -> str:
    """A cheap GET: one Session."""
    service = server.service_sids[0]
    return f"/v1/Services/{service}/Sessions/{server.session_sids(service)[0]}"


def worker_configs(
    fake: FakeProxyServer, redis_server: RedisServer, seconds: float
) -> list[WorkerConfig]:
    """Four workers sharing RATE through one key."""
    return [
        WorkerConfig(
            base_url=fake.url,
            path=session_path(fake),
            redis_url=redis_server.url,
            key="test:shared",
            rate=RATE,
            fallback_rate=RATE / WORKERS,
            seconds=seconds,
        )
        for _ in range(WORKERS)
    ]


# -- the tests ----------------------------------------------------------------------------


@contextlib.contextmanager
def steady_heap() -> Iterator[None]:
    """Keep this process's garbage collector from pausing the in-process fake server.

    Arrival times are taken by the fake server, which runs in the test process. Late in
    a full run that process holds a large heap, and one full collection can stop its
    loop for a few hundred milliseconds; the requests that arrive meanwhile are then
    stamped together, as if the limiter had let a burst through. Freezing the heap
    first leaves the collector only this test's own objects to look at.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def test_four_processes_share_one_rate_and_survive_losing_redis(
    fake: FakeProxyServer, redis_server: RedisServer
) -> None:
    """Four processes on one shared limit; then Redis is killed and they go on locally."""
    killed_at = 0.0

    async def kill_redis_later() -> None:
        nonlocal killed_at
        await asyncio.sleep(SHARED_SECONDS)
        # Taken before the kill: from the SIGKILL on, workers may already be falling
        # back, and those requests belong to the fallback phase.
        killed_at = time.monotonic()
        redis_server.kill()

    with steady_heap():
        started, results = await run_workers(
            worker_configs(fake, redis_server, SHARED_SECONDS + FALLBACK_SECONDS),
            during=kill_redis_later,
        )
    for result in results:
        assert result.returncode == 0, result.stderr
        assert result.summary["failed"] == 0, result.stderr
        assert "Traceback" not in result.stderr
        # The loss of Redis is a logged warning on "proxy_async", not a crash.
        assert "WARNING proxy_async shared rate limit 'test:shared': Redis unavailable" in (
            result.stderr
        )
    assert all(r.status == 200 for r in fake.requests)
    arrivals = sorted(r.time for r in fake.requests if r.time >= started)

    shared = [t for t in arrivals if t < killed_at]
    busiest = max_in_any_window(shared)
    # From the first request on: process wake-up is not the limiter's doing.
    throughput = len(shared) / (killed_at - shared[0])
    end = started + SHARED_SECONDS + FALLBACK_SECONDS
    settled = killed_at + 0.5
    fallback_rate = sum(settled <= t < end for t in arrivals) / (end - settled)
    print(
        f"shared limit {RATE:g}/s: busiest 1 s window {busiest}, throughput "
        f"{throughput:.1f}/s ({throughput / RATE:.0%}); after Redis died: "
        f"{fallback_rate:.1f}/s on four local limits of {RATE / WORKERS:g}/s"
    )
    logs = "\n".join(f"worker {n}:\n{result.stderr}" for n, result in enumerate(results))
    assert busiest <= RATE * 1.10, logs
    assert throughput >= RATE * 0.85, logs
    # The pool keeps going on its local limits, near the shared rate.
    assert RATE * 0.5 <= fallback_rate <= RATE * 1.5


async def test_limiters_sharing_a_key_share_the_rate(redis_server: RedisServer) -> None:
    rate = 40.0
    async with (
        RedisLimiter(redis_server.url, requests_per_second=rate, key="k") as first,
        RedisLimiter(redis_server.url, requests_per_second=rate, key="k") as second,
        RedisLimiter(redis_server.url, requests_per_second=rate, key="other") as third,
    ):
        loop = asyncio.get_running_loop()
        times: dict[str, list[float]] = {"shared": [], "other": []}

        async def take(limiter: RedisLimiter, bucket: str) -> None:
            await limiter.acquire()
            times[bucket].append(loop.time())
            limiter.release()

        began = loop.time()
        await asyncio.gather(
            *(take(first, "shared") for _ in range(20)),
            *(take(second, "shared") for _ in range(20)),
            *(take(third, "other") for _ in range(20)),
        )
    # 40 turns on one key at 40/s take about a second; 20 on another key half that.
    assert max(times["shared"]) - began >= 39 / rate - 0.05
    assert max(times["other"]) - began < 39 / rate - 0.2
    assert first.max_concurrency == 20
    assert not first.degraded


async def test_local_limiter_bounds_in_flight_and_gets_the_feedback(
    redis_server: RedisServer,
) -> None:
    local = AdaptiveLimiter(initial_concurrency=3, max_concurrency=3, requests_per_second=None)
    async with RedisLimiter(
        redis_server.url, requests_per_second=1000, burst=50, local=local
    ) as limiter:
        assert limiter.max_concurrency == 3
        assert limiter.local is local
        for _ in range(3):
            await limiter.acquire()
        blocked = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0.05)
        assert not blocked.done()
        limiter.release()
        await asyncio.wait_for(blocked, 5)
        for _ in range(3):
            limiter.release()
        assert local.in_flight == 0
        await limiter.acquire()
        limiter.release()
        limiter.observe(429, {})
        assert local.throttled == 1


async def test_cancelled_acquire_holds_no_local_slot(redis_server: RedisServer) -> None:
    local = RateLimiter(max_concurrency=2, requests_per_second=None)
    async with RedisLimiter(
        redis_server.url, requests_per_second=2, key="slow", local=local
    ) as limiter:
        await limiter.acquire()  # the first turn is immediate
        waiting = asyncio.ensure_future(limiter.acquire())  # the next is 0.5 s away
        await asyncio.sleep(0.1)
        assert local.in_flight == 2  # the waiter holds its slot while it waits its turn
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert local.in_flight == 1
        limiter.release()
        assert local.in_flight == 0


async def test_fallback_then_recovery_on_the_same_port(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy_async")
    async with RedisLimiter(
        redis_server.url,
        requests_per_second=100,
        fallback_requests_per_second=100,
        retry_interval=0.2,
        key="recover",
    ) as limiter:
        await limiter.acquire()
        limiter.release()
        redis_server.kill()
        for _ in range(3):  # the warning comes once per outage
            await asyncio.wait_for(limiter.acquire(), 5)
            limiter.release()
        assert limiter.degraded
        warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
        assert len(warnings) == 1
        assert warnings[0].levelno == logging.WARNING
        redis_server.start()
        await asyncio.sleep(0.3)
        await asyncio.wait_for(limiter.acquire(), 5)
        limiter.release()
        assert not limiter.degraded
        assert any("Redis is back" in r.getMessage() for r in caplog.records)


async def test_a_hung_redis_cannot_hang_the_client(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="proxy_async")
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    hung = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = hung.sockets[0].getsockname()[1]
    try:
        async with RedisLimiter(
            f"redis://127.0.0.1:{port}/0", requests_per_second=50, timeout=0.2
        ) as limiter:
            began = time.monotonic()
            await asyncio.wait_for(limiter.acquire(), 5)
            limiter.release()
            assert time.monotonic() - began < 3
            assert limiter.degraded
    finally:
        for writer in accepted:
            writer.close()
        hung.close()
        await hung.wait_closed()
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)


def test_parameters_are_validated() -> None:
    from proxy_async import InvalidParameterError

    url = "redis://127.0.0.1:1/0"
    for options in (
        {"requests_per_second": 0},
        {"requests_per_second": 10, "burst": 0.5},
        {"requests_per_second": 10, "key": ""},
        {"requests_per_second": 10, "timeout": 0},
        {"requests_per_second": 10, "fallback_requests_per_second": -1},
        {"requests_per_second": float("inf")},
    ):
        with pytest.raises(InvalidParameterError):
            RedisLimiter(url, **options)


def test_importing_the_package_does_not_import_redis() -> None:
    code = (
        "import sys, proxy_async, proxy_async.limits.redis; "
        "sys.exit(1 if 'redis' in sys.modules else 0)"
    )
    # This interpreter and a fixed snippet: nothing untrusted.
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0  # noqa: S603


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        with contextlib.suppress(KeyboardInterrupt):
            sys.exit(worker_main(sys.argv[2:]))
    sys.exit("usage: test_redis_limiter.py --worker CONFIG_JSON")
