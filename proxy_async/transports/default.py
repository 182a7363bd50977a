"""Sending one HTTP request: the swappable transport and its aiohttp connection pool.

The client builds a :class:`Request`, hands it to a :class:`Transport`, and gets back a
:class:`Response` with the whole body read, or a :class:`~proxy_async.errors.TransportError`.
Retrying, rate limiting and decoding happen above this layer, so tests can inject a
transport and a future HTTP library can replace aiohttp here alone.

Exception mapping decides what a create may retry, so it is precise about whether the
request could have reached the server:

* :class:`ConnectError` / a connect-phase :class:`RequestTimeoutError`: the connection
  was never established (refused, DNS failure, pool wait timed out): provably not sent.
* :class:`ConnectionLostError` / a read-phase timeout: the request may have been sent.
* :class:`CertificateVerifyError` (the server's certificate is not trusted; it names the
  CAs trusted) and :class:`EgressProxyError` (the forward proxy is unreachable, its host
  does not resolve, connecting through it timed out, or it refused the tunnel) are
  connect-phase failures too: nothing reached the API. With a proxy in use, every
  connect failure but a certificate's is the proxy's (only its host is resolved here).

Egress (forward proxy, CA trust, the environment variables) is resolved by
:mod:`proxy_async.transports.egress` when the transport is built.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import sys
from collections.abc import Mapping, Sequence

import aiohttp
import yarl

from ..errors import (
    CertificateVerifyError,
    ConnectError,
    ConnectionLostError,
    EgressProxyError,
    EgressProxyRefusedError,
    EgressProxyTimeoutError,
    EgressProxyUnresolvedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TransportError,
)
from .base import Request, Response
from .egress import EgressProxy, ProxyRoutes, tls_trust

logger = logging.getLogger("proxy_async")

_SSL_CLOSE_LEAKS = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (3, 13, 1)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""A 1,000-record Interaction page is about 1 MiB; 64 MiB is far beyond any real page."""


class AiohttpTransport:
    """The default transport: one ``aiohttp.ClientSession`` over a ``TCPConnector`` pool.

    The session is created on first use inside the running loop (aiohttp requires it)
    and closed by :meth:`aclose`. Redirects are never followed: a 3xx comes back as a
    response, so credentials cannot be forwarded to wherever it points.

    Egress (rules in :mod:`proxy_async.transports.egress`): ``proxy`` is a forward proxy URL
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
        headers, proxy_headers = request.headers, None
        if route is not None and route.authorization is not None:
            # Through a CONNECT tunnel the credentials go in the CONNECT request alone;
            # a plain http:// request is itself addressed to the proxy.
            if request.url.scheme == "https":
                proxy_headers = {"Proxy-Authorization": route.authorization}
            else:
                headers = {**headers, "Proxy-Authorization": route.authorization}
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
                    raise _proxy_refused(request, route.display, 407, response.reason)
                body = await self._read_body(response, request)
                return Response(response.status, response.headers, body)
        except TransportError:
            raise
        except ResponseTooLargeError:
            raise
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CertificateVerifyError(
                f"{exc.host}:{exc.port}",
                _verify_message(exc.certificate_error),
                trust=self._trust,
                method=request.method,
                path=request.path,
            ) from None
        except aiohttp.ClientConnectorDNSError as exc:
            if route is None:
                raise _connect_error(request, exc) from None
            # Through a proxy aiohttp resolves the proxy's host alone: this is its failure.
            raise _proxy_unresolved(request, route.display, exc.os_error) from None
        except aiohttp.ClientProxyConnectionError as exc:
            proxy = _display(route)
            raise EgressProxyError(
                f"cannot connect to the proxy {proxy}: {exc.os_error or exc}",
                proxy=proxy,
                method=request.method,
                path=request.path,
            ) from None
        except aiohttp.ClientHttpProxyError as exc:
            raise _proxy_refused(request, _display(route), exc.status, exc.message) from None
        except aiohttp.ConnectionTimeoutError as exc:
            if route is None:
                raise _timeout(request, "connect", exc) from None
            raise EgressProxyTimeoutError(
                f"connect timeout ({request.timeouts.connect} s) expired connecting through "
                f"the proxy {route.display} to {request.url.host}:{request.url.port} (the "
                "proxy did not accept the connection or open the tunnel in time)",
                proxy=route.display,
                method=request.method,
                path=request.path,
            ) from None
        except aiohttp.SocketTimeoutError as exc:
            raise _timeout(request, "read", exc) from None
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            raise _timeout(request, "total", exc) from None
        except aiohttp.ClientConnectorError as exc:
            raise _connect_error(request, exc) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionLostError(
                f"connection lost: {type(exc).__name__}: {exc}",
                method=request.method,
                path=request.path,
            ) from None

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
            raise _too_large(request, cap)
        if length is not None and "Content-Encoding" not in response.headers:
            return await response.read()
        # Chunked or compressed: the size is only known while reading, so count as we go.
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > cap:
                raise _too_large(request, cap)
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


def _timeout(request: Request, phase: str, exc: BaseException) -> RequestTimeoutError:
    limit = {
        "connect": request.timeouts.connect,
        "read": request.timeouts.read,
        "total": request.timeouts.total,
    }[phase]
    return RequestTimeoutError(
        f"{phase} timeout ({limit} s) expired",
        phase=phase,
        method=request.method,
        path=request.path,
    )


def _too_large(request: Request, cap: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"response body exceeds max_response_bytes={cap}", method=request.method, path=request.path
    )


def _connect_error(request: Request, exc: aiohttp.ClientConnectorError) -> ConnectError:
    """A direct connection's failure, naming the host it was for."""
    return ConnectError(
        f"cannot connect to {exc.host}:{exc.port}: {exc.os_error or exc}",
        method=request.method,
        path=request.path,
    )


