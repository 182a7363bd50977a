"""The client: owns the connection pool, the limiter and the retry policy.

A request's life, all in :meth:`ProxyClient.request`:

1. **built**: the target path (or a page URL, origin-checked) becomes a
   :class:`~proxy_async.transports.base.Request` with auth, User-Agent and timeouts;
2. **retried**: :func:`~proxy_async.retry.call_with_retries` runs attempts;
3. **limited and sent**: each attempt takes a limiter slot, then goes through the
   :class:`~proxy_async.transports.base.Transport`;
4. **checked**: a non-2xx becomes an :class:`~proxy_async.errors.ApiError`.

Turning bodies into objects happens in :mod:`proxy_async.resources` via
:mod:`proxy_async.models.pages` (the cattrs path: :mod:`proxy_async.models.converter`).
"""

from __future__ import annotations

import inspect
import logging
import os
import platform
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any

import aiohttp
import attrs
import yarl

from .._version import __version__
from ..errors import (
    ApiError,
    ClientClosedError,
    InvalidParameterError,
    TransportError,
)
from ..limits.ratelimit import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    MAX_CONCURRENCY,
    Limiter,
    RateLimiter,
    check_max_concurrency,
    check_rate,
)
from ..resources.contexts import ServiceContext
from ..retry.policy import RetryPolicy, call_with_retries, retry_after_of
from ..transports.base import Request, Response, Timeouts, Transport
from ..transports.default import DEFAULT_MAX_RESPONSE_BYTES, AiohttpTransport
from ..validation import TARGET_EXPECTED, check_form, check_method, check_path
from .auth import (
    DEFAULT_BASE_URL,
    Credentials,
    config_from_env,
    page_url_target,
    parse_base_url,
    parse_page_url,
    regional_host,
)

logger = logging.getLogger("proxy_async")

