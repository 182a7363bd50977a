"""Retries, at-most-once creates, timeouts and hostile servers, over real HTTP."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from conftest import fake_client

from proxy_async import (
    ConnectError,
    ConnectionLostError,
    EmptyPagesError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ProxyClient,
    RateLimitError,
    RequestTimeoutError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    Timeouts,
)
from proxy_async.testing import FakeProxyServer, Fault

FAST_RETRY = RetryPolicy(retries=3, initial_backoff=0.01, max_backoff=0.05, max_retry_after=0.5)


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=2, interactions_per_session=120) as fake:
        yield fake


def make_client(base_url: str, **options: Any) -> ProxyClient:
    options.setdefault("retry", FAST_RETRY)
    return fake_client(base_url, **options)


class Target:
    """The SIDs of one session of the fake server and handy resources on a client."""

    def __init__(self, server: FakeProxyServer) -> None:
        self.server = server
        self.service = server.service_sids[0]
        self.session = server.session_sids(self.service)[0]
        self.participant = server.participant_sids(self.service, self.session)[0]
        self.sids = server.interaction_sids(self.service, self.session)

    def interactions(self, client: ProxyClient) -> Any:
        return client.services(self.service).sessions(self.session).interactions

    def messages(self, client: ProxyClient) -> Any:
        session = client.services(self.service).sessions(self.session)
        return session.participants(self.participant).message_interactions

    def created(self) -> list[dict[str, Any]]:
        return self.server.created_message_interactions(
            self.service, self.session, self.participant
        )

    def count(self, method: str) -> int:
        return sum(1 for r in self.server.requests if r.method == method)


# -- GET and DELETE: retried on 429/5xx/connection trouble ---------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(429),
        Fault.status(429, retry_after="0.05"),
        Fault.status(500),
        Fault.html(502),
        Fault.status(503),
        Fault.status(504),
        Fault.reset(),
        Fault.drop_connection(),
    ],
)
async def test_get_is_retried_and_succeeds(server: FakeProxyServer, fault: Fault) -> None:
    target = Target(server)
    server.add_fault(fault, times=2)
    async with make_client(server.url) as client:
        fetched = await target.interactions(client).fetch(target.sids[0])
    assert fetched.sid == target.sids[0]
    assert target.count("GET") == 3


@pytest.mark.parametrize(
    ("fault", "error_type"), [(Fault.status(400), Exception), (Fault.status(404), NotFoundError)]
)
async def test_client_errors_are_not_retried(
    server: FakeProxyServer, fault: Fault, error_type: type[Exception]
) -> None:
    target = Target(server)
    server.add_fault(fault)
    async with make_client(server.url) as client:
        with pytest.raises(error_type):
            await target.interactions(client).fetch(target.sids[0])
    assert target.count("GET") == 1


async def test_gives_up_after_retries_with_attempt_count(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.html(502), times=None)
    async with make_client(server.url) as client:
        with pytest.raises(ServerError) as caught:
            await target.interactions(client).fetch(target.sids[0])
    assert caught.value.attempts == 4
    assert "after 4 attempts" in str(caught.value)
    assert "502 Bad Gateway" in caught.value.body_excerpt or caught.value.body_excerpt
    assert target.count("GET") == 4


async def test_retries_zero_turns_retrying_off(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.status(503), times=None)
    async with make_client(server.url, retry=0) as client:
        with pytest.raises(ServerError):
            await target.interactions(client).fetch(target.sids[0])
    assert target.count("GET") == 1


async def test_deadline_stops_retrying(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.status(503, retry_after="0.2"), times=None)
    policy = RetryPolicy(retries=50, max_retry_after=0.2, deadline=0.5)
    async with make_client(server.url, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(ServerError) as caught:
            await target.interactions(client).fetch(target.sids[0])
    assert time.monotonic() - started < 2.0
    assert 2 <= caught.value.attempts <= 4


async def test_retry_after_is_honoured_and_capped(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.status(429, retry_after="0.3"))
    async with make_client(server.url) as client:
        await target.interactions(client).fetch(target.sids[0])
    first, second = (r.time for r in server.requests)
    assert second - first >= 0.28

    server.requests.clear()
    server.add_fault(Fault.status(429, retry_after="3600"))
    async with make_client(server.url, retry=RetryPolicy(retries=1, max_retry_after=0.2)) as client:
        await target.interactions(client).fetch(target.sids[0])
    first, second = (r.time for r in server.requests)
    assert 0.18 <= second - first < 2.0


async def test_http_date_retry_after_is_honoured(server: FakeProxyServer) -> None:
    target = Target(server)
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
    server.add_fault(Fault.status(503, retry_after=when))
    async with make_client(server.url, retry=RetryPolicy(retries=1, max_retry_after=0.3)) as client:
        await target.interactions(client).fetch(target.sids[0])
    first, second = (r.time for r in server.requests)
    assert 0.28 <= second - first < 3  # 4 to 5 s away (1 s resolution), capped at 0.3 s


async def test_delete_whose_first_attempt_went_through_counts_as_done(
    server: FakeProxyServer,
) -> None:
    target = Target(server)
    victim = target.sids[5]
    server.add_fault(Fault.reset(after_processing=True), method="DELETE")
    async with make_client(server.url) as client:
        await target.interactions(client).delete(victim)
        with pytest.raises(NotFoundError):
            await target.interactions(client).fetch(victim)
    assert target.count("DELETE") == 2
    assert victim not in server.interaction_sids(target.service, target.session)


async def test_delete_of_a_missing_interaction_is_not_found(server: FakeProxyServer) -> None:
    target = Target(server)
    async with make_client(server.url) as client:
        with pytest.raises(NotFoundError):
            await target.interactions(client).delete("KI" + "0" * 32)
    assert target.count("DELETE") == 1


async def test_failed_page_is_retried_without_restarting_the_stream(
    server: FakeProxyServer,
) -> None:
    target = Target(server)
    server.add_fault(Fault.status(503), times=2, when=lambda r: "PageToken" in r.query)
    server.add_fault(Fault.reset(), times=1, when=lambda r: "PageToken" in r.query)
    async with make_client(server.url) as client:
        streamed = [i.sid async for i in target.interactions(client).stream(page_size=50)]
    assert streamed == target.sids
    first_pages = [r for r in server.requests if "PageToken" not in r.query]
    assert len(first_pages) == 1


# -- POST: at most once ---------------------------------------------------------------------


async def test_create_is_retried_on_429(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.status(429), times=2, method="POST")
    async with make_client(server.url) as client:
        created = await target.messages(client).create("only once")
    assert target.count("POST") == 3
    assert [m["sid"] for m in target.created()] == [created.sid]


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(500, after_processing=True),
        Fault.status(503, after_processing=True),
        Fault.html(502, after_processing=True),
        Fault.reset(after_processing=True),
        Fault.drop_connection(after_processing=True),
        Fault.stall(None, after_processing=True),
    ],
)
async def test_create_with_unknown_outcome_is_never_retried(
    server: FakeProxyServer, fault: Fault
) -> None:
    target = Target(server)
    server.add_fault(fault, method="POST")
    timeouts = Timeouts(connect=2, read=0.3, total=5)
    async with make_client(server.url, timeout=timeouts) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await target.messages(client).create("hello exactly once")
    assert target.count("POST") == 1
    assert len(target.created()) == 1  # it did happen, and only once
    assert caught.value.attempts == 1
    assert "MessageInteractions" in str(caught.value)
    assert caught.value.cause is not None


async def test_create_5xx_before_processing_is_still_unknown(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.status(500), method="POST")
    async with make_client(server.url) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await target.messages(client).create("maybe")
    assert isinstance(caught.value.cause, ServerError)
    assert target.count("POST") == 1
    assert target.created() == []


async def test_create_is_retried_when_it_provably_never_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on `port` now: every attempt is refused before sending.
    target_path = "MessageInteractions"
    async with make_client(f"http://127.0.0.1:{port}") as client:
        messages = (
            client.services("KS" + "1" * 32).sessions("KC" + "2" * 32).participants("KP" + "3" * 32)
        )
        with pytest.raises(ConnectError) as caught:
            await messages.message_interactions.create("hi")
    assert caught.value.attempts == 4
    assert not caught.value.request_sent
    assert target_path in caught.value.path


async def test_create_gives_up_on_persistent_429(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.status(429), times=None, method="POST")
    async with make_client(server.url) as client:
        with pytest.raises(RateLimitError) as caught:
            await target.messages(client).create("hi")
    assert caught.value.attempts == 4
    assert target.created() == []


# -- timeouts -------------------------------------------------------------------------------


async def test_read_timeout_is_typed(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.stall(None), times=None)
    async with make_client(
        server.url, retry=0, timeout=Timeouts(connect=1, read=0.2, total=10)
    ) as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await target.interactions(client).fetch(target.sids[0])
    assert caught.value.phase == "read"
    assert isinstance(caught.value, TimeoutError)


async def test_per_call_total_timeout_overrides_the_client(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.stall(None), times=None)
    async with make_client(server.url, retry=0) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            await target.interactions(client).fetch(target.sids[0], timeout=0.3)
    assert caught.value.phase in {"total", "read"}
    assert time.monotonic() - started < 3


async def test_stalled_server_never_hangs_a_stream(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.stall(None), times=None, when=lambda r: "PageToken" in r.query)
    policy = RetryPolicy(retries=2, initial_backoff=0.01, max_backoff=0.02)
    async with make_client(server.url, retry=policy, timeout=Timeouts(read=0.2)) as client:
        seen: list[str | None] = []

        async def consume() -> None:
            async for item in target.interactions(client).stream(page_size=50):
                seen.append(item.sid)

        with pytest.raises(RequestTimeoutError) as caught:
            await consume()
    assert seen == target.sids[:50]
    assert caught.value.attempts == 3


@contextlib.contextmanager
def port_that_never_accepts() -> Iterator[int]:
    """A listening port whose accept queue is full, so new handshakes never complete."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                fillers.append(filler)
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            yield port
        finally:
            for filler in fillers:
                filler.close()


