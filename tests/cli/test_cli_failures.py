"""Every command, driven through bad inputs: one line, its exit code, no traceback, no
leftover files; with ``--json``, exactly one JSON object on stdout; ``--debug`` adds the
traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import AUTH_TOKEN, assert_no_secret, set_fake_credentials
from redis_server import free_port

from proxy_async.cli import EXIT_FATAL, EXIT_USAGE, main

SERVICE = "KS" + "b" * 32
SESSION = "KC" + "c" * 32
INTERACTION = "KI" + "e" * 32


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that are never used: these commands fail before any request."""
    set_fake_credentials(monkeypatch, "AC" + "a" * 32, AUTH_TOKEN)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    return tmp_path


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


DEMO = ["demo", "--sessions", "2", "--interactions", "3", "--latency", "0", "-q"]
EXPORT = ["export", "--service", SERVICE]

CASES: list[tuple[list[str], int, str]] = [
    ([], EXIT_USAGE, "Missing command"),
    (["no-such-command"], EXIT_USAGE, "No such command"),
    ([*DEMO, "--out", "adir"], EXIT_USAGE, "adir is a directory"),
    ([*DEMO, "--out", "/sys/x.ndjson"], EXIT_FATAL, "cannot write the export state /sys/x"),
    ([*DEMO, "--out", "/proc/x"], EXIT_FATAL, "cannot write the export state /proc/x"),
    ([*DEMO, "--out", "-"], EXIT_USAGE, "demo writes a file"),
    ([*DEMO, "--progress-interval", "0"], EXIT_USAGE, "'--progress-interval'"),
    ([*DEMO, "--sessions", "many"], EXIT_USAGE, "'--sessions'"),
    ([*EXPORT, "--out", "adir"], EXIT_USAGE, "adir is a directory"),
    ([*EXPORT, "--out", "x.ndjson", "--resume", "--force"], EXIT_USAGE, "--resume and --force"),
    ([*EXPORT, "--out", "-", "--resume"], EXIT_USAGE, "cannot be resumed"),
    ([*EXPORT, "--out", "x", "--rps", "-1"], EXIT_USAGE, "'--rps'"),
    ([*EXPORT, "--out", "x", "--concurrency", "0"], EXIT_USAGE, "'--concurrency'"),
    ([*EXPORT, "--out", "x", "--page-size", "1001"], EXIT_USAGE, "'--page-size'"),
    ([*EXPORT, "--out", "x", "--checkpoint-interval", "nan"], EXIT_USAGE, "--checkpoint-interval"),
    ([*EXPORT, "--out", "x", "--sessions-file", "none.txt"], EXIT_USAGE, "cannot read"),
    ([*EXPORT, "--out", "x", "--base-url", "ftp://h"], EXIT_USAGE, "--base-url"),
    (["export", "--service", "AC" + "a" * 32, "--out", "x"], EXIT_USAGE, "a KS SID"),
    (["fake-server", "--port", "99999"], EXIT_USAGE, "'--port'"),
    # An integer too large for a float is out of range, not an OverflowError (exit 3).
    (["fake-server", "--port", "9" * 400], EXIT_USAGE, "'--port'"),
    (["fake-server", "--latency", "inf"], EXIT_USAGE, "'--latency'"),
    (["workers", "merge", "--out", "nodir", "--to", "x.ndjson"], EXIT_USAGE, "nodir"),
    (["workers", "enqueue", "KS1", "--out", "d"], EXIT_USAGE, "a KS SID"),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("argv", "code", "needle"), CASES)
def test_a_failure_is_one_line_with_its_exit_code(
    argv: list[str],
    code: int,
    needle: str,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(argv, capsys)
    assert status == code, err
    (line,) = err.splitlines()
    assert ": error: " in line
    assert needle in line
    assert out == ""
    assert_no_secret(err, "a failure line")
    assert sorted(os.listdir(workdir)) == ["adir"]  # nothing made, nothing left behind
    assert os.listdir(workdir / "adir") == []


@pytest.mark.parametrize(("argv", "code", "needle"), CASES)
def test_json_gives_one_object_for_every_failure(
    argv: list[str],
    code: int,
    needle: str,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run([*argv, "--json"], capsys)
    assert status == code
    if argv[:1] == ["export"] and argv[argv.index("--out") + 1] == "-":
        # stdout carries the records of an export to '-': the object goes to stderr.
        assert out == ""
        out = err.splitlines()[-1]
    (line,) = out.splitlines()
    body = orjson.loads(line)
    assert body["ok"] is False
    assert body["exit_code"] == code
    assert body["outcome"] == {EXIT_USAGE: "usage", EXIT_FATAL: "fatal"}[code]
    assert needle in body["error"]
    assert body["command"].startswith("proxy-async")
    assert "Traceback" not in err


def test_debug_adds_the_traceback(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run([*DEMO, "--out", "/proc/x", "--debug"], capsys)
    assert status == EXIT_FATAL
    assert "Traceback (most recent call last)" in err
    assert "ExportWriteError" in err
    assert err.rstrip().splitlines()[-1].startswith("proxy-async demo: error: ")


def test_redis_down_is_one_line_without_a_password(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    status, out, err = run(["workers", "enqueue", SERVICE, "--out", "d", "--redis", url], capsys)
    assert status == EXIT_FATAL
    assert out == ""
    (line,) = err.splitlines()
    assert "is redis-server running there?" in line
    assert "hunter2" not in line
    assert not (workdir / "d").exists()


def test_a_port_in_use_is_one_line_in_a_real_process(busy_port: int) -> None:
    for argv in (["fake-server", "--port", str(busy_port)], ["fake-server", "--port", "-5"]):
        result = subprocess.run(  # noqa: S603 - this interpreter, our module
            [sys.executable, "-m", "proxy_async", *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode in (EXIT_USAGE, EXIT_FATAL)
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith("proxy-async fake-server: error: ")
    assert (
        f"port {busy_port}"
        in subprocess.run(  # noqa: S603
            [sys.executable, "-m", "proxy_async", "fake-server", "--port", str(busy_port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stderr
    )


def test_workers_without_the_arq_extra_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import proxy_async

    monkeypatch.delattr(proxy_async, "workers", raising=False)
    for module in ("proxy_async.workers", "proxy_async.workers.jobs"):
        monkeypatch.setitem(sys.modules, module, None)  # as if arq were missing
    status, out, err = run(["workers", "merge", "--out", "d", "--to", "x.ndjson"], capsys)
    assert status == EXIT_USAGE
    (line,) = err.splitlines()
    assert "pip install -e '.[arq]'" in line
    assert out == ""


@pytest.mark.parametrize(
    ("status", "credentials", "fix"),
    [
        (401, "API key SK" + "1" * 32 + " of account AC" + "a" * 32, "fix TWILIO_API_KEY"),
        (401, "auth token of account AC" + "a" * 32, "fix TWILIO_ACCOUNT_SID and TWILIO_AUTH"),
        (401, None, "fix TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
        (403, "auth token of account AC" + "a" * 32, "give these credentials access"),
    ],
)
def test_a_refusal_names_the_pair_tried_and_its_fix(
    status: int, credentials: str | None, fix: str
) -> None:
    from proxy_async.cli._failures import failure_of
    from proxy_async.errors import ApiError

    body = b'{"code": 20003, "message": "Authenticate", "status": 401}'
    error = ApiError.from_response(
        status, {}, body, method="GET", path="/v1/Services", credentials=credentials
    )
    failure = failure_of(error)
    assert failure.exit_code == EXIT_FATAL
    assert fix in failure.message
    if credentials is not None:
        assert credentials in failure.message
