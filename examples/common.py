"""What the example services share, whatever the web framework: settings and policy."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from proxy_async import (
    BadRequestError,
    ClientClosedError,
    InvalidParameterError,
    NotFoundError,
    OutcomeUnknownError,
    ProxyError,
    RateLimitError,
)
from proxy_async.client.environment import base_url_from_env
from proxy_async.webhooks import ProxyCallback

DEFAULT_BANNED_WORDS: Final = frozenset({"password", "iban", "cvv"})
"""Words the intercept callback refuses to let through (a toy policy)."""

_WORD: Final = re.compile(r"\w+")


def _folded(words: Iterable[str]) -> frozenset[str]:
    return frozenset(word.casefold() for word in words)


@attrs.frozen
class Settings:
    """Configuration of an example service.

    ``auth_token`` is the account's Auth Token: Twilio signs webhooks with it even when
    the client itself authenticates with an API key. ``webhook_shared_key`` is the
    secret of the SharedKey a Twilio Webhook Rule signs the intercept URL with, if any:
    requests carrying ``X-Twilio-Webhooks-Signature-Settings`` are then checked with it,
    the others with the Auth Token. ``base_url`` points the client at
    another Proxy API host (the fake server). ``intercept_url`` is the
    InterceptCallbackUrl as configured on the Proxy Service, needed when a reverse proxy
    or load balancer sits in front; None rebuilds it from each request.
    """

    account_sid: str
    auth_token: str = attrs.field(repr=False)
    service_sid: str
    base_url: str | None = None
    intercept_url: str | None = None
    banned_words: frozenset[str] = attrs.field(default=DEFAULT_BANNED_WORDS, converter=_folded)
    webhook_shared_key: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PROXY_SERVICE_SID and optionally
        PROXY_ASYNC_BASE_URL (as :meth:`proxy_async.ProxyClient.from_env` reads it),
        PROXY_INTERCEPT_URL, PROXY_BANNED_WORDS (comma-separated) and
        TWILIO_WEBHOOK_SHARED_KEY."""
        env = os.environ if environ is None else environ
        missing = [
            name
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PROXY_SERVICE_SID")
            if not env.get(name)
        ]
        if missing:
            raise ValueError(f"set the environment variables {', '.join(missing)}")
        banned = env.get("PROXY_BANNED_WORDS")
        return cls(
            account_sid=env["TWILIO_ACCOUNT_SID"],
            auth_token=env["TWILIO_AUTH_TOKEN"],
            service_sid=env["PROXY_SERVICE_SID"],
            base_url=base_url_from_env(env),
            intercept_url=env.get("PROXY_INTERCEPT_URL") or None,
            banned_words=(
                DEFAULT_BANNED_WORDS
                if banned is None
                else frozenset(word.strip() for word in banned.split(",") if word.strip())
            ),
            webhook_shared_key=env.get("TWILIO_WEBHOOK_SHARED_KEY") or None,
        )


def is_blocked(callback: ProxyCallback, banned_words: frozenset[str]) -> bool:
    """Whether an intercepted message contains a banned word (calls always pass).

    The words are looked for in the message's ``body``; when ``interactionData`` is not
    JSON at all, in its whole text, so that data the filter cannot read is not waved
    through unread.
    """
    body = callback.message_body
    if body is None and isinstance(callback.interaction_data, str):
        body = callback.interaction_data
    if body is None:
        return False
    return any(word in banned_words for word in _WORD.findall(body.casefold()))


def message_text(payload: object) -> str | None:
    """The ``body`` of a send request's JSON payload, if it is a non-empty string."""
    if not isinstance(payload, dict):
        return None
    body = payload.get("body")
    return body if isinstance(body, str) and body.strip() else None


def send_error_status(error: ProxyError) -> int:
    """The HTTP status the send endpoint answers when creating the message failed."""
    if isinstance(error, (InvalidParameterError, BadRequestError)):
        return 400
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, OutcomeUnknownError):
        # The message may have gone out: the caller must check, not blindly resend.
        return 504
    if isinstance(error, (RateLimitError, ClientClosedError)):
        return 503
    # Twilio refused our credentials, failed, or could not be reached: a gateway error.
    return 502
