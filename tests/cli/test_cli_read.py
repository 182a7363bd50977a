"""``proxy-async sessions list``, ``interactions list`` and ``interactions fetch`` over real
HTTP to the fake server: the records, the formats, the exit codes, a closed pipe."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import orjson
import pytest
from conftest import assert_no_secret, set_fake_credentials

from proxy_async.cli import EXIT_FATAL, EXIT_OK, main
from proxy_async.testing import FakeProxyServer


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=4, interactions_per_session=30) as fake:
        yield fake


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fake_credentials(monkeypatch)


async def read(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_sessions_list_prints_every_session_as_ndjson_into_a_pipe(
    server: FakeProxyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    service = server.service_sids[0]
    code, out, err = await read(
        capsys, "sessions", "list", "--service", service, "--base-url", server.url
    )
    assert code == EXIT_OK, err
    sids = [orjson.loads(line)["sid"] for line in out.splitlines()]
    assert sids == server.session_sids(service)
    assert err == ""


async def test_interactions_list_limit_page_size_and_formats(
    server: FakeProxyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    argv = ["interactions", "list", "--service", service, "--session", session]
    argv += ["--base-url", server.url, "--limit", "7", "--page-size", "3"]
    code, out, _ = await read(capsys, *argv, "--format", "ndjson")
    assert code == EXIT_OK
    records = [orjson.loads(line) for line in out.splitlines()]
    assert [r["sid"] for r in records] == server.interaction_sids(service, session)[:7]
    code, out, _ = await read(capsys, *argv, "--json")  # --json alone: one JSON array
    assert code == EXIT_OK
    assert orjson.loads(out) == records
    code, out, _ = await read(capsys, *argv, "--format", "csv")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0].startswith("sid,session_sid,service_sid,")
    assert len(lines) == 1 + 7
    code, out, _ = await read(capsys, *argv, "--format", "table")
    assert code == EXIT_OK
    assert all(r["sid"] in out for r in records)


async def test_fetch_prints_one_record_and_a_missing_one_exits_3(
    server: FakeProxyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    wanted = server.interaction_sids(service, session)[3]
    argv = ["interactions", "fetch", "--service", service, "--session", session]
    argv += ["--base-url", server.url]
    code, out, _ = await read(capsys, *argv, wanted)
    assert code == EXIT_OK
    assert orjson.loads(out)["sid"] == wanted
    code, out, err = await read(capsys, *argv, "KI" + "0" * 32, "--json")
    assert code == EXIT_FATAL
    assert orjson.loads(out)["outcome"] == "fatal"
    (line,) = err.splitlines()
    assert line.startswith("proxy-async interactions fetch: error: not found: ")
    assert_no_secret(out + err, "a read failure")


async def test_verbose_logs_each_request_on_stderr_without_credentials(
    server: FakeProxyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    service = server.service_sids[0]
    argv = ["sessions", "list", "--service", service, "--base-url", server.url]
    code, out, err = await read(capsys, *argv, "-v", "--page-size", "2")
    assert code == EXIT_OK
    requests = [line for line in err.splitlines() if f"GET /v1/Services/{service}/Sessions" in line]
    assert len(requests) == 2  # 4 sessions, 2 a page
    assert all("-> 200 (attempt 1, " in line for line in requests)
    assert_no_secret(err, "the request log")
    assert len(out.splitlines()) == 4


async def test_a_reader_that_stops_early_ends_the_command_quietly(
    server: FakeProxyServer,
) -> None:
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    command = [sys.executable, "-m", "proxy_async", "interactions", "list"]
    command += ["--service", service, "--session", session, "--base-url", server.url]
    command += ["--page-size", "5"]
    shell = " ".join(command) + " | head -n 1"
    process = await asyncio.create_subprocess_shell(
        f"set -o pipefail; {shell}; echo status=$?",
        executable="/bin/bash",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = out.decode().splitlines()
    assert orjson.loads(lines[0])["session_sid"] == session
    assert lines[-1] in ("status=141", "status=0")  # 141: it noticed the closed pipe
    assert b"Traceback" not in err
    assert err == b""


def test_read_commands_refuse_bad_sids_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    ks, kc = "KS" + "0" * 32, "KC" + "0" * 32
    for argv in (
        ["sessions", "list", "--service", kc],
        ["interactions", "list", "--service", ks, "--session", "nope"],
        ["interactions", "fetch", "--service", ks, "--session", kc],
        ["interactions", "fetch", "KX1", "--service", ks, "--session", kc],
    ):
        assert main(argv) == 2
        captured = capsys.readouterr()
        (line,) = captured.err.splitlines()
        assert ": error: " in line
        assert captured.out == ""


def test_the_help_of_every_read_command_shows_its_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proxy_async", "interactions", "list", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    for option in ("--service", "--session", "--limit", "--page-size", "--format", "-v"):
        assert option in result.stdout
