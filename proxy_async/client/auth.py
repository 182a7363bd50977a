"""Credentials, the Authorization header, and which host the client talks to.

Secrets live only inside :class:`Credentials` and the header value it builds; its
``repr``/``str`` show the Account SID and username, never the token or secret.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Mapping

import attrs
import yarl

from ..errors import InvalidParameterError, UnsafePageUrlError
from ..validation import (
    DEFAULT_PORTS,
    DNS_LABEL,
    URL_TEXT,
    check_dns_label,
    check_sid,
    has_lone_surrogate,
    url_host,
)

DEFAULT_BASE_URL = "https://proxy.twilio.com"
"""Twilio Proxy's public host."""

BASE_URL_VARIABLE = "PROXY_ASYNC_BASE_URL"
"""The one environment variable naming another API host (the fake server, a test double):
read by :func:`base_url_from_env` for :meth:`ProxyClient.from_env
<proxy_async.ProxyClient.from_env>`, the workers and the examples."""

logger = logging.getLogger("proxy_async")


class Credentials:
    """Account SID + Auth Token, or API Key SID (``SK…``) + secret for an Account SID.

    The secret is write-only: it is folded into a Basic ``Authorization`` header value at
    construction and appears in no ``repr``, ``str`` or error message.
    """

    __slots__ = ("_authorization", "account_sid", "username")

    def __init__(
        self,
        account_sid: str,
        auth_token: str | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
    ) -> None:
        self.account_sid = check_sid(account_sid, "AC", "account_sid")
        if api_key is not None:
            if auth_token is not None:
                raise InvalidParameterError(
                    "auth_token", "either auth_token or api_key + api_secret, not both"
                )
            self.username = check_sid(api_key, "SK", "api_key")
            secret = _check_secret(api_secret, "api_secret")
        else:
            if api_secret is not None:
                raise InvalidParameterError("api_key", "an SK SID whenever api_secret is given")
            self.username = self.account_sid
            secret = _check_secret(auth_token, "auth_token")
        raw = f"{self.username}:{secret}".encode()
        self._authorization = "Basic " + base64.b64encode(raw).decode("ascii")

    def authorization_header(self) -> str:
        """The ``Authorization`` header value (contains the secret: never log it)."""
        return self._authorization

    @property
    def description(self) -> str:
        """Which credentials these are, without the secret, for messages and logs:
        ``"API key SK… of account AC…"`` or ``"auth token of account AC…"`` (full SIDs:
        they are identifiers, listed as such in the Twilio Console)."""
        if self.username == self.account_sid:
            return f"auth token of account {self.account_sid}"
        return f"API key {self.username} of account {self.account_sid}"

    def __repr__(self) -> str:
        return (
            f"Credentials(account_sid={self.account_sid!r}, username={self.username!r}, "
            "secret='<redacted>')"
        )

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Credentials cannot be pickled: they hold a secret")


def _check_secret(secret: object, parameter: str) -> str:
    # The value is deliberately not echoed: it is a secret.
    if not isinstance(secret, str) or not secret:
        raise InvalidParameterError(parameter, "a non-empty string")
    if any(ch in secret for ch in "\r\n"):
        raise InvalidParameterError(parameter, "a string without line breaks")
    if has_lone_surrogate(secret):
        raise InvalidParameterError(parameter, "text encodable as UTF-8 (no lone surrogate)")
    return secret


_PROXY_FAMILY = re.compile(rf"proxy(?:\.{DNS_LABEL}){{0,2}}\.twilio\.com")
"""Hosts of Twilio Proxy: ``proxy.twilio.com``, ``proxy.{region}.twilio.com`` and
``proxy.{edge}.{region}.twilio.com``: the three shapes twilio-python's
``ClientBase.get_hostname`` reads and writes (lower-case, as :class:`Origin` keeps hosts)."""


def parse_url(text: object) -> yarl.URL | None:
    """``text`` parsed by yarl, its port checked; None for what yarl refuses.

    The caller raises its own typed error outside any handler, so that yarl's error,
    which may quote the URL and its password, is not kept as ``__context__``.
    """
    try:
        url = yarl.URL(text)  # type: ignore[arg-type]  # a non-str is refused: TypeError
        url.explicit_port  # noqa: B018 - yarl checks the port only when it is read
    except (TypeError, ValueError):
        return None
    return url


def regional_host(edge: str | None, region: str | None) -> str:
    """Base URL for an edge/region pair, built as the official Twilio SDKs build it.

    ``proxy.{edge}.{region}.twilio.com``; an edge without a region uses region ``us1``;
    a region without an edge gives ``proxy.{region}.twilio.com``. Each must be one DNS
    label (else :class:`InvalidParameterError`), so neither can change the host's shape.
    """
    if edge and not region:
        region = "us1"
    labels = [
        "proxy",
        check_dns_label(edge, "edge") if edge else None,
        check_dns_label(region, "region") if region else None,
        "twilio",
        "com",
    ]
    return "https://" + ".".join(label for label in labels if label)


