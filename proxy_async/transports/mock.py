"""An in-process transport for tests: a function of yours answers every request.

:class:`MockTransport` takes a *handler*, a callable that receives each
:class:`~proxy_async.transports.base.Request` and returns a
:class:`~proxy_async.transports.base.Response` (or an awaitable of one, so it may be
``async def``), or raises a :class:`~proxy_async.errors.TransportError` subclass to
play a network failure. Everything above the transport runs as it does on the wire:
authentication headers, the limiter, retries, ``on_request``/``on_response`` hooks,
decoding and typed errors. No socket is opened, so a test needs no server and no
port, and the handler sees the exact request the client built::

    from proxy_async import ProxyClient, Response
    from proxy_async.testing import MockTransport, json_response

    def handler(request):
        if request.method == "DELETE":
            return Response(204, {}, b"")
        return json_response(interaction_record)  # a dict as Twilio would send it

    transport = MockTransport(handler)
    async with ProxyClient(account_sid, auth_token, transport=transport) as client:
        await client.services(service_sid).sessions(session_sid).interactions.delete(sid)
    assert [request.method for request in transport.requests] == ["DELETE"]

The idea is httpx's ``MockTransport`` (``httpx/_transports/mock.py``), written for
this package's :class:`~proxy_async.transports.base.Transport` protocol.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping

import attrs
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ..errors import TransportError
from ..validation import is_int
from .base import Request, Response

Handler = Callable[[Request], "Response | Awaitable[Response]"]
"""What :class:`MockTransport` calls with each request: it returns the response (or an
awaitable of it), or raises a :class:`~proxy_async.errors.TransportError`."""


class MockTransport:
    """A :class:`~proxy_async.transports.base.Transport` whose answers come from ``handler``.

    ``requests`` lists every request sent, in order, including those the handler
    answered by raising. Response headers are made case-insensitive, as aiohttp's
    are, so ``{"retry-after": "1"}`` is read as ``Retry-After``. :meth:`aclose` (which
    ``ProxyClient.aclose`` calls) makes later sends raise
    :class:`~proxy_async.errors.TransportError`, as the aiohttp transport does.

    An exception the handler raises comes out of :meth:`send` unchanged: a
    :class:`~proxy_async.errors.TransportError` plays a network failure (the client
    retries it as it would a real one); anything else (an ``AssertionError`` in the
    handler) surfaces as it is, so a test sees its own failure. A handler that returns
    something other than a :class:`~proxy_async.transports.base.Response` is a
    ``TypeError``.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be a callable taking a Request, not {handler!r}")
        self.handler = handler
        self.requests: list[Request] = []
        self.closed = False

    def __repr__(self) -> str:
        return f"<MockTransport requests={len(self.requests)} closed={self.closed}>"

    async def send(self, request: Request) -> Response:
        """Record ``request`` and return the handler's response to it.

        The form is encoded first, as the aiohttp transport does, so a form that could
        not go on the wire fails here too (a ``UnicodeEncodeError``), before the request
        is recorded.
        """
        if self.closed:
            raise TransportError("transport is closed", method=request.method, path=request.path)
        request.encoded_form()
        self.requests.append(request)
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Response):
            raise TypeError(f"the handler returned {type(result).__name__}, not a Response")
        if not is_int(result.status) or not 100 <= result.status <= 599:
            raise TypeError(f"the handler's Response has status {result.status!r}, not 100-599")
        if not isinstance(result.body, bytes) or not isinstance(result.headers, Mapping):
            raise TypeError("the handler's Response needs bytes for body and a mapping for headers")
        if isinstance(result.headers, (CIMultiDict, CIMultiDictProxy)):
            return result
        return attrs.evolve(result, headers=CIMultiDictProxy(CIMultiDict(result.headers)))

    async def aclose(self) -> None:
        """Refuse further requests. Idempotent; ``requests`` stays readable."""
        self.closed = True


def json_response(
    payload: object, status: int = 200, *, headers: Mapping[str, str] | None = None
) -> Response:
    """A :class:`~proxy_async.transports.base.Response` whose body is ``payload`` as JSON.

    ``Content-Type: application/json`` is set unless ``headers`` gives one. Raises
    ``TypeError`` (orjson's) for a payload JSON cannot hold.
    """
    merged = CIMultiDict({"Content-Type": "application/json"})
    if headers:
        merged.update(headers)
    return Response(status, CIMultiDictProxy(merged), orjson.dumps(payload))
