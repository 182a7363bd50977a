"""The client: :class:`ProxyClient` owns the connection pool, the limiter and the retry
policy, and is built from one :class:`~proxy_async.client.config.ClientConfig`.

Here: construction (the typed constructor, :meth:`ProxyClient.from_config`,
:meth:`ProxyClient.from_env`), the lifecycle (``async with``, :meth:`ProxyClient.aclose`)
and the properties. A request's life (built, retried, limited, sent, checked) is
:mod:`proxy_async.client.pipeline`; turning bodies into records happens in
:mod:`proxy_async.resources`. A little over 300 lines: the constructor's signature and
the class docstring that explains every setting take a third of them.
"""

from __future__ import annotations

import logging
import os
import platform
import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp

from .._version import __version__
from ..errors import (
    ClientClosedError,
    InvalidParameterError,
)
from ..limits.base import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    Limiter,
)
from ..limits.fixed import RateLimiter
from ..resources.contexts import ServiceContext
from ..retry.policy import RetryPolicy
from ..transports.base import Response, Timeouts, Transport
from ..transports.default import DEFAULT_MAX_RESPONSE_BYTES, AiohttpTransport
from .attempts import Hook
from .config import CLIENT_PARTS, ClientConfig, check_parts
from .hosts import parse_base_url
from .pipeline import RequestPipeline

logger = logging.getLogger("proxy_async")

