"""What a :class:`~._faults.Fault` sends instead of (or made from) the real answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

import orjson
from aiohttp import web

from ._faults import Fault, FaultKind
from ._http import HTML_CONTENT_TYPE, JSON_CONTENT_TYPE, Reply, error, html_page
from ._responder import Responder

_HUGE_CHUNK = b"x" * 65_536
_HUGE_PREFIX = b'{"padding":"'
_HUGE_SUFFIX = b'"}'
_NOT_JSON = b"<<< upstream error: this body is not JSON >>>\n"
_PLACEHOLDER = orjson.dumps({"sid": "KI" + "0" * 32, "status": "processing", "padding": "x" * 64})


async def send_fault(
    responder: Responder,
    request: web.Request,
    fault: Fault,
    reply: Reply | None,
    stopping: asyncio.Future[None] | None,
) -> tuple[web.StreamResponse, int | None]:
    """Answer ``request`` as ``fault`` says; ``reply`` is the real answer, if it was made.

    ``stopping`` is done once the server stops: a huge body is then cut off.
    """
    kind = fault.kind
    if kind is FaultKind.STATUS:
        reply = error(fault.http_status, fault.code, fault.message)
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = fault.retry_after
        return responder.render(reply), fault.http_status
    if kind is FaultKind.HTML:
        status = fault.http_status
        headers = responder.headers({}, HTML_CONTENT_TYPE)
        return web.Response(status=status, body=html_page(status), headers=headers), status
    if kind is FaultKind.NOT_JSON:
        headers = responder.headers({}, JSON_CONTENT_TYPE)
        return web.Response(status=200, body=_NOT_JSON, headers=headers), 200
    if kind is FaultKind.RESET:
        return await _send_reset(responder, request, reply)
    if kind is FaultKind.DROP_CONNECTION:
        _abort(request, reset=False)
        return web.Response(status=500), None
    if kind is FaultKind.HUGE_BODY:
        return await _send_huge(responder, request, fault.size_bytes, stopping), 200
    assert reply is not None
    if kind is FaultKind.TRUNCATED_JSON:
        body = b"" if reply.payload is None else orjson.dumps(reply.payload)
        headers = responder.headers(reply.headers, JSON_CONTENT_TYPE)
        cut = body[: len(body) // 2]
        return web.Response(status=reply.status, body=cut, headers=headers), reply.status
    _rewrite(reply, fault)
    return responder.render(reply), reply.status


async def _send_reset(
    responder: Responder, request: web.Request, reply: Reply | None
) -> tuple[web.StreamResponse, int]:
    real = b"" if reply is None or reply.payload is None else orjson.dumps(reply.payload)
    status = reply.status if reply is not None and real else 200
    body = real or _PLACEHOLDER
    response = web.StreamResponse(
        status=status,
        headers=responder.headers({} if reply is None else reply.headers, JSON_CONTENT_TYPE),
    )
    response.content_length = len(body)
    try:
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
    except ConnectionError:
        return response, status
    _abort(request, reset=True)
    return response, status


async def _send_huge(
    responder: Responder, request: web.Request, size: int, stopping: asyncio.Future[None] | None
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers=responder.headers({}, JSON_CONTENT_TYPE))
    response.enable_chunked_encoding()
    framed = size >= len(_HUGE_PREFIX) + len(_HUGE_SUFFIX)
    padding = size - len(_HUGE_PREFIX) - len(_HUGE_SUFFIX) if framed else size
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