async def test_connect_timeout_is_typed_and_not_sent() -> None:
    timeouts = Timeouts(connect=0.2, read=0.2, total=2)
    with port_that_never_accepts() as port:
        async with make_client(f"http://127.0.0.1:{port}", retry=0, timeout=timeouts) as client:
            with pytest.raises(RequestTimeoutError) as caught:
                await client.services("KS" + "1" * 32).sessions.list()
    assert caught.value.phase == "connect"
    assert not caught.value.request_sent


async def test_create_is_retried_after_connect_timeouts() -> None:
    timeouts = Timeouts(connect=0.1, read=0.2, total=2)
    with port_that_never_accepts() as port:
        async with make_client(f"http://127.0.0.1:{port}", timeout=timeouts) as client:
            session = client.services("KS" + "1" * 32).sessions("KC" + "2" * 32)
            messages = session.participants("KP" + "3" * 32).message_interactions
            with pytest.raises(RequestTimeoutError) as caught:
                await messages.create("never sent")
    assert caught.value.phase == "connect"
    assert caught.value.attempts == 4


# -- hostile or broken responses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        (Fault.truncated_json(), ""),
        (Fault.not_json(), ""),
        (Fault.wrong_types(), "interactions[0].date_created"),
        (Fault.drop_meta(), "meta"),
        (Fault.drop_list_key(), "interactions"),
    ],
)
async def test_broken_list_bodies_are_typed_errors(
    server: FakeProxyServer, fault: Fault, field: str
) -> None:
    target = Target(server)
    server.add_fault(fault)
    async with make_client(server.url) as client:
        with pytest.raises(InvalidResponseError) as caught:
            await target.interactions(client).list()
    assert caught.value.field == field
    assert caught.value.method == "GET"
    # The broken page is never asked for again: resending would not fix the server.
    first_page = [r for r in server.requests if r.method == "GET" and "PageToken" not in r.query]
    assert len(first_page) == 1
    # A page whose meta was readable may already have had its successor prefetched
    # (requested before its records are built); nothing beyond that one.
    assert target.count("GET") <= 2


