"""One ProxyClient per web app: aiohttp.web cleanup_ctx and an ASGI lifespan (Starlette).

Both patterns are driven over real HTTP on 127.0.0.1: thousands of concurrent handler
calls share the app's one client, the fake server never sees more requests in flight
than the client's max_concurrency, and the client is closed at shutdown without an
"Unclosed client session" report.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from conftest import set_fake_credentials
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from web_servers import (
    collected_reports,
    get_all,
    recorded_loop_errors,
    serve_aiohttp,
    serve_asgi,
    spy_on,
)

from proxy_async import InvalidParameterError, ProxyClient
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer
from proxy_async.web import (
    DEFAULT_STATE_KEY,
    proxy_client_context,
    proxy_client_from_state,
    proxy_client_lifespan,
)

REQUESTS = 2000
MAX_CONCURRENCY = 8
PROXY = web.AppKey("proxy", ProxyClient)


# ------------------------------------------------------------------------------ helpers


@attrs.define
class Gauge:
    """How many handlers are running now, and the most that ever ran at once."""

    now: int = 0
    peak: int = 0
    entered: asyncio.Event = attrs.field(factory=asyncio.Event)

    def __enter__(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        self.entered.set()

    def __exit__(self, *_: object) -> None:
        self.now -= 1


@attrs.frozen
class Target:
    """One session of the fake server and the Interactions the handlers fetch."""

    service: str
    session: str
    interactions: list[str]

    @classmethod
    def of(cls, server: FakeProxyServer) -> Target:
        service = server.service_sids[0]
        session = server.session_sids(service)[0]
        return cls(service, session, server.interaction_sids(service, session))

    async def fetch(self, client: ProxyClient, sid: str) -> str | None:
        interactions = client.services(self.service).sessions(self.session).interactions
        return (await interactions.fetch(sid)).sid


def client_options(server: FakeProxyServer) -> dict[str, Any]:
    """Options for a client of the fake server; no rate limit, a small concurrency cap."""
    return {
        "account_sid": FAKE_ACCOUNT_SID,
        "auth_token": FAKE_AUTH_TOKEN,
        "base_url": server.url,
        "requests_per_second": None,
        "max_concurrency": MAX_CONCURRENCY,
    }


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler during the test."""
    with recorded_loop_errors() as errors:
        yield errors


# ----------------------------------------------------------------------- aiohttp.web


def fetch_app(target: Target, gauge: Gauge, **options: Any) -> web.Application:
    """An app whose one handler fetches an Interaction through the app's client."""

    async def fetch(request: web.Request) -> web.Response:
        with gauge:
            sid = await target.fetch(request.app[PROXY], request.match_info["sid"])
        return web.json_response({"sid": sid})

    app = web.Application()
    app.cleanup_ctx.append(proxy_client_context(PROXY, **options))
    app.router.add_get("/interactions/{sid}", fetch)
    return app


@pytest.mark.slow
async def test_aiohttp_app_client_serves_thousands_of_concurrent_handlers(
    loop_errors: list[dict[str, Any]],
) -> None:
    gauge = Gauge()
    async with FakeProxyServer(interactions_per_session=50, latency=0.002) as server:
        target = Target.of(server)
        app = fetch_app(target, gauge, **client_options(server))
        async with serve_aiohttp(app) as (_, base):
            client = app[PROXY]
            sids = [target.interactions[i % 50] for i in range(REQUESTS)]
            results = await get_all(base, [f"/interactions/{sid}" for sid in sids])
            assert not client.closed
        assert results == [(200, {"sid": sid}) for sid in sids]
        # The handlers really outnumbered the client's cap; the client held the line.
        assert gauge.peak > MAX_CONCURRENCY
        assert 1 < server.max_in_flight_seen <= client.limiter.max_concurrency == MAX_CONCURRENCY
        assert len(server.requests) == REQUESTS
    assert client.closed
    assert collected_reports(loop_errors) == []


