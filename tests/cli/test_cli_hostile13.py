"""The command line under hostile inputs: closed standard streams, odd flag spellings,
a full disk, a terminal of no width, an API that stops answering a read command. Each
test pins a defect found by trying to break ``proxy-async`` (issue 13)."""

from __future__ import annotations

import asyncio
import errno
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from conftest import set_fake_credentials

from proxy_async.cli import EXIT_FATAL, EXIT_UNAVAILABLE, EXIT_USAGE, main
from proxy_async.cli._failures import failure_of
from proxy_async.cli._progress import ProgressDisplay
from proxy_async.cli._read_kinds import SESSIONS
from proxy_async.cli._request_log import configure_request_logging
from proxy_async.cli.read_output import write_records
from proxy_async.errors import (
    CertificateVerifyError,
    ConnectError,
    EgressProxyRefusedError,
    ServerError,
)
from proxy_async.models.raw_records import DecodedRecords
from proxy_async.testing import FakeProxyServer, Fault

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "KS" + "b" * 32


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fake_credentials(monkeypatch)


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=3, interactions_per_session=4) as fake:
        yield fake


def run_closed(redirection: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m proxy_async ARGV`` in a real process started with ``redirection``
    (``>&-``: stdout closed) by the shell."""
    script = f'exec "$@" {redirection}'
    command = ["sh", "-c", script, "sh", sys.executable, "-m", "proxy_async", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(  # noqa: S603 - this interpreter, our module, under sh
        command, capture_output=True, text=True, timeout=30, env=env, check=False
    )


def assert_one_line(stderr: str, needle: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert needle in stderr, stderr


def test_a_closed_stdout_is_one_line_not_an_unexpected_error() -> None:
    # Python sets sys.stdout to None when fd 1 is closed; the CLI used to end with
    # "unexpected AttributeError: 'NoneType' object has no attribute 'flush'".
    done = run_closed(">&-", "--help")
    assert done.returncode == EXIT_FATAL
    assert_one_line(done.stderr, "cannot use stdout: it is closed")


def test_a_closed_stdin_for_a_sessions_file_is_one_line_and_json(tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson"
    argv = ["export", "--service", SERVICE, "--out", str(out), "--sessions-file", "-", "--json"]
    done = run_closed("<&-", *argv)
    assert done.returncode == EXIT_FATAL
    assert_one_line(done.stderr, "cannot use stdin: it is closed")
    assert orjson.loads(done.stdout)["exit_code"] == EXIT_FATAL
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stderr_never_sends_the_failure_to_stdout() -> None:
    # print(file=None) writes to stdout: a closed stderr put the error line there.
    done = run_closed("2>&-", "export", "--service", "bad")
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""


async def test_records_to_a_closed_stdout_fail_in_one_line(
    server: FakeProxyServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = server.service_sids[0]
    monkeypatch.setattr(sys, "stdout", None)
    for argv in (
        ["sessions", "list", "--service", service],
        ["export", "--service", service, "--out", "-", "-q"],
    ):
        code = await asyncio.to_thread(main, [*argv, "--base-url", server.url])
        err = capsys.readouterr().err
        assert code == EXIT_FATAL
        assert_one_line(err, "cannot use stdout: it is closed")
    assert sys.stdout is None  # put back as it was


def test_json_with_a_value_still_gets_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "--service", SERVICE, "--json=1"])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    body = orjson.loads(captured.out)
    assert body["exit_code"] == EXIT_USAGE
    assert "does not take a value" in body["error"]


def test_an_empty_out_is_named_as_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "--service", SERVICE, "--out", ""])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "invalid --out:" in err, err  # not the Python parameter "out"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConnectError("cannot connect to h:1", method="GET", path="/v1/x", attempts=5), 4),
        (ServerError(503, method="GET", path="/v1/x", attempts=5), 4),
        (CertificateVerifyError("h", "untrusted", method="GET", path="/v1/x"), 3),
        (EgressProxyRefusedError("407", proxy="http://p:3128", method="GET", path="/"), 3),
    ],
)
def test_a_read_command_meeting_an_outage_exits_4_as_an_export_does(
    error: Exception, code: int
) -> None:
    failure = failure_of(error)
    assert failure.exit_code == code
    if code == EXIT_UNAVAILABLE:
        assert "try again once it is back" in failure.message


def test_a_full_disk_names_the_fix_even_without_a_file_name() -> None:
    failure = failure_of(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert failure.exit_code == EXIT_FATAL
    assert failure.message.startswith("cannot write the output: No space left on device")
    assert "free some space" in failure.message


class Terminal(io.StringIO):
    """A terminal's stand-in: text kept, ``isatty()`` True."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("columns", ["0", "5"])
async def test_a_table_on_a_terminal_of_no_width_still_shows_every_sid(
    columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # COLUMNS=0 printed nothing at all (exit 0); COLUMNS=5 cut every SID to "K…".
    monkeypatch.setenv("COLUMNS", columns)
    sids = [f"KC{number:032x}" for number in range(3)]
    records = DecodedRecords([{"sid": sid, "unique_name": "n"} for sid in sids])
    terminal = Terminal()
    assert await write_records([records], SESSIONS, "table", terminal) == 3
    for sid in sids:
        assert sid in terminal.getvalue(), terminal.getvalue()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        # "unexpected TypeError: Integer exceeds 64-bit range" once the server was up.
        (["--sessions", str(10**23)], "'--sessions'"),
        # Generated in memory: a MemoryError (or a swapping machine) before listening.
        (["--services", str(10**8)], "'--services'"),
        (["--participants", str(10**8)], "'--participants'"),
        # aiohttp listened on every interface and printed the URL http://:PORT.
        (["--host", ""], "--host is empty"),
    ],
)
def test_fake_server_refuses_what_it_cannot_serve(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["fake-server", "--port", "0", *argv, "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert_one_line(captured.err, needle)
    assert orjson.loads(captured.out)["exit_code"] == EXIT_USAGE


async def test_a_read_failing_after_records_puts_its_json_object_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The failure object was glued to the end of the open array on stdout: '...}}{"ok"...'.
    async with FakeProxyServer(sessions_per_service=6, interactions_per_session=1) as server:
        service = server.service_sids[0]
        server.add_fault(Fault.status(404), when=lambda request: "PageToken" in request.query)
        argv = ["sessions", "list", "--service", service, "--base-url", server.url]
        code = await asyncio.to_thread(main, [*argv, "--page-size", "2", "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_FATAL
    assert captured.out.startswith("[\n")
    assert not captured.out.rstrip().endswith("]")
    assert '"ok":false' not in captured.out
    line, body = captured.err.splitlines()
    assert line.startswith("proxy-async sessions list: error: not found")
    assert orjson.loads(body)["exit_code"] == EXIT_FATAL


@pytest.mark.parametrize("command", [["run"], ["enqueue", SERVICE, "--out", "d"]])
@pytest.mark.parametrize("url", ["redis://:s3cr3t@h:99999", "redis://:s3cr3t@h:1/abc"])
def test_a_bad_redis_option_is_a_usage_error_naming_the_option(
    command: list[str], url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # run named $PROXY_ASYNC_REDIS_URL, which was not set; enqueue said "is
    # redis-server running there?" with exit 3.
    code = main(["workers", *command, "--redis", url])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert_one_line(err, "invalid --redis: expected a redis://")
    assert "s3cr3t" not in err


def test_a_terminal_of_no_width_still_shows_the_start_line_and_the_request_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # rich drops what does not fit: with COLUMNS=0 an export on a terminal showed no
    # start line, no progress and no -v line at all.
    monkeypatch.setenv("COLUMNS", "0")
    terminal = Terminal()
    display = ProgressDisplay(terminal, tty=True)
    undo = configure_request_logging(1, display, terminal)
    try:
        display.print("Exporting every session")
        logging.getLogger("proxy_async").info("GET /v1/Services -> 200 (attempt 1, 3.0 ms)")
    finally:
        undo()
    shown = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())  # without rich's styles
    assert "Exporting every session" in shown
    assert "GET /v1/Services -> 200" in shown


def test_json_and_another_read_format_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # --json --format csv printed CSV, exit 0: --json was silently ignored.
    code = main(["sessions", "list", "--service", SERVICE, "--json", "--format", "csv"])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert_one_line(captured.err, "leave out --format csv, or --json")
    assert orjson.loads(captured.out)["exit_code"] == EXIT_USAGE
