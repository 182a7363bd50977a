"""Sending one HTTP request: the swappable transport and its aiohttp connection pool.

The client builds a :class:`Request`, hands it to a :class:`Transport`, and gets back a
:class:`Response` with the whole body read, or a :class:`~proxy_async.errors.TransportError`.
Retrying, rate limiting and decoding happen above this layer, so tests can inject a
transport and a future HTTP library can replace aiohttp here alone.

Every aiohttp or OS failure becomes a :class:`~proxy_async.errors.TransportError` that
says whether the request could have reached the server
(:mod:`proxy_async.transports.failures` decides which).

Egress (forward proxy, CA trust, the environment variables) is resolved by
:mod:`proxy_async.transports.egress` and :mod:`proxy_async.transports.tls` when the
transport is built.
"""

from __future__ import annotations

import logging
import os
import ssl
import sys
from collections.abc import Mapping, Sequence

import aiohttp
import yarl

from ..errors import TransportError
from .base import Request, Response
from .egress import ProxyRoutes
from .failures import FAILURES, proxy_refused, too_large, transport_error
from .proxy_url import EgressProxy
from .tls import tls_trust

logger = logging.getLogger("proxy_async")

_SSL_CLOSE_LEAKS = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (3, 13, 1)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""A 1,000-record Interaction page is about 1 MiB; 64 MiB is far beyond any real page."""


class AiohttpTransport:
    """The default transport: one ``aiohttp.ClientSession`` over a ``TCPConnector`` pool.

    The session is created on first use inside the running loop (aiohttp requires it)
    and closed by :meth:`aclose`. Redirects are never followed: a 3xx comes back as a
    response, so credentials cannot be forwarded to wherever it points.

    Egress (rules in :mod:`~proxy_async.transports.egress` and
    :mod:`~proxy_async.transports.tls`): ``proxy`` is a forward proxy URL
    (``http://[user:password@]host:port``) for every request; without it, and with
    ``trust_env``, ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` from
    ``environ`` (None: ``os.environ``, read now) decide. ``ssl_context`` or
    ``ca_bundle`` (a PEM file or directory) set which CAs are trusted; without them,
    and with ``trust_env``, ``SSL_CERT_FILE`` then ``REQUESTS_CA_BUNDLE``; otherwise the
    system's. Raises :class:`InvalidParameterError` (naming the option or variable,
    never echoing a password) for a bad proxy URL or an unloadable CA bundle.
    """

    def __init__(
        self,
        *,
        pool_size: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        trust_env: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._pool_size = pool_size
        self._max_response_bytes = max_response_bytes
        self._trace_configs = list(trace_configs)
        self._routes = ProxyRoutes.resolve(proxy, trust_env=trust_env, environ=environ)
        self._ssl, self._trust = tls_trust(
            ssl_context, ca_bundle, trust_env=trust_env, environ=environ
        )
        # A client talks to one origin (a few in tests): the route is decided once each.
        self._route_cache: dict[tuple[str, str, int | None], EgressProxy | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<AiohttpTransport egress={self._routes.describe()!r} trust={self._trust!r}>"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                limit_per_host=self._pool_size,
                ssl=True if self._ssl is None else self._ssl,
            )
            logger.debug("egress: %s; TLS trust: %s", self._routes.describe(), self._trust)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Proxies and CAs are resolved here (proxy_async.transports.egress), once: aiohttp's
                # trust_env would re-read them in a thread per request, and would add
                # ~/.netrc credentials, which clash with our Authorization header.
                trust_env=False,
                trace_configs=self._trace_configs or None,
                # Twilio sets no cookies worth keeping; a jar would only leak state between calls.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
            # aiohttp silently resends an idempotent request once when a connection
            # drops. That hidden attempt would bypass the limiter, the logs and the
            # retry policy (a DELETE's second 404 would look like a first), so every
            # attempt is left to proxy_async.retry. There is no public switch.
            self._session._retry_connection = False
        return self._session

    async def send(self, request: Request) -> Response:
        """Send one request; map every aiohttp/OS failure to a :class:`TransportError`."""
        if self._closed:
            raise TransportError("transport is closed", method=request.method, path=request.path)
        session = self._get_session()
        route = self._route(request.url)
        headers, proxy_headers = _proxy_credentials(request, route)
        try:
            async with session.request(
                request.method,
                request.url,
                headers=headers,
                data=request.encoded_form(),
                allow_redirects=False,
                timeout=request.timeouts.to_aiohttp(),
                proxy=None if route is None else route.url,
                proxy_headers=proxy_headers,
            ) as response:
                if route is not None and response.status == 407:
                    # An http:// request goes through the proxy without CONNECT, so its
                    # refusal arrives as a response; the API never answers 407.
                    raise proxy_refused(request, route.display, 407, response.reason)
                body = await self._read_body(response, request)
                return Response(response.status, response.headers, body)
        except TransportError:  # ours, raised above (a RequestTimeoutError is an OSError)
            raise
        except FAILURES as exc:
            raise transport_error(exc, request, route, self._trust) from None

    def _route(self, url: yarl.URL) -> EgressProxy | None:
        key = (url.scheme, url.host or "", url.port)
        try:
            return self._route_cache[key]
        except KeyError:
            if len(self._route_cache) >= 64:
                self._route_cache.clear()
            route = self._route_cache[key] = self._routes.for_url(url)
            return route

    async def _read_body(self, response: aiohttp.ClientResponse, request: Request) -> bytes:
        cap = self._max_response_bytes
        length = response.content_length
        if length is not None and length > cap:
            raise too_large(request, cap)
        if length is not None and "Content-Encoding" not in response.headers:
            return await response.read()
        # Chunked or compressed: the size is only known while reading, so count as we go.
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > cap:
                raise too_large(request, cap)
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session and its pooled connections."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            if _SSL_CLOSE_LEAKS and session.connector is not None:
                # Before CPython 3.12.8 (3.13.1), closing a TLS connection opened with
                # start_tls (HTTPS through a forward proxy) could leave the socket under
                # it open: an unclosed-transport ResourceWarning in about 1 run in 10 of
                # the egress tests (fixed by python/cpython pull 118960, as aiohttp's
                # connector notes). Aborting skips only the TLS close_notify, which
                # HTTP/1.1's own framing makes unnecessary.
                await session.connector.close(abort_ssl=True)
            await session.close()


def _proxy_credentials(
    request: Request, route: EgressProxy | None
) -> tuple[Mapping[str, str], Mapping[str, str] | None]:
    """The request's headers and the CONNECT request's headers (None: no CONNECT
    headers) carrying the proxy's credentials, if ``route`` has any."""
    if route is None or route.authorization is None:
        return request.headers, None
    # Through a CONNECT tunnel the credentials go in the CONNECT request alone;
    # a plain http:// request is itself addressed to the proxy.
    if request.url.scheme == "https":
        return request.headers, {"Proxy-Authorization": route.authorization}
    return {**request.headers, "Proxy-Authorization": route.authorization}, None