@attrs.frozen
class Origin:
    """Scheme, host and port of a URL: what must match before credentials are sent."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: yarl.URL) -> Origin:
        """The origin of ``url`` with the scheme's default port filled in.

        Hosts compare case-insensitively (RFC 3986, section 6.2.2.1) and otherwise as
        spelled: ``127.0.0.1.`` or ``proxy.twilio.com.`` is another origin than the one
        without the dot, since it is another name to resolve, to send as ``Host`` and to
        match a certificate against. Raises :class:`ValueError` (a :class:`UnicodeError`
        included) for a port yarl refuses or a host it cannot IDNA-decode.
        """
        scheme = (url.scheme or "").lower()
        port = url.explicit_port or DEFAULT_PORTS.get(scheme, 0)
        return cls(scheme, (url.host or "").lower(), port)

    def __str__(self) -> str:
        default = DEFAULT_PORTS.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def in_proxy_family(origin: Origin) -> bool:
    """Whether ``origin`` is ``https`` on port 443 of a Twilio Proxy host (see _PROXY_FAMILY)."""
    return (
        origin.scheme == "https"
        and origin.port == 443
        and _PROXY_FAMILY.fullmatch(origin.host) is not None
    )


def parse_page_url(url: object) -> yarl.URL | None:
    """A page URL (``meta.next_page_url``, a saved ``start_url``) parsed as sent, or None.

    None when it is not a string, holds anything but printable ASCII URL characters
    (RFC 3986; a real server percent-encodes the rest), cannot be parsed (a doubled or
    out-of-range port, a broken IPv6 literal...) or is not absolute. Where it may lead is
    :func:`page_url_target`'s decision.
    """
    if not isinstance(url, str) or URL_TEXT.fullmatch(url) is None:
        return None
    try:
        parsed = yarl.URL(url, encoded=True)
        # yarl checks the port only when it is read.
        Origin.of(parsed)
    except ValueError:
        return None
    return parsed if parsed.is_absolute() and parsed.scheme else None


def page_url_target(url: yarl.URL, base_url: yarl.URL) -> yarl.URL:
    """Where a page URL from :func:`parse_page_url` is sent: the one same-origin rule.

    * Same scheme, host and port as ``base_url``: sent as it is.
    * Another host of the Twilio Proxy family (``proxy[.edge][.region].twilio.com``,
      https, port 443) while ``base_url`` is one too: sent to ``base_url``'s host, path
      and query kept. twilio-python rewrites every URL it requests, page URLs included,
      to the configured edge and region (``ClientBase.get_hostname``); Twilio may return
      page URLs on the global host to a regional client. The credentials still go only
      to the configured host.
    * Anything else, or any URL with user info, raises :class:`UnsafePageUrlError`:
      a custom ``base_url`` (a test or fake server) accepts only its own origin, since
      a Twilio URL there means the server is not what the client was pointed at.
    """
    base = Origin.of(base_url)
    if url.raw_user is not None or url.raw_password is not None:
        # Shown without its user info, which may be a credential.
        raise UnsafePageUrlError(
            str(url.with_user(None)), str(base), why="it holds user info, never sent with"
        )
    origin = Origin.of(url)
    if origin == base:
        return url
    if in_proxy_family(origin) and in_proxy_family(base):
        return yarl.URL(f"{base}{url.raw_path_qs}", encoded=True)
    raise UnsafePageUrlError(str(url), str(base))


def parse_base_url(base_url: str, parameter: str = "base_url") -> yarl.URL:
    """Validate a base URL: http(s), a host, no credentials, query or fragment.

    Raises :class:`InvalidParameterError` naming ``parameter`` for anything else,
    including a port yarl refuses and a host yarl cannot IDNA-decode (``xn--zz.com``).
    The value is echoed only when it holds no ``@``, ``?`` or ``#``, which could
    bring a password or a token along.
    """
    shown: object = type(base_url)
    if isinstance(base_url, str):
        shown = "<not shown>" if any(c in base_url for c in "@?#") else base_url
    url = parse_url(base_url)
    if url is None:
        raise InvalidParameterError(parameter, "an absolute http(s) URL", shown)
    if url.scheme not in DEFAULT_PORTS or not url.raw_host:
        raise InvalidParameterError(parameter, "an absolute http(s) URL", shown)
    if url.user is not None or url.password is not None:
        # Do not echo it: it carries credentials.
        raise InvalidParameterError(parameter, "a URL without user:password (use credentials)")
    if url.query_string or url.fragment:
        # Not echoed either: a query may carry a token.
        raise InvalidParameterError(parameter, "a URL without query or fragment")
    if not url_host(url):
        raise InvalidParameterError(
            parameter,
            "an http(s) URL whose host is an IP address or a DNS name yarl can IDNA-decode "
            "(an 'xn--' label must be valid Punycode)",
            shown,
        )
    return url.with_path(url.path.rstrip("/"))


@attrs.frozen
class EnvConfig:
    """Settings read from the environment by :func:`config_from_env` (secrets hidden from
    repr). Exactly one of ``auth_token`` and ``api_key`` (with ``api_secret``) is set;
    ``edge`` and ``region`` are lower-case DNS labels; ``base_url`` is
    ``PROXY_ASYNC_BASE_URL`` as given (checked)."""

    account_sid: str
    auth_token: str | None = attrs.field(repr=False)
    api_key: str | None
    api_secret: str | None = attrs.field(repr=False)
    edge: str | None
    region: str | None
    base_url: str | None = None


def base_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``PROXY_ASYNC_BASE_URL`` (:data:`BASE_URL_VARIABLE`) as set, or None when unset or empty.

    Checked as a ``base_url`` is (:func:`parse_base_url`): raises
    :class:`InvalidParameterError` naming ``PROXY_ASYNC_BASE_URL``.
    """
    env = os.environ if environ is None else environ
    base_url = env.get(BASE_URL_VARIABLE) or None
    if base_url is not None:
        parse_base_url(base_url, BASE_URL_VARIABLE)
    return base_url