USER_AGENT = (
    f"proxy-async/{__version__} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)
"""Sent with every request: the package, its version, the platform and Python."""


@attrs.frozen
class AttemptEvent:
    """What hooks and logs see of one attempt. Holds no header and no credential."""

    method: str
    path: str
    attempt: int
    status: int | None = None
    elapsed: float | None = None
    error: BaseException | None = None


Hook = Callable[[AttemptEvent], Awaitable[None] | None]
"""A request/response hook: a function or coroutine function taking an AttemptEvent."""


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
        self._credentials = Credentials(
            account_sid, auth_token, api_key=api_key, api_secret=api_secret
        )
        if base_url is not None and (edge or region):
            raise InvalidParameterError("base_url", "either base_url or edge/region, not both")
        self._base_url = parse_base_url(
            base_url or (regional_host(edge, region) if edge or region else DEFAULT_BASE_URL)
        )
        self._base_text = str(self._base_url)  # str(URL) re-renders it on every request
        # Every option is checked here, even one a given limiter or transport makes
        # unused: a wrong type found at the first request is found too late.
        check_max_concurrency(max_concurrency)
        check_rate(requests_per_second, burst)
        _check_limiter(limiter)
        _check_transport(transport)
        _check_trace_configs(trace_configs)
        for name, hook in (("on_request", on_request), ("on_response", on_response)):
            if hook is not None and not callable(hook):
                raise InvalidParameterError(name, "None or a function taking an AttemptEvent", hook)
        for name, flag in (("prefetch", prefetch), ("trust_env", trust_env)):
            if not isinstance(flag, bool):
                raise InvalidParameterError(name, "True or False", flag)
        if environ is not None and not isinstance(environ, Mapping):
            raise InvalidParameterError(
                "environ", f"None or a mapping of str to str, not {type(environ).__name__}"
            )
        self._limiter: Limiter = limiter or RateLimiter(
            max_concurrency=max_concurrency, requests_per_second=requests_per_second, burst=burst
        )
        self._retry = _retry_policy(retry)
        self._timeouts = Timeouts.coerce(timeout, Timeouts())
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise InvalidParameterError("max_response_bytes", "an integer >= 1", max_response_bytes)
        if transport is not None:
            egress: dict[str, object] = {
                "proxy": proxy,
                "ca_bundle": ca_bundle,
                "ssl_context": ssl_context,
            }
            for name, value in egress.items():
                if value is not None:
                    raise InvalidParameterError(name, "no value when a transport is given")
        self._transport: Transport = transport or AiohttpTransport(
            pool_size=self._limiter.max_concurrency,
            max_response_bytes=max_response_bytes,
            trace_configs=trace_configs,
            proxy=proxy,
            ssl_context=ssl_context,
            ca_bundle=ca_bundle,
            trust_env=trust_env,
            environ=environ,
        )
        self._prefetch = prefetch
        self._on_request = on_request
        self._on_response = on_response
        self._headers = {
            "Authorization": self._credentials.authorization_header(),
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self._form_headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"}
        self._closed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> ProxyClient:
        """Build a client from the environment (``environ``; None: ``os.environ``), as
        :func:`~proxy_async.client.auth.config_from_env` reads
        it; ``options`` as in the constructor.

        * Credentials: ``TWILIO_ACCOUNT_SID`` with ``TWILIO_API_KEY`` +
          ``TWILIO_API_SECRET`` or ``TWILIO_AUTH_TOKEN``; the API key when both pairs are
          set (one INFO log line says so). :attr:`credentials_description` says which.
        * Host, first found wins: the ``base_url`` option; the ``edge``/``region``
          options (the other one from ``TWILIO_EDGE``/``TWILIO_REGION``);
          ``PROXY_ASYNC_BASE_URL``, in which case ``TWILIO_EDGE`` and ``TWILIO_REGION``
          do not apply; ``TWILIO_EDGE``/``TWILIO_REGION``; Twilio's public host. An option
          given as None counts as not given (a CLI passes options through as parsed).
        * The egress variables (``HTTPS_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``...) are
          read from the same ``environ``, unless ``options`` say otherwise.

        Raises :class:`InvalidParameterError` naming the environment variable at fault
        (``TWILIO_API_SECRET``, ``TWILIO_REGION``, ``PROXY_ASYNC_BASE_URL``...), or the
        option.
        """
        config = config_from_env(environ)
        options.setdefault("environ", environ)
        if options.get("base_url") is None:
            options.pop("base_url", None)
            if options.get("edge") is None and options.get("region") is None and config.base_url:
                options.update(base_url=config.base_url, edge=None, region=None)
            else:
                for name in ("edge", "region"):
                    if options.get(name) is None:
                        options[name] = getattr(config, name)
        return cls(
            config.account_sid,
            config.auth_token,
            api_key=config.api_key,
            api_secret=config.api_secret,
            **options,
        )

    # -- session management -------------------------------------------------------

    async def __aenter__(self) -> ProxyClient:
        if self._closed:
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
        self._closed = True
        await self._transport.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    @property
    def account_sid(self) -> str:
        """The Account SID this client acts for."""
        return self._credentials.account_sid

    @property
    def credentials_description(self) -> str:
        """Which credentials this client sends, without the secret:
        ``"API key SK… of account AC…"`` or ``"auth token of account AC…"``
        (:attr:`proxy_async.Credentials.description`)."""
        return self._credentials.description

    @property
    def base_url(self) -> str:
        """Scheme, host, port (and optional path prefix) every request goes to."""
        return self._base_text

    @property
    def limiter(self) -> Limiter:
        """The limiter every attempt passes through."""
        return self._limiter

    @property
    def prefetch(self) -> bool:
        """Whether list walks fetch one page ahead."""
        return self._prefetch

    def services(self, service_sid: str) -> ServiceContext:
        """The Proxy Service with this SID: ``client.services("KS…").sessions("KC…")``."""
        return ServiceContext(self, service_sid)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ProxyClient {self._credentials.username} -> {self._base_url} ({state})>"

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
        configured one, see :func:`~proxy_async.client.auth.page_url_target`): otherwise
        :class:`UnsafePageUrlError` is raised and nothing is sent. ``params`` and
        ``form`` values must be strings UTF-8 can encode. Every argument is checked
        (:class:`InvalidParameterError`) before the limiter or a hook sees an attempt.
        Retries follow the client's :class:`RetryPolicy`; errors are typed.
        """
        if self._closed:
            raise ClientClosedError()
        method = check_method(method)
        url = self._url_for(target, None if params is None else dict(check_form(params, "params")))
        request = Request(
            method,
            url,
            self._form_headers if form is not None else self._headers,
            None if form is None else check_form(form, "form"),
            Timeouts.coerce(timeout, self._timeouts),
        )
        return await call_with_retries(
            partial(self._attempt, request),
            self._retry,
            method=method,
            path=request.path,
            on_delete_gone=(lambda: Response(204, {}, b"")) if method == "DELETE" else None,
        )

    def _url_for(self, target: str, params: dict[str, str] | None) -> yarl.URL:
        if isinstance(target, str) and target.startswith("/"):
            url = yarl.URL(f"{self._base_text}{check_path(target)}", encoded=True)
        else:
            # A server-provided page URL is followed exactly as given (encoded=True keeps
            # its bytes), but only to the origin the credentials belong to.
            parsed = parse_page_url(target)
            if parsed is None:
                raise InvalidParameterError("target", TARGET_EXPECTED, target)
            url = page_url_target(parsed, self._base_url)
        return url.update_query(params) if params else url

    async def _attempt(self, request: Request, number: int) -> Response:
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            if self._closed:
                raise ClientClosedError()
            if self._on_request is not None:
                await _call_hook(
                    self._on_request, AttemptEvent(request.method, request.path, number)
                )
            response = await self._transport.send(request)
        except TransportError as error:
            self._limiter.observe(None, None)
            await self._report(request, number, started, None, error)
            if self._closed and request.method != "POST":
                raise ClientClosedError(
                    "the client was closed while this request was in flight"
                ) from None
            raise
        finally:
            self._limiter.release()
        self._limiter.observe(response.status, response.headers)
        await self._report(request, number, started, response.status, None)
        if 200 <= response.status < 300:
            return response
        raise ApiError.from_response(
            response.status,
            response.headers,
            response.body,
            retry_after=retry_after_of(response.headers),
            method=request.method,
            path=request.path,
            credentials=self._credentials.description,
        )

    async def _report(
        self,
        request: Request,
        number: int,
        started: float,
        status: int | None,
        error: BaseException | None,
    ) -> None:
        """Log the attempt and call the response hook (an event is built only for it)."""
        elapsed = time.perf_counter() - started
        if error is None and status is not None and status < 400:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if logger.isEnabledFor(level):
            outcome = str(status) if status is not None else type(error).__name__
            method, path = request.method, request.path
            logger.log(
                level,
                "%s %s -> %s (attempt %d, %.1f ms)",
                method,
                path,
                outcome,
                number,
                elapsed * 1000,
                extra={
                    "http_method": method,
                    "http_path": path,
                    "http_status": status,
                    "attempt": number,
                    "elapsed": elapsed,
                },
            )
        if self._on_response is not None:
            event = AttemptEvent(request.method, request.path, number, status, elapsed, error)
            await _call_hook(self._on_response, event)


async def _call_hook(hook: Hook, event: AttemptEvent) -> None:
    result = hook(event)
    if inspect.isawaitable(result):
        await result


def _has_async(value: object, *names: str) -> bool:
    return all(inspect.iscoroutinefunction(getattr(value, name, None)) for name in names)


def _check_limiter(limiter: object) -> None:
    """A limiter as :class:`~proxy_async.limits.Limiter` describes it (duck-typed):
    ``async acquire()``, ``release()``, ``observe()`` and an int ``max_concurrency``."""
    if limiter is None:
        return
    if (
        not _has_async(limiter, "acquire")
        or not callable(getattr(limiter, "release", None))
        or not callable(getattr(limiter, "observe", None))
    ):
        raise InvalidParameterError(
            "limiter",
            "None or a Limiter: async acquire(), release(), observe(status, headers) and "
            f"max_concurrency, not {type(limiter).__name__}",
        )
    try:
        check_max_concurrency(getattr(limiter, "max_concurrency", None))
    except InvalidParameterError:
        raise InvalidParameterError(
            "limiter", f"a Limiter whose max_concurrency is an integer from 1 to {MAX_CONCURRENCY}"
        ) from None


def _check_transport(transport: object) -> None:
    """A transport as :class:`~proxy_async.transports.Transport` describes it (duck-typed)."""
    if transport is not None and not _has_async(transport, "send", "aclose"):
        raise InvalidParameterError(
            "transport",
            "None or a Transport: async send(request) and async aclose(), "
            f"not {type(transport).__name__}",
        )


def _check_trace_configs(trace_configs: object) -> None:
    if (
        isinstance(trace_configs, (str, bytes))
        or not isinstance(trace_configs, Sequence)
        or not all(isinstance(item, aiohttp.TraceConfig) for item in trace_configs)
    ):
        raise InvalidParameterError(
            "trace_configs",
            f"a sequence of aiohttp.TraceConfig, not {type(trace_configs).__name__}",
        )


def _retry_policy(retry: RetryPolicy | int | None) -> RetryPolicy:
    if retry is None:
        return RetryPolicy()
    if isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, int) and not isinstance(retry, bool):
        return RetryPolicy(retries=retry)
    raise InvalidParameterError("retry", "a RetryPolicy, a number of retries, or None", retry)
