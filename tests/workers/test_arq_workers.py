"""arq workers against real Redis and the fake server: a batched export equals a single one.

The end-to-end test runs two workers at once: ``proxy-async workers run --burst`` (arq's
worker of ``proxy_async.workers.WorkerSettings``) in a subprocess, configured from the
environment as the README shows, and an ``arq.worker.Worker`` in this process. One
session's second page fails once, so its batch's job is retried by arq and resumes from
the batch's state. The other tests run batches with the job function itself (no worker
needed: merge only reads files), or an in-process worker.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from arq.worker import Retry, Worker
from conftest import fake_client
from redis_server import RedisServer, free_port

from proxy_async import ProxyClient
from proxy_async.bulk_export.formats import Format, check_format
from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.run import export
from proxy_async.bulk_export.state import ExportState
from proxy_async.errors import ExportStateError, InvalidParameterError, SessionDiscoveryError
from proxy_async.limits.adaptive import AdaptiveLimiter
from proxy_async.limits.redis import RedisLimiter
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault
from proxy_async.workers import (
    CLIENT_KEY,
    CONFIG_KEY,
    FUNCTIONS,
    WorkerConfig,
    batch_output,
    enqueue_service,
    export_batch,
    main,
    manifest_path,
    merge_exports,
    shutdown,
    startup,
    wait_for_jobs,
)
from proxy_async.workers.layout import legacy_manifest_path
from proxy_async.workers.manifest import Manifest
from proxy_async.workers.manifest_schema import ManifestParams

# arq's Worker.close() still calls redis-py's deprecated Redis.close().
pytestmark = pytest.mark.filterwarnings(
    "ignore:Call to deprecated close:DeprecationWarning:arq.worker"
)

SESSIONS = 23
BATCH = 5  # 23 sessions: 4 full batches and one of 3
PAGE_SIZE = 20


@pytest.fixture
async def fake() -> AsyncIterator[FakeProxyServer]:
    """23 sessions of 55 interactions: 3 pages of 20 each."""
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


def lines(path: Path) -> list[bytes]:
    """The lines of ``path`` (gunzipped if its name ends in .gz)."""
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).splitlines()


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
        "PROXY_ASYNC_RPS": "500",
        "PROXY_ASYNC_MAX_JOBS": "2",
        "PROXY_ASYNC_BATCH_CONCURRENCY": "3",
        "PROXY_ASYNC_RETRIES": "0",  # an injected 500 fails the session at once
        "PROXY_ASYNC_RETRY_DELAY": "0.05",
    }


def in_process_worker(redis_server: RedisServer, config: WorkerConfig) -> Worker:
    """An arq worker in this process, in burst mode (it stops when the queue is empty)."""
    return Worker(
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


async def run_worker(redis_server: RedisServer, config: WorkerConfig) -> None:
    """Run an in-process worker until the queue is empty."""
    worker = in_process_worker(redis_server, config)
    try:
        await asyncio.wait_for(worker.main(), 60)
    finally:
        await worker.close()


def names(directory: Path) -> list[str]:
    """The sorted names in ``directory``."""
    return sorted(path.name for path in directory.iterdir())


def open_manifest(directory: Path) -> Manifest:
    """The one manifest in ``directory``, to read."""
    (path,) = directory.glob("manifest.*.db")
    return Manifest.open_for_merge(path)


async def run_batches(client: ProxyClient, directory: Path, *only: int) -> None:
    """Run the job function on the manifest's batches (``only`` these, if given)."""
    manifest = open_manifest(directory)
    try:
        params = manifest.params
        jobs = [
            (row.batch, manifest.batch_sessions(row.batch))
            for row in manifest.all_batches()
            if not only or row.batch in only
        ]
    finally:
        manifest.close()
    ctx: dict[Any, Any] = {CLIENT_KEY: client}
    for batch, sessions in jobs:
        await export_batch(
            ctx,
            params.service_sid,
            str(directory),
            batch,
            sessions,
            check_format(params.format),
            params.page_size,
            params.compression,
        )


