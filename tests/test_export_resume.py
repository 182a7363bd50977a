"""Resume after a crash: nothing lost, nothing written twice.

The main test kills a real ``proxy-async export`` process with SIGKILL at several
points (right after its first checkpoint, then at growing sizes of the data file,
each time in a process that was itself resuming) and checks that the final
``--resume`` produces exactly the records of a clean export, each once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from proxy_async import ProxyClient, RetryPolicy
from proxy_async.checkpoint import Checkpoint, ExportPaths, ExportStateError, SessionState
from proxy_async.export import export
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
    server: FakeProxyServer, out: Path, *extra: str
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
    """What a killed export leaves must be consistent; returns (checkpointed, on-disk) sizes."""
    checkpoint = Checkpoint.load(paths.checkpoint)  # never half-written: replaced atomically
    on_disk = size_of(paths.partial)
    assert checkpoint.data_bytes <= on_disk
    covered = paths.partial.read_bytes()[: checkpoint.data_bytes]
    assert covered == b"" or covered.endswith(b"\n")  # whole records only
    lines = covered.splitlines()
    sids = [orjson.loads(line)["sid"] for line in lines]
    assert len(sids) == len(set(sids))
    assert len(lines) == sum(state.records for state in checkpoint.sessions.values())
    return checkpoint.data_bytes, on_disk


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
        lambda: paths.checkpoint.exists(),
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
    assert not paths.checkpoint.exists()

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


async def test_sigint_and_sigterm_save_the_checkpoint_before_exiting(
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
        checkpointed, on_disk = check_killed_state(paths)
        assert checkpointed == on_disk  # everything written was checkpointed on the way out
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


async def test_bytes_written_after_the_last_checkpoint_are_dropped(
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
        # the checkpointed length.
        lines = paths.partial.read_bytes().splitlines(keepends=True)
        with paths.partial.open("ab") as data:
            data.write(lines[0] + lines[1] + lines[2][:50])
        server.clear_faults()
        second = await export(client, server.service_sids[0], out, page_size=PAGE_SIZE, resume=True)
    assert second.complete
    assert second.records_this_run == INTERACTIONS
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


async def test_an_auth_failure_mid_export_keeps_a_resumable_checkpoint(
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
        checkpointed, on_disk = check_killed_state(paths)
        assert checkpointed == on_disk > 0
        summary = await export(
            client, server.service_sids[0], out, page_size=PAGE_SIZE, resume=True
        )
    assert summary.complete
    assert summary.records == SESSIONS * INTERACTIONS
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)


async def test_a_kill_between_the_final_rename_and_the_cleanup_is_recognised(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    sessions = server.session_sids(server.service_sids[0])[:2]
    async with client_for(server) as client:
        await export(client, server.service_sids[0], out, sessions=sessions, overwrite=True)
        finished = out.read_bytes()
        # The state right after os.replace(OUT.part, OUT), before the checkpoint is removed.
        checkpoint = Checkpoint(
            service_sid=server.service_sids[0],
            base_url=client.base_url,
            format="ndjson",
            page_size=1000,
            discovered=False,
            sessions={sid: SessionState("done", None, INTERACTIONS) for sid in sessions},
            data_bytes=len(finished),
        )
        checkpoint.save(paths.checkpoint)
        summary = await export(client, server.service_sids[0], out, sessions=sessions, resume=True)
    assert summary.complete
    assert summary.already_complete
    assert not paths.checkpoint.exists()
    assert out.read_bytes() == finished


async def test_damaged_files_are_refused_not_trusted(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0
    broken = server.session_sids(server.service_sids[0])[0]
    server.add_fault(Fault.status(404), times=None, path_contains=f"/Sessions/{broken}/")
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    async with client_for(server) as client:
        await export(client, server.service_sids[0], out)
        saved = paths.checkpoint.read_bytes()

        paths.partial.write_bytes(paths.partial.read_bytes()[:100])  # shorter than checkpointed
        with pytest.raises(ExportStateError, match="changed by something else"):
            await export(client, server.service_sids[0], out, resume=True)

        paths.checkpoint.write_bytes(saved[: len(saved) // 2])  # torn by hand
        with pytest.raises(ExportStateError, match="not valid JSON"):
            await export(client, server.service_sids[0], out, resume=True)

        paths.partial.unlink()
        paths.checkpoint.write_bytes(saved)
        with pytest.raises(ExportStateError, match="missing"):
            await export(client, server.service_sids[0], out, resume=True)

        server.clear_faults()
        summary = await export(client, server.service_sids[0], out, overwrite=True)
    assert summary.complete
    assert sorted(out.read_bytes().splitlines()) == expected_lines(server)