USER_AGENT = (
    f"proxy-async/{__version__} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)
"""Sent with every request: the package, its version, the platform and Python."""


_Parts = tuple[
    Limiter | None,
    Transport | None,
    Sequence[aiohttp.TraceConfig],
    Hook | None,
    Hook | None,
    ssl.SSLContext | None,
]
"""What a client gets beside its configuration (see :data:`.config.CLIENT_PARTS`)."""


class ProxyClient:
    """Async client for Twilio Proxy v1. Use ``async with``; share one across tasks.

    ``ProxyClient(account_sid, auth_token)`` or ``ProxyClient(account_sid,
    api_key="SK…", api_secret=...)``; ``ProxyClient.from_env()`` reads ``TWILIO_*`` and
    ``PROXY_ASYNC_BASE_URL``. :attr:`credentials_description` says which are used.

    ``base_url`` overrides the host (tests, the fake server); ``edge``/``region`` pick a
    regional host as the official SDKs do (each one DNS label, such as ``sydney`` and
    ``au1``, else :class:`InvalidParameterError`). A 401 or 403
    (:class:`~proxy_async.errors.AuthError`) says which credentials were tried.
    ``max_concurrency`` caps requests in flight and sizes the connection pool;
    ``requests_per_second``/``burst`` set the leaky bucket (None: no rate limit);
    ``limiter`` replaces both with your own :class:`~proxy_async.limits.Limiter`. ``retry`` is a
    :class:`~proxy_async.retry.RetryPolicy` or a number of retries (0 disables).
    ``timeout`` is a :class:`~proxy_async.transports.base.Timeouts` or a total in seconds;
    every call also takes ``timeout=``. ``prefetch`` fetches the next page while the
    caller consumes the current one. ``on_request``/``on_response`` are called for
    every attempt; ``trace_configs`` go to aiohttp as they are.

    Egress (:mod:`proxy_async.transports.egress` has the rules): ``proxy`` is a forward proxy,
    ``http://[user:password@]host:port``, for every request (its credentials are kept
    out of reprs, logs and errors). Without it, ``HTTPS_PROXY``/``HTTP_PROXY``/
    ``ALL_PROXY`` and ``NO_PROXY`` are honoured as requests (twilio-python) does.
    ``ca_bundle`` (a PEM file or a directory) or ``ssl_context`` sets the trusted CAs,
    e.g. a corporate TLS-inspecting proxy's; without them ``SSL_CERT_FILE``, then
    ``REQUESTS_CA_BUNDLE``, then the system's. ``trust_env=False`` ignores all of these
    variables; ``environ`` is where they are read (None: ``os.environ``, when the
    client is built). These options build the default transport: with ``transport``
    given they must be left unset.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        edge: str | None = None,
        region: str | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND,
        burst: float | None = None,
        limiter: Limiter | None = None,
        retry: RetryPolicy | int | None = None,
        timeout: Timeouts | float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        prefetch: bool = True,
        transport: Transport | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        on_request: Hook | None = None,
        on_response: Hook | None = None,
        proxy: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Over 50 lines only by its signature: each setting is a typed keyword (the
        class docstring says what they mean); they become one :class:`ClientConfig`."""
        self._open(
            ClientConfig.build(
                account_sid,
                auth_token,
                api_key=api_key,
                api_secret=api_secret,
                base_url=base_url,
                edge=edge,
                region=region,
                retry=retry,
                timeout=timeout,
                max_concurrency=max_concurrency,
                requests_per_second=requests_per_second,
                burst=burst,
                max_response_bytes=max_response_bytes,
                prefetch=prefetch,
                proxy=proxy,
                ca_bundle=ca_bundle,
                trust_env=trust_env,
                environ=environ,
            ),
            (limiter, transport, trace_configs, on_request, on_response, ssl_context),
        )

    @classmethod
    def from_config(
        cls,
        config: ClientConfig,
        *,
        limiter: Limiter | None = None,
        transport: Transport | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        on_request: Hook | None = None,
        on_response: Hook | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ProxyClient:
        """A client built from ``config`` (a :class:`~proxy_async.client.config.ClientConfig`)
        and the parts that are objects rather than settings, as in the constructor.

        Raises :class:`InvalidParameterError` for a part that is not what it should be.
        """
        if not isinstance(config, ClientConfig):
            raise InvalidParameterError("config", f"a ClientConfig, not {type(config).__name__}")
        client = cls.__new__(cls)
        client._open(
            config, (limiter, transport, trace_configs, on_request, on_response, ssl_context)
        )
        return client

    def _open(self, config: ClientConfig, parts: _Parts) -> None:
        """Build the client from ``config`` and ``parts``, in the constructor's order:
        ``(limiter, transport, trace_configs, on_request, on_response, ssl_context)``."""
        limiter, transport, trace_configs, on_request, on_response, ssl_context = parts
        # Every part is checked here, even one a given limiter or transport makes
        # unused: a wrong type found at the first request is found too late.
        check_parts(config, limiter, transport, trace_configs, on_request, on_response, ssl_context)
        self._config = config
        credentials = config.credentials
        self._limiter: Limiter = limiter or RateLimiter(
            max_concurrency=config.max_concurrency,
            requests_per_second=config.requests_per_second,
            burst=config.burst,
        )
        self._transport: Transport = transport or AiohttpTransport(
            pool_size=self._limiter.max_concurrency,
            max_response_bytes=config.max_response_bytes,
            trace_configs=trace_configs,
            proxy=config.proxy,
            ssl_context=ssl_context,
            ca_bundle=config.ca_bundle,
            trust_env=config.trust_env,
            environ=config.environ,
        )
        self._pipeline = RequestPipeline(
            credentials=credentials,
            base_url=parse_base_url(config.base_url),
            headers={
                "Authorization": credentials.authorization_header(),
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            limiter=self._limiter,
            retry=config.retry,
            timeouts=config.timeouts,
            transport=self._transport,
            on_request=on_request,
            on_response=on_response,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> ProxyClient:
        """Build a client from the environment (``environ``; None: ``os.environ``), as
        :meth:`ClientConfig.from_env <proxy_async.client.config.ClientConfig.from_env>`
        reads it; ``options`` as in the constructor (settings override the environment).

        * Credentials: ``TWILIO_ACCOUNT_SID`` with ``TWILIO_API_KEY`` +
          ``TWILIO_API_SECRET`` or ``TWILIO_AUTH_TOKEN``; the API key when both pairs are
          set (one INFO log line says so). :attr:`credentials_description` says which.
        * Host: the ``base_url`` option; the ``edge``/``region`` options;
          ``PROXY_ASYNC_BASE_URL``; ``TWILIO_EDGE``/``TWILIO_REGION``; Twilio's public host.
        * The egress variables (``HTTPS_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``...) are
          read from the same ``environ``, unless ``options`` say otherwise.

        Raises :class:`InvalidParameterError` naming the environment variable at fault
        (``TWILIO_API_SECRET``, ``TWILIO_REGION``, ``PROXY_ASYNC_BASE_URL``...), or the
        option.
        """
        parts = {name: options.pop(name) for name in CLIENT_PARTS & options.keys()}
        return cls.from_config(ClientConfig.from_env(environ, **options), **parts)

    # -- session management -------------------------------------------------------

    async def __aenter__(self) -> ProxyClient:
        if self._pipeline.closed:
            raise ClientClosedError()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. Requests in flight fail with ClientClosedError. Idempotent."""
        self._pipeline.closed = True
        await self._transport.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._pipeline.closed

    @property
    def config(self) -> ClientConfig:
        """The settings this client was built from (frozen; build another client from it
        with :meth:`from_config`, or a variant with :func:`attrs.evolve`)."""
        return self._config

    @property
    def account_sid(self) -> str:
        """The Account SID this client acts for."""
        return self._config.credentials.account_sid

    @property
    def credentials_description(self) -> str:
        """Which credentials this client sends, without the secret:
        ``"API key SK… of account AC…"`` or ``"auth token of account AC…"``
        (:attr:`proxy_async.Credentials.description`)."""
        return self._config.credentials.description

    @property
    def base_url(self) -> str:
        """Scheme, host, port (and optional path prefix) every request goes to."""
        return self._pipeline.base_text

    @property
    def limiter(self) -> Limiter:
        """The limiter every attempt passes through."""
        return self._limiter

    @property
    def prefetch(self) -> bool:
        """Whether list walks fetch one page ahead."""
        return self._config.prefetch

    def services(self, service_sid: str) -> ServiceContext:
        """The Proxy Service with this SID: ``client.services("KS…").sessions("KC…")``."""
        return ServiceContext(self, service_sid)

    def __repr__(self) -> str:
        state = "closed" if self._pipeline.closed else "open"
        username = self._config.credentials.username
        return f"<ProxyClient {username} -> {self._pipeline.base_text} ({state})>"

    # -- the request pipeline ----------------------------------------------------

    async def request(
        self,
        method: str,
        target: str,
        *,
        params: dict[str, str] | None = None,
        form: Sequence[tuple[str, str]] | None = None,
        timeout: Timeouts | float | None = None,
    ) -> Response:
        """Send an authenticated request and return its 2xx response.

        ``target`` is a percent-encoded path under the base URL (``/v1/Services/...``)
        or an absolute URL such as a ``next_page_url``, which must share the base URL's
        scheme, host and port, or be another Twilio Proxy host (rewritten to the
        configured one, see :func:`~proxy_async.client.hosts.page_url_target`): otherwise
        :class:`UnsafePageUrlError` is raised and nothing is sent. ``params`` and
        ``form`` values must be strings UTF-8 can encode. Every argument is checked
        (:class:`InvalidParameterError`) before the limiter or a hook sees an attempt.
        Retries follow the client's :class:`RetryPolicy`; errors are typed. The steps
        are :class:`~proxy_async.client.pipeline.RequestPipeline`'s.
        """
        return await self._pipeline.request(method, target, params, form, timeout)
