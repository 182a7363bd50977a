"""Session management: one pool per client, opened in the loop, always closed."""

from __future__ import annotations

import asyncio
import gc

import pytest
from conftest import fake_client

from proxy_async import ClientClosedError, ProxyClient
from proxy_async.testing import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FakeProxyServer,
    MockTransport,
    json_response,
)

make_client = fake_client


async def test_exception_inside_async_with_still_closes_everything() -> None:
    async with FakeProxyServer() as server:
        service = server.service_sids[0]
        client = make_client(server)

        async def fail_inside() -> None:
            async with client:
                await client.services(service).sessions.list()
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail_inside()
        assert client.closed
        gc.collect()  # an unclosed aiohttp session would warn here, and warnings are errors


async def test_use_after_close_is_a_clear_error() -> None:
    transport = MockTransport(lambda _: json_response({}))
    client = ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, transport=transport)
    await client.aclose()
    await client.aclose()  # idempotent
    assert transport.closed
    with pytest.raises(ClientClosedError, match="closed"):
        await client.services("KS" + "0" * 32).sessions.list()
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert transport.requests == []


async def test_closing_without_any_request_is_fine() -> None:
    async with ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN):
        pass


async def test_one_client_serves_thousands_of_tasks() -> None:
    async with FakeProxyServer(interactions_per_session=50) as server:
        service = server.service_sids[0]
        session_sid = server.session_sids(service)[0]
        sids = server.interaction_sids(service, session_sid)
        async with make_client(server) as client:
            interactions = client.services(service).sessions(session_sid).interactions
            results = await asyncio.gather(*(interactions.fetch(sids[i % 50]) for i in range(2000)))
        assert [r.sid for r in results] == [sids[i % 50] for i in range(2000)]
        assert server.max_in_flight_seen <= client.limiter.max_concurrency
