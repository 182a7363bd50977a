"""The proxy-async command line: arguments, credentials, progress, summary and exit codes."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from conftest import AUTH_TOKEN, assert_no_secret, set_fake_credentials

from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.cli import main
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault
from proxy_async.testing.demo import demo_server

SERVICE = "KS" + "b" * 32
SESSION = "KC" + "c" * 32
TWILIO_VARIABLES = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_EDGE",
    "TWILIO_REGION",
)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TWILIO_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, no_credentials: None) -> None:
    set_fake_credentials(monkeypatch)


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=8, interactions_per_session=60) as fake:
        yield fake


async def run_cli(*argv: str) -> int:
    """Run ``main`` in a thread (it runs its own event loop) while the fake server serves."""
    return await asyncio.to_thread(main, list(argv))


def export_args(server: FakeProxyServer, out: Path, *extra: str) -> list[str]:
    return [
        "export",
        "--service",
        server.service_sids[0],
        "--out",
        str(out),
        "--base-url",
        server.url,
        *extra,
    ]


def all_lines(server: FakeProxyServer) -> list[bytes]:
    service = server.service_sids[0]
    return sorted(
        orjson.dumps(server.interaction_json(service, session, sid))
        for session in server.session_sids(service)
        for sid in server.interaction_sids(service, session)
    )


# -- usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["export"],
        ["export", "--service", SERVICE],
        ["export", "--out", "x.ndjson"],
        ["export", "--service", "KSnot-a-sid", "--out", "x.ndjson"],
        ["export", "--service", "KC" + "b" * 32, "--out", "x.ndjson"],
        ["export", "--service", SERVICE, "--out", "x", "--session", "KCshort"],
        ["export", "--service", SERVICE, "--out", "x", "--format", "xml"],
        ["export", "--service", SERVICE, "--out", "x", "--concurrency", "0"],
        ["export", "--service", SERVICE, "--out", "x", "--page-size", "1001"],
        ["export", "--service", SERVICE, "--out", "x", "--rps", "-1"],
        ["export", "--service", SERVICE, "--out", "x", "--resume", "--force"],
        ["export", "--service", SERVICE, "--out", "x", "--auth-token", AUTH_TOKEN],
        ["demo", "--sessions", "many"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], no_credentials: None
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()  # one line, never a usage block or a traceback
    assert line.startswith("proxy-async")
    assert ": error: " in line
    assert "--help" in line
    assert captured.out == ""
    assert_no_secret(captured.err, "a usage error")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--service", "--session", "--sessions-file", "--out", "--format", "--resume"):
        assert option in text
    assert "--token" not in text
    assert "--auth" not in text


def test_a_bad_sessions_file_line_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_credentials: None
) -> None:
    listed = tmp_path / "sessions.txt"
    listed.write_text(f"# today's sessions\n{SESSION}\n\nKC-oops  # typo\n", encoding="utf-8")
    argv = ["export", "--service", SERVICE, "--out", str(tmp_path / "o"), "--sessions-file"]
    assert main([*argv, str(listed)]) == 2
    assert "line 4" in capsys.readouterr().err
    assert main([*argv, str(tmp_path / "missing.txt")]) == 2
    assert "cannot read --sessions-file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"TWILIO_AUTH_TOKEN": AUTH_TOKEN},
        {"TWILIO_ACCOUNT_SID": "AC" + "a" * 32},
        {"TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_API_SECRET": AUTH_TOKEN},
    ],
)
def test_missing_credentials_exit_2_without_leaking(
    environment: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_credentials: None,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out.ndjson"
    assert main(["export", "--service", SERVICE, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    # The variable that is missing, by name.
    if "TWILIO_ACCOUNT_SID" not in environment:
        assert "TWILIO_ACCOUNT_SID" in line
    elif "TWILIO_API_SECRET" in environment:
        assert "TWILIO_AUTH_TOKEN" in line  # a secret without its key: the token is missing
    else:
        assert "TWILIO_AUTH_TOKEN" in line
    assert_no_secret(captured.out + captured.err, "the CLI output")
    assert os.listdir(tmp_path) == []


# -- export over real HTTP --------------------------------------------------------------------


async def test_export_writes_the_file_and_prints_progress_and_a_summary(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_credentials: None,
) -> None:
    server.latency = 0.02
    out = tmp_path / "interactions.ndjson"
    argv = export_args(server, out, "--concurrency", "3", "--page-size", "15")
    assert await run_cli(*argv, "--progress-interval", "0.1") == 0
    captured = capsys.readouterr()
    assert sorted(out.read_bytes().splitlines()) == all_lines(server)

    # Not a TTY: plain, periodic lines, never a carriage return.
    assert "\r" not in captured.err
    progress = [line for line in captured.err.splitlines() if "sessions " in line]
    assert len(progress) >= 2
    assert "records" in progress[-1]
    assert "rec/s" in progress[-1]
    assert "retries 0" in progress[-1]
    assert "429s 0" in progress[-1]
    assert "sessions 8/8 done" in progress[-1]

    assert "Export complete: 480 records from 8 sessions" in captured.out
    assert str(out) in captured.out
    assert "records/s" in captured.out
    assert_no_secret(captured.out + captured.err, "the CLI output")


async def test_retries_and_429s_are_counted(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_credentials: None,
) -> None:
    server.add_fault(Fault.status(429, retry_after="0"), times=2, path_contains="/Interactions")
    server.add_fault(Fault.status(503), times=1, path_contains="/Interactions")
    out = tmp_path / "interactions.ndjson"
    assert await run_cli(*export_args(server, out, "--quiet", "--json")) == 0
    captured = capsys.readouterr()
    summary = orjson.loads(captured.out)
    assert summary["complete"] is True
    assert summary["records"] == 480
    assert summary["retries"] == 3
    assert summary["rate_limited"] == 2
    assert summary["requests"] == 1 + 8 + 3
    assert summary["output"] == str(out)
    assert captured.err == ""  # --quiet


async def test_csv_is_chosen_by_extension(
    server: FakeProxyServer, tmp_path: Path, fake_credentials: None
) -> None:
    out = tmp_path / "interactions.csv"
    assert await run_cli(*export_args(server, out, "--quiet")) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("sid,session_sid,service_sid,account_sid,data,")
    assert len(lines) == 1 + 480


async def test_a_failed_session_exits_1_and_resume_finishes_the_job(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_credentials: None,
) -> None:
    broken = server.session_sids(server.service_sids[0])[3]
    server.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
    out = tmp_path / "interactions.ndjson"
    paths = ExportPaths.for_output(out)
    assert await run_cli(*export_args(server, out, "--page-size", "25")) == 1
    captured = capsys.readouterr()
    assert "Export incomplete: 1 of 8 sessions failed" in captured.out
    assert broken in captured.out
    assert "ServerError" in captured.out
    assert "--resume" in captured.out
    assert not out.exists()
    assert paths.partial.exists()
    assert paths.state.exists()

    # Without --resume the unfinished export is not thrown away.
    saved = paths.state.read_bytes()
    assert await run_cli(*export_args(server, out, "--page-size", "25")) == 2
    err = capsys.readouterr().err
    assert "--resume" in err
    assert "exporting" not in err  # nothing claims to start before the refusal
    assert paths.state.read_bytes() == saved

    server.clear_faults()
    assert await run_cli(*export_args(server, out, "--page-size", "25", "--resume")) == 0
    captured = capsys.readouterr()
    assert "Export complete (resumed): 480 records from 8 sessions" in captured.out
    assert "60 records in" in captured.out  # only the failed session was fetched again
    assert sorted(out.read_bytes().splitlines()) == all_lines(server)
    assert not paths.partial.exists()

    assert await run_cli(*export_args(server, out, "--page-size", "25", "--resume")) == 0
    assert "Nothing to resume" in capsys.readouterr().out


async def test_explicit_sessions_from_flags_and_a_file(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_credentials: None,
) -> None:
    service = server.service_sids[0]
    first, second, third = server.session_sids(service)[:3]
    listed = tmp_path / "sessions.txt"
    listed.write_text(f"{second}\n# comment\n{third}  # trailing comment\n{first}\n")
    out = tmp_path / "some.ndjson"
    argv = export_args(server, out, "--session", first, "--sessions-file", str(listed), "--json")
    assert await run_cli(*argv) == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert summary["sessions_total"] == 3
    assert summary["records"] == 180
    sids = {orjson.loads(line)["session_sid"] for line in out.read_bytes().splitlines()}
    assert sids == {first, second, third}


async def test_refused_credentials_exit_3_without_leaking(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_credentials: None,
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    out = tmp_path / "interactions.ndjson"
    assert await run_cli(*export_args(server, out)) == 3
    captured = capsys.readouterr()
    assert "authentication failed" in captured.err
    assert "401" in captured.err
    assert_no_secret(captured.out + captured.err, "the CLI output")
    assert os.listdir(tmp_path) == []


async def test_an_unknown_service_exits_3(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_credentials: None,
) -> None:
    out = tmp_path / "interactions.ndjson"
    argv = ["export", "--service", SERVICE, "--out", str(out), "--base-url", server.url]
    assert await run_cli(*argv) == 3
    assert f"cannot list the sessions of {SERVICE}" in capsys.readouterr().err


async def test_a_csv_gz_name_chooses_csv_and_gzip(
    server: FakeProxyServer, tmp_path: Path, fake_credentials: None
) -> None:
    out = tmp_path / "interactions.csv.gz"
    assert await run_cli(*export_args(server, out)) == 0
    text = gzip.decompress(out.read_bytes()).decode()
    assert text.startswith("sid,session_sid,")
    assert len(text.splitlines()) == 1 + 8 * 60


# -- demo and fake-server -------------------------------------------------------------------


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo" / "interactions.ndjson"
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "proxy_async",
            "demo",
            "--sessions",
            "6",
            "--interactions",
            "130",
            "--latency",
            "0.005",
            "--page-size",
            "50",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Export complete: 780 records from 6 sessions" in result.stdout
    assert f"Output file: {out.resolve()}" in result.stdout
    assert "no rate limit" in result.stderr
    lines = out.read_bytes().splitlines()
    assert len(lines) == 780
    assert len({orjson.loads(line)["sid"] for line in lines}) == 780
    assert_no_secret(result.stdout + result.stderr, "the demo output")


async def test_the_demo_server_serves_one_service_to_a_client_that_ignores_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy nobody listens on: a client that trusted the environment would fail.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    async with demo_server(sessions=3, interactions=1, latency=0.0, seed=7) as demo:
        assert demo.service_sid == demo.server.service_sids[0]
        assert demo.intro == (
            f"Fake Twilio Proxy server running in this process at {demo.server.url}: "
            "3 sessions x 1 interaction, 0 ms latency per request. No account, no network."
        )
        async with demo.client() as client:
            sessions = await client.services(demo.service_sid).sessions.list()
    assert len(sessions) == 3


def test_fake_server_command_prints_url_and_credentials(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy_async", "fake-server", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        details = orjson.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert details["url"].startswith("http://127.0.0.1:")
    assert details["account_sid"] == FAKE_ACCOUNT_SID
    assert details["auth_token"] == FAKE_AUTH_TOKEN
    assert process.returncode == 0
