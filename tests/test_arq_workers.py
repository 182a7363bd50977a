"""arq workers against real Redis and the fake server: sharded export equals a single one.

Two workers run at once: the ``arq proxy_async.workers.WorkerSettings`` command in a
subprocess (configured from the environment, as the README shows) and an
``arq.worker.Worker`` in this process. One session's second page fails once, so its
job is retried by arq and resumes from its checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from arq.worker import Worker
from conftest import fake_client
from redis_server import RedisServer

from proxy_async.errors import ExportStateError, InvalidParameterError
from proxy_async.export import export
from proxy_async.ratelimit import AdaptiveLimiter
from proxy_async.redis_limiter import RedisLimiter
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault
from proxy_async.workers import (
    CLIENT_KEY,
    CONFIG_KEY,
    FUNCTIONS,
    WorkerConfig,
    enqueue_service,
    main,
    manifest_path,
    merge_exports,
    read_manifest,
    session_output,
    shutdown,
    startup,
    wait_for_jobs,
)

# arq's Worker.close() still calls redis-py's deprecated Redis.close().
pytestmark = pytest.mark.filterwarnings(
    "ignore:Call to deprecated close:DeprecationWarning:arq.worker"
)

SESSIONS = 20
PAGE_SIZE = 20


@pytest.fixture
async def fake() -> AsyncIterator[FakeProxyServer]:
    """20 sessions of 55 interactions: 3 pages of 20 each."""
    async with FakeProxyServer(
        sessions_per_service=SESSIONS, interactions_per_session=55, latency=0.01
    ) as srv:
        yield srv


@pytest.fixture
async def queue(redis_server: RedisServer) -> AsyncIterator[ArqRedis]:
    """An arq connection to the test's Redis."""
    pool = await create_pool(RedisSettings(host="127.0.0.1", port=redis_server.port))
    try:
        yield pool
    finally:
        await pool.aclose()


def records(path: Path) -> list[dict[str, Any]]:
    """The NDJSON records of ``path``."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def read_until(process: asyncio.subprocess.Process, marker: bytes) -> bytes:
    """Read the process's output up to the line holding ``marker`` (60 s at most)."""
    assert process.stdout is not None
    seen = b""
    while marker not in seen:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise AssertionError(f"the worker exited early: {seen.decode(errors='replace')}")
        seen += line
    return seen


def worker_env(fake: FakeProxyServer, redis_server: RedisServer) -> dict[str, str]:
    """The environment of a worker started as the README says."""
    return {
        **os.environ,
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
        "PROXY_ASYNC_BASE_URL": fake.url,
        "PROXY_ASYNC_REDIS_URL": redis_server.url,
        "PROXY_ASYNC_RPS": "200",
        "PROXY_ASYNC_MAX_JOBS": "4",
        "PROXY_ASYNC_RETRIES": "0",  # the injected 500 fails the session at once
        "PROXY_ASYNC_RETRY_DELAY": "0.05",
    }


async def test_sharded_export_on_arq_workers_equals_a_single_export(
    fake: FakeProxyServer, redis_server: RedisServer, queue: ArqRedis, tmp_path: Path
) -> None:
    service = fake.service_sids[0]
    sessions = fake.session_sids(service)
    flaky = sessions[3]
    # The second page of one session fails once: that try's export ends incomplete.
    fake.add_fault(
        Fault.status(500),
        times=1,
        path_contains=f"/Sessions/{flaky}/Interactions",
        when=lambda request: "PageToken" in request.query,
    )
    out = tmp_path / "shards"
    async with fake_client(fake) as client:
        queued = await enqueue_service(queue, client, service, out, page_size=PAGE_SIZE)
        assert queued.session_sids == tuple(sessions)
        assert queued.new_jobs == SESSIONS
        again = await enqueue_service(queue, client, service, out, page_size=PAGE_SIZE)
        assert again.new_jobs == 0  # already queued: not twice

        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "arq",
            "--burst",
            "proxy_async.workers.WorkerSettings",
            env=worker_env(fake, redis_server),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        started = await read_until(command, b"Starting worker")
        config = WorkerConfig.from_env(worker_env(fake, redis_server))
        worker = Worker(
            functions=FUNCTIONS,
            on_startup=startup,
            on_shutdown=shutdown,
            redis_settings=RedisSettings(host="127.0.0.1", port=redis_server.port),
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
            max_jobs=4,
            ctx={CONFIG_KEY: config},
        )
        try:
            await asyncio.wait_for(worker.main(), 60)
            worker_client = worker.ctx[CLIENT_KEY]
            await wait_for_jobs(queue, queued.job_ids, poll_delay=0.1)
            output, _ = await asyncio.wait_for(command.communicate(), 60)
        finally:
            await worker.close()
            if command.returncode is None:
                command.kill()
                await command.wait()
        log = (started + output).decode(errors="replace")
        assert command.returncode == 0, log[-3000:]
        assert "export_session(" in log  # the command's worker ran jobs too
        assert worker_client.closed
        assert CLIENT_KEY not in worker.ctx

        results = {}
        for ident in queued.job_ids:
            info = await Job(ident, queue).result_info()
            assert info is not None
            assert info.success, info.result
            results[info.args[1]] = info.result
        assert set(results) == set(sessions)
        assert results[flaky]["resumed"]  # the retry continued the first try's file
        assert sum(r["records"] for r in results.values()) == sum(
            len(fake.interaction_sids(service, sid)) for sid in sessions
        )

        merged = tmp_path / "merged.ndjson"
        assert merge_exports(out, merged, sessions=sessions) == SESSIONS
        single = await export(client, service, tmp_path / "single.ndjson", page_size=PAGE_SIZE)
    assert single.complete

    sharded = records(merged)
    reference = records(single.output)
    sids = [record["sid"] for record in sharded]
    assert len(sids) == len(set(sids))  # no duplicates, despite the retried job
    assert sorted(sids) == sorted(record["sid"] for record in reference)
    expected = {sid for session in sessions for sid in fake.interaction_sids(service, session)}
    assert set(sids) == expected
    key = lambda record: record["sid"]  # noqa: E731
    assert sorted(sharded, key=key) == sorted(reference, key=key)
    # Each session's records are contiguous and in server order in the merged file.
    for session in sessions[:3]:
        mine = [r["sid"] for r in sharded if r["session_sid"] == session]
        assert mine == fake.interaction_sids(service, session)