_NO_SUCH_NAME = frozenset(
    getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, name)
)
"""getaddrinfo's answers that the name has no address (NXDOMAIN or no record), as
opposed to EAI_AGAIN (no answer) and the rest: POSIX ``<netdb.h>``; EAI_NODATA is glibc's."""


def _proxy_unresolved(request: Request, proxy: str, error: OSError) -> EgressProxyError:
    """The error for a proxy whose host name did not resolve: final if DNS said no such
    name (a typo, which retries cannot fix), retried if DNS gave no answer."""
    if error.errno in _NO_SUCH_NAME:
        return EgressProxyUnresolvedError(
            f"the host name of the proxy {proxy} does not resolve "
            f"({error.strerror or error}): check the proxy setting",
            proxy=proxy,
            method=request.method,
            path=request.path,
        )
    return EgressProxyError(
        f"cannot resolve the host name of the proxy {proxy}: {error.strerror or error}",
        proxy=proxy,
        method=request.method,
        path=request.path,
    )


def _display(route: EgressProxy | None) -> str:
    # aiohttp raises its proxy errors only for a request sent through a proxy.
    return "(none)" if route is None else route.display


def _proxy_refused(
    request: Request, proxy: str, status: int, reason: str | None
) -> EgressProxyError:
    """The error for a proxy's non-2xx answer: 4xx refusals are final, 5xx may pass."""
    hint = ""
    if status == 407:
        hint = " (check the proxy user and password)"
    elif status == 403:
        hint = " (the proxy does not allow this destination)"
    error_class = EgressProxyRefusedError if 400 <= status < 500 else EgressProxyError
    return error_class(
        f"the proxy {proxy} answered {status} {reason or ''}".rstrip()
        + f" to the request for {request.url.host}:{request.url.port}{hint}",
        proxy=proxy,
        status=status,
        method=request.method,
        path=request.path,
    )


def _verify_message(error: BaseException) -> str:
    """OpenSSL's reason for a failed certificate check (``unable to get local issuer...``)."""
    message = getattr(error, "verify_message", None)
    return str(message) if message else str(error)