def config_from_env(environ: Mapping[str, str] | None = None) -> EnvConfig:
    """Read the account, its credentials and its host from ``environ`` (None: ``os.environ``).

    * ``TWILIO_ACCOUNT_SID`` with ``TWILIO_API_KEY`` + ``TWILIO_API_SECRET`` or with
      ``TWILIO_AUTH_TOKEN``. When both pairs are set the API key is used, as twilio-cli
      does (its docs/general_usage.md recommends the key pair as "option 1"), and one
      INFO line on the ``proxy_async`` logger says so (SIDs only, never a secret).
    * ``PROXY_ASYNC_BASE_URL``: another API host (:func:`base_url_from_env`).
    * ``TWILIO_EDGE`` and ``TWILIO_REGION`` pick a regional host (see
      :func:`regional_host`); each must be one DNS label, checked here even when
      ``PROXY_ASYNC_BASE_URL`` makes them unused, since a bad value is a mistake either way.

    Raises :class:`InvalidParameterError` whose ``parameter`` is the variable at fault:
    one that is missing (``missing`` true: ``TWILIO_ACCOUNT_SID``, ``TWILIO_API_SECRET``
    when ``TWILIO_API_KEY`` is set, ``TWILIO_AUTH_TOKEN`` when neither pair is, or
    ``TWILIO_API_KEY`` when only its secret is) or malformed. Values of the secrets are
    never shown.
    """
    env = os.environ if environ is None else environ
    account_sid = env.get("TWILIO_ACCOUNT_SID") or None
    if account_sid is None:
        raise InvalidParameterError(
            "TWILIO_ACCOUNT_SID",
            "your Account SID (AC followed by 32 hex digits, from the Twilio Console) in "
            "this environment variable",
            missing=True,
        )
    check_sid(account_sid, "AC", "TWILIO_ACCOUNT_SID")
    api_key = env.get("TWILIO_API_KEY") or None
    api_secret = env.get("TWILIO_API_SECRET") or None
    auth_token = env.get("TWILIO_AUTH_TOKEN") or None
    if api_key is not None:
        check_sid(api_key, "SK", "TWILIO_API_KEY")
        if api_secret is None:
            raise InvalidParameterError(
                "TWILIO_API_SECRET",
                f"the secret of the API key TWILIO_API_KEY names ({api_key}) in this "
                "environment variable, or TWILIO_API_KEY unset to use TWILIO_AUTH_TOKEN",
                missing=True,
            )
        _check_secret(api_secret, "TWILIO_API_SECRET")
        if auth_token is not None:
            logger.info(
                "using TWILIO_API_KEY %s with TWILIO_API_SECRET; TWILIO_AUTH_TOKEN is set "
                "but not used",
                api_key,
            )
        auth_token = None
    elif auth_token is not None:
        _check_secret(auth_token, "TWILIO_AUTH_TOKEN")
        if api_secret is not None:
            logger.info(
                "using TWILIO_AUTH_TOKEN; TWILIO_API_SECRET is set without TWILIO_API_KEY "
                "and not used"
            )
        api_secret = None
    elif api_secret is not None:
        raise InvalidParameterError(
            "TWILIO_API_KEY",
            "the SID (SK followed by 32 hex digits) of the API key whose secret "
            "TWILIO_API_SECRET holds, or TWILIO_AUTH_TOKEN instead of both",
            missing=True,
        )
    else:
        raise InvalidParameterError(
            "TWILIO_AUTH_TOKEN",
            "the account's Auth Token in this environment variable, or TWILIO_API_KEY and "
            "TWILIO_API_SECRET (an API key and its secret) instead",
            missing=True,
        )
    edge, region = (env.get(name) or None for name in ("TWILIO_EDGE", "TWILIO_REGION"))
    return EnvConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        api_key=api_key,
        api_secret=api_secret,
        edge=None if edge is None else check_dns_label(edge, "TWILIO_EDGE"),
        region=None if region is None else check_dns_label(region, "TWILIO_REGION"),
        base_url=base_url_from_env(env),
    )
