"""The client's settings as the environment gives them: ``TWILIO_*`` and ``PROXY_ASYNC_BASE_URL``.

Read by :meth:`ClientConfig.from_env <proxy_async.client.config.ClientConfig.from_env>`
(so by ``ProxyClient.from_env``, the command line and the web helpers) and by the
workers. Every variable is refused by its own name (:class:`InvalidParameterError`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import attrs

from ..errors import InvalidParameterError
from ..validation import check_dns_label, check_sid
from .auth import check_secret
from .hosts import parse_base_url

BASE_URL_VARIABLE = "PROXY_ASYNC_BASE_URL"
"""The one environment variable naming another API host (the fake server, a test double):
read by :func:`base_url_from_env` for :meth:`ProxyClient.from_env
<proxy_async.ProxyClient.from_env>`, the workers and the examples."""

logger = logging.getLogger("proxy_async")


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
    account_sid, auth_token, api_key, api_secret = _credentials_from_env(env)
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


_MISSING: dict[str, str] = {
    "TWILIO_ACCOUNT_SID": "your Account SID (AC followed by 32 hex digits, from the Twilio "
    "Console) in this environment variable",
    "TWILIO_API_KEY": "the SID (SK followed by 32 hex digits) of the API key whose secret "
    "TWILIO_API_SECRET holds, or TWILIO_AUTH_TOKEN instead of both",
    "TWILIO_AUTH_TOKEN": "the account's Auth Token in this environment variable, or "
    "TWILIO_API_KEY and TWILIO_API_SECRET (an API key and its secret) instead",
}
"""What each variable should hold, for the refusal when it is missing."""


def _credentials_from_env(env: Mapping[str, str]) -> tuple[str, str | None, str | None, str | None]:
    """``(account_sid, auth_token, api_key, api_secret)`` as :func:`config_from_env` reads
    them: one of the token and the key pair is set, the other pair None."""
    account_sid, api_key, api_secret, auth_token = (
        env.get(name) or None
        for name in (
            "TWILIO_ACCOUNT_SID",
            "TWILIO_API_KEY",
            "TWILIO_API_SECRET",
            "TWILIO_AUTH_TOKEN",
        )
    )
    if account_sid is None:
        raise _missing("TWILIO_ACCOUNT_SID")
    check_sid(account_sid, "AC", "TWILIO_ACCOUNT_SID")
    if api_key is not None:
        return account_sid, None, api_key, _key_secret(api_key, api_secret, auth_token)
    if auth_token is not None:
        check_secret(auth_token, "TWILIO_AUTH_TOKEN")
        if api_secret is not None:
            logger.info(
                "using TWILIO_AUTH_TOKEN; TWILIO_API_SECRET is set without TWILIO_API_KEY "
                "and not used"
            )
        return account_sid, auth_token, None, None
    raise _missing("TWILIO_API_KEY" if api_secret is not None else "TWILIO_AUTH_TOKEN")


def _key_secret(api_key: str, api_secret: str | None, auth_token: str | None) -> str:
    """The checked ``TWILIO_API_SECRET`` of ``api_key`` (which wins over a token)."""
    check_sid(api_key, "SK", "TWILIO_API_KEY")
    if api_secret is None:
        raise InvalidParameterError(
            "TWILIO_API_SECRET",
            f"the secret of the API key TWILIO_API_KEY names ({api_key}) in this "
            "environment variable, or TWILIO_API_KEY unset to use TWILIO_AUTH_TOKEN",
            missing=True,
        )
    check_secret(api_secret, "TWILIO_API_SECRET")
    if auth_token is not None:
        logger.info(
            "using TWILIO_API_KEY %s with TWILIO_API_SECRET; TWILIO_AUTH_TOKEN is set but not used",
            api_key,
        )
    return api_secret


def _missing(variable: str) -> InvalidParameterError:
    return InvalidParameterError(variable, _MISSING[variable], missing=True)
