"""The fake Twilio Proxy v1 server: its options, lifecycle and fault scripting.

The request path is :mod:`._pipeline`, the data methods :mod:`._views`, what a fault
sends :mod:`._fault_replies`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from collections.abc import Callable, Mapping
from types import TracebackType

from aiohttp import web

from ._admission import RateWindow
from ._api import ProxyApi
from ._dataset import Dataset
from ._faults import Fault, FaultQueue
from ._paging import MAX_PAGE_SIZE, PageTokens
from ._pipeline import RequestPipeline
from ._prerender import DEFAULT_MAX_BYTES, PageCache
from ._recording import RecordedRequest as RecordedRequest  # public here, as it always was
from ._recording import RequestLog
from ._responder import Responder

FAKE_ACCOUNT_SID = "AC" + "fa4e" + "0" * 28
"""Account SID the fake server accepts by default."""

FAKE_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"  # noqa: S105 (public fake credential)
"""Auth token the fake server accepts by default."""

_SHUTDOWN_TIMEOUT = 5.0


class FakeProxyServer(RequestPipeline):
    """An in-process fake of the Twilio Proxy v1 API (Sessions, Participants, Interactions).

    Data is deterministic for a given ``seed`` and generated on demand, so millions of
    sessions, or sessions of millions of interactions, cost no memory: what is stored
    grows only with what tests change (created or deleted interactions, deleted
    sessions) and with :attr:`requests` (see ``record_requests``). Use as
    ``async with FakeProxyServer() as srv:`` or call :meth:`start` / :meth:`stop`.
    Every request is recorded in :attr:`requests`; misbehaviour is scripted with
    :meth:`add_fault`.

    ``latency`` is the time from a request's arrival to its response, as a real
    server's includes its own work: a GET without a fault is answered (built and
    serialised) first and then held until ``latency`` has passed since arrival; any
    other request waits first, so its side effects happen after the wait.
    ``max_in_flight`` answers 429 (code 20429) to a request arriving while more than
    that many are being handled;
    ``max_requests_per_second`` does the same once that many requests were accepted
    within the last second. ``api_keys`` maps API key SIDs to secrets that are
    accepted as Basic credentials besides ``account_sid``/``auth_token``.
    ``create_status`` is the status of a successful MessageInteraction create.
    ``concurrency_header`` adds ``Twilio-Concurrent-Requests`` (the in-flight count)
    to responses; ``record_requests=False`` keeps :attr:`requests` empty for long
    benchmark runs. ``prerender=True`` serialises each successful GET answer once and
    then serves the same bytes to the same URL (see below). ``ssl_context`` (a
    server-side :class:`ssl.SSLContext`, e.g. from ``trustme``) serves HTTPS instead of
    HTTP. All of these (and the credentials) are plain attributes that may be changed
    while the server runs (``ssl_context`` only before :meth:`start`; ``prerender``
    only at construction).

    Sessions can be gone in two ways, and a gone session answers 404 (Twilio error
    code 20404) on its own path and every path under it (Participants,
    Interactions, MessageInteractions):

    * :meth:`delete_session` deletes one: from then on the Sessions list skips it
      too (page tokens already handed out neither skip nor repeat another session).
    * ``vanishing_sessions=N`` makes N sessions of every service vanish the way a
      session deleted between an export's listing and its fetches does: the
      Sessions list still shows them, everything under them is 404. They are the
      last of N equal blocks of the sessions (indices ``k * step - 1`` for
      ``k = 1..N``, ``step = sessions_per_service // N``);
      :meth:`vanishing_session_sids` names them.

    Pre-rendering (for client-bound benchmarks, where building pages must not set the
    pace): a 200 answer to a GET without a fault is cached under its path, raw query
    string, URL base (from the Host header) and ``default_page_size``, and served
    byte for byte from then on; authentication, limits, latency, faults and the
    per-response headers still apply to every request. Any request other than
    GET/HEAD/OPTIONS (a create or delete) and :meth:`delete_session` empty the cache,
    so answers never go stale. The cached bodies are bounded by
    ``prerender_max_bytes`` (default 256 MiB, about 200 pages of 1,000
    interactions), least recently used first out; :attr:`prerendered` is the cache
    (None without ``prerender``), with ``hits``, ``misses``, ``size`` (bytes).

    Each request goes: recorded, limits decided (on arrival), ``latency`` (for a GET
    without a fault, after the answer is built), armed fault (if any),
    authentication, limits (429), routing. So faults act even on
    unauthenticated requests, unless they rewrite the real answer.

    Attributes: ``url``, ``host``, ``port``; ``service_sids``; ``requests`` (every
    :class:`RecordedRequest`, in arrival order); ``in_flight`` (requests being
    handled now) and ``max_in_flight_seen`` (its peak since start or
    :meth:`reset_stats`).
    """

    def __init__(
        self,
        *,
        account_sid: str = FAKE_ACCOUNT_SID,
        auth_token: str = FAKE_AUTH_TOKEN,
        api_keys: Mapping[str, str] | None = None,
        services: int = 1,
        sessions_per_service: int = 3,
        participants_per_session: int = 2,
        interactions_per_session: int = 120,
        vanishing_sessions: int = 0,
        seed: int = 0,
        latency: float = 0.0,
        max_in_flight: int | None = None,
        max_requests_per_second: float | None = None,
        create_status: int = 201,
        default_page_size: int = 50,
        concurrency_header: bool = False,
        record_requests: bool = True,
        prerender: bool = False,
        prerender_max_bytes: int = DEFAULT_MAX_BYTES,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Over 50 lines only by its 22 parameters; ValueError for a size out of range."""
        self._data = Dataset(
            account_sid=account_sid,
            seed=seed,
            services=services,
            sessions_per_service=sessions_per_service,
            participants_per_session=participants_per_session,
            interactions_per_session=interactions_per_session,
            vanishing_sessions=vanishing_sessions,
        )
        if not 1 <= default_page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"default_page_size must be 1..{MAX_PAGE_SIZE}")
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.account_sid, self.auth_token = account_sid, auth_token
        self.api_keys: dict[str, str] = dict(api_keys or {})
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.latency = latency
        self.max_in_flight = max_in_flight
        self.max_requests_per_second = max_requests_per_second
        self.create_status = create_status
        self.default_page_size = default_page_size
        self.concurrency_header = concurrency_header
        self.record_requests = record_requests
        self.prerendered: PageCache | None = PageCache(prerender_max_bytes) if prerender else None
        tokens = PageTokens(hashlib.sha256(f"page-token|{seed}".encode()).digest()[:32])
        self._api = ProxyApi(self._data, tokens)
        self.service_sids: list[str] = [self._data.service_sid(i) for i in range(services)]
        self._init_run_state()

    def _init_run_state(self) -> None:
        """What changes as the server runs: counters, the request log, faults, the runner."""
        self._log = RequestLog()
        self.requests: list[RecordedRequest] = self._log.requests
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._window = RateWindow()
        self._responder = Responder(lambda: self.in_flight if self.concurrency_header else None)
        self._faults = FaultQueue()
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._started = False

    # -- lifecycle ------------------------------------------------------------

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving; afterwards :attr:`url` and :attr:`port` are set."""
        if self._runner is not None:
            raise RuntimeError("FakeProxyServer is already running")
        self._stopping = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
            await site.start()
            self.port = int(runner.addresses[0][1])
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._started = True

    async def stop(self) -> None:
        """Stop serving and release the socket; idempotent.

        Requests still stalled or sleeping are answered 503 at once, so this returns
        promptly.
        """
        runner, self._runner = self._runner, None
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)
        if runner is not None:
            # Stop accepting first, so the connections taken below are all there will be.
            for site in list(runner.sites):
                await site.stop()
            server = runner.server
            transports = [] if server is None else [c.transport for c in server.connections]
            await runner.cleanup()
            # aiohttp closes an idle TLS connection gracefully: close_notify, then up to
            # asyncio's 30 s ssl_shutdown_timeout for the peer's answer, with the socket open.
            # A peer that is slow to answer (a forward proxy under load) would leave it open
            # past the caller's event loop: an unclosed-transport ResourceWarning. A fake has
            # no use for that grace; abort() is a no-op on a connection already closed.
            for transport in transports:
                if transport is not None:
                    transport.abort()
            await asyncio.sleep(0)  # the aborted sockets close on the loop's next turn

    async def __aenter__(self) -> FakeProxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321`` (no trailing slash); needs :meth:`start`."""
        if not self._started:
            raise RuntimeError("FakeProxyServer.url is only known after start()")
        return self._base()

    @property
    def auth_header(self) -> str:
        """An ``Authorization`` header value carrying the account credentials."""
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    # -- observation and faults ---------------------------------------------------------

    def reset_stats(self) -> None:
        """Forget recorded requests and restart :attr:`max_in_flight_seen` from now."""
        self._log.clear()
        self.max_in_flight_seen = self.in_flight

    def add_fault(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        method: str | None = None,
        path_contains: str | None = None,
        when: Callable[[web.Request], bool] | None = None,
    ) -> None:
        """Apply ``fault`` to the next ``times`` matching requests (None: every one).

        A request matches when its method equals ``method``, its path contains
        ``path_contains`` and ``when(request)`` is true (each test only if given).
        Faults are tried in the order they were added; the first match is used.
        """
        self._faults.add(fault, times=times, method=method, path_contains=path_contains, when=when)

    def clear_faults(self) -> None:
        """Disarm every fault not yet spent."""
        self._faults.clear()
