"""A 50,000-session export through the command line, checked line by line.

The fake server runs in its own process, as a real one would, so the export's own
cost per session is what sets the pace; every one of the 50,000 records and Session
records must be in the output exactly once and exactly as served.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.state import ExportState
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer

SESSIONS = 50_000

pytestmark = pytest.mark.slow


@pytest.fixture
async def server_process() -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, object]]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_async.testing",
        "--port",
        "0",
        "--json",
        "--sessions",
        str(SESSIONS),
        "--interactions",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    banner = orjson.loads(await asyncio.wait_for(process.stdout.readline(), 60))
    try:
        yield process, banner
    finally:
        process.terminate()
        await process.communicate()


async def test_a_50000_session_export_holds_every_record_once(
    server_process: tuple[asyncio.subprocess.Process, dict[str, object]], tmp_path: Path
) -> None:
    _, banner = server_process
    url = str(banner["url"])
    service = str(banner["service_sids"][0])  # type: ignore[index]
    out = tmp_path / "interactions.ndjson"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TWILIO_")}
    env.update(TWILIO_ACCOUNT_SID=FAKE_ACCOUNT_SID, TWILIO_AUTH_TOKEN=FAKE_AUTH_TOKEN)
    export = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_async",
        "export",
        "--service",
        service,
        "--out",
        str(out),
        "--base-url",
        url,
        "--rps",
        "0",
        "--concurrency",
        "32",
        "--quiet",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await export.communicate()
    assert export.returncode == 0, stderr.decode()
    summary = orjson.loads(stdout)
    assert summary["records"] == summary["sessions_done"] == SESSIONS
    assert summary["sessions_failed"] == summary["sessions_missing"] == []

    # The same data, rendered by an unstarted server with the same seed and address.
    port = int(url.rsplit(":", 1)[1])
    reference = FakeProxyServer(
        sessions_per_service=SESSIONS, interactions_per_session=1, port=port
    )
    sessions = reference.session_sids(service)
    expected = sorted(
        orjson.dumps(reference.interaction_json(service, session, sid))
        for session in sessions
        for sid in reference.interaction_sids(service, session)
    )
    lines = out.read_bytes().splitlines()
    assert len(lines) == SESSIONS
    assert sorted(lines) == expected

    paths = ExportPaths.for_output(out)
    listed = [orjson.loads(line)["sid"] for line in paths.sessions.read_bytes().splitlines()]
    assert listed == sessions

    state = ExportState.open(paths.state)
    assert state.counters.complete
    assert state.counters.sessions == state.counters.done == SESSIONS
    state.close()
