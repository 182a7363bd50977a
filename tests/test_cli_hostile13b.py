"""The command line under a second hostile review (issue 13): what reaches a terminal
from a server, what a stopped demo tells people, and the ``--json`` contract of the
commands the first review did not drive. Each test pins a defect found by trying to
break ``proxy-async``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from conftest import set_fake_credentials

from proxy_async.cli import EXIT_FATAL, EXIT_PARTIAL, main
from proxy_async.testing import FakeProxyServer, Fault

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
