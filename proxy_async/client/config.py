"""One frozen client configuration: the settings every :class:`ProxyClient` is built from.

``ProxyClient(...)``, :meth:`ProxyClient.from_env`, the command line
(:mod:`proxy_async.cli`), the workers (:mod:`proxy_async.workers`) and the web helpers
(:mod:`proxy_async.web`) all make a :class:`ClientConfig` and build the client from it
(:meth:`ProxyClient.from_config`), so each setting is checked in one place, with one
message, however it was given.

A setting is a value (a number, a URL, a flag). What is an object with behaviour of its
own (a limiter, a transport, hooks, aiohttp trace configs, an ``ssl.SSLContext``) is not
a setting: it is handed to the client as it is, next to the configuration
(:data:`CLIENT_PARTS` names them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aiohttp
import attrs

from ..errors import InvalidParameterError
from ..limits.base import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_REQUESTS_PER_SECOND,
    MAX_CONCURRENCY,
    check_max_concurrency,
    check_rate,
)
from ..retry.policy import RetryPolicy
from ..transports.base import Timeouts
from ..transports.default import DEFAULT_MAX_RESPONSE_BYTES
from ..validation import check_file_path, check_flag, check_int, has_async_methods, is_int
from .auth import Credentials
from .environment import config_from_env
from .hosts import DEFAULT_BASE_URL, parse_base_url, regional_host

CLIENT_PARTS: Final = frozenset(
    {"limiter", "transport", "trace_configs", "on_request", "on_response", "ssl_context"}
)
"""The constructor's keyword arguments that are objects, not settings: passed to
:meth:`ProxyClient.from_config` as they are, never stored in a :class:`ClientConfig`."""


def _credentials(_: object, __: attrs.Attribute[Credentials], value: object) -> None:
    if not isinstance(value, Credentials):
        raise InvalidParameterError("credentials", f"a Credentials, not {type(value).__name__}")


def _base_url(_: object, __: attrs.Attribute[str], value: str) -> None:
    parse_base_url(value)


def _max_concurrency(_: object, __: attrs.Attribute[int], value: int) -> None:
    check_max_concurrency(value)


def _burst(config: ClientConfig, _: attrs.Attribute[float | None], value: float | None) -> None:
    check_rate(config.requests_per_second, value)


def _instance_of(kind: type[Any], expected: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise InvalidParameterError(attribute.name, expected, value)

    return check


def _flag(_: object, attribute: attrs.Attribute[bool], value: object) -> None:
    check_flag(value, attribute.name)


def _max_response_bytes(_: object, __: attrs.Attribute[int], value: object) -> None:
    check_int(value, "max_response_bytes", 1)


def _environ(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidParameterError(
            "environ", f"None or a mapping of str to str, not {type(value).__name__}"
        )


def _proxy(_: object, __: attrs.Attribute[str | None], value: object) -> None:
    # The value is not echoed: a proxy URL may hold a password.
    if value is not None and not isinstance(value, str):
        raise InvalidParameterError(
            "proxy", f"None or a proxy URL such as 'http://host:3128', not {type(value).__name__}"
        )


def _ca_bundle(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check_file_path(value, "ca_bundle")


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything a :class:`~proxy_async.ProxyClient` is built from, checked when made.

    Frozen, so one configuration can be shared by many clients (a worker pool, a web
    app's lifespan, a test). Make it with :meth:`build` (the constructor's arguments,
    conveniences included), :meth:`from_env`, or directly (every field is checked by
    its own validator and :func:`attrs.evolve` checks again). A bad value raises
    :class:`~proxy_async.errors.InvalidParameterError` naming the setting.

    * ``credentials``: :class:`~proxy_async.client.auth.Credentials` (secret kept out
      of the repr).
    * ``base_url``: scheme, host, port and optional path prefix of the API.
    * ``max_concurrency`` (requests in flight, pool size), ``requests_per_second`` and
      ``burst`` (the leaky bucket; None: no rate limit): the default limiter's bounds.
    * ``retry``: a :class:`~proxy_async.retry.RetryPolicy`; ``timeouts``: a
      :class:`~proxy_async.transports.base.Timeouts`, per attempt, in seconds.
    * ``max_response_bytes``: the largest body read; ``prefetch``: read one page ahead.
    * ``proxy``, ``ca_bundle``, ``trust_env``, ``environ``: egress (see
      :mod:`proxy_async.transports.egress`); checked when the transport is built.
    """

    credentials: Credentials = attrs.field(validator=_credentials)
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, validator=_base_url)
    max_concurrency: int = attrs.field(default=DEFAULT_MAX_CONCURRENCY, validator=_max_concurrency)
    requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND
    burst: float | None = attrs.field(default=None, validator=_burst)
    prefetch: bool = attrs.field(default=True, validator=_flag)
    trust_env: bool = attrs.field(default=True, validator=_flag)
    environ: Mapping[str, str] | None = attrs.field(default=None, repr=False, validator=_environ)
    retry: RetryPolicy = attrs.field(
        factory=RetryPolicy,
        validator=_instance_of(RetryPolicy, "a RetryPolicy, a number of retries, or None"),
    )
    timeouts: Timeouts = attrs.field(
        factory=Timeouts, validator=_instance_of(Timeouts, "a Timeouts")
    )
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=_max_response_bytes
    )
    proxy: str | None = attrs.field(default=None, repr=False, validator=_proxy)
    ca_bundle: str | os.PathLike[str] | None = attrs.field(default=None, validator=_ca_bundle)

    @classmethod
    def build(
        cls, account_sid: str, auth_token: str | None = None, **arguments: Any
    ) -> ClientConfig:
        """A configuration from the arguments :class:`~proxy_async.ProxyClient` takes
        (its signature documents them; the parts, such as ``limiter``, are not taken here).

        The conveniences become fields: the account and ``auth_token`` or ``api_key`` +
        ``api_secret`` become ``credentials``; ``edge``/``region`` (each one DNS label) a
        regional ``base_url`` (giving ``base_url`` too is an error); ``retry`` as a
        number of retries a :class:`RetryPolicy`; ``timeout`` as a number the total of
        the default :class:`Timeouts`. The other ``arguments`` are fields, by name.
        """
        for field, given_as in (
            ("credentials", "the account and its secret"),
            ("timeouts", "timeout"),
        ):
            if field in arguments:
                raise InvalidParameterError(
                    field, f"{given_as} when building; {field}= is ClientConfig's own field"
                )
        credentials = Credentials(
            account_sid,
            auth_token,
            api_key=arguments.pop("api_key", None),
            api_secret=arguments.pop("api_secret", None),
        )
        base_url = arguments.pop("base_url", None)
        edge, region = arguments.pop("edge", None), arguments.pop("region", None)
        if base_url is not None and (edge or region):
            raise InvalidParameterError("base_url", "either base_url or edge/region, not both")
        if base_url is None:
            base_url = regional_host(edge, region) if edge or region else DEFAULT_BASE_URL
        return cls(
            credentials=credentials,
            base_url=base_url,
            retry=retry_policy(arguments.pop("retry", None)),
            timeouts=Timeouts.coerce(arguments.pop("timeout", None), Timeouts()),
            **arguments,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **settings: Any) -> ClientConfig:
        """The configuration the environment describes, ``settings`` taking precedence.

        ``environ`` (None: ``os.environ``) is read by
        :func:`~proxy_async.client.environment.config_from_env`: the account and its
        credentials, ``PROXY_ASYNC_BASE_URL``, ``TWILIO_EDGE``/``TWILIO_REGION``; the
        egress variables are read from it too (unless ``settings`` give ``environ``).

        The host, first found wins: the ``base_url`` setting; the ``edge``/``region``
        settings (the other one from ``TWILIO_EDGE``/``TWILIO_REGION``);
        ``PROXY_ASYNC_BASE_URL``, in which case ``TWILIO_EDGE`` and ``TWILIO_REGION``
        do not apply; ``TWILIO_EDGE``/``TWILIO_REGION``; Twilio's public host. A setting
        given as None counts as not given (a command line passes options as parsed).

        Raises :class:`InvalidParameterError` naming the variable at fault
        (``TWILIO_API_SECRET``, ``TWILIO_REGION``, ``PROXY_ASYNC_BASE_URL``...) or the
        setting.
        """
        env = config_from_env(environ)
        settings.setdefault("environ", environ)
        if settings.get("base_url") is None:
            settings.pop("base_url", None)
            if settings.get("edge") is None and settings.get("region") is None and env.base_url:
                settings.update(base_url=env.base_url, edge=None, region=None)
            else:
                for name in ("edge", "region"):
                    if settings.get(name) is None:
                        settings[name] = getattr(env, name)
        return cls.build(
            env.account_sid,
            env.auth_token,
            api_key=env.api_key,
            api_secret=env.api_secret,
            **settings,
        )


