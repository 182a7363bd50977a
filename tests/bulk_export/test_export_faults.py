"""What real exports meet, in process: vanished sessions, throttling, a dead server, gzip.

Each test checks the output line by line against what the fake server serves.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from proxy_async import ApiUnavailableError, ProxyClient, RetryPolicy
from proxy_async.bulk_export import walk
from proxy_async.bulk_export.events import ExportProgress
from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.run import export
from proxy_async.bulk_export.state import ExportState
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=12, interactions_per_session=90) as fake:
        yield fake


def client_for(server: FakeProxyServer, **options: Any) -> ProxyClient:
    options.setdefault("requests_per_second", None)
    options.setdefault("retry", RetryPolicy(retries=1, initial_backoff=0.01, max_backoff=0.02))
    return ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, **options)


def sessions_of(server: FakeProxyServer) -> list[str]:
    return server.session_sids(server.service_sids[0])


def lines_of(server: FakeProxyServer, sessions: list[str]) -> list[bytes]:
    service = server.service_sids[0]
    return sorted(
        orjson.dumps(server.interaction_json(service, session, sid))
        for session in sessions
        for sid in server.interaction_sids(service, session)
    )


def paged(request: web.Request) -> bool:
    """A request for a session's second page or later (it carries a page token)."""
    return "PageToken" in request.query


# -- sessions that vanish -------------------------------------------------------------------


