"""Check that a webhook request really came from Twilio: pure signing and validation.

Twilio signs every webhook request and sends the result in the ``X-Twilio-Signature``
header: base64(HMAC(secret, string)), where the string is the full URL Twilio requested
followed, for a form body, by the form's names and values (see :mod:`.signing`). By
default the secret is the account's Auth Token and the HMAC is HMAC-SHA1. When a Webhook
Rule matches the URL, Twilio signs with that Rule's Setting instead: the secret of a
SharedKey, and the algorithm the Setting names (``HMAC_SHA256`` or ``HMAC_SHA1``), and
says so in the ``X-Twilio-Webhooks-Signature-Settings`` header
(``key=<SharedKey id>,algorithm=HMAC_SHA256``); only the hash changes, not the signed
string (Twilio's "Sign webhooks with shared keys", and twilio-python 9.13's
``get_signature_algorithm``). :func:`signature_algorithm` reads that header; every
function below takes the algorithm as ``algorithm=``.

What is accepted is what twilio-python's ``RequestValidator`` (9.x) accepts, checked by
agreement in ``tests/webhooks/test_webhook_oracle.py``, with one difference where it
accepts a URL with another host (see :func:`.signing.url_variants`): there this accepts
less.

- :func:`validate_signature` checks a form (``application/x-www-form-urlencoded``)
  request; it is what Proxy's callback, intercept and out-of-session webhooks send.
- :func:`validate_json_signature` checks a JSON body. Twilio then signs the URL alone
  and adds a ``bodySHA256`` query parameter holding the body's SHA-256 hex digest; the
  body is authentic only through that parameter, so a non-empty body under a URL
  without one is refused.

Requests as a framework receives them are checked in :mod:`.frameworks`. The URL must be
the one Twilio called, byte for byte: the one configured on the Proxy Service
(``callback_url``, ``intercept_callback_url``, ``out_of_session_callback_url``). Because
Twilio's signing is inconsistent about ports, a URL with a port is also tried without
it, and a URL without one with the scheme's default port added; never another port.

Only one thing is logged: a request naming a signature algorithm this module does not
know gets a WARNING on the ``proxy_async`` logger naming it (``repr``, cut to 40
characters), as twilio-python warns, since otherwise a new Twilio algorithm would turn
every webhook into a silent 403. No secret, URL, form or body is ever logged, and no
secret is put in an exception message or a repr.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from ..errors import InvalidParameterError
from .signing import (
    FormParams,
    Unsignable,
    checked_url,
    secret_key,
    sign,
    signature_matches,
    signed_params,
    usable_signature,
)

logger = logging.getLogger("proxy_async")

SIGNATURE_HEADER: Final = "X-Twilio-Signature"
"""Name of the HTTP header that carries Twilio's request signature."""

SIGNATURE_SETTINGS_HEADER: Final = "X-Twilio-Webhooks-Signature-Settings"
"""Name of the header Twilio adds to a request signed with a SharedKey:
``key=<SharedKey id>,algorithm=<algorithm>``. Absent for Auth Token signatures."""

HMAC_SHA1: Final = "HMAC_SHA1"
"""Twilio's name for HMAC-SHA1: Auth Token signatures, and the default."""

HMAC_SHA256: Final = "HMAC_SHA256"
"""Twilio's name for HMAC-SHA256, which a Webhook Setting may name for its SharedKey."""

BODY_HASH_PARAM: Final = "bodySHA256"
"""The query parameter Twilio appends to the URL of a JSON body: the body's SHA-256 hex."""

# Twilio's algorithm names, upper case, to hashlib's digest names.
_DIGESTS: Final = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}


def _digest_name(algorithm: object) -> str | None:
    """hashlib's name for Twilio's ``algorithm``; None for one it does not define.

    As twilio-python's ``RequestValidator`` reads it: case-insensitive (``str.upper``),
    and an empty name is the default, ``HMAC_SHA1``.
    """
    if not isinstance(algorithm, str):
        raise InvalidParameterError("algorithm", f"a str: {HMAC_SHA1} or {HMAC_SHA256}")
    return _DIGESTS.get((algorithm or HMAC_SHA1).upper())