def test_merge_joins_finished_files_and_writes_one_csv_header(tmp_path: Path) -> None:
    first, second = "KC" + "1" * 32, "KC" + "2" * 32
    session_output(tmp_path, first, "csv").write_bytes(b"sid,x\r\na,1\r\n")
    session_output(tmp_path, second, "csv").write_bytes(b"sid,x\r\nb,2\r\n")
    merged = tmp_path / "all.csv"
    assert merge_exports(tmp_path, merged, fmt="csv") == 2
    assert merged.read_bytes() == b"sid,x\r\na,1\r\nb,2\r\n"
    # An unfinished session (only its .part and checkpoint exist) is refused, by name,
    # whether the sessions are given or found: a merge never silently leaves one out.
    third = "KC" + "3" * 32
    session_output(tmp_path, third, "csv").with_suffix(".csv.part").write_text("sid,x\r\n")
    session_output(tmp_path, third, "csv").with_suffix(".csv.checkpoint.json").write_text("{}")
    with pytest.raises(ExportStateError, match=f"1 of 3 session.*{third}"):
        merge_exports(tmp_path, merged, sessions=[first, second, third], fmt="csv")
    with pytest.raises(ExportStateError, match=f"1 of 3 session.*{third}"):
        merge_exports(tmp_path, merged, fmt="csv")
    assert main(["merge", "--out", str(tmp_path), "--to", str(merged), "--format", "csv"]) == 2
    assert merged.read_bytes() == b"sid,x\r\na,1\r\nb,2\r\n"  # untouched


def test_merge_follows_the_manifest_and_refuses_missing_sessions(tmp_path: Path) -> None:
    first, second, never_ran = ("KC" + digit * 32 for digit in "123")
    session_output(tmp_path, first, "ndjson").write_bytes(b'{"sid":"a"}\n')
    session_output(tmp_path, second, "ndjson").write_bytes(b'{"sid":"b"}\n')
    manifest_path(tmp_path, "ndjson").write_bytes(
        orjson.dumps({"service_sid": "KS" + "0" * 32, "sessions": [second, never_ran, first]})
    )
    merged = tmp_path / "all.ndjson"
    # A session enqueued but never run has no file at all: still refused.
    with pytest.raises(ExportStateError, match=f"1 of 3 session.*{never_ran}"):
        merge_exports(tmp_path, merged)
    assert not merged.exists()
    session_output(tmp_path, never_ran, "ndjson").write_bytes(b'{"sid":"c"}\n')
    assert merge_exports(tmp_path, merged) == 3
    assert merged.read_bytes() == b'{"sid":"a"}\n{"sid":"b"}\n{"sid":"c"}\n'  # by SID


async def test_enqueue_records_a_manifest_and_keeps_one_service_per_directory(
    fake: FakeProxyServer, queue: ArqRedis, tmp_path: Path
) -> None:
    service = fake.service_sids[0]
    sessions = fake.session_sids(service)
    async with fake_client(fake) as client:
        await enqueue_service(queue, client, service, tmp_path, sessions=sessions[:2])
        await enqueue_service(queue, client, service, tmp_path, sessions=sessions[1:4])
        assert read_manifest(tmp_path, "ndjson") == (service, sessions[:4])
        assert read_manifest(tmp_path, "csv") is None
        other = "KS" + "f" * 32
        with pytest.raises(ExportStateError, match="already holds"):
            await enqueue_service(queue, client, other, tmp_path, sessions=sessions[:1])
    assert len(await queue.queued_jobs()) == 4


