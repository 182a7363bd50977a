"""Resume after a crash: nothing lost, nothing written twice.

The main test kills a real ``proxy-async export`` process with SIGKILL at several
points (right after its state exists, then at growing sizes of the data file, each
time in a process that was itself resuming) and checks that the final ``--resume``
produces exactly the records of a clean export, each once.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from proxy_async import ProxyClient, RetryPolicy
from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.run import export
from proxy_async.bulk_export.schema import Status
from proxy_async.bulk_export.state import ExportState
from proxy_async.errors import BlankStateError, ExportStateError
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault

SESSIONS = 12
INTERACTIONS = 300
PAGE_SIZE = 20  # 15 pages per session, 180 in all


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    # Latency makes an export last a few seconds, long enough to be killed mid-way.
    async with FakeProxyServer(
        sessions_per_service=SESSIONS,
        interactions_per_session=INTERACTIONS,
        latency=0.03,
        record_requests=False,
    ) as fake:
        yield fake


def child_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TWILIO_")}
    env["TWILIO_ACCOUNT_SID"] = FAKE_ACCOUNT_SID
    env["TWILIO_AUTH_TOKEN"] = FAKE_AUTH_TOKEN
    return env


async def start_export(
    server: FakeProxyServer, out: Path | str, *extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_async",
        "export",
        "--service",
        server.service_sids[0],
        "--out",
        str(out),
        "--base-url",
        server.url,
        "--concurrency",
        "3",
        "--page-size",
        str(PAGE_SIZE),
        "--checkpoint-interval",
        "0.3",
        "--quiet",
        *extra,
        env=child_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_until(
    process: asyncio.subprocess.Process, condition: Callable[[], bool], timeout: float = 60.0
) -> bool:
    """Poll ``condition``; False if the process exited first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if process.returncode is not None:
            return False
        assert asyncio.get_running_loop().time() < deadline, "the export made no progress"
        await asyncio.sleep(0.005)
    return True


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def expected_lines(server: FakeProxyServer) -> list[bytes]:
    """Every record as the server renders it: what a clean NDJSON export holds, sorted."""
    service = server.service_sids[0]
    return sorted(
        orjson.dumps(server.interaction_json(service, session, sid))
        for session in server.session_sids(service)
        for sid in server.interaction_sids(service, session)
    )


def expected_sids(server: FakeProxyServer) -> set[str]:
    service = server.service_sids[0]
    return {
        sid
        for session in server.session_sids(service)
        for sid in server.interaction_sids(service, session)
    }


def check_killed_state(paths: ExportPaths) -> tuple[int, int]:
    """What a killed export leaves must be consistent; returns (committed, on-disk) sizes."""
    try:
        state = ExportState.open(paths.state)  # a transaction is whole or absent
    except BlankStateError:  # killed while the state was being made: nothing written
        assert size_of(paths.partial) == 0
        return 0, 0
    try:
        counters = state.counters
        statuses: tuple[Status, ...] = ("running", "done", "failed")
        per_session = sum(row.records for status in statuses for row in state.sessions_with(status))
    finally:
        state.close()
    on_disk = size_of(paths.partial)
    assert counters.data_bytes <= on_disk
    # Killed between the state's first commit and the .part file's creation: nothing
    # was committed to it, and a resume creates it.
    covered = paths.partial.read_bytes()[: counters.data_bytes] if on_disk else b""
    assert covered == b"" or covered.endswith(b"\n")  # whole records only
    lines = covered.splitlines()
    sids = [orjson.loads(line)["sid"] for line in lines]
    assert len(sids) == len(set(sids))
    assert len(lines) == counters.records == per_session
    return counters.data_bytes, on_disk