def retry_policy(retry: RetryPolicy | int | None) -> RetryPolicy:
    """``retry`` as a policy: None is the default one, a number that many retries."""
    if retry is None:
        return RetryPolicy()
    if isinstance(retry, RetryPolicy):
        return retry
    if is_int(retry):
        return RetryPolicy(retries=retry)
    raise InvalidParameterError("retry", "a RetryPolicy, a number of retries, or None", retry)


def check_parts(
    config: ClientConfig,
    limiter: object,
    transport: object,
    trace_configs: object,
    on_request: object,
    on_response: object,
    ssl_context: object,
) -> None:
    """The parts given next to a configuration are what they should be; with a transport,
    no egress setting (the transport was built with its own)."""
    _check_limiter(limiter)
    if transport is not None and not has_async_methods(transport, "send", "aclose"):
        raise InvalidParameterError(
            "transport",
            "None or a Transport: async send(request) and async aclose(), "
            f"not {type(transport).__name__}",
        )
    if (
        isinstance(trace_configs, (str, bytes))
        or not isinstance(trace_configs, Sequence)
        or not all(isinstance(item, aiohttp.TraceConfig) for item in trace_configs)
    ):
        raise InvalidParameterError(
            "trace_configs",
            f"a sequence of aiohttp.TraceConfig, not {type(trace_configs).__name__}",
        )
    for name, hook in (("on_request", on_request), ("on_response", on_response)):
        if hook is not None and not callable(hook):
            raise InvalidParameterError(name, "None or a function taking an AttemptEvent", hook)
    if transport is not None:
        egress = {"proxy": config.proxy, "ca_bundle": config.ca_bundle, "ssl_context": ssl_context}
        for name, value in egress.items():
            if value is not None:
                raise InvalidParameterError(name, "no value when a transport is given")


def _check_limiter(limiter: object) -> None:
    """A limiter as :class:`~proxy_async.limits.Limiter` describes it (duck-typed):
    ``async acquire()``, ``release()``, ``observe()`` and an int ``max_concurrency``."""
    if limiter is None:
        return
    if (
        not has_async_methods(limiter, "acquire")
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
