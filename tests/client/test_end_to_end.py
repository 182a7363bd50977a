"""Every operation over real HTTP against the in-package FakeProxyServer."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator

import pytest
from conftest import fake_client

from proxy_async import (
    AttemptEvent,
    Interaction,
    MessageInteraction,
    NotFoundError,
    PaginationLoopError,
    ProxyClient,
    Session,
    UnsafePageUrlError,
)
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=3, interactions_per_session=120) as fake:
        yield fake


client_for = fake_client


def list_requests(server: FakeProxyServer, suffix: str = "/Interactions") -> list[str]:
    return [r.path for r in server.requests if r.method == "GET" and r.path.endswith(suffix)]


@pytest.mark.parametrize("page_size", [None, 1, 7, 50, 119, 120, 1000])
@pytest.mark.parametrize("prefetch", [True, False])
async def test_stream_walks_every_interaction_once_in_order(
    server: FakeProxyServer, page_size: int | None, prefetch: bool
) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[1]
    async with client_for(server, prefetch=prefetch) as client:
        interactions = client.services(service).sessions(session_sid).interactions
        sids = [item.sid async for item in interactions.stream(page_size=page_size)]
    assert sids == server.interaction_sids(service, session_sid)
    expected_pages = -(-120 // (page_size or 50))
    assert len(list_requests(server)) == expected_pages
    for request in server.requests:
        assert (
            request.headers["Authorization"]
            == "Basic "
            + base64.b64encode(f"{FAKE_ACCOUNT_SID}:{FAKE_AUTH_TOKEN}".encode()).decode()
        )


async def test_records_equal_what_the_server_serves(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    async with client_for(server) as client:
        session = client.services(service).sessions(session_sid)
        first = (await session.interactions.list(limit=1))[0]
        fetched = await session.interactions.fetch(first.sid or "")
    raw = server.interaction_json(service, session_sid, first.sid or "")
    assert fetched == first
    assert isinstance(fetched, Interaction)
    assert fetched.session_sid == raw["session_sid"] == session_sid
    assert fetched.type == raw["type"]
    assert fetched.data == raw["data"]
    assert fetched.date_created is not None
    assert fetched.date_created.tzinfo is not None
    assert fetched.url == raw["url"]


async def test_pages_expose_items_and_meta(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    async with client_for(server) as client:
        pages = [
            p
            async for p in client.services(service)
            .sessions(session_sid)
            .interactions.pages(page_size=50)
        ]
    assert [len(p.items) for p in pages] == [50, 50, 20]
    assert [p.meta.page for p in pages] == [0, 1, 2]
    assert pages[0].meta.key == "interactions"
    assert pages[0].meta.page_size == 50
    assert pages[0].meta.next_page_url is not None
    assert pages[-1].meta.next_page_url is None


@pytest.mark.parametrize(
    ("limit", "page_size", "pages"), [(120, 50, 3), (51, 50, 2), (50, 50, 1), (5, None, 1)]
)
async def test_limit_stops_and_fetches_no_further_page(
    server: FakeProxyServer, limit: int, page_size: int | None, pages: int
) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    async with client_for(server, prefetch=True) as client:
        interactions = client.services(service).sessions(session_sid).interactions
        streamed = [i.sid async for i in interactions.stream(limit=limit, page_size=page_size)]
        listed = await interactions.list(limit=limit, page_size=page_size)
    assert streamed == server.interaction_sids(service, session_sid)[:limit]
    assert [i.sid for i in listed] == streamed
    assert len(list_requests(server)) == 2 * pages  # stream + list, each exactly `pages`


async def test_delete_then_fetch_is_not_found(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    victim = server.interaction_sids(service, session_sid)[3]
    async with client_for(server) as client:
        interactions = client.services(service).sessions(session_sid).interactions
        await interactions.delete(victim)
        with pytest.raises(NotFoundError) as caught:
            await interactions.fetch(victim)
        remaining = [i.sid async for i in interactions.stream(page_size=1000)]
    assert caught.value.code == 20404
    assert victim not in remaining
    assert len(remaining) == 119


async def test_create_fetch_and_list_message_interactions(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    participant = server.participant_sids(service, session_sid)[0]
    async with client_for(server) as client:
        messages = (
            client.services(service)
            .sessions(session_sid)
            .participants(participant)
            .message_interactions
        )
        created = await messages.create(body="hello", media_url=["https://example.com/cat.png"])
        again = await messages.fetch(created.sid or "")
        listed = [m.sid async for m in messages.stream()]
        in_session = [
            i.sid
            async for i in client.services(service).sessions(session_sid).interactions.stream()
        ]
    assert isinstance(created, MessageInteraction)
    assert created.participant_sid == participant
    assert created.decoded_data["body"] == "hello"
    assert again == created
    assert created.sid in listed
    assert created.sid in in_session
    post = next(r for r in server.requests if r.method == "POST")
    assert post.form == [("Body", "hello"), ("MediaUrl", "https://example.com/cat.png")]


async def test_sessions_and_participants_lists(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    async with client_for(server) as client:
        sessions = await client.services(service).sessions.list()
        first = client.services(service).sessions(sessions[0].sid or "")
        participants = await first.participants.list()
        fetched = await first.fetch()
    assert [s.sid for s in sessions] == server.session_sids(service)
    assert all(isinstance(s, Session) for s in sessions)
    assert [p.sid for p in participants] == server.participant_sids(service, sessions[0].sid or "")
    assert fetched == sessions[0]


async def test_wrong_credentials_are_an_authentication_error(server: FakeProxyServer) -> None:
    from proxy_async import AuthenticationError

    async with ProxyClient(FAKE_ACCOUNT_SID, "wrong-token", base_url=server.url, retry=0) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.services(server.service_sids[0]).sessions.list()
    assert caught.value.code == 20003
    assert "wrong-token" not in str(caught.value)


# -- following next_page_url safely ------------------------------------------------------


@pytest.mark.parametrize("foreign", ["other-host", "other-port", "other-scheme"])
async def test_foreign_next_page_url_receives_nothing(
    server: FakeProxyServer, foreign: str
) -> None:
    async with FakeProxyServer(host="127.0.0.2") as other_host, FakeProxyServer() as other_port:
        service = server.service_sids[0]
        session_sid = server.session_sids(service)[0]
        path = f"/v1/Services/{service}/Sessions/{session_sid}/Interactions?Page=1&PageToken=PTx"
        target = {
            "other-host": f"{other_host.url}{path}",
            "other-port": f"{other_port.url}{path}",
            "other-scheme": f"https://127.0.0.1:{server.port}{path}",
        }[foreign]
        server.add_fault(Fault.foreign_next_page(target), path_contains="/Interactions")
        streamed: list[str | None] = []

        async def stream_all() -> None:
            async with client_for(server) as client:
                interactions = client.services(service).sessions(session_sid).interactions
                async for item in interactions.stream(page_size=50):
                    streamed.append(item.sid)

        with pytest.raises(UnsafePageUrlError) as caught:
            await stream_all()
        assert other_host.requests == []
        assert other_port.requests == []
    assert caught.value.url == target
    assert len(streamed) == 50  # the first page was genuine; nothing after it was fetched
    assert len(list_requests(server)) == 1


async def test_next_page_url_loop_is_detected(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    server.add_fault(Fault.loop_next_page(), times=5, path_contains="/Interactions")
    async with client_for(server) as client:
        with pytest.raises(PaginationLoopError):
            await client.services(service).sessions(session_sid).interactions.list(page_size=50)
    assert len(list_requests(server)) == 1


async def test_resume_from_saved_next_page_url(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    async with client_for(server) as client:
        interactions = client.services(service).sessions(session_sid).interactions
        first = await interactions.pages(page_size=50).__anext__()
        assert first.meta.next_page_url is not None
        rest = [i.sid async for i in interactions.stream(start_url=first.meta.next_page_url)]
    assert [i.sid for i in first.items] + rest == server.interaction_sids(service, session_sid)


# -- the rate-limited pool, measured at the server ----------------------------------------


async def test_rate_limit_holds_at_the_server(server: FakeProxyServer) -> None:
    service = server.service_sids[0]
    session_sid = server.session_sids(service)[0]
    sids = server.interaction_sids(service, session_sid)
    rate, burst, count = 40.0, 4.0, 80
    admitted: dict[str, float] = {}  # path -> when the limiter let the request go

    def note_admission(event: AttemptEvent) -> None:
        admitted[event.path] = time.monotonic()  # the server stamps arrivals on this clock

    async with client_for(
        server,
        requests_per_second=rate,
        burst=burst,
        max_concurrency=50,
        on_request=note_admission,
    ) as client:
        interactions = client.services(service).sessions(session_sid).interactions
        results = await asyncio.gather(
            *(interactions.fetch(sids[i % len(sids)]) for i in range(count))
        )
    assert [r.sid for r in results] == [sids[i % len(sids)] for i in range(count)]
    arrived = {r.path: r.time for r in server.requests}
    assert len(arrived) == len(admitted) == count  # one request per SID, none repeated
    arrivals = sorted(arrived.values())
    assert arrivals[-1] - arrivals[0] >= (count - burst) / rate * 0.9
    window = 0.5
    # A bucket admits at most burst + rate * window in any window (+1 for timer rounding).
    assert most_in_a_window(sorted(admitted.values()), window) <= burst + rate * window + 1
    # At the server, requests admitted apart can arrive closer together by the spread of
    # their transit from limiter to handler (on a loaded machine the event loop runs
    # late and delivers several at once): the same bound, over the window plus that spread.
    transits = [arrived[path] - admitted[path] for path in admitted]
    spread = max(transits) - min(transits)
    assert most_in_a_window(arrivals, window) <= burst + rate * (window + spread) + 1, spread


def most_in_a_window(times: list[float], window: float) -> int:
    """The most of the sorted ``times`` that fall in any half-open window of this length."""
    return max(
        (sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times)),
        default=0,
    )


async def test_concurrency_cap_holds_at_the_server() -> None:
    async with FakeProxyServer(latency=0.05) as server:
        service = server.service_sids[0]
        session_sid = server.session_sids(service)[0]
        sids = server.interaction_sids(service, session_sid)
        async with client_for(server, max_concurrency=4) as client:
            interactions = client.services(service).sessions(session_sid).interactions
            await asyncio.gather(*(interactions.fetch(sid) for sid in sids[:40]))
        assert server.max_in_flight_seen == 4


async def test_pages_of_many_sessions_stream_concurrently() -> None:
    async with FakeProxyServer(
        sessions_per_service=8, interactions_per_session=30, latency=0.02
    ) as server:
        service = server.service_sids[0]

        async with client_for(server, max_concurrency=8) as client:

            async def export(session_sid: str) -> list[str | None]:
                stream = (
                    client.services(service).sessions(session_sid).interactions.stream(page_size=10)
                )
                return [i.sid async for i in stream]

            results = await asyncio.gather(*(export(s) for s in server.session_sids(service)))
        for session_sid, sids in zip(server.session_sids(service), results, strict=True):
            assert sids == server.interaction_sids(service, session_sid)
        assert server.max_in_flight_seen > 1