async def test_sigkill_at_several_points_then_resume_loses_and_repeats_nothing(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    expected = expected_lines(server)
    total_bytes = sum(len(line) + 1 for line in expected)

    # Kill points: as soon as the first checkpoint exists, then at growing sizes of the
    # data file, each time in a process that was itself resuming.
    kill_points: list[Callable[[], bool]] = [
        lambda: paths.state.exists(),
        lambda: size_of(paths.partial) >= total_bytes * 0.2,
        lambda: size_of(paths.partial) >= total_bytes * 0.45,
        lambda: size_of(paths.partial) >= total_bytes * 0.7,
    ]
    kills: list[tuple[int, int]] = []
    for index, reached in enumerate(kill_points):
        process = await start_export(server, out, *(["--resume"] if index else []))
        if await wait_until(process, reached):
            process.send_signal(signal.SIGKILL)
            await process.communicate()
            assert process.returncode == -signal.SIGKILL
            kills.append(check_killed_state(paths))
        else:  # finished before this point: nothing left to kill
            await process.communicate()
            assert process.returncode == 0
            break
    assert len(kills) >= 2, "the export was too fast to be killed mid-way"

    process = await start_export(server, out, "--resume")
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"Export complete (resumed)" in stdout
    assert not paths.partial.exists()
    assert not paths.sessions_partial.exists()

    lines = out.read_bytes().splitlines()
    sids = [orjson.loads(line)["sid"] for line in lines]
    assert len(sids) == len(set(sids)), "a record was written twice"
    assert set(sids) == expected_sids(server), "a record was lost"
    assert sorted(lines) == expected  # and each one exactly as served


async def test_sigkill_during_a_csv_export_then_resume(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "interactions.csv"
    paths = ExportPaths.for_output(out)
    process = await start_export(server, out)
    assert await wait_until(process, lambda: size_of(paths.partial) >= 300_000)
    process.send_signal(signal.SIGKILL)
    await process.communicate()
    process = await start_export(server, out, "--resume")
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("sid,session_sid,")
    assert sum(1 for line in lines if line.startswith("sid,")) == 1
    sids = [line.split(",", 1)[0] for line in lines[1:]]
    assert len(sids) == len(set(sids))
    assert set(sids) == expected_sids(server)


async def test_sigint_and_sigterm_commit_the_state_before_exiting(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    for index, (signum, at_size) in enumerate(
        [(signal.SIGINT, 150_000), (signal.SIGTERM, 700_000)]
    ):
        # Signal only once this process has written data of its own: its handlers are
        # installed by then. (The previous run's last flush, up to 1 MiB, may already
        # have taken the file past at_size before this interpreter has even started.)
        wanted = max(at_size, size_of(paths.partial) + 100_000)
        process = await start_export(server, out, *(["--resume"] if index else []))
        assert await wait_until(process, lambda: size_of(paths.partial) >= wanted)  # noqa: B023
        process.send_signal(signum)
        _, stderr = await process.communicate()
        assert process.returncode == 128 + signum
        assert b"interrupted" in stderr
        assert b"--resume" in stderr
        committed, on_disk = check_killed_state(paths)
        assert committed == on_disk  # everything written was committed on the way out
    process = await start_export(server, out, "--resume")
    await process.communicate()
    assert process.returncode == 0
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


# -- the same guarantees, in-process and deterministic -------------------------------------------


def client_for(server: FakeProxyServer) -> ProxyClient:
    return ProxyClient(
        FAKE_ACCOUNT_SID,
        FAKE_AUTH_TOKEN,
        base_url=server.url,
        requests_per_second=None,
        retry=RetryPolicy(retries=1, initial_backoff=0.01, max_backoff=0.01),
    )


async def test_bytes_written_after_the_last_commit_are_dropped(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0
    broken = server.session_sids(server.service_sids[0])[7]
    server.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    async with client_for(server) as client:
        first = await export(client, server.service_sids[0], out, page_size=PAGE_SIZE)
        assert not first.complete
        # What a crash after an unrecorded write leaves: whole and torn records past
        # the committed length.
        lines = paths.partial.read_bytes().splitlines(keepends=True)
        with paths.partial.open("ab") as data:
            data.write(lines[0] + lines[1] + lines[2][:50])
        server.clear_faults()
        second = await export(client, server.service_sids[0], out, page_size=PAGE_SIZE, resume=True)
    assert second.complete
    assert second.records_this_run == INTERACTIONS
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


async def test_an_auth_failure_mid_export_keeps_a_resumable_state(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0
    later = server.session_sids(server.service_sids[0])[9]
    server.add_fault(Fault.status(401), path_contains=f"/Sessions/{later}/")
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    async with client_for(server) as client:
        with pytest.raises(Exception, match="401"):
            await export(client, server.service_sids[0], out, page_size=PAGE_SIZE)
        committed, on_disk = check_killed_state(paths)
        assert committed == on_disk > 0
        summary = await export(
            client, server.service_sids[0], out, page_size=PAGE_SIZE, resume=True
        )
    assert summary.complete
    assert summary.records == SESSIONS * INTERACTIONS
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


async def test_damaged_files_are_refused_not_trusted(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0
    broken = server.session_sids(server.service_sids[0])[0]
    server.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    async with client_for(server) as client:
        await export(client, server.service_sids[0], out)
        saved = paths.state.read_bytes()

        paths.partial.write_bytes(paths.partial.read_bytes()[:100])  # shorter than committed
        with pytest.raises(ExportStateError, match="changed by something else"):
            await export(client, server.service_sids[0], out, resume=True)

        paths.state.write_bytes(b"not a database at all" * 100)
        with pytest.raises(ExportStateError, match="unusable"):
            await export(client, server.service_sids[0], out, resume=True)

        paths.state.write_bytes(saved)
        paths.partial.unlink()
        with pytest.raises(ExportStateError, match="missing"):
            await export(client, server.service_sids[0], out, resume=True)

        server.clear_faults()
        summary = await export(client, server.service_sids[0], out, overwrite=True)
    assert summary.complete
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


# -- kills at every stage, through the command line -----------------------------------------


def listing_request(request: web.Request) -> bool:
    return request.path.endswith("/Sessions")


async def test_sigkill_during_the_listing_then_resume(tmp_path: Path) -> None:
    # Slow Sessions pages and quick sessions: the export runs well ahead of the listing.
    async with FakeProxyServer(
        sessions_per_service=1500, interactions_per_session=1, record_requests=False
    ) as server:
        server.add_fault(Fault.delay(0.4), times=None, when=listing_request)
        out = tmp_path / "interactions.ndjson"
        paths = ExportPaths.for_output(out)
        fast = ("--checkpoint-interval", "0.05", "--concurrency", "16", "--rps", "0")
        process = await start_export(server, out, *fast)
        # The first Sessions page is committed (its records are in the sessions file)
        # while the second is still on its way.
        assert await wait_until(process, lambda: size_of(paths.sessions_partial) > 0)
        await asyncio.sleep(0.15)  # its state commit follows within 0.05 s; page 2 takes 0.4 s
        process.send_signal(signal.SIGKILL)
        await process.communicate()
        state = ExportState.open(paths.state)
        assert not state.counters.listing_done
        assert 0 < state.counters.sessions < 1500
        state.close()

        process = await start_export(server, out, "--resume", *fast)
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert sorted(out.read_bytes().splitlines()) == expected_lines(server)
        listed = [orjson.loads(line)["sid"] for line in paths.sessions.read_bytes().splitlines()]
        assert listed == server.session_sids(server.service_sids[0])  # each once, in order


KILLING_RENAME = """
import os, signal, sys
from proxy_async.cli import main

real_replace, renames = os.replace, 0

def replace(source, target):
    global renames
    real_replace(source, target)
    renames += 1
    if renames == {kill_after}:
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("kill_after", [1, 2])
async def test_sigkill_during_the_final_renames_then_resume(
    server: FakeProxyServer, tmp_path: Path, kill_after: int
) -> None:
    server.latency = 0
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    arguments = ["export", "--service", server.service_sids[0], "--out", str(out)]
    arguments += ["--base-url", server.url, "--page-size", str(PAGE_SIZE), "--quiet"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLING_RENAME.format(kill_after=kill_after),
        *arguments,
        env=child_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await process.communicate()
    assert process.returncode == -signal.SIGKILL
    # Killed after the sessions file's rename (1) or after both renames (2).
    assert paths.sessions.exists()
    assert paths.partial.exists() == (kill_after == 1)

    process = await start_export(server, out, "--resume")
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"Export complete (resumed)" in stdout
    assert not paths.partial.exists()
    assert not paths.sessions_partial.exists()
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)
    state = ExportState.open(paths.state)
    assert state.counters.complete
    state.close()


async def test_sigkill_during_a_gzip_export_then_resume(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "interactions.ndjson.gz"
    paths = ExportPaths.for_output(out)
    process = await start_export(server, out, "--checkpoint-interval", "0.05")
    assert await wait_until(process, lambda: size_of(paths.partial) >= 30_000)
    process.send_signal(signal.SIGKILL)
    await process.communicate()
    process = await start_export(server, out, "--resume")
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    gzip = await asyncio.create_subprocess_exec(
        "gzip",
        "-dc",
        str(out),
        stdout=asyncio.subprocess.PIPE,  # as users read it back
    )
    plain, _ = await gzip.communicate()
    assert gzip.returncode == 0
    assert sorted(plain.splitlines()) == expected_lines(server)


async def test_a_server_killed_mid_export_stops_it_with_exit_4_then_it_resumes(
    tmp_path: Path,
) -> None:
    options: dict[str, Any] = {"sessions_per_service": 60, "interactions_per_session": 200}
    server = FakeProxyServer(latency=0.03, record_requests=False, **options)
    await server.start()
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    process = await start_export(server, out)
    try:
        assert await wait_until(process, lambda: size_of(paths.partial) >= 200_000)
    finally:
        await server.stop()
    stopped = asyncio.get_running_loop().time()
    _, stderr = await process.communicate()
    waited = asyncio.get_running_loop().time() - stopped
    assert process.returncode == 4, stderr.decode()
    assert b"stopped early: the API stopped answering" in stderr
    assert b"--resume" in stderr
    assert b"Traceback" not in stderr
    assert waited < 30  # within seconds, not every session's retries (generous for CI)

    async with FakeProxyServer(port=server.port, record_requests=False, **options) as revived:
        process = await start_export(revived, out, "--resume")
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert sorted(out.read_bytes().splitlines()) == expected_lines(revived)


async def test_a_throttling_server_fails_no_session(tmp_path: Path) -> None:
    async with FakeProxyServer(
        sessions_per_service=40, interactions_per_session=5, max_requests_per_second=10
    ) as server:
        out = tmp_path / "interactions.ndjson"
        process = await start_export(server, out, "--rps", "30", "--json")
        stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        summary = orjson.loads(stdout)
        assert summary["sessions_failed"] == []
        assert summary["rate_limited"] > 0  # the server did throttle
        assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


@pytest.mark.parametrize("name", ["adir", "adir/", "new/"])
async def test_a_directory_output_is_refused_before_any_request(
    server: FakeProxyServer, tmp_path: Path, name: str
) -> None:
    (tmp_path / "adir").mkdir()
    target = f"{tmp_path}/{name}"  # as typed: Path() would drop a trailing slash
    process = await start_export(server, target)
    _, stderr = await process.communicate()
    assert process.returncode == 2
    verb = "names" if name == "new/" else "is"  # new/ does not exist: its slash says it all
    assert f"the output {target} {verb} a directory".encode() in stderr
    assert b"Traceback" not in stderr
    assert server.requests == []
    assert os.listdir(tmp_path / "adir") == []


async def test_an_export_to_stdout(server: FakeProxyServer) -> None:
    process = await start_export(server, "-")
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert sorted(stdout.splitlines()) == expected_lines(server)
    assert b"Export complete" in stderr
    process = await start_export(server, "-", "--resume")
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"cannot be resumed" in stderr


async def test_an_export_of_proxy_async_0x_is_resumed_from_its_json_checkpoint(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0
    service = server.service_sids[0]
    sessions = server.session_sids(service)
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    # What 0.x left after writing the first session and being killed.
    done = b"".join(
        orjson.dumps(server.interaction_json(service, sessions[0], sid)) + b"\n"
        for sid in server.interaction_sids(service, sessions[0])
    )
    paths.partial.write_bytes(done + b'{"sid": "KI-torn')
    states: dict[str, Any] = {
        sid: {"status": "pending", "next_page_url": None, "records": 0, "error": None}
        for sid in sessions
    }
    states[sessions[0]] = {"status": "done", "next_page_url": None, "records": 300, "error": None}
    paths.legacy_checkpoint.write_bytes(
        orjson.dumps(
            {
                "version": 1,
                "service_sid": service,
                "base_url": server.url,
                "format": "ndjson",
                "page_size": PAGE_SIZE,
                "discovered": True,
                "data_bytes": len(done),
                "sessions": states,
            }
        )
    )
    process = await start_export(server, out, "--resume")
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"Export complete (resumed)" in stdout
    assert not paths.legacy_checkpoint.exists()
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)
    assert not paths.sessions.exists()  # 0.x listed before it began: no Session records


async def test_a_reader_that_stops_early_ends_a_stdout_export_quietly(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    errors = tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "proxy_async", "export", "--service"]
    command += [server.service_sids[0], "--out", "-", "--base-url", server.url, "--quiet"]
    # As `| head -1` does once it has its line: the reader closes the pipe (`true` at once,
    # so that the export's first write meets a closed pipe whatever the pipe's buffer).
    pipeline = (
        " ".join(shlex.quote(part) for part in command)
        + f" 2>{shlex.quote(str(errors))} | true; echo status=${{PIPESTATUS[0]}}"
    )
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", pipeline, env=child_environment(), stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await process.communicate()
    assert stdout == f"status={128 + signal.SIGPIPE}\n".encode()
    assert errors.read_bytes() == b""  # no traceback, no "Broken pipe"
