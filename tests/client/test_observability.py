"""Every attempt is logged and offered to hooks, with no credential anywhere."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest

from proxy_async import AttemptEvent, ProxyClient, RetryPolicy
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault

FAST = RetryPolicy(retries=2, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(interactions_per_session=20) as fake:
        yield fake


def first_sid(server: FakeProxyServer) -> tuple[str, str, str]:
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    return service, session, server.interaction_sids(service, session)[0]


async def test_each_attempt_is_logged_with_its_facts(
    server: FakeProxyServer, caplog: pytest.LogCaptureFixture
) -> None:
    service, session, sid = first_sid(server)
    server.add_fault(Fault.status(503))
    caplog.set_level(logging.DEBUG, logger="proxy_async")
    async with ProxyClient(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, retry=FAST, requests_per_second=None
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
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert FAKE_AUTH_TOKEN not in text
        assert "Basic " not in text


async def test_hooks_see_every_attempt(server: FakeProxyServer) -> None:
    service, session, sid = first_sid(server)
    server.add_fault(Fault.reset())
    requests: list[AttemptEvent] = []
    responses: list[AttemptEvent] = []

    async def on_response(event: AttemptEvent) -> None:
        responses.append(event)

    async with ProxyClient(
        FAKE_ACCOUNT_SID,
        FAKE_AUTH_TOKEN,
        base_url=server.url,
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