async def test_aiohttp_client_is_built_at_startup_and_closed_at_cleanup() -> None:
    async with FakeProxyServer() as server:
        app = fetch_app(Target.of(server), Gauge(), **client_options(server))
        assert PROXY not in app  # nothing is built before the app starts
        runner = web.AppRunner(app)
        await runner.setup()
        client = app[PROXY]
        assert isinstance(client, ProxyClient)
        assert not client.closed
        await runner.cleanup()
        assert client.closed
        assert app[PROXY] is client


async def test_aiohttp_in_flight_handler_finishes_before_the_client_closes(
    loop_errors: list[dict[str, Any]],
) -> None:
    gauge = Gauge()
    async with FakeProxyServer(latency=0.3) as server:
        target = Target.of(server)
        app = fetch_app(target, gauge, **client_options(server))
        async with aiohttp.ClientSession() as http, serve_aiohttp(app) as (runner, base):
            client = app[PROXY]
            pending = asyncio.create_task(http.get(f"{base}/interactions/{target.interactions[0]}"))
            await gauge.entered.wait()
            # Graceful shutdown: the handler in flight completes, then cleanup_ctx closes.
            await runner.cleanup()
            assert client.closed
            response = await pending
            assert response.status == 200
            assert await response.json() == {"sid": target.interactions[0]}
    assert collected_reports(loop_errors) == []


async def test_aiohttp_client_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fake_credentials(monkeypatch)
    async with FakeProxyServer() as server:
        target = Target.of(server)
        # No account_sid: the credentials come from TWILIO_* (the fake checks them).
        app = fetch_app(target, Gauge(), base_url=server.url, requests_per_second=None)
        async with serve_aiohttp(app) as (_, base):
            assert app[PROXY].account_sid == FAKE_ACCOUNT_SID
            results = await get_all(base, [f"/interactions/{target.interactions[1]}"])
        assert results == [(200, {"sid": target.interactions[1]})]
        assert app[PROXY].closed


async def test_aiohttp_bad_options_fail_the_startup() -> None:
    app = web.Application()
    app.cleanup_ctx.append(proxy_client_context(PROXY, account_sid="not-a-sid", auth_token="x"))
    runner = web.AppRunner(app)
    with pytest.raises(InvalidParameterError, match="account_sid"):
        await runner.setup()
    await runner.cleanup()
    assert PROXY not in app


async def test_aiohttp_client_closed_when_a_later_startup_step_fails(
    loop_errors: list[dict[str, Any]],
) -> None:
    async def broken(_: web.Application) -> AsyncIterator[None]:
        raise RuntimeError("database unreachable")
        yield  # pragma: no cover

    async with FakeProxyServer() as server:
        app = web.Application()
        app.cleanup_ctx.append(proxy_client_context(PROXY, **client_options(server)))
        app.cleanup_ctx.append(broken)
        runner = web.AppRunner(app)
        with pytest.raises(RuntimeError, match="database unreachable"):
            await runner.setup()
        client = app[PROXY]
        await runner.cleanup()  # what web.run_app does after a failed startup
        assert client.closed
    assert collected_reports(loop_errors) == []


async def test_loop_error_check_does_report_an_unclosed_session(
    loop_errors: list[dict[str, Any]],
) -> None:
    # The check used above is live: a session left open is reported.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        session = aiohttp.ClientSession()
        del session
        assert "Unclosed client session" in collected_reports(loop_errors)


# -------------------------------------------------------------------------- ASGI lifespan


async def test_lifespan_yields_state_with_an_open_client_and_closes_it() -> None:
    async with FakeProxyServer() as server:
        target = Target.of(server)
        lifespan = proxy_client_lifespan(**client_options(server))
        async with lifespan(object()) as state:
            assert list(state) == [DEFAULT_STATE_KEY]
            client = proxy_client_from_state(state)
            assert not client.closed
            assert await target.fetch(client, target.interactions[0]) == target.interactions[0]
        assert client.closed


