"""The export library: concurrent streaming, back-pressure, output formats, failure isolation."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aioresponses import aioresponses
from conftest import BASE, SERVICE_SID, SESSION_SID, list_body, pending_client_tasks

from proxy_async import (
    AuthenticationError,
    InvalidParameterError,
    InvalidResponseError,
    NotFoundError,
    ProxyClient,
    RetryPolicy,
    ServerError,
)
from proxy_async.bulk_export.events import (
    ExportProgress,
    SessionFailed,
    SessionPage,
    TaggedInteraction,
)
from proxy_async.bulk_export.formats import CSV_COLUMNS
from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.run import export
from proxy_async.bulk_export.state import ExportState
from proxy_async.bulk_export.streams import stream_interactions, stream_pages
from proxy_async.errors import ExportStateError, SessionDiscoveryError, SessionsFailedError
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault

FAST_RETRY = RetryPolicy(retries=2, initial_backoff=0.01, max_backoff=0.02)
MISSING_SESSION = "KC" + "0" * 32


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=8, interactions_per_session=120) as fake:
        yield fake


def client_for(server: FakeProxyServer, **options: Any) -> ProxyClient:
    options.setdefault("requests_per_second", None)
    options.setdefault("retry", FAST_RETRY)
    return ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, **options)


def service_of(server: FakeProxyServer) -> str:
    return server.service_sids[0]


def sessions_of(server: FakeProxyServer) -> list[str]:
    return server.session_sids(service_of(server))


def expected_lines(server: FakeProxyServer, session: str) -> list[bytes]:
    """The NDJSON lines of one session, in server order, exactly as the server renders them."""
    service = service_of(server)
    return [
        orjson.dumps(server.interaction_json(service, session, sid))
        for sid in server.interaction_sids(service, session)
    ]


def interaction_requests(server: FakeProxyServer) -> int:
    return sum(1 for request in server.requests if request.path.endswith("/Interactions"))


async def assert_no_task_left(client: ProxyClient) -> None:
    for _ in range(5):  # let callbacks scheduled by cancellations run
        await asyncio.sleep(0)
    assert pending_client_tasks() == []
    assert client.limiter.in_flight == 0  # type: ignore[attr-defined]


async def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


# -- streaming ------------------------------------------------------------------------------


async def test_stream_interactions_tags_each_record_and_keeps_session_order(
    server: FakeProxyServer,
) -> None:
    server.latency = 0.05
    seen: dict[str, list[str]] = {}
    async with client_for(server) as client:
        stream = stream_interactions(client, service_of(server), concurrency=4, page_size=25)
        async with contextlib.aclosing(stream):
            async for item in stream:
                assert isinstance(item, TaggedInteraction)
                assert item.interaction.session_sid == item.session_sid
                assert item.raw["sid"] == item.interaction.sid
                seen.setdefault(item.session_sid, []).append(item.raw["sid"])
    assert set(seen) == set(sessions_of(server))
    for session in sessions_of(server):
        assert seen[session] == server.interaction_sids(service_of(server), session)
    # Several sessions were walked at once, never more than the fan-out.
    assert 2 <= server.max_in_flight_seen <= 4


async def test_pages_of_a_session_come_in_order_and_end_with_done(
    server: FakeProxyServer,
) -> None:
    pages: dict[str, list[SessionPage]] = {}
    async with client_for(server) as client:
        events = stream_pages(client, service_of(server), sessions_of(server)[:5], page_size=50)
        async with contextlib.aclosing(events):
            async for event in events:
                assert isinstance(event, SessionPage)
                pages.setdefault(event.session_sid, []).append(event)
    assert set(pages) == set(sessions_of(server)[:5])
    for session, walked in pages.items():
        assert [page.done for page in walked] == [False, False, True]  # 120 = 50 + 50 + 20
        sids = [item.sid for page in walked for item in page.page.items]
        assert sids == server.interaction_sids(service_of(server), session)


async def test_a_slow_consumer_holds_the_workers_back(server: FakeProxyServer) -> None:
    """Workers run ahead of the consumer by at most the queue plus two pages each."""
    concurrency, queued = 3, 2
    bound = queued + 2 * concurrency  # the queue; per worker one page waiting, one prefetched
    async with client_for(server) as client:
        events = stream_pages(
            client,
            service_of(server),
            concurrency=concurrency,
            page_size=10,  # 12 pages per session, 96 in all
            max_queued_pages=queued,
        )
        consumed = 0
        async with contextlib.aclosing(events):
            async for _ in events:
                consumed += 1
                if consumed in (1, 20, 50):
                    # Let the workers run as far ahead as they can, then check they stopped.
                    ahead = consumed + queued
                    await wait_for(lambda: interaction_requests(server) >= ahead)  # noqa: B023
                    for _ in range(3):
                        await asyncio.sleep(0.1)
                        assert interaction_requests(server) <= consumed + bound
        assert consumed == 96
        await assert_no_task_left(client)


async def test_arguments_are_checked_before_anything_is_sent(server: FakeProxyServer) -> None:
    async with client_for(server) as client:
        with pytest.raises(InvalidParameterError):
            stream_pages(client, service_of(server), ["KCnot-a-sid"])
        with pytest.raises(InvalidParameterError):
            stream_pages(client, service_of(server), SESSION_SID)  # a string, not a list
        with pytest.raises(InvalidParameterError):
            stream_pages(client, service_of(server), concurrency=0)
        with pytest.raises(InvalidParameterError):
            stream_pages(client, service_of(server), page_size=1001)
        with pytest.raises(InvalidParameterError):
            await export(client, service_of(server), "x.ndjson", fmt="xml")  # type: ignore[arg-type]
    assert server.requests == []


async def test_a_failed_session_does_not_stop_the_others(server: FakeProxyServer) -> None:
    sessions = sessions_of(server)
    broken = sessions[2]
    server.add_fault(Fault.status(503), times=None, path_contains=f"/Sessions/{broken}/")
    got: dict[str, int] = {}
    async with client_for(server) as client:
        stream = stream_interactions(client, service_of(server), [*sessions, MISSING_SESSION])

        async def count() -> None:
            async for item in stream:
                got[item.session_sid] = got.get(item.session_sid, 0) + 1

        with pytest.raises(SessionsFailedError) as caught:
            await count()
    assert set(caught.value.failures) == {broken, MISSING_SESSION}
    assert isinstance(caught.value.failures[broken], ServerError)
    assert isinstance(caught.value.failures[MISSING_SESSION], NotFoundError)
    assert got == {sid: 120 for sid in sessions if sid != broken}


# -- export: output -------------------------------------------------------------------------


async def test_ndjson_holds_every_record_exactly_as_served(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "interactions.ndjson"
    snapshots: list[ExportProgress] = []
    async with client_for(server) as client:
        summary = await export(
            client,
            service_of(server),
            out,
            concurrency=3,
            page_size=40,
            progress=snapshots.append,
        )
    paths = ExportPaths.for_output(out)
    assert summary.complete
    assert summary.output == out
    assert summary.state == paths.state
    assert summary.sessions_file == paths.sessions == tmp_path / "interactions.sessions.ndjson"
    assert summary.records == summary.records_this_run == 8 * 120
    assert summary.sessions_total == summary.sessions_done == 8
    assert summary.failures == summary.missing == ()
    assert not paths.partial.exists()
    assert not paths.sessions_partial.exists()
    state = ExportState.open(paths.state)  # kept, as the record of what was exported
    assert state.counters.complete
    assert state.counters.records == 8 * 120
    state.close()
    listed = [orjson.loads(line)["sid"] for line in paths.sessions.read_bytes().splitlines()]
    assert listed == sessions_of(server)
    lines = out.read_bytes().splitlines()
    for session in sessions_of(server):
        expected = expected_lines(server, session)
        assert [line for line in lines if session.encode() in line[:120]] == expected
    assert len(lines) == 8 * 120
    assert snapshots[-1].records == 8 * 120
    assert snapshots[-1].sessions_done == 8
    assert [s.records for s in snapshots] == sorted(s.records for s in snapshots)


def mock_one_page(mock_http: aioresponses, records: list[dict[str, Any]]) -> None:
    """The session's Interactions as one page (``PageSize=1000``, the export's)."""
    url = f"{BASE}/v1/Services/{SERVICE_SID}/Sessions/{SESSION_SID}/Interactions?PageSize=1000"
    body = orjson.dumps(list_body(records, None, url))
    mock_http.get(url, body=body, content_type="application/json")


async def test_ndjson_keeps_fields_and_values_the_models_do_not_know(
    mock_http: aioresponses, client: ProxyClient, tmp_path: Path
) -> None:
    record = {
        "sid": "KI" + "e" * 32,
        "session_sid": SESSION_SID,
        "data": '{"body": "h\\u00e9llo \\u2713"}',
        "type": "some-new-type",
        "inbound_resource_status": None,
        "date_created": "2015-07-30T20:00:00.000+00:00",  # a model would reformat this
        "a_field_added_later": {"nested": [1, 2.5, True, None], "text": "ünïcödé ✓"},
    }
    mock_one_page(mock_http, [record])
    out = tmp_path / "one.ndjson"
    summary = await export(client, SERVICE_SID, out, sessions=[SESSION_SID])
    assert summary.complete
    assert out.read_bytes() == orjson.dumps(record) + b"\n"
    assert json.loads(out.read_text(encoding="utf-8")) == record


async def test_csv_has_the_spec_header_and_values_as_sent(
    mock_http: aioresponses, client: ProxyClient, tmp_path: Path
) -> None:
    data = '{"body":"a, \\"quoted\\"\\nline"}'
    records: list[dict[str, Any]] = [
        {
            "sid": "KI" + "e" * 32,
            "session_sid": SESSION_SID,
            "data": data,
            "type": "message",
            "outbound_resource_type": "a real\nline break, and a comma",
            "inbound_resource_status": None,
            "date_created": "2015-07-30T20:00:00Z",
            "a_field_added_later": "dropped from CSV",
        },
        {"sid": "KI" + "f" * 32},
    ]
    mock_one_page(mock_http, records)
    out = tmp_path / "one.csv"
    summary = await export(client, SERVICE_SID, out, sessions=[SESSION_SID], fmt="csv")
    assert summary.complete
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[0][:3] == ["sid", "session_sid", "service_sid"]
    assert len(rows) == 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["data"] == data
    assert first["outbound_resource_type"] == "a real\nline break, and a comma"
    assert first["date_created"] == "2015-07-30T20:00:00Z"
    assert first["inbound_resource_status"] == ""
    assert first["url"] == ""
    assert rows[2][0] == "KI" + "f" * 32
    assert rows[2][1:] == [""] * (len(CSV_COLUMNS) - 1)


async def test_csv_export_from_the_fake_server(server: FakeProxyServer, tmp_path: Path) -> None:
    out = tmp_path / "interactions.csv"
    async with client_for(server) as client:
        summary = await export(client, service_of(server), out, fmt="csv", page_size=100)
    assert summary.complete
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 8 * 120
    service = service_of(server)
    for session in sessions_of(server):
        ours = [row for row in rows if row["session_sid"] == session]
        assert [row["sid"] for row in ours] == server.interaction_sids(service, session)
        first = server.interaction_json(service, session, ours[0]["sid"])
        assert ours[0] == {name: first.get(name) or "" for name in CSV_COLUMNS}


# -- export: failures -----------------------------------------------------------------------


async def test_failed_sessions_are_reported_and_kept_for_resume(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    sessions = sessions_of(server)
    unavailable, malformed = sessions[1], sessions[4]
    server.add_fault(Fault.status(500), times=None, path_contains=f"/Sessions/{unavailable}/")
    server.add_fault(Fault.wrong_types(), times=None, path_contains=f"/Sessions/{malformed}/")
    out = tmp_path / "out.ndjson"
    paths = ExportPaths.for_output(out)
    selected = [*sessions, MISSING_SESSION]
    async with client_for(server) as client:
        summary = await export(client, service_of(server), out, sessions=selected, page_size=50)
    assert not summary.complete
    assert summary.output == paths.partial
    assert summary.state == paths.state
    assert summary.sessions_file is None  # the caller named the sessions: no listing
    assert not out.exists()
    failures = {failure.session_sid: failure.error for failure in summary.failures}
    assert set(failures) == {unavailable, malformed}
    assert failures[unavailable].startswith(ServerError.__name__)
    assert failures[malformed].startswith(InvalidResponseError.__name__)
    # A 404 on the first page: missing, not failed, and never retried.
    assert [(item.session_sid, item.records) for item in summary.missing] == [(MISSING_SESSION, 0)]
    assert summary.missing[0].error.startswith(NotFoundError.__name__)
    assert summary.sessions_done == len(sessions) - 2
    assert summary.records == (len(sessions) - 2) * 120

    state = ExportState.open(paths.state)
    assert state.counters.data_bytes == paths.partial.stat().st_size
    assert state.counters.failed == 2
    assert state.counters.missing == 1
    failed = {row.sid: row for row in state.sessions_with("failed")}
    assert failed[unavailable].error == failures[unavailable]
    assert [row.sid for row in state.sessions_with("done")] == [
        sid for sid in sessions if sid not in (unavailable, malformed)
    ]
    state.close()
    lines = paths.partial.read_bytes().splitlines()
    assert sorted(lines) == sorted(
        line
        for sid in sessions
        if sid not in (unavailable, malformed)
        for line in expected_lines(server, sid)
    )


async def test_wrong_credentials_stop_the_export_before_anything_is_written(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.ndjson"
    async with ProxyClient(
        FAKE_ACCOUNT_SID, "wrong-token", base_url=server.url, requests_per_second=None
    ) as client:
        with pytest.raises(AuthenticationError):
            await export(client, service_of(server), out)
    assert os.listdir(tmp_path) == []


async def test_an_unknown_service_cannot_be_discovered(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    async with client_for(server) as client:
        with pytest.raises(SessionDiscoveryError) as caught:
            await export(client, "KS" + "0" * 32, tmp_path / "out.ndjson")
    assert isinstance(caught.value.cause, NotFoundError)
    assert os.listdir(tmp_path) == []


async def test_an_auth_failure_mid_export_stops_every_worker(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.add_fault(Fault.status(401), path_contains=f"/Sessions/{sessions_of(server)[5]}/")
    async with client_for(server) as client:
        events = stream_pages(client, service_of(server), concurrency=2, page_size=20)
        seen: list[object] = []
        with pytest.raises(AuthenticationError):
            await _collect(events, seen)
        assert not any(isinstance(event, SessionFailed) for event in seen)
        await assert_no_task_left(client)


# -- export: refusals -----------------------------------------------------------------------


async def test_existing_files_are_never_silently_replaced(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.ndjson"
    paths = ExportPaths.for_output(out)
    server.add_fault(Fault.status(500), times=None, path_contains=sessions_of(server)[0])
    async with client_for(server) as client:
        first = await export(client, service_of(server), out, page_size=60)
        assert not first.complete
        saved = paths.state.read_bytes()
        with pytest.raises(ExportStateError, match="did not finish; continue it with resume=True"):
            await export(client, service_of(server), out)
        assert paths.state.read_bytes() == saved
        with pytest.raises(ExportStateError, match="format ndjson, not csv"):
            await export(client, service_of(server), out, fmt="csv", page_size=60, resume=True)
        with pytest.raises(ExportStateError, match="page size 60, not 1000"):
            await export(client, service_of(server), out, resume=True)
        with pytest.raises(ExportStateError, match="explicit session list"):
            await export(
                client, service_of(server), out, page_size=60, resume=True, sessions=[SESSION_SID]
            )
        assert paths.state.read_bytes() == saved

        server.clear_faults()
        done = await export(client, service_of(server), out, page_size=60, resume=True)
        assert done.complete
        assert done.resumed
        assert done.records == 8 * 120
        assert done.records_this_run == 120
        with pytest.raises(ExportStateError, match="already exists"):
            await export(client, service_of(server), out)
        again = await export(client, service_of(server), out, page_size=60, resume=True)
        assert again.already_complete
        assert again.records_this_run == 0
        assert again.records == 8 * 120  # from the state, kept after completion
        replaced = await export(client, service_of(server), out, fmt="csv", overwrite=True)
        assert replaced.complete
    assert out.read_text(encoding="utf-8").startswith("sid,session_sid,")


async def test_two_exports_cannot_write_the_same_file(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0.05
    out = tmp_path / "out.ndjson"
    started = asyncio.Event()
    async with client_for(server) as client:
        first = asyncio.create_task(
            export(client, service_of(server), out, page_size=10, progress=lambda _: started.set())
        )
        await started.wait()
        with pytest.raises(ExportStateError, match="another export is writing"):
            await export(client, service_of(server), out, page_size=10, resume=True)
        assert (await first).complete
    assert len(out.read_bytes().splitlines()) == 8 * 120


# -- cancellation ---------------------------------------------------------------------------


async def test_cancelling_an_export_leaves_no_task_and_a_resumable_state(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    server.latency = 0.02
    out = tmp_path / "out.ndjson"
    paths = ExportPaths.for_output(out)
    latest: list[ExportProgress] = []
    async with client_for(server) as client:
        task = asyncio.create_task(
            export(client, service_of(server), out, page_size=10, progress=latest.append)
        )
        await wait_for(lambda: bool(latest) and latest[-1].records >= 200)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_no_task_left(client)
        state = ExportState.open(paths.state)
        assert state.counters.data_bytes == paths.partial.stat().st_size  # saved on the way out
        assert 200 <= state.counters.records < 960
        state.close()
        summary = await export(client, service_of(server), out, page_size=10, resume=True)
    assert summary.complete
    lines = out.read_bytes().splitlines()
    assert sorted(lines) == sorted(
        line for session in sessions_of(server) for line in expected_lines(server, session)
    )


async def test_breaking_out_of_a_stream_cancels_every_worker(server: FakeProxyServer) -> None:
    server.latency = 0.02
    async with client_for(server) as client:
        stream = stream_interactions(client, service_of(server), concurrency=4, page_size=10)
        taken = 0
        async with contextlib.aclosing(stream):
            async for _ in stream:
                taken += 1
                if taken == 30:
                    break
        await assert_no_task_left(client)
        task = asyncio.create_task(_drain(stream_interactions(client, service_of(server))))
        await wait_for(lambda: server.in_flight > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_no_task_left(client)


async def _collect(events: AsyncIterator[Any], into: list[object]) -> None:
    async for event in events:
        into.append(event)


async def _drain(stream: AsyncIterator[TaggedInteraction]) -> None:
    async for _ in stream:
        pass
