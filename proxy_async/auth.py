"""Credentials, the Authorization header, and which host the client talks to.

Secrets live only inside :class:`Credentials` and the header value it builds; its
``repr``/``str`` show the Account SID and username, never the token or secret.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

import attrs
import yarl

from .errors import InvalidParameterError
from .validation import check_sid

DEFAULT_BASE_URL = "https://proxy.twilio.com"
"""Twilio Proxy's public host."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


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
    return secret


def regional_host(edge: str | None, region: str | None) -> str:
    """Base URL for an edge/region pair, built as the official Twilio SDKs build it.

    ``proxy.{edge}.{region}.twilio.com``; an edge without a region uses region ``us1``;
    a region without an edge gives ``proxy.{region}.twilio.com``.
    """
    if edge and not region:
        region = "us1"
    labels = ["proxy", edge, region, "twilio", "com"]
    return "https://" + ".".join(label for label in labels if label)


@attrs.frozen
class Origin:
    """Scheme, host and port of a URL: what must match before credentials are sent."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: yarl.URL) -> Origin:
        """The origin of ``url`` with the scheme's default port filled in."""
        scheme = (url.scheme or "").lower()
        port = url.explicit_port or _DEFAULT_PORTS.get(scheme, 0)
        return cls(scheme, (url.host or "").lower().rstrip("."), port)

    def __str__(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def parse_base_url(base_url: str) -> yarl.URL:
    """Validate a base URL: http(s), a host, no credentials, query or fragment."""
    try:
        url = yarl.URL(base_url)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError("base_url", "an absolute http(s) URL", base_url) from exc
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise InvalidParameterError("base_url", "an absolute http(s) URL", base_url)
    if url.user is not None or url.password is not None:
        # Do not echo it: it carries credentials.
        raise InvalidParameterError("base_url", "a URL without user:password (use credentials)")
    if url.query_string or url.fragment:
        raise InvalidParameterError("base_url", "a URL without query or fragment", base_url)
    return url.with_path(url.path.rstrip("/"))


@attrs.frozen
class EnvConfig:
    """Settings read from ``TWILIO_*`` environment variables (secrets hidden from repr)."""

    account_sid: str
    auth_token: str | None = attrs.field(repr=False)
    api_key: str | None
    api_secret: str | None = attrs.field(repr=False)
    edge: str | None
    region: str | None


def config_from_env(environ: Mapping[str, str] | None = None) -> EnvConfig:
    """Read TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN or TWILIO_API_KEY + TWILIO_API_SECRET.

    TWILIO_EDGE and TWILIO_REGION pick a regional host. An API key takes precedence
    over an auth token when both are set, as in the official SDKs.
    """
    env = os.environ if environ is None else environ
    account_sid = env.get("TWILIO_ACCOUNT_SID")
    if not account_sid:
        raise InvalidParameterError("TWILIO_ACCOUNT_SID", "the environment variable to be set")
    api_key = env.get("TWILIO_API_KEY") or None
    auth_token = None if api_key else env.get("TWILIO_AUTH_TOKEN") or None
    if api_key is None and auth_token is None:
        raise InvalidParameterError(
            "TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET"
        )
    return EnvConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        api_key=api_key,
        api_secret=env.get("TWILIO_API_SECRET") if api_key else None,
        edge=env.get("TWILIO_EDGE") or None,
        region=env.get("TWILIO_REGION") or None,
    )