async def test_a_session_that_404s_at_once_is_missing_and_the_export_completes(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    sessions = sessions_of(server)
    gone = sessions[4]
    server.add_fault(Fault.status(404), times=None, path_contains=f"/Sessions/{gone}/")
    out = tmp_path / "out.ndjson"
    async with client_for(server) as client:
        summary = await export(client, server.service_sids[0], out, page_size=30)
        again = await export(client, server.service_sids[0], out, page_size=30, resume=True)
    assert summary.complete
    assert summary.failures == ()
    assert [(item.session_sid, item.records) for item in summary.missing] == [(gone, 0)]
    assert "NotFoundError" in summary.missing[0].error
    assert summary.sessions_done == 11
    assert sorted(out.read_bytes().splitlines()) == lines_of(
        server, [sid for sid in sessions if sid != gone]
    )
    # Never retried: the finished export reports it again, from its state.
    assert again.already_complete
    assert [item.session_sid for item in again.missing] == [gone]


async def test_a_session_deleted_mid_walk_fails_once_then_is_missing_with_its_records(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    sessions = sessions_of(server)
    gone = sessions[2]
    server.add_fault(Fault.status(404), times=None, path_contains=f"/Sessions/{gone}/", when=paged)
    out = tmp_path / "out.ndjson"
    paths = ExportPaths.for_output(out)
    async with client_for(server) as client:
        first = await export(client, server.service_sids[0], out, page_size=30)
        assert not first.complete
        assert [(item.session_sid, item.records) for item in first.failures] == [(gone, 30)]
        assert first.missing == ()
        second = await export(client, server.service_sids[0], out, page_size=30, resume=True)
    assert second.complete
    assert second.records_this_run == 0  # the saved page answered 404 again: nothing new
    assert [(item.session_sid, item.records) for item in second.missing] == [(gone, 30)]
    lines = out.read_bytes().splitlines()
    service = server.service_sids[0]
    first_page = [
        orjson.dumps(server.interaction_json(service, gone, sid))
        for sid in server.interaction_sids(service, gone)[:30]
    ]
    others = [sid for sid in sessions if sid != gone]
    assert sorted(lines) == sorted(lines_of(server, others) + first_page)
    state = ExportState.open(paths.state)
    assert state.counters.complete
    assert state.counters.missing == 1
    state.close()


async def test_a_vanished_session_that_comes_back_is_finished_by_the_resume(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    sessions = sessions_of(server)
    flaky = sessions[7]
    server.add_fault(Fault.status(404), times=1, path_contains=f"/Sessions/{flaky}/", when=paged)
    out = tmp_path / "out.ndjson"
    async with client_for(server) as client:
        first = await export(client, server.service_sids[0], out, page_size=30)
        assert [item.session_sid for item in first.failures] == [flaky]
        second = await export(client, server.service_sids[0], out, page_size=30, resume=True)
    assert second.complete
    assert second.missing == ()
    assert sorted(out.read_bytes().splitlines()) == lines_of(server, sessions)


# -- throttling -----------------------------------------------------------------------------


async def test_throttling_never_fails_a_session_whatever_the_retry_count(tmp_path: Path) -> None:
    async with FakeProxyServer(
        sessions_per_service=30, interactions_per_session=3, max_requests_per_second=10
    ) as server:
        out = tmp_path / "out.ndjson"
        progress: list[ExportProgress] = []
        async with client_for(server, retry=RetryPolicy(retries=0)) as client:
            summary = await export(
                client, server.service_sids[0], out, concurrency=8, progress=progress.append
            )
        throttled = [request for request in server.requests if request.status == 429]
        assert throttled, "the server never throttled: the test proves nothing"
        assert summary.complete
        assert summary.failures == ()
        assert sorted(out.read_bytes().splitlines()) == lines_of(server, sessions_of(server))


async def test_a_retry_after_is_honoured_and_the_walk_goes_on_from_its_last_page(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    sessions = sessions_of(server)
    server.add_fault(
        Fault.status(429, retry_after="0.2"),
        times=3,
        path_contains=f"/Sessions/{sessions[0]}/",
        when=paged,
    )
    out = tmp_path / "out.ndjson"
    async with client_for(server, retry=RetryPolicy(retries=0)) as client:
        summary = await export(client, server.service_sids[0], out, page_size=30)
    assert summary.complete
    first_pages = [
        request
        for request in server.requests
        if sessions[0] in request.path and "PageToken" not in request.query
    ]
    assert len(first_pages) == 1  # continued from its last page, never restarted
    assert sorted(out.read_bytes().splitlines()) == lines_of(server, sessions)


# -- a dead server --------------------------------------------------------------------------


async def test_a_dead_server_stops_the_export_early_and_it_resumes_exactly(
    tmp_path: Path,
) -> None:
    options: dict[str, Any] = {"sessions_per_service": 200, "interactions_per_session": 40}
    server = FakeProxyServer(latency=0.01, **options)
    await server.start()
    out = tmp_path / "out.ndjson"
    paths = ExportPaths.for_output(out)
    twenty_done = asyncio.Event()

    def watch(snapshot: ExportProgress) -> None:
        if snapshot.sessions_done >= 20:
            twenty_done.set()

    retry = RetryPolicy(retries=3, initial_backoff=0.05, max_backoff=0.2)
    async with client_for(server, retry=retry) as client:
        task = asyncio.create_task(
            export(client, server.service_sids[0], out, page_size=10, progress=watch)
        )
        await twenty_done.wait()
        await server.stop()
        with pytest.raises(ApiUnavailableError) as caught:
            await task
        assert len(caught.value.sessions) == 3
        state = ExportState.open(paths.state)
        # It stopped at once: far from every remaining session's retries spent.
        assert state.counters.failed <= 16 + 3
        assert state.counters.done < 200
        state.close()

        revived = FakeProxyServer(port=server.port, **options)
        async with revived:
            summary = await export(client, revived.service_sids[0], out, page_size=10, resume=True)
    assert summary.complete
    assert summary.failures == ()
    assert sorted(out.read_bytes().splitlines()) == lines_of(revived, sessions_of(revived))


# -- compressed output ----------------------------------------------------------------------


async def test_a_gzip_export_is_valid_gzip_with_every_record(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.ndjson.gz"
    paths = ExportPaths.for_output(out)
    broken = sessions_of(server)[5]
    server.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{broken}/")
    async with client_for(server) as client:
        first = await export(
            client, server.service_sids[0], out, page_size=20, checkpoint_interval=0
        )
        assert not first.complete
        server.clear_faults()
        second = await export(client, server.service_sids[0], out, page_size=20, resume=True)
    assert second.complete
    assert second.compression == "gzip"
    assert sorted(gzip.decompress(out.read_bytes()).splitlines()) == lines_of(
        server, sessions_of(server)
    )
    listed = gzip.decompress(paths.sessions.read_bytes()).splitlines()
    assert [orjson.loads(line)["sid"] for line in listed] == sessions_of(server)


async def test_a_listing_that_fails_midway_stops_the_export_and_resumes_from_its_page(
    tmp_path: Path,
) -> None:
    async with FakeProxyServer(sessions_per_service=2500, interactions_per_session=2) as server:
        server.add_fault(
            Fault.status(503),
            times=None,
            when=lambda request: request.path.endswith("/Sessions") and paged(request),
        )
        out = tmp_path / "out.ndjson"
        paths = ExportPaths.for_output(out)
        async with client_for(server) as client:
            with pytest.raises(ApiUnavailableError, match="listing the sessions failed"):
                await export(client, server.service_sids[0], out)
            state = ExportState.open(paths.state)
            assert state.counters.sessions == 1000  # the first Sessions page, committed
            assert not state.counters.listing_done
            assert state.counters.listing_url is not None
            state.close()
            server.clear_faults()
            server.requests.clear()
            summary = await export(client, server.service_sids[0], out, resume=True)
        listings = [request for request in server.requests if request.path.endswith("/Sessions")]
        assert len(listings) == 2  # pages 2 and 3: the first was not listed again
        assert summary.complete
        assert summary.sessions_total == 2500
        assert sorted(out.read_bytes().splitlines()) == lines_of(server, sessions_of(server))
        listed = [orjson.loads(line)["sid"] for line in paths.sessions.read_bytes().splitlines()]
        assert listed == sessions_of(server)


async def test_a_next_page_url_into_another_session_fails_that_session_loudly(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    sessions = sessions_of(server)
    service = server.service_sids[0]
    elsewhere = f"{server.url}/v1/Services/{service}/Sessions/{sessions[1]}/Interactions"
    server.add_fault(
        Fault.foreign_next_page(elsewhere + "?PageSize=30&Page=1"),
        times=1,
        path_contains=f"/Sessions/{sessions[0]}/",
    )
    out = tmp_path / "out.ndjson"
    async with client_for(server) as client:
        summary = await export(client, service, out, page_size=30)
        assert [item.session_sid for item in summary.failures] == [sessions[0]]
        assert summary.failures[0].error.startswith("ForeignPageUrlError")
        # Refused with the page that pointed elsewhere: nothing of it, nor of session 1's.
        assert summary.failures[0].records == 0
        fixed = await export(client, service, out, page_size=30, resume=True)
    assert fixed.complete
    assert sorted(out.read_bytes().splitlines()) == lines_of(server, sessions)


async def test_a_few_sessions_that_always_answer_500_fail_alone_even_on_resume(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    broken = sessions_of(server)[3:6]
    for sid in broken:
        server.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{sid}/")
    out = tmp_path / "out.ndjson"
    async with client_for(server) as client:
        for resume in (False, True, True):
            # Only the three broken ones are left to a resume: no page comes between
            # their failures, yet that is three bad sessions, not a dead API.
            summary = await export(client, server.service_sids[0], out, resume=resume)
            assert sorted(item.session_sid for item in summary.failures) == sorted(broken)


async def test_a_huge_retry_after_is_capped(
    server: FakeProxyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walk, "MAX_RETRY_AFTER", 0.05)
    server.add_fault(
        Fault.status(429, retry_after="99999"),
        times=2,
        path_contains=f"/Sessions/{sessions_of(server)[0]}/",
    )
    out = tmp_path / "out.ndjson"
    async with client_for(server, retry=RetryPolicy(retries=0)) as client:
        summary = await asyncio.wait_for(export(client, server.service_sids[0], out), 30)
    assert summary.complete
