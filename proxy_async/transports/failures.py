"""Which :class:`~proxy_async.errors.TransportError` each aiohttp or OS failure is.

The mapping decides what a create may retry, so it is precise about whether the
request could have reached the server:

* :class:`ConnectError` / a connect-phase :class:`RequestTimeoutError`: the connection
  was never established (refused, DNS failure, pool wait timed out): provably not sent.
* :class:`ConnectionLostError` / a read-phase timeout: the request may have been sent.
* :class:`CertificateVerifyError` (the server's certificate is not trusted; it names the
  CAs trusted) and :class:`EgressProxyError` (the forward proxy is unreachable, its host
  does not resolve, connecting through it timed out, or it refused the tunnel) are
  connect-phase failures too: nothing reached the API. With a proxy in use, every
  connect failure but a certificate's is the proxy's (only its host is resolved here).

:func:`transport_error` is the one place that decides; the other functions build one
error each. No message holds a header or a credential (a proxy shows as ``***``).
"""

from __future__ import annotations

import asyncio
import socket

import aiohttp

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
from .base import Request
from .proxy_url import EgressProxy

FAILURES = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
"""What :func:`transport_error` maps: every failure aiohttp or the OS raises while
sending (``asyncio.TimeoutError`` is not an ``OSError`` before Python 3.11)."""


def transport_error(
    exc: BaseException, request: Request, route: EgressProxy | None, trust: str
) -> TransportError:
    """The error to raise for ``exc``, one of :data:`FAILURES`, raised sending ``request``
    through ``route`` (None: directly); ``trust`` names the CAs trusted, for a
    certificate failure. Checked from the most specific aiohttp class down."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return CertificateVerifyError(
            f"{exc.host}:{exc.port}",
            _verify_message(exc.certificate_error),
            trust=trust,
            method=request.method,
            path=request.path,
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if route is None:
            return _connect_error(request, exc)
        # Through a proxy aiohttp resolves the proxy's host alone: this is its failure.
        return _proxy_unresolved(request, route.display, exc.os_error)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        proxy = _display(route)
        return EgressProxyError(
            f"cannot connect to the proxy {proxy}: {exc.os_error or exc}",
            proxy=proxy,
            method=request.method,
            path=request.path,
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return proxy_refused(request, _display(route), exc.status, exc.message)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return _timeout(request, "connect") if route is None else _proxy_timeout(request, route)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return _timeout(request, "read")
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return _timeout(request, "total")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connect_error(request, exc)
    return ConnectionLostError(
        f"connection lost: {type(exc).__name__}: {exc}",
        method=request.method,
        path=request.path,
    )


def too_large(request: Request, cap: int) -> ResponseTooLargeError:
    """The error for a response body over ``cap`` bytes."""
    return ResponseTooLargeError(
        f"response body exceeds max_response_bytes={cap}", method=request.method, path=request.path
    )


def proxy_refused(
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


def _timeout(request: Request, phase: str) -> RequestTimeoutError:
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


def _proxy_timeout(request: Request, route: EgressProxy) -> EgressProxyTimeoutError:
    return EgressProxyTimeoutError(
        f"connect timeout ({request.timeouts.connect} s) expired connecting through "
        f"the proxy {route.display} to {request.url.host}:{request.url.port} (the "
        "proxy did not accept the connection or open the tunnel in time)",
        proxy=route.display,
        method=request.method,
        path=request.path,
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


def _verify_message(error: BaseException) -> str:
    """OpenSSL's reason for a failed certificate check (``unable to get local issuer...``)."""
    message = getattr(error, "verify_message", None)
    return str(message) if message else str(error)
