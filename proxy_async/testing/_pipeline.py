"""The fake server's request path: admission, recording, latency, faults and routing.

Each request goes: recorded, limits decided (on arrival), ``latency`` (for a GET
without a fault, after the answer is built), armed fault (if any), authentication,
limits (429), routing. So faults act even on unauthenticated requests, unless they
rewrite the real answer.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from ._admission import RateWindow, authorized
from ._api import Call, ProxyApi
from ._fault_replies import send_fault
from ._faults import Fault, FaultKind, FaultQueue
from ._http import JSON_CONTENT_TYPE, Reply, error, request_base
from ._prerender import CacheKey, Rendered
from ._recording import RequestLog
from ._responder import Responder
from ._views import DataViews

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods without side effects: their answers may be built before the latency wait."""


class RequestPipeline(DataViews):
    """How :class:`~proxy_async.testing.FakeProxyServer` answers a request.

    Built on :class:`~._views.DataViews` for the listening address and the
    pre-rendered pages; the server sets the attributes declared here.
    """

    account_sid: str
    auth_token: str
    api_keys: dict[str, str]
    latency: float
    max_in_flight: int | None
    max_requests_per_second: float | None
    create_status: int
    default_page_size: int
    record_requests: bool
    in_flight: int
    max_in_flight_seen: int
    _api: ProxyApi
    _faults: FaultQueue
    _log: RequestLog
    _responder: Responder
    _window: RateWindow
    _stopping: asyncio.Future[None] | None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Every request: read, admitted, recorded, answered (see the class docstring)."""
        arrival = time.monotonic()
        form: list[tuple[str, str]] = []
        if request.method not in SAFE_METHODS and request.can_read_body:
            try:
                raw_body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return self._responder.render(error(413))
            form = parse_qsl(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        self.in_flight += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        limited = self._over_limit(arrival)
        fault = self._faults.take(request)
        log = self._log.record(request, arrival, form, fault) if self.record_requests else None
        status: int | None = None
        try:
            response, status = await self._respond(request, form, fault, limited, arrival)
            return response
        finally:
            self.in_flight -= 1
            self._log.finish(log, status)

    def _over_limit(self, now: float) -> bool:
        """Whether a request arriving ``now`` is over ``max_in_flight`` or the rate."""
        if self.max_in_flight is not None and self.in_flight > self.max_in_flight:
            return True
        return self.max_requests_per_second is not None and self._window.full(
            now, self.max_requests_per_second
        )

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
        """The response and the status sent (None: no response), after latency and fault."""
        if fault is None and request.method in SAFE_METHODS:
            response, status = self._answer_safely(request, limited)
            if await self._pause(arrival + self.latency - time.monotonic()):
                return self._responder.shutting_down()
            return response, status
        if await self._pause(arrival + self.latency - time.monotonic()):
            return self._responder.shutting_down()
        if fault is None:
            reply = self._process(request, form, limited)
            return self._responder.render(reply), reply.status
        waits = fault.kind in (FaultKind.STALL, FaultKind.DELAY)
        # A reset shows half of the real body whenever producing it has no side effect.
        first = fault.processes_first or (
            fault.kind is FaultKind.RESET and request.method in SAFE_METHODS
        )
        if not first:
            if not waits:
                return await send_fault(self._responder, request, fault, None, self._stopping)
            if await self._pause(fault.seconds):
                return self._responder.shutting_down()
        reply = self._process(request, form, limited)
        if first:
            if not waits:
                return await send_fault(self._responder, request, fault, reply, self._stopping)
            if await self._pause(fault.seconds):
                return self._responder.shutting_down()
        return self._responder.render(reply), reply.status

    def _refusal(self, request: web.Request, limited: bool) -> Reply | None:
        """The 401 or 429 that ``request`` gets before routing, or None to route it."""
        header = request.headers.get("Authorization")
        if not authorized(header, self.account_sid, self.auth_token, self.api_keys):
            reply = error(401, 20003, "Authenticate")
            reply.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return reply
        if limited:
            return error(429, 20429, "Too Many Requests")
        return None

    def _process(self, request: web.Request, form: list[tuple[str, str]], limited: bool) -> Reply:
        """The real answer: a refusal, or what the API makes of the request."""
        refused = self._refusal(request, limited)
        if refused is not None:
            return refused
        if request.method not in SAFE_METHODS:
            # A create or delete may change any list or resource body.
            self._forget_rendered()
        return self._api.dispatch(self._call(request, form))

    def _call(self, request: web.Request, form: list[tuple[str, str]]) -> Call:
        """``request`` as the API reads it."""
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
            return self._responder.render(reply), reply.status
        refused = self._refusal(request, limited)
        if refused is not None:
            return self._responder.render(refused), refused.status
        call = self._call(request, [])
        key = CacheKey(request.path, request.query_string, call.base, call.page_size)
        rendered = cache.get(key)
        if rendered is None:
            reply = self._api.dispatch(call)
            if reply.status != 200 or reply.payload is None:
                return self._responder.render(reply), reply.status
            rendered = Rendered(orjson.dumps(reply.payload), tuple(reply.headers.items()))
            cache.put(key, rendered)
        headers = self._responder.headers(dict(rendered.headers), JSON_CONTENT_TYPE)
        return web.Response(status=200, body=rendered.body, headers=headers), 200
