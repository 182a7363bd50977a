"""Cancelling, breaking out and closing early release every slot and leave no task behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conftest import fake_client, pending_client_tasks

from proxy_async import ClientClosedError, ProxyClient
from proxy_async.testing import FakeProxyServer, Fault


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(interactions_per_session=200) as fake:
        yield fake


def make_client(server: FakeProxyServer, **options: Any) -> ProxyClient:
    options.setdefault("retry", 0)
    return fake_client(server, **options)


def interactions(client: ProxyClient, server: FakeProxyServer) -> Any:
    service = server.service_sids[0]
    return client.services(service).sessions(server.session_sids(service)[0]).interactions


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


async def assert_all_released(client: ProxyClient, server: FakeProxyServer) -> None:
    for _ in range(5):  # let finalizers scheduled by the loop run
        await asyncio.sleep(0)
    assert pending_client_tasks() == []
    assert client.limiter.in_flight == 0  # type: ignore[attr-defined]
    server.clear_faults()
    # With a single slot, a fresh request proves the slot and the pool are usable.
    first = server.interaction_sids(
        server.service_sids[0], server.session_sids(server.service_sids[0])[0]
    )[0]
    assert (await interactions(client, server).fetch(first)).sid == first


async def test_cancelling_a_request_releases_its_slot(server: FakeProxyServer) -> None:
    server.add_fault(Fault.stall(None), times=None)
    async with make_client(server, max_concurrency=1) as client:
        sid = server.interaction_sids(
            server.service_sids[0], server.session_sids(server.service_sids[0])[0]
        )[0]
        task = asyncio.create_task(interactions(client, server).fetch(sid))
        await wait_for(lambda: server.in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_all_released(client, server)


async def test_cancelling_a_request_waiting_for_a_slot(server: FakeProxyServer) -> None:
    server.add_fault(Fault.stall(None), times=1)
    async with make_client(server, max_concurrency=1) as client:
        sid = server.interaction_sids(
            server.service_sids[0], server.session_sids(server.service_sids[0])[0]
        )[0]
        holder = asyncio.create_task(interactions(client, server).fetch(sid))
        await wait_for(lambda: server.in_flight == 1)
        waiter = asyncio.create_task(interactions(client, server).fetch(sid))
        await asyncio.sleep(0.05)
        waiter.cancel()
        holder.cancel()
        for task in (waiter, holder):
            with pytest.raises(asyncio.CancelledError):
                await task
        await assert_all_released(client, server)


async def test_cancelling_a_rate_limited_wait_releases_the_slot(server: FakeProxyServer) -> None:
    async with make_client(server, max_concurrency=1, requests_per_second=1.0, burst=1) as client:
        sid = server.interaction_sids(
            server.service_sids[0], server.session_sids(server.service_sids[0])[0]
        )[0]
        await interactions(client, server).fetch(sid)  # spends the only token
        waiting = asyncio.create_task(interactions(client, server).fetch(sid))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert client.limiter.in_flight == 0  # type: ignore[attr-defined]
        assert pending_client_tasks() == []


@pytest.mark.parametrize("prefetch", [True, False])
async def test_cancelling_a_stream_with_a_page_in_flight(
    server: FakeProxyServer, prefetch: bool
) -> None:
    server.add_fault(Fault.stall(None), times=None, when=lambda r: "PageToken" in r.query)
    async with make_client(server, max_concurrency=1, prefetch=prefetch) as client:
        got: list[str | None] = []

        async def consume() -> None:
            async for item in interactions(client, server).stream(page_size=50):
                got.append(item.sid)

        task = asyncio.create_task(consume())
        await wait_for(lambda: len(got) == 50 and server.in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_all_released(client, server)


async def test_breaking_out_cancels_the_prefetch(server: FakeProxyServer) -> None:
    server.add_fault(Fault.stall(None), times=None, when=lambda r: "PageToken" in r.query)
    async with make_client(server, max_concurrency=1, prefetch=True) as client:
        count = 0
        async for _ in interactions(client, server).stream(page_size=50):
            count += 1
            if count == 10:
                await wait_for(lambda: server.in_flight == 1)  # the prefetch is in flight
                break
        await assert_all_released(client, server)


async def test_aclosing_a_page_walk_cancels_the_prefetch_at_once(server: FakeProxyServer) -> None:
    server.add_fault(Fault.stall(None), times=None, when=lambda r: "PageToken" in r.query)
    async with make_client(server, max_concurrency=1, prefetch=True) as client:
        pages = interactions(client, server).pages(page_size=50)
        async with contextlib.aclosing(pages):
            async for _ in pages:
                await wait_for(lambda: server.in_flight == 1)
                break
        assert pending_client_tasks() == []
        await assert_all_released(client, server)


async def test_closing_the_client_with_requests_in_flight(server: FakeProxyServer) -> None:
    server.add_fault(Fault.stall(None), times=None)
    client = make_client(server, max_concurrency=4)
    sid = server.interaction_sids(
        server.service_sids[0], server.session_sids(server.service_sids[0])[0]
    )[0]
    tasks = [asyncio.create_task(interactions(client, server).fetch(sid)) for _ in range(8)]
    await wait_for(lambda: server.in_flight == 4)
    await client.aclose()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ClientClosedError) for r in results), results
    assert client.limiter.in_flight == 0  # type: ignore[attr-defined]
    for _ in range(5):
        await asyncio.sleep(0)
    assert pending_client_tasks() == []
