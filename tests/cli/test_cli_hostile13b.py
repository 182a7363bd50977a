"""The command line under a second hostile review (issue 13): what reaches a terminal
from a server, what a stopped demo tells people, and the ``--json`` contract of the
commands the first review did not drive. Each test pins a defect found by trying to
break ``proxy-async``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import set_fake_credentials
from redis_server import RedisServer

from proxy_async.cli import EXIT_FATAL, EXIT_PARTIAL, main
from proxy_async.cli import workers as cli_workers
from proxy_async.cli._failures import Interrupted
from proxy_async.testing import FakeProxyServer, Fault

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "bad \x1b[2J\x1b]0;pwned\x07 \u202eevil"
"""A Twilio error message that clears the screen, retitles the window and reverses text."""


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fake_credentials(monkeypatch)


def assert_inert(text: str) -> None:
    """Nothing in ``text`` a terminal would obey; the escapes are shown instead."""
    assert "\x1b" not in text, text
    assert "\x07" not in text, text
    assert "\u202e" not in text, text
    assert "\\x1b[2J" in text, text


async def test_a_server_message_cannot_drive_the_terminal_through_the_failure_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The table escaped control characters, but the one-line failure printed the
    # server's message as sent: ESC[2J cleared the user's screen.
    async with FakeProxyServer(sessions_per_service=2, interactions_per_session=1) as server:
        server.add_fault(Fault.status(400, message=HOSTILE), times=None)
        argv = ["sessions", "list", "--service", server.service_sids[0], "--json"]
        code = await asyncio.to_thread(main, [*argv, "--base-url", server.url])
    captured = capsys.readouterr()
    assert code == EXIT_FATAL
    assert_inert(captured.err)
    # The JSON object keeps the message as sent (JSON escapes it itself).
    assert HOSTILE in orjson.loads(captured.out)["error"]


async def test_a_server_message_cannot_drive_the_terminal_through_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A failed session's error is listed in the export's summary, as sent.
    async with FakeProxyServer(sessions_per_service=2, interactions_per_session=1) as server:
        service = server.service_sids[0]
        failing = server.session_sids(service)[0]
        server.add_fault(Fault.status(400, message=HOSTILE), times=None, path_contains=failing)
        argv = ["export", "--service", service, "--out", str(tmp_path / "x.ndjson"), "-q"]
        code = await asyncio.to_thread(main, [*argv, "--base-url", server.url])
    captured = capsys.readouterr()
    assert code == EXIT_PARTIAL
    assert failing in captured.out
    assert_inert(captured.out)


def test_a_stopped_demo_does_not_say_to_rerun_it_with_an_option_it_lacks(
    tmp_path: Path,
) -> None:
    # "interrupted. Progress is saved in ...state.db: rerun with --resume to continue."
    # and 'proxy-async demo --resume' is "No such option '--resume'".
    argv = ["demo", "--out", str(tmp_path / "d.ndjson"), "--sessions", "40"]
    argv += ["--interactions", "2000", "--latency", "0.05", "--rps", "10"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(  # noqa: S603 - this interpreter, our module
        [sys.executable, "-m", "proxy_async", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as demo:
        assert demo.stderr is not None
        started = [demo.stderr.readline() for _ in range(2)]
        assert started[1].startswith("Exporting every session"), started
        state = tmp_path / "d.ndjson.state.db"
        for _ in range(200):  # the state exists once the first session is under way
            if state.exists():
                break
            time.sleep(0.01)
        demo.send_signal(signal.SIGINT)
        _, err = demo.communicate(timeout=30)
    assert demo.returncode == 128 + signal.SIGINT
    last = err.splitlines()[-1]
    assert last == "proxy-async demo: error: interrupted. Run the demo again to start afresh."


def test_demo_help_promises_no_resume(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    assert "with --resume" not in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning:arq.worker")
async def test_a_burst_worker_stopped_before_the_queue_is_empty_says_interrupted(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 'workers run --burst' stopped by SIGTERM with jobs cancelled exited 0 with
    # {"ok": true}: a script took the queue for done. And a signal as a job was starting
    # ended in a CancelledError traceback out of arq's Worker.close, exit 1.
    async with FakeProxyServer(
        sessions_per_service=4, interactions_per_session=40, latency=0.2
    ) as server:
        service = server.service_sids[0]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PROXY_ASYNC_BASE_URL": server.url,
            "PROXY_ASYNC_REDIS_URL": redis_server.url,
        }
        monkeypatch.setenv("PROXY_ASYNC_BASE_URL", server.url)
        enqueue = ["workers", "enqueue", service, "--out", str(tmp_path / "out")]
        enqueue += ["--batch-size", "2", "--page-size", "5", "--redis", redis_server.url]
        assert await asyncio.to_thread(main, enqueue) == 0
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            *["-m", "proxy_async", "workers", "run", "--burst", "--json"],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert worker.stderr is not None
        log = b""
        while b"export_batch(" not in log:  # arq's line for a job that started
            line = await asyncio.wait_for(worker.stderr.readline(), 30)
            assert line, log
            log += line
        worker.send_signal(signal.SIGTERM)
        out, rest = await asyncio.wait_for(worker.communicate(), 30)
        log += rest
    assert worker.returncode == 128 + signal.SIGTERM, log.decode()[-3000:]
    assert b"Traceback" not in log  # a signal as a job starts: arq's close re-raised it
    assert b"Unclosed" not in log
    body = orjson.loads(out)
    assert (body["ok"], body["outcome"], body["exit_code"]) == (False, "interrupted", 143)


def test_an_interrupted_enqueue_says_what_to_do_in_a_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "interrupted. run the same command again to continue": a sentence in lower case.
    def interrupted(work: Coroutine[Any, Any, Any]) -> None:
        work.close()
        raise Interrupted(signum=signal.SIGINT)

    monkeypatch.setattr(cli_workers, "run_until_signalled", interrupted)
    code = main(["workers", "enqueue", "KS" + "b" * 32, "--out", "d", "--redis", "redis://h"])
    assert code == 128 + signal.SIGINT
    assert capsys.readouterr().err == (
        "proxy-async workers enqueue: error: interrupted. Run the same command again to continue.\n"
    )
