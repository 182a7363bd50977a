"""Every attempt is logged and offered to hooks, with no credential anywhere.

Logs and hooks are client logic, so a MockTransport answers them in process; the
trace configs are aiohttp's own and go over the wire to the fake server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
from conftest import load_fixture

from proxy_async import AttemptEvent, ConnectionLostError, ProxyClient, RetryPolicy
from proxy_async.testing import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FakeProxyServer,
    MockTransport,
    json_response,
)
from proxy_async.transports import Request, Response

FAST = RetryPolicy(retries=2, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(interactions_per_session=20) as fake:
        yield fake


RECORD = load_fixture("sdk_interaction_fetch_response")
SERVICE, SESSION, SID = RECORD["service_sid"], RECORD["session_sid"], RECORD["sid"]


def failing_once(failure: Response | Exception) -> MockTransport:
    """A transport whose first answer is ``failure`` (returned or raised), then the record."""
    answers = [failure, json_response(RECORD)]

    def handler(request: Request) -> Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return MockTransport(handler)


def first_sid(server: FakeProxyServer) -> tuple[str, str, str]:
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    return service, session, server.interaction_sids(service, session)[0]


async def test_each_attempt_is_logged_with_its_facts(caplog: pytest.LogCaptureFixture) -> None:
    service, session, sid = SERVICE, SESSION, SID
    transport = failing_once(json_response({"status": 503, "message": "busy"}, 503))
    caplog.set_level(logging.DEBUG, logger="proxy_async")
    async with ProxyClient(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, transport=transport, retry=FAST, requests_per_second=None
    ) as client:
        await client.services(service).sessions(session).interactions.fetch(sid)

    attempts = [r for r in caplog.records if hasattr(r, "attempt")]
    assert [(r.http_method, r.http_status, r.attempt) for r in attempts] == [  # type: ignore[attr-defined]
        ("GET", 503, 1),
        ("GET", 200, 2),
    ]
    path = f"/v1/Services/{service}/Sessions/{session}/Interactions/{sid}"
    assert all(r.http_path == path for r in attempts)  # type: ignore[attr-defined]
    assert all(r.elapsed >= 0 for r in attempts)  # type: ignore[attr-defined]
    assert attempts[0].levelno == logging.INFO
    assert attempts[1].levelno == logging.DEBUG
    assert any("retrying in" in r.getMessage() for r in caplog.records)
    assert [request.path for request in transport.requests] == [path, path]
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert FAKE_AUTH_TOKEN not in text
        assert "Basic " not in text


async def test_hooks_see_every_attempt() -> None:
    service, session, sid = SERVICE, SESSION, SID
    lost = ConnectionLostError("connection lost: reset", method="GET", path="/")
    transport = failing_once(lost)
    requests: list[AttemptEvent] = []
    responses: list[AttemptEvent] = []

    async def on_response(event: AttemptEvent) -> None:
        responses.append(event)

    async with ProxyClient(
        FAKE_ACCOUNT_SID,
        FAKE_AUTH_TOKEN,
        transport=transport,
        retry=FAST,
        requests_per_second=None,
        on_request=requests.append,
        on_response=on_response,
    ) as client:
        await client.services(service).sessions(session).interactions.fetch(sid)

    assert [(e.method, e.attempt) for e in requests] == [("GET", 1), ("GET", 2)]
    assert [e.status for e in responses] == [None, 200]
    assert responses[0].error is not None
    assert all(e.elapsed is not None and e.elapsed >= 0 for e in responses)
    assert FAKE_AUTH_TOKEN not in repr(responses)
    assert len(transport.requests) == 2


async def test_trace_configs_reach_aiohttp(server: FakeProxyServer) -> None:
    service, session, sid = first_sid(server)
    started: list[str] = []

    async def on_request_start(
        _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        started.append(params.method)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with ProxyClient(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, trace_configs=[trace]
    ) as client:
        await client.services(service).sessions(session).interactions.fetch(sid)
    assert started == ["GET"]
