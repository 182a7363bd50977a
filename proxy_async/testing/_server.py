"""The fake Twilio Proxy v1 server: lifecycle, request pipeline, limits and faults."""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import hashlib
import hmac
import itertools
import socket
import ssl
import struct
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import attrs
import orjson
from aiohttp import web

from ._api import Call, ProxyApi
from ._dataset import Dataset, SessionRef
from ._faults import Fault, FaultKind, FaultQueue
from ._http import HTML_CONTENT_TYPE, JSON_CONTENT_TYPE, Reply, error, html_page, request_base
from ._paging import MAX_PAGE_SIZE, PageTokens
from ._prerender import DEFAULT_MAX_BYTES, CacheKey, PageCache, Rendered

FAKE_ACCOUNT_SID = "AC" + "fa4e" + "0" * 28
"""Account SID the fake server accepts by default."""

FAKE_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"  # noqa: S105 (public fake credential)
"""Auth token the fake server accepts by default."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_HUGE_CHUNK = b"x" * 65_536
_HUGE_PREFIX = b'{"padding":"'
_HUGE_SUFFIX = b'"}'
_NOT_JSON = b"<<< upstream error: this body is not JSON >>>\n"
_PLACEHOLDER = orjson.dumps({"sid": "KI" + "0" * 32, "status": "processing", "padding": "x" * 64})
_SHUTDOWN_TIMEOUT = 5.0


@attrs.frozen
class RecordedRequest:
    """One request the fake server received, as it arrived.

    ``status`` is the HTTP status finally sent (None until answered, and for
    requests answered with no response at all); ``fault`` the kind of fault applied.
    """

    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: list[tuple[str, str]]
    status: int | None = None
    fault: FaultKind | None = None


class FakeProxyServer:
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
        for name, value in (
            ("services", services),
            ("sessions_per_service", sessions_per_service),
            ("participants_per_session", participants_per_session),
            ("interactions_per_session", interactions_per_session),
            ("vanishing_sessions", vanishing_sessions),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not 1 <= default_page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"default_page_size must be 1..{MAX_PAGE_SIZE}")
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.latency = latency
        self.max_in_flight = max_in_flight
        self.max_requests_per_second = max_requests_per_second
        self.create_status = create_status
        self.default_page_size = default_page_size
        self.concurrency_header = concurrency_header
        self.record_requests = record_requests
        self.api_keys: dict[str, str] = dict(api_keys or {})
        self.prerendered: PageCache | None = PageCache(prerender_max_bytes) if prerender else None
        self._data = Dataset(
            account_sid=account_sid,
            seed=seed,
            services=services,
            sessions_per_service=sessions_per_service,
            participants_per_session=participants_per_session,
            interactions_per_session=interactions_per_session,
            vanishing_sessions=vanishing_sessions,
        )
        tokens = PageTokens(hashlib.sha256(f"page-token|{seed}".encode()).digest()[:32])
        self._api = ProxyApi(self._data, tokens)
        self.service_sids: list[str] = [self._data.service_sid(i) for i in range(services)]
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._generation = 0
        self._request_counter = 0
        self._window: collections.deque[float] = collections.deque()
        self._faults = FaultQueue()
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._started = False

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

    def _base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{host}:{self.port}"

    # -- data -------------------------------------------------------------------------

    @property
    def sessions_per_service(self) -> int:
        """Sessions each service was generated with (deleted ones included)."""
        return self._data.sessions

    @property
    def participants_per_session(self) -> int:
        """Participants of each session."""
        return self._data.participants

    @property
    def interactions_per_session(self) -> int:
        """Generated interactions of each session (before creates and deletes)."""
        return self._data.interactions

    @property
    def vanishing_sessions(self) -> int:
        """How many sessions of each service are listed but answer 404."""
        return len(self._data.vanishing)

    def session_sids(self, service_sid: str, *, limit: int | None = None) -> list[str]:
        """SIDs the Sessions list of ``service_sid`` shows, in list order.

        Deleted sessions are left out; vanishing ones are in (they are listed).
        ``limit`` keeps only the first ``limit``: the whole list of a
        million-session service is ~1,000,000 strings (~90 MB).
        """
        service = self._service(service_sid)
        sessions = itertools.islice(self._data.live_sessions(service), limit)
        return [self._data.session_sid(service, i) for i in sessions]

    def vanishing_session_sids(self, service_sid: str) -> list[str]:
        """SIDs of the ``vanishing_sessions`` of ``service_sid``: listed, but 404.

        In list order; any since deleted with :meth:`delete_session` are left out.
        """
        service = self._service(service_sid)
        return [
            self._data.session_sid(service, i)
            for i in self._data.vanishing
            if not self._data.is_deleted(service, i)
        ]

    def delete_session(self, service_sid: str, session_sid: str) -> None:
        """Delete a session, as ``DELETE /v1/Services/KS…/Sessions/KC…`` would.

        From then on the session and everything under it answer 404 (code 20404),
        the Sessions list leaves it out (a walk already under way neither skips
        nor repeats another session) and its created or deleted interactions are
        forgotten. Raises KeyError for an unknown or already deleted session; a
        vanishing session may be deleted (it then leaves the list too).
        """
        ref = self._data.resolve_session(service_sid, session_sid, include_gone=True)
        if ref is None or self._data.is_deleted(ref.service, ref.session):
            raise KeyError(f"unknown session {service_sid}/{session_sid}")
        self._data.delete_session(ref)
        self._forget_rendered()

    def participant_sids(self, service_sid: str, session_sid: str) -> list[str]:
        """SIDs of the participants of a session, in list order."""
        ref = self._session(service_sid, session_sid)
        return [self._data.participant_sid(ref, i) for i in range(self._data.participants)]

    def interaction_sids(self, service_sid: str, session_sid: str) -> list[str]:
        """SIDs the session's Interactions list currently pages through, in order.

        Generated interactions minus deleted ones, then created ones. This builds the
        whole list: keep it for sessions of test size.
        """
        ref = self._session(service_sid, session_sid)
        source = self._data.interactions_source(ref, self._base())
        deleted = set(source.deleted)
        return [
            self._data.interaction_sid(ref, raw)
            for raw in range(source.raw_len)
            if raw not in deleted
        ]

    def interaction_json(self, service_sid: str, session_sid: str, sid: str) -> dict[str, Any]:
        """Exactly what fetching Interaction ``sid`` returns (KeyError if absent or deleted)."""
        ref = self._session(service_sid, session_sid)
        raw = self._data.locate(ref, sid)
        if raw is None:
            raise KeyError(f"unknown interaction {sid}")
        return self._data.interaction_json(ref, raw, self._base())

    def message_interactions(
        self, service_sid: str, session_sid: str, participant_sid: str
    ) -> list[dict[str, Any]]:
        """Everything the participant's MessageInteractions list pages through, in order.

        That is the generated message interactions whose outbound participant it is,
        then those created for it through the API; deleted ones are left out.
        """
        ref, participant = self._participant(service_sid, session_sid, participant_sid)
        source = self._data.message_source(ref, participant, self._base())
        deleted = set(source.deleted)
        return [source.render(raw) for raw in range(source.raw_len) if raw not in deleted]

    def created_message_interactions(
        self, service_sid: str, session_sid: str, participant_sid: str | None = None
    ) -> list[dict[str, Any]]:
        """MessageInteractions created through the API (and not deleted), oldest first."""
        ref = self._session(service_sid, session_sid)
        participant = None
        if participant_sid is not None:
            participant = self._participant(service_sid, session_sid, participant_sid)[1]
        return [
            self._data.interaction_json(ref, raw, self._base(), message_view=True)
            for raw in self._data.created(ref, participant)
        ]

    def _service(self, service_sid: str) -> int:
        service = self._data.resolve_service(service_sid)
        if service is None:
            raise KeyError(f"unknown service {service_sid}")
        return service

    def _session(self, service_sid: str, session_sid: str) -> SessionRef:
        ref = self._data.resolve_session(service_sid, session_sid)
        if ref is None:
            raise KeyError(
                f"no such session (or deleted or vanishing): {service_sid}/{session_sid}"
            )
        return ref

    def _participant(
        self, service_sid: str, session_sid: str, participant_sid: str
    ) -> tuple[SessionRef, int]:
        ref = self._session(service_sid, session_sid)
        participant = self._data.resolve_participant(ref, participant_sid)
        if participant is None:
            raise KeyError(f"unknown participant {participant_sid}")
        return ref, participant

    # -- observation and faults ---------------------------------------------------------

    def reset_stats(self) -> None:
        """Forget recorded requests and restart :attr:`max_in_flight_seen` from now."""
        self.requests.clear()
        self._generation += 1
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

    # -- request pipeline ---------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        form: list[tuple[str, str]] = []
        if request.method not in _SAFE_METHODS and request.can_read_body:
            try:
                raw_body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return self._render(error(413))
            form = parse_qsl(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        self.in_flight += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        limited = self._over_limit(arrival)
        fault = self._faults.take(request)
        slot = self._record(request, arrival, form, fault)
        status: int | None = None
        try:
            response, status = await self._respond(request, form, fault, limited, arrival)
            return response
        finally:
            self.in_flight -= 1
            self._finish(slot, status)

    def _record(
        self,
        request: web.Request,
        arrival: float,
        form: list[tuple[str, str]],
        fault: Fault | None,
    ) -> tuple[int, int] | None:
        if not self.record_requests:
            return None
        query = request.query
        self.requests.append(
            RecordedRequest(
                time=arrival,
                method=request.method,
                path=request.path,
                query={key: query.getall(key) for key in dict.fromkeys(query.keys())},
                headers=dict(request.headers),
                form=form,
                fault=None if fault is None else fault.kind,
            )
        )
        return self._generation, len(self.requests) - 1

    def _finish(self, slot: tuple[int, int] | None, status: int | None) -> None:
        if slot is None or slot[0] != self._generation or slot[1] >= len(self.requests):
            return
        self.requests[slot[1]] = attrs.evolve(self.requests[slot[1]], status=status)

    def _over_limit(self, now: float) -> bool:
        if self.max_in_flight is not None and self.in_flight > self.max_in_flight:
            return True
        if self.max_requests_per_second is not None:
            window = self._window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.max_requests_per_second:
                return True
            window.append(now)
        return False

    async def _pause(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (None: forever); True if the server started stopping."""
        stopping = self._stopping
        if stopping is None or stopping.done():
            return True
        if seconds is not None and seconds <= 0:
            return False
        await asyncio.wait((stopping,), timeout=seconds)
        return stopping.done()

    async def _respond(
        self,
        request: web.Request,
        form: list[tuple[str, str]],
        fault: Fault | None,
        limited: bool,
        arrival: float,
    ) -> tuple[web.StreamResponse, int | None]:
        if fault is None and request.method in _SAFE_METHODS:
            response, status = self._answer_safely(request, limited)
            if await self._pause(arrival + self.latency - time.monotonic()):
                return self._shutting_down()
            return response, status
        if await self._pause(arrival + self.latency - time.monotonic()):
            return self._shutting_down()
        if fault is None:
            reply = self._process(request, form, limited)
            return self._render(reply), reply.status
        waits = fault.kind in (FaultKind.STALL, FaultKind.DELAY)
        # A reset shows half of the real body whenever producing it has no side effect.
        first = fault.processes_first or (
            fault.kind is FaultKind.RESET and request.method in _SAFE_METHODS
        )
        if not first:
            if not waits:
                return await self._send_fault(request, fault, None)
            if await self._pause(fault.seconds):
                return self._shutting_down()
        reply = self._process(request, form, limited)
        if first:
            if not waits:
                return await self._send_fault(request, fault, reply)
            if await self._pause(fault.seconds):
                return self._shutting_down()
        return self._render(reply), reply.status

    def _shutting_down(self) -> tuple[web.StreamResponse, int]:
        reply = error(503, 20503, "The fake server is shutting down")
        reply.headers["Connection"] = "close"
        return self._render(reply), 503

    def _headers(self, extra: Mapping[str, str], content_type: str | None) -> dict[str, str]:
        self._request_counter += 1
        headers = {"Twilio-Request-Id": f"RQ{self._request_counter:032x}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self.concurrency_header:
            headers["Twilio-Concurrent-Requests"] = str(self.in_flight)
        headers.update(extra)
        return headers

    def _render(self, reply: Reply) -> web.Response:
        if reply.payload is None:
            return web.Response(status=reply.status, headers=self._headers(reply.headers, None))
        return web.Response(
            status=reply.status,
            body=orjson.dumps(reply.payload),
            headers=self._headers(reply.headers, JSON_CONTENT_TYPE),
        )

    # -- faults -----------------------------------------------------------------------

    async def _send_fault(
        self, request: web.Request, fault: Fault, reply: Reply | None
    ) -> tuple[web.StreamResponse, int | None]:
        kind = fault.kind
        if kind is FaultKind.STATUS:
            reply = error(fault.http_status, fault.code, fault.message)
            if fault.retry_after is not None:
                reply.headers["Retry-After"] = fault.retry_after
            return self._render(reply), fault.http_status
        if kind is FaultKind.HTML:
            status = fault.http_status
            headers = self._headers({}, HTML_CONTENT_TYPE)
            return web.Response(status=status, body=html_page(status), headers=headers), status
        if kind is FaultKind.NOT_JSON:
            headers = self._headers({}, JSON_CONTENT_TYPE)
            return web.Response(status=200, body=_NOT_JSON, headers=headers), 200
        if kind is FaultKind.RESET:
            return await self._send_reset(request, reply)
        if kind is FaultKind.DROP_CONNECTION:
            _abort(request, reset=False)
            return web.Response(status=500), None
        if kind is FaultKind.HUGE_BODY:
            return await self._send_huge(request, fault.size_bytes), 200
        assert reply is not None
        if kind is FaultKind.TRUNCATED_JSON:
            body = b"" if reply.payload is None else orjson.dumps(reply.payload)
            headers = self._headers(reply.headers, JSON_CONTENT_TYPE)
            cut = body[: len(body) // 2]
            return web.Response(status=reply.status, body=cut, headers=headers), reply.status
        _rewrite(reply, fault)
        return self._render(reply), reply.status

    async def _send_reset(
        self, request: web.Request, reply: Reply | None
    ) -> tuple[web.StreamResponse, int]:
        real = b"" if reply is None or reply.payload is None else orjson.dumps(reply.payload)
        status = reply.status if reply is not None and real else 200
        body = real or _PLACEHOLDER
        response = web.StreamResponse(
            status=status,
            headers=self._headers({} if reply is None else reply.headers, JSON_CONTENT_TYPE),
        )
        response.content_length = len(body)
        try:
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
        except ConnectionError:
            return response, status
        _abort(request, reset=True)
        return response, status

    async def _send_huge(self, request: web.Request, size: int) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=self._headers({}, JSON_CONTENT_TYPE))
        response.enable_chunked_encoding()
        framed = size >= len(_HUGE_PREFIX) + len(_HUGE_SUFFIX)
        padding = size - len(_HUGE_PREFIX) - len(_HUGE_SUFFIX) if framed else size
        stopping = self._stopping
        try:
            await response.prepare(request)
            if framed:
                await response.write(_HUGE_PREFIX)
            while padding > 0:
                if stopping is None or stopping.done():
                    _abort(request, reset=True)
                    return response
                chunk = _HUGE_CHUNK if padding >= len(_HUGE_CHUNK) else _HUGE_CHUNK[:padding]
                await response.write(chunk)
                padding -= len(chunk)
            if framed:
                await response.write(_HUGE_SUFFIX)
            await response.write_eof()
        except ConnectionError:
            pass
        return response

    # -- authentication and dispatch ------------------------------------------------------

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, separator, password = decoded.partition(":")
        expected = self.auth_token if user == self.account_sid else self.api_keys.get(user)
        if not separator or expected is None:
            return False
        return hmac.compare_digest(password.encode(), expected.encode())

    def _refusal(self, request: web.Request, limited: bool) -> Reply | None:
        """The 401 or 429 that ``request`` gets before routing, or None to route it."""
        if not self._authorized(request.headers.get("Authorization")):
            reply = error(401, 20003, "Authenticate")
            reply.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return reply
        if limited:
            return error(429, 20429, "Too Many Requests")
        return None

    def _process(self, request: web.Request, form: list[tuple[str, str]], limited: bool) -> Reply:
        refused = self._refusal(request, limited)
        if refused is not None:
            return refused
        if request.method not in _SAFE_METHODS:
            # A create or delete may change any list or resource body.
            self._forget_rendered()
        return self._api.dispatch(self._call(request, form))

    def _call(self, request: web.Request, form: list[tuple[str, str]]) -> Call:
        return Call(
            method=request.method,
            path=request.path,
            query=request.query,
            form=form,
            base=request_base(request, self._base()),
            page_size=self.default_page_size,
            create_status=self.create_status,
        )

    def _answer_safely(self, request: web.Request, limited: bool) -> tuple[web.Response, int]:
        """The response to a GET/HEAD/OPTIONS without a fault, pre-rendered where enabled."""
        cache = self.prerendered
        if cache is None or request.method != "GET":
            reply = self._process(request, [], limited)
            return self._render(reply), reply.status
        refused = self._refusal(request, limited)
        if refused is not None:
            return self._render(refused), refused.status
        call = self._call(request, [])
        key = CacheKey(request.path, request.query_string, call.base, call.page_size)
        rendered = cache.get(key)
        if rendered is None:
            reply = self._api.dispatch(call)
            if reply.status != 200 or reply.payload is None:
                return self._render(reply), reply.status
            rendered = Rendered(orjson.dumps(reply.payload), tuple(reply.headers.items()))
            cache.put(key, rendered)
        headers = self._headers(dict(rendered.headers), JSON_CONTENT_TYPE)
        return web.Response(status=200, body=rendered.body, headers=headers), 200

    def _forget_rendered(self) -> None:
        if self.prerendered is not None:
            self.prerendered.clear()


def _rewrite(reply: Reply, fault: Fault) -> None:
    """Apply a body-rewriting fault to ``reply`` in place (no-op where it does not fit)."""
    payload, key = reply.payload, reply.list_key
    if not isinstance(payload, dict):
        return
    kind = fault.kind
    if kind is FaultKind.WRONG_TYPES:
        items = payload.get(key) if key is not None else None
        target = items[0] if items else (payload if key is None else None)
        if isinstance(target, dict) and "date_created" in target:
            target["date_created"] = 12
        return
    if key is None:
        return
    meta = payload["meta"]
    if kind is FaultKind.DROP_META:
        del payload["meta"]
    elif kind is FaultKind.DROP_LIST_KEY:
        del payload[key]
    elif kind is FaultKind.FOREIGN_NEXT_PAGE:
        meta["next_page_url"] = fault.url
    elif kind is FaultKind.LOOP_NEXT_PAGE:
        meta["next_page_url"] = meta["url"]
    elif kind is FaultKind.REPEAT_PAGE_TOKEN:
        meta["next_page_url"] = reply.empty_next_url
    elif kind is FaultKind.EMPTY_PAGE:
        payload[key] = []
        meta["next_page_url"] = reply.empty_next_url


def _abort(request: web.Request, *, reset: bool) -> None:
    """Close the request's connection at once; with ``reset`` the peer sees a TCP RST."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