def _warn_unsupported(algorithm: str) -> None:
    # The name comes from a request header: %r escapes control characters, and the cut
    # keeps one request from writing a long line.
    logger.warning(
        "webhook signature algorithm %r is not supported (only %s, %s): request refused",
        algorithm[:40],
        HMAC_SHA1,
        HMAC_SHA256,
    )


def compute_signature(
    auth_token: str, url: str, params: FormParams, *, algorithm: str = HMAC_SHA1
) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a form POST of ``params`` to ``url``.

    ``auth_token`` is the secret signed with: the Auth Token, or a SharedKey secret.
    ``algorithm`` is Twilio's name, ``HMAC_SHA1`` (the default; also for ``""``) or
    ``HMAC_SHA256``, in any case, as twilio-python's ``RequestValidator.compute_signature``
    takes it. The URL is used exactly as given (no port variants, no normalising). Raises
    :class:`~proxy_async.errors.InvalidParameterError` for an empty secret, an unknown
    algorithm, or text that is not a str or cannot be encoded as UTF-8.
    """
    if isinstance(auth_token, str) and not auth_token:
        raise InvalidParameterError("auth_token", "a non-empty str")
    key = secret_key(auth_token)
    text = checked_url(url) + signed_params(params)
    digest = _digest_name(algorithm)
    if digest is None:
        raise InvalidParameterError("algorithm", f"{HMAC_SHA1} or {HMAC_SHA256}", algorithm)
    try:
        return sign(key, text, "url or params", digest).decode("ascii")
    except Unsignable as exc:
        raise InvalidParameterError(exc.what, "text encodable as UTF-8") from None


def validate_signature(
    auth_token: str,
    url: str,
    params: FormParams,
    signature: str | None,
    *,
    algorithm: str = HMAC_SHA1,
) -> bool:
    """Whether ``signature`` is Twilio's signature of a form POST of ``params`` to ``url``.

    Accepts exactly what twilio-python's ``RequestValidator.validate(url, params,
    signature)`` accepts, with the one exception :func:`.signing.url_variants` gives (a port
    after a password or an IPv6 literal), where this accepts less. So ``url`` is the
    full URL Twilio called, query string included, and it is also tried with its port
    removed (default or not) or, without one, with the scheme's default port added: a
    Service configured with ``https://hooks.example.com:8443/cb`` accepts a signature
    over ``https://hooks.example.com/cb``, not the other way round. ``params`` is the
    decoded form (``{}`` without a body); a pair repeated verbatim counts once. A
    ``bodySHA256`` query parameter is an ordinary part of the URL here: for JSON bodies
    use :func:`validate_json_signature`.

    ``auth_token`` is the secret Twilio signed with: the Auth Token, or the SharedKey
    secret for a request with a signature settings header. ``algorithm`` is the HMAC,
    by Twilio's name as :func:`signature_algorithm` reads it from that header:
    ``HMAC_SHA1`` (the default; also for ``""``) or ``HMAC_SHA256``, in any case, as
    ``RequestValidator.validate(..., algorithm)`` takes it. Any other name gives False
    and a logged warning (see this module's docstring).

    Returns False, never raises, for a missing, empty, non-str or wrong signature, an
    empty token, an unknown algorithm, a URL ``urllib`` cannot parse, or text Twilio
    could not have signed (not UTF-8 encodable), where ``RequestValidator`` raises for
    some of these. A token, URL, ``params`` or algorithm of the wrong type is a
    programming error and raises :class:`~proxy_async.errors.InvalidParameterError`,
    whatever the signature. The
    comparison takes the same time wherever the signatures differ, and every URL
    variant is computed and compared. There is no size limit: the time is linear in
    the URL and form, so cap the body where the request is read.
    """
    key = secret_key(auth_token)
    url = checked_url(url)
    params_text = signed_params(params)
    digest = _digest_name(algorithm)
    usable = usable_signature(signature)
    if usable is None or not key:
        return False
    if digest is None:
        _warn_unsupported(algorithm)
        return False
    return signature_matches(key, url, params_text, usable, digest)


def query_values(url: str, name: str, *, keep_blank: bool) -> list[str]:
    """The decoded values of query parameter ``name`` in ``url``, in order; [] if unparseable."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return []
    return [value for key, value in parse_qsl(query, keep_blank_values=keep_blank) if key == name]


def _body_bytes(body: object) -> bytes | None:
    """``body`` as bytes; None for a str that is not UTF-8 encodable (Twilio cannot send it)."""
    if isinstance(body, bytes):
        return body
    if not isinstance(body, str):
        raise InvalidParameterError("body", "the raw request body as bytes (or a str)")
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        return None


def validate_json_signature(
    auth_token: str,
    url: str,
    body: bytes | str,
    signature: str | None,
    *,
    algorithm: str = HMAC_SHA1,
) -> bool:
    """Whether a JSON (or other non-form) ``body`` POSTed to ``url`` was signed by Twilio.

    For such bodies Twilio signs the URL alone (with the port variants of
    :func:`validate_signature`) and appends ``bodySHA256=<lowercase hex SHA-256 of the
    body>`` to it; the signature and the first non-empty ``bodySHA256`` value must both
    match, the digest exactly (an uppercase digest is refused), as twilio-python's
    ``RequestValidator.validate(url, body_text, signature, algorithm)`` checks them.
    ``algorithm`` names the signature's HMAC as for :func:`validate_signature`; the body
    digest is SHA-256 whatever it is. Without a
    non-empty ``bodySHA256`` nothing vouches for the body, so only an empty body can
    pass (``RequestValidator`` raises TypeError there for any other). ``body`` is the
    raw bytes received (a str is encoded as UTF-8). Same return and error rules as
    :func:`validate_signature`; a ``body`` that is neither bytes nor str raises
    :class:`~proxy_async.errors.InvalidParameterError`.
    """
    key = secret_key(auth_token)
    url = checked_url(url)
    raw = _body_bytes(body)
    digest = _digest_name(algorithm)
    usable = usable_signature(signature)
    if usable is None or not key or raw is None:
        return False
    if digest is None:
        _warn_unsupported(algorithm)
        return False
    declared = query_values(url, BODY_HASH_PARAM, keep_blank=False)
    if declared:
        body_digest = hashlib.sha256(raw).hexdigest()
        body_ok = declared[0].isascii() and hmac.compare_digest(body_digest, declared[0])
    else:
        body_ok = not raw
    signature_ok = signature_matches(key, url, "", usable, digest)
    return body_ok and signature_ok


def signature_algorithm(signature_settings: str | None) -> str:
    """The algorithm a ``X-Twilio-Webhooks-Signature-Settings`` header value names.

    The header is comma-separated ``name=value`` parts (``key=webhooks_sharedkey_...,
    algorithm=HMAC_SHA256``); the result is the first part named ``algorithm`` (exactly,
    after stripping whitespace) with a non-empty value, that value stripped and as sent
    (not case-folded), or ``HMAC_SHA1`` when there is none, the header is empty or it is
    absent (None): what twilio-python 9.13's ``get_signature_algorithm`` returns, checked
    by agreement in ``tests/webhooks/test_webhook_oracle.py``. Unknown names are returned too: the
    validators refuse them. A value that is neither a str nor None raises
    :class:`~proxy_async.errors.InvalidParameterError`.
    """
    if signature_settings is None:
        return HMAC_SHA1
    if not isinstance(signature_settings, str):
        raise InvalidParameterError("signature_settings", "the header value as a str, or None")
    for part in signature_settings.split(","):
        name, equals, value = part.partition("=")
        if equals and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return HMAC_SHA1