async def test_wrong_types_on_fetch_name_the_field(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.wrong_types())
    async with make_client(server.url) as client:
        with pytest.raises(InvalidResponseError) as caught:
            await target.interactions(client).fetch(target.sids[0])
    assert caught.value.field == "date_created"
    assert "int" in str(caught.value)


async def test_endless_empty_pages_are_bounded(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.empty_page(), times=None)
    async with make_client(server.url) as client:
        with pytest.raises(EmptyPagesError):
            await target.interactions(client).list(page_size=10)
    assert target.count("GET") <= 12


async def test_a_few_empty_pages_are_tolerated(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.empty_page(), times=3)
    async with make_client(server.url) as client:
        streamed = [i.sid async for i in target.interactions(client).stream(page_size=50)]
    assert sorted(streamed) == sorted(target.sids)
    assert len(streamed) == len(set(streamed))


async def test_body_far_larger_than_any_page_is_capped(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.huge_body(8 * 1024 * 1024))
    async with make_client(server.url, max_response_bytes=1024 * 1024) as client:
        with pytest.raises(ResponseTooLargeError):
            await target.interactions(client).list()


async def test_reset_mid_body_without_retries_is_connection_lost(server: FakeProxyServer) -> None:
    target = Target(server)
    server.add_fault(Fault.reset())
    async with make_client(server.url, retry=0) as client:
        with pytest.raises(ConnectionLostError) as caught:
            await target.interactions(client).list()
    assert caught.value.request_sent


async def test_content_length_larger_than_the_cap_is_refused_early() -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=b"{" + b" " * 300_000 + b"}", content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/Services/{sid}/Sessions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with make_client(f"http://127.0.0.1:{port}", max_response_bytes=100_000) as client:
            with pytest.raises(ResponseTooLargeError, match="100000"):
                await client.services("KS" + "1" * 32).sessions.list()
    finally:
        await runner.cleanup()