async def test_lifespan_closes_the_client_when_the_app_fails() -> None:
    lifespan = proxy_client_lifespan(account_sid=FAKE_ACCOUNT_SID, auth_token=FAKE_AUTH_TOKEN)
    clients: list[ProxyClient] = []

    async def run_failing_app() -> None:
        async with lifespan(object()) as state:
            clients.append(proxy_client_from_state(state))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await run_failing_app()
    assert clients[0].closed


async def test_lifespan_builds_a_new_client_each_time_it_starts() -> None:
    lifespan = proxy_client_lifespan(account_sid=FAKE_ACCOUNT_SID, auth_token=FAKE_AUTH_TOKEN)
    async with lifespan(object()) as first:
        pass
    async with lifespan(object()) as second:
        assert proxy_client_from_state(second) is not proxy_client_from_state(first)
        assert not proxy_client_from_state(second).closed


async def test_lifespan_custom_key_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fake_credentials(monkeypatch)
    lifespan = proxy_client_lifespan(state_key="twilio")
    async with lifespan(object()) as state:
        client = proxy_client_from_state(state, "twilio")
        assert client.account_sid == FAKE_ACCOUNT_SID
        with pytest.raises(LookupError, match="proxy_client"):
            proxy_client_from_state(state)


def test_proxy_client_from_state_reads_mappings_and_attributes() -> None:
    client = ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN)  # no I/O until a request
    assert proxy_client_from_state({DEFAULT_STATE_KEY: client}) is client
    assert proxy_client_from_state(State({DEFAULT_STATE_KEY: client})) is client
    assert proxy_client_from_state(types.SimpleNamespace(proxy_client=client)) is client
    for empty in ({}, State(), types.SimpleNamespace(), {DEFAULT_STATE_KEY: "not a client"}):
        with pytest.raises(LookupError, match="proxy_client_lifespan"):
            proxy_client_from_state(empty)


def test_importing_the_package_does_not_import_an_asgi_framework() -> None:
    code = (
        "import sys, proxy_async, proxy_async.web, proxy_async.webhooks.signature; "
        "print(sorted(m for m in ('starlette', 'fastapi', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 (a fixed command)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def starlette_fetch_app(
    target: Target, gauge: Gauge, states: list[Mapping[str, Any]], **options: Any
) -> Starlette:
    """A Starlette app whose one route fetches an Interaction through the state's client."""

    async def fetch(request: Request) -> Response:
        with gauge:
            client = proxy_client_from_state(request.state)
            sid = await target.fetch(client, request.path_params["sid"])
        return JSONResponse({"sid": sid})

    return Starlette(
        routes=[Route("/interactions/{sid}", fetch)],
        lifespan=spy_on(proxy_client_lifespan(**options), states),
    )


@pytest.mark.slow
async def test_starlette_lifespan_client_serves_thousands_of_concurrent_requests(
    loop_errors: list[dict[str, Any]],
) -> None:
    gauge = Gauge()
    states: list[Mapping[str, Any]] = []
    async with FakeProxyServer(interactions_per_session=50, latency=0.002) as server:
        target = Target.of(server)
        app = starlette_fetch_app(target, gauge, states, **client_options(server))
        async with serve_asgi(app) as base:
            (state,) = states
            client = proxy_client_from_state(state)
            sids = [target.interactions[i % 50] for i in range(REQUESTS)]
            results = await get_all(base, [f"/interactions/{sid}" for sid in sids])
            assert not client.closed
        assert results == [(200, {"sid": sid}) for sid in sids]
        assert gauge.peak > MAX_CONCURRENCY
        assert 1 < server.max_in_flight_seen <= client.limiter.max_concurrency == MAX_CONCURRENCY
    assert client.closed
    assert collected_reports(loop_errors) == []


async def test_lifespan_bad_options_fail_the_startup() -> None:
    lifespan = proxy_client_lifespan(account_sid="not-a-sid", auth_token="x")

    async def start() -> None:
        async with lifespan(object()):
            pass  # pragma: no cover

    with pytest.raises(InvalidParameterError, match="account_sid"):
        await start()