async def test_retry_failed_requeues_a_session_that_failed_for_good(
    fake: FakeProxyServer, redis_server: RedisServer, queue: ArqRedis, tmp_path: Path
) -> None:
    service = fake.service_sids[0]
    sessions = fake.session_sids(service)[:3]
    broken = sessions[1]
    fake.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
    config = WorkerConfig.from_env(worker_env(fake, redis_server))

    async def run_worker() -> None:
        worker = Worker(
            functions=FUNCTIONS,
            on_startup=startup,
            on_shutdown=shutdown,
            redis_settings=RedisSettings(host="127.0.0.1", port=redis_server.port),
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
            ctx={CONFIG_KEY: config},
        )
        try:
            await asyncio.wait_for(worker.main(), 60)
        finally:
            await worker.close()

    async with fake_client(fake) as client:
        first = await enqueue_service(queue, client, service, tmp_path, sessions=sessions)
        await run_worker()
        failed = await Job(first.job_ids[1], queue).result_info()
        assert failed is not None
        assert not failed.success
        with pytest.raises(ExportStateError, match=broken):
            merge_exports(tmp_path, tmp_path / "all.ndjson")

        again = await enqueue_service(queue, client, service, tmp_path, sessions=sessions)
        assert (again.new_jobs, again.retried_jobs) == (0, 0)  # arq still holds the result
        fake.clear_faults()
        retried = await enqueue_service(
            queue, client, service, tmp_path, sessions=sessions, retry_failed=True
        )
        assert (retried.new_jobs, retried.retried_jobs) == (1, 1)  # only the failed one
        await run_worker()
    info = await Job(first.job_ids[1], queue).result_info()
    assert info is not None
    assert info.success, info.result
    assert merge_exports(tmp_path, tmp_path / "all.ndjson") == 3
    merged = records(tmp_path / "all.ndjson")
    expected = [
        sid for session in sorted(sessions) for sid in fake.interaction_sids(service, session)
    ]
    assert [record["sid"] for record in merged] == expected


def test_config_from_environment() -> None:
    config = WorkerConfig.from_env(
        {
            "PROXY_ASYNC_REDIS_URL": "redis://example:1/2",
            "PROXY_ASYNC_RPS": "12.5",
            "PROXY_ASYNC_MAX_CONCURRENCY": "7",
            "PROXY_ASYNC_ADAPTIVE": "1",
            "PROXY_ASYNC_BASE_URL": "http://127.0.0.1:9",
            "PROXY_ASYNC_RETRIES": "0",
            "PROXY_ASYNC_RETRY_DELAY": "0.5",
        }
    )
    assert (config.retry, config.retry_delay) == (0, 0.5)
    assert (config.redis_url, config.requests_per_second, config.max_concurrency) == (
        "redis://example:1/2",
        12.5,
        7,
    )
    assert config.adaptive
    assert config.base_url == "http://127.0.0.1:9"
    assert WorkerConfig.from_env({}) == WorkerConfig(environ={})
    from proxy_async import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        WorkerConfig.from_env({"PROXY_ASYNC_RPS": "fast"})
    with pytest.raises(InvalidParameterError):
        WorkerConfig.from_env({"PROXY_ASYNC_RETRIES": "-1"})


async def test_startup_makes_an_adaptive_limiter_when_asked(redis_server: RedisServer) -> None:
    config = WorkerConfig(
        redis_url=redis_server.url,
        adaptive=True,
        max_concurrency=6,
        environ={"TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN},
    )
    ctx: dict[Any, Any] = {CONFIG_KEY: config}
    await startup(ctx)
    client = ctx[CLIENT_KEY]
    assert isinstance(client.limiter, RedisLimiter)
    assert isinstance(client.limiter.local, AdaptiveLimiter)
    assert client.limiter.max_concurrency == 100
    await shutdown(ctx)
    assert client.closed


@pytest.mark.parametrize(
    ("options", "parameter"), [({"page_size": 5000}, "page_size"), ({"fmt": "xml"}, "fmt")]
)
async def test_enqueue_rejects_bad_options_before_anything_is_queued(
    fake: FakeProxyServer, queue: ArqRedis, tmp_path: Path, options: dict[str, Any], parameter: str
) -> None:
    async with fake_client(fake) as client:
        with pytest.raises(InvalidParameterError) as caught:
            await enqueue_service(queue, client, fake.service_sids[0], tmp_path, **options)
    assert caught.value.parameter == parameter
    assert await queue.queued_jobs() == []
    assert fake.requests == []  # not even the Sessions listing