def assert_in_batch_order(merged: list[bytes], sessions: list[str], batch_size: int) -> None:
    """The NDJSON lines of ``merged`` hold batch 1's sessions, then batch 2's..."""
    batch_of = {sid: index // batch_size for index, sid in enumerate(sessions)}
    order = [batch_of[orjson.loads(line)["session_sid"]] for line in merged]
    assert order == sorted(order)
    assert set(order) == set(batch_of.values())


def merge_cli(
    capsys: pytest.CaptureFixture[str], directory: Path, to: Path, *options: str
) -> tuple[int, str, str]:
    """``python -m proxy_async.workers merge``: (exit status, stdout, stderr)."""
    status = main(["merge", "--out", str(directory), "--to", str(to), *options])
    out, err = capsys.readouterr()
    return status, out, err


async def test_batched_export_on_arq_workers_equals_a_single_export(
    fake: FakeProxyServer,
    redis_server: RedisServer,
    queue: ArqRedis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = fake.service_sids[0]
    sessions = fake.session_sids(service)
    flaky = sessions[7]  # in batch 2
    # The second page of one session fails once: that try of its batch ends incomplete.
    fake.add_fault(
        Fault.status(500),
        times=1,
        path_contains=f"/Sessions/{flaky}/Interactions",
        when=lambda request: "PageToken" in request.query,
    )
    out = tmp_path / "shards"
    async with fake_client(fake) as client:
        queued = await enqueue_service(
            queue, client, service, out, page_size=PAGE_SIZE, batch_size=BATCH
        )
        assert (queued.sessions, queued.batches, queued.new_jobs) == (SESSIONS, 5, 5)
        jobs = sorted(await queue.queued_jobs(), key=lambda job: job.args[2])
        assert [job.args[3] for job in jobs] == [
            sessions[i : i + BATCH] for i in range(0, SESSIONS, BATCH)
        ]
        again = await enqueue_service(
            queue, client, service, out, page_size=PAGE_SIZE, batch_size=BATCH
        )
        assert (again.new_jobs, again.job_ids) == (0, queued.job_ids)  # not twice

        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "proxy_async",
            "workers",
            "run",
            "--burst",
            env=worker_env(fake, redis_server),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        started = await read_until(command, b"Starting worker")
        worker = in_process_worker(
            redis_server, WorkerConfig.from_env(worker_env(fake, redis_server))
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
        assert "export_batch(" in log  # the command's worker ran jobs too
        assert worker_client.closed

        results = {}
        for ident in queued.job_ids:
            info = await Job(ident, queue).result_info()
            assert info is not None
            assert info.success, info.result
            results[info.result["batch"]] = info.result
        assert sorted(results) == [1, 2, 3, 4, 5]
        assert results[2]["resumed"]  # the retry continued the first try's file
        assert sorted(path.name for path in out.glob("batch-*.ndjson")) == [
            f"batch-00000{i}.ndjson" for i in range(1, 6)
        ]

        merged = tmp_path / "merged.ndjson"
        status, printed, _ = merge_cli(capsys, out, merged)
        assert status == 0
        assert printed == (
            f"{SESSIONS} sessions of {service} (5 batches), {SESSIONS * 55:,} records, "
            f"0 missing: written to {merged}\n"
        )
        kept = merged.read_bytes()
        status, printed, err = merge_cli(capsys, out, merged)  # never replaced unasked
        assert (status, printed) == (2, "")
        assert "already exists; use --force to replace it" in err
        assert merge_cli(capsys, out, merged, "--force")[0] == 0
        assert merged.read_bytes() == kept
        single = await export(client, service, tmp_path / "single.ndjson", page_size=PAGE_SIZE)
    assert single.complete
    assert single.sessions_file is not None

    sharded, reference = lines(merged), lines(single.output)
    assert len(sharded) == len(set(sharded)) == SESSIONS * 55  # none twice despite the retry
    assert sorted(sharded) == sorted(reference)  # the same lines, byte for byte
    # The batches follow the listing, and each session's records are in server order.
    assert_in_batch_order(sharded, sessions, BATCH)
    for session in (sessions[0], flaky, sessions[-1]):
        mine = [orjson.loads(line)["sid"] for line in sharded if session.encode() in line]
        assert mine == fake.interaction_sids(service, session)
    # The Session records of the listing, each once, as the single export wrote them.
    assert (out / "sessions.ndjson").read_bytes() == single.sessions_file.read_bytes()


async def test_a_vanished_session_is_missing_in_its_batch_and_merge_names_it(
    redis_server: RedisServer, queue: ArqRedis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeProxyServer(
        sessions_per_service=10, interactions_per_session=30, vanishing_sessions=2
    ) as fake:
        service = fake.service_sids[0]
        vanished = fake.vanishing_session_sids(service)
        async with fake_client(fake) as client:
            await enqueue_service(queue, client, service, tmp_path, batch_size=4)
            await run_worker(redis_server, WorkerConfig.from_env(worker_env(fake, redis_server)))
        expected_records = sum(
            len(fake.interaction_sids(service, sid))
            for sid in fake.session_sids(service)
            if sid not in vanished
        )
    summary = merge_exports(tmp_path, tmp_path / "all.ndjson")
    assert (summary.batches, summary.sessions, summary.records) == (3, 10, expected_records)
    assert (summary.missing, summary.missing_sids) == (2, tuple(vanished))
    assert len(lines(tmp_path / "all.ndjson")) == expected_records
    status, printed, _ = merge_cli(capsys, tmp_path, tmp_path / "again.ndjson")
    assert status == 0
    assert f"2 missing ({vanished[0]}, {vanished[1]})" in printed


async def test_enqueue_killed_and_rerun_continues_the_listing_and_writes_each_session_once(
    fake: FakeProxyServer, queue: ArqRedis, tmp_path: Path
) -> None:
    service = fake.service_sids[0]
    sessions = fake.session_sids(service)
    # The listing's second page (of 10 sessions each) fails: the first 10 are recorded.
    fake.add_fault(
        Fault.status(500),
        times=1,
        path_contains="/Sessions",
        when=lambda request: request.path.endswith("/Sessions") and "PageToken" in request.query,
    )
    options: dict[str, Any] = {"batch_size": BATCH, "listing_page_size": 10}
    sessions_file = tmp_path / "sessions.ndjson"
    async with fake_client(fake, retry=0) as client:
        with pytest.raises(SessionDiscoveryError):
            await enqueue_service(queue, client, service, tmp_path, **options)
        assert len(await queue.queued_jobs()) == 2  # the full batches went at once
        assert len(lines(sessions_file)) == 10
        # A kill after writing records but before the manifest counted them.
        with sessions_file.open("ab") as torn:
            torn.write(b'{"sid": "KC-half-written')

        resumed = await enqueue_service(queue, client, service, tmp_path, **options)
        assert (resumed.sessions, resumed.batches, resumed.new_jobs) == (SESSIONS, 5, 3)
        assert resumed.listed_this_run == 13
        requests = len(fake.requests)
        third = await enqueue_service(queue, client, service, tmp_path, **options)
        assert (third.new_jobs, third.job_ids, third.listed_this_run) == (0, resumed.job_ids, 0)
        assert len(fake.requests) == requests  # the listing is done: nothing asked again
        with pytest.raises(ExportStateError, match="batch size 5, not 7"):
            await enqueue_service(queue, client, service, tmp_path, batch_size=7)
    assert [orjson.loads(line)["sid"] for line in lines(sessions_file)] == sessions
    manifest = open_manifest(tmp_path)
    try:
        assert (manifest.listing_done, manifest.sessions) == (True, SESSIONS)
        rows = list(manifest.all_batches())
    finally:
        manifest.close()
    assert [(row.sessions, row.queued, row.job_id) for row in rows] == [
        (BATCH, True, ident) for ident in resumed.job_ids[:4]
    ] + [(3, True, resumed.job_ids[4])]
    jobs = sorted(await queue.queued_jobs(), key=lambda job: job.args[2])
    assert [job.args[3] for job in jobs] == [
        sessions[i : i + BATCH] for i in range(0, SESSIONS, BATCH)
    ]


async def test_merge_refuses_an_unfinished_batch_then_joins_them_in_order(
    fake: FakeProxyServer, queue: ArqRedis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = fake.service_sids[0]
    sessions = fake.session_sids(service)
    merged = tmp_path / "all.ndjson"
    out = tmp_path / "out"
    async with fake_client(fake, retry=0) as client:
        await enqueue_service(queue, client, service, out, batch_size=10)
        status, _, err = merge_cli(capsys, out, merged)
        assert status == 2
        assert err.count("\n") == 1
        assert "3 of 3 batches" in err
        assert "batch-000001.ndjson (not started)" in err

        await run_batches(client, out, 1)
        broken = sessions[12]
        fake.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
        with pytest.raises(Retry):
            await run_batches(client, out, 2)
        status, _, err = merge_cli(capsys, out, merged)
        assert (status, err.count("\n")) == (2, 1)
        assert "2 of 3 batches" in err
        assert "batch-000002.ndjson (1 of 10 sessions left, 1 failed)" in err
        assert "batch-000003.ndjson (not started)" in err
        assert not merged.exists()

        fake.clear_faults()
        await run_batches(client, out)
        # A batch being written right now (its state locked) is not finished either.
        held = ExportState.open(ExportPaths.for_output(batch_output(out, 3, "ndjson", None)).state)
        try:
            with pytest.raises(ExportStateError, match=r"1 of 3 .*batch-000003.*running"):
                merge_exports(out, merged)
        finally:
            held.close()
    # The merge never writes over the files it reads, nor into a directory.
    for inside in ("batch-000001.ndjson", "sessions.ndjson", "manifest.ndjson.db"):
        with pytest.raises(ExportStateError, match="one of the files of the export"):
            merge_exports(out, out / inside)
    with pytest.raises(ExportStateError, match="is a directory"):
        merge_exports(out, f"{tmp_path}/")
    # A batch file changed since its state was committed is not trusted.
    first = batch_output(out, 1, "ndjson", None)
    intact = first.read_bytes()
    first.write_bytes(intact[:-10])
    with pytest.raises(ExportStateError, match="changed since it was written"):
        merge_exports(out, merged)
    first.write_bytes(intact)
    summary = merge_exports(out, merged)
    assert (summary.sessions, summary.missing) == (SESSIONS, 0)
    assert_in_batch_order(lines(merged), sessions, 10)
    assert names(tmp_path) == ["all.ndjson", "out"]  # no temporary file left


@pytest.mark.parametrize(
    ("fmt", "gzip_batches", "to"),
    [
        ("csv", False, "all.csv"),
        ("csv", True, "all.csv.gz"),
        ("csv", True, "all.csv"),
        ("ndjson", True, "all.ndjson.gz"),
        ("ndjson", False, "all.ndjson.gz"),
    ],
)
async def test_merge_writes_one_csv_header_and_recodes_gzip_as_the_name_says(
    fake: FakeProxyServer,
    queue: ArqRedis,
    tmp_path: Path,
    fmt: Format,
    gzip_batches: bool,
    to: str,
) -> None:
    service = fake.service_sids[0]
    out = tmp_path / "out"
    async with fake_client(fake) as client:
        await enqueue_service(
            queue,
            client,
            service,
            out,
            fmt=fmt,
            batch_size=BATCH,
            compression="gzip" if gzip_batches else None,
        )
        await run_batches(client, out)
        single = await export(client, service, tmp_path / f"single.{fmt}", fmt=fmt)
    suffix = ".gz" if gzip_batches else ""
    assert (out / f"batch-000005.{fmt}{suffix}").is_file()
    assert (out / f"sessions.ndjson{suffix}").is_file()
    merged = tmp_path / to
    merge_exports(out, merged, fmt=fmt)
    if to.endswith(".gz"):
        gzip.decompress(merged.read_bytes())  # one valid gzip stream
    joined, reference = lines(merged), lines(single.output)
    if fmt == "csv":
        assert joined[0] == reference[0]
        assert joined.count(reference[0]) == 1  # the header once
    assert sorted(joined) == sorted(reference)


async def test_merge_refusals_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    merged = tmp_path / "all.ndjson"
    service, session = "KS" + "0" * 32, "KC" + "1" * 32

    def refused(directory: Path, *options: str) -> str:
        status, printed, err = merge_cli(capsys, directory, merged, *options)
        assert (status, printed, err.count("\n")) == (2, "", 1)
        assert "Traceback" not in err
        assert not merged.exists()
        assert not list(tmp_path.glob("*.tmp"))
        return err

    assert "no export of ndjson" in refused(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "run enqueue first" in refused(empty)

    old = tmp_path / "old"
    old.mkdir()
    legacy_manifest_path(old, "ndjson").write_bytes(b'{"service_sid": "KS", "sessions": []}')
    assert "older proxy-async" in refused(old)

    def manifest(directory: Path, sids: list[str], next_url: str | None) -> None:
        directory.mkdir()
        params = ManifestParams(service, "https://proxy.twilio.com", "ndjson", None, 1000, 5)
        made = Manifest.open_for_enqueue(manifest_path(directory, "ndjson"), params)
        made.add_listing_page(sids, next_url)
        made.commit(sessions_bytes=0)
        made.close()

    listing = tmp_path / "listing"
    manifest(listing, [session], "https://proxy.twilio.com/v1/Services/KS/Sessions?Page=1")
    assert "not finished (1 listed so far): run enqueue again" in refused(listing)
    assert "it holds the ndjson export (merge it with --format ndjson)" in refused(
        listing, "--format", "csv"
    )

    nothing = tmp_path / "nothing"
    manifest(nothing, [], None)
    assert "had no sessions" in refused(nothing)

    unfinished = tmp_path / "unfinished"
    manifest(unfinished, [session], None)
    assert "1 of 1 batches" in refused(unfinished)

    # An enqueue running on the directory holds its manifest.
    params = ManifestParams(service, "https://proxy.twilio.com", "ndjson", None, 1000, 5)
    running = Manifest.open_for_enqueue(manifest_path(unfinished, "ndjson"), params)
    try:
        assert "running right now" in refused(unfinished)
    finally:
        running.close()


async def test_retry_failed_requeues_a_batch_that_failed_for_good(
    fake: FakeProxyServer, redis_server: RedisServer, queue: ArqRedis, tmp_path: Path
) -> None:
    service = fake.service_sids[0]
    broken = fake.session_sids(service)[12]  # batch 2 of 10
    fake.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
    config = WorkerConfig.from_env(worker_env(fake, redis_server))
    async with fake_client(fake) as client:
        first = await enqueue_service(queue, client, service, tmp_path, batch_size=10)
        await run_worker(redis_server, config)  # batch 2: 5 tries, then failed for good
        failed = await Job(first.job_ids[1], queue).result_info()
        assert failed is not None
        assert not failed.success
        with pytest.raises(ExportStateError, match=r"1 of 3 batches.*batch-000002"):
            merge_exports(tmp_path, tmp_path / "all.ndjson")

        again = await enqueue_service(queue, client, service, tmp_path, batch_size=10)
        assert (again.new_jobs, again.retried_jobs) == (0, 0)  # arq still holds the result
        fake.clear_faults()
        retried = await enqueue_service(
            queue, client, service, tmp_path, batch_size=10, retry_failed=True
        )
        assert (retried.new_jobs, retried.retried_jobs) == (1, 1)  # only the failed one
        await run_worker(redis_server, config)
    info = await Job(first.job_ids[1], queue).result_info()
    assert info is not None
    assert info.success, info.result
    assert info.result["resumed"]
    assert merge_exports(tmp_path, tmp_path / "all.ndjson").records == SESSIONS * 55


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
    ("options", "parameter"),
    [
        ({"page_size": 5000}, "page_size"),
        ({"fmt": "xml"}, "fmt"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
async def test_enqueue_rejects_bad_options_before_anything_is_queued(
    fake: FakeProxyServer, queue: ArqRedis, tmp_path: Path, options: dict[str, Any], parameter: str
) -> None:
    async with fake_client(fake) as client:
        with pytest.raises(InvalidParameterError) as caught:
            await enqueue_service(queue, client, fake.service_sids[0], tmp_path / "out", **options)
    assert caught.value.parameter == parameter
    assert await queue.queued_jobs() == []
    assert fake.requests == []  # not even the Sessions listing
    assert not (tmp_path / "out").exists()


def test_enqueue_with_redis_down_prints_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    url = f"redis://:secret@127.0.0.1:{port}/0"
    status = main(["enqueue", "KS" + "0" * 32, "--out", str(tmp_path), "--redis", url])
    _, err = capsys.readouterr()
    assert status == 3
    assert err.count("\n") == 1
    assert err.startswith(
        f"proxy-async workers enqueue: error: cannot use Redis at redis://:***@127.0.0.1:{port}/0: "
    )
    assert "is redis-server running there?" in err
    assert "secret" not in err
    assert names(tmp_path) == []  # nothing made before Redis answered
