"""Check that a Proxy webhook really came from Twilio, and read its form into a typed model.

Signatures
----------
Twilio signs every webhook request and sends the result in the ``X-Twilio-Signature``
header: base64(HMAC(secret, string)), where the string is the full URL Twilio requested
followed, for a form body, by each parameter name and its value, names sorted, a
repeated name once per distinct value with its values sorted. By default the secret is
the account's Auth Token and the HMAC is HMAC-SHA1. When a Webhook Rule matches the URL,
Twilio signs with that Rule's Setting instead: the secret of a SharedKey, and the
algorithm the Setting names (``HMAC_SHA256`` or ``HMAC_SHA1``), and says so in the
``X-Twilio-Webhooks-Signature-Settings`` header (``key=<SharedKey id>,algorithm=HMAC_SHA256``);
only the hash changes, not the signed string (Twilio's "Sign webhooks with shared keys",
and twilio-python 9.13's ``get_signature_algorithm``). :func:`signature_algorithm` reads
that header; every function below takes the algorithm as ``algorithm=``.

What is accepted is what twilio-python's ``RequestValidator`` (9.x) accepts, checked by
agreement in ``tests/webhooks/test_webhook_oracle.py``, with one difference where it accepts a
URL with another host (see ``_url_variants``): there this accepts less.

- :func:`validate_signature` checks a form (``application/x-www-form-urlencoded``)
  request; it is what Proxy's callback, intercept and out-of-session webhooks send.
- :func:`validate_json_signature` checks a JSON body. Twilio then signs the URL alone
  and adds a ``bodySHA256`` query parameter holding the body's SHA-256 hex digest; the
  body is authentic only through that parameter, so a non-empty body under a URL
  without one is refused.
- :func:`validate_request` does either for a request as received (URL, raw body,
  ``Content-Type``, signature settings header), in any framework, and picks the secret:
  give it the Auth Token, and the SharedKey secret as ``shared_key=`` if a Webhook Rule
  signs with one; :func:`asgi_request_url` gives the URL to check for an ASGI request
  (Starlette, FastAPI).
- :func:`verify_request` does the same from inside an ``aiohttp.web`` handler.

The URL must be the one Twilio called, byte for byte: the one configured on the Proxy
Service (``callback_url``, ``intercept_callback_url``, ``out_of_session_callback_url``).
A URL rebuilt behind a TLS-terminating proxy or load balancer (``http://10.0.0.5:8080``
instead of ``https://example.com``) gives a different signature, so pass the public URL
there. Because Twilio's signing is inconsistent about ports, a URL with a port is also
tried without it (``https://hooks.example.com:8443/cb`` accepts a signature over
``https://hooks.example.com/cb``), and a URL without one with the scheme's default port
added (443 for https, 80 otherwise); never another port.

The signed string has no delimiters, so two forms whose names and values concatenate
the same (``a=bc`` and ``ab=c``) share a signature: that is Twilio's scheme, and no
validator can tell them apart. Forms that differ only by a pair repeated verbatim
(``a=1`` and ``a=1&a=1``) share one too, since RequestValidator signs each distinct
value once; no value can be changed, added or removed that way.

Parsing
-------
:func:`parse_callback` reads a CallbackUrl or InterceptCallbackUrl form into a
:class:`ProxyCallback`; :func:`parse_out_of_session_callback` reads an
OutOfSessionCallbackUrl form into an :class:`OutOfSessionCallback`. Parameters Twilio
may add later, or that are not modelled, land in ``extra``. Required: ``interactionSid``
for the former; ``AccountSid``, ``From`` and ``To`` for the latter. An empty value counts
as absent. A malformed form raises :class:`InvalidCallbackError` naming the parameter; its
message never repeats the value, which may be a phone number or a message body.

Only one thing is logged: a request naming a signature algorithm this module does not
know gets a WARNING on the ``proxy_async`` logger naming it (``repr``, cut to 40
characters), as twilio-python warns, since otherwise a new Twilio algorithm would turn
every webhook into a silent 403. No secret, URL, form or body is ever logged, and no
secret is put in an exception message or a repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import parse_qsl, quote, urlparse, urlsplit

import attrs
from multidict import MultiMapping

from proxy_async.models.hooks import parse_datetime
from proxy_async.models.records import decode_data
from proxy_async.validation import has_lone_surrogate

from ..errors import InvalidCallbackError, InvalidParameterError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "HMAC_SHA1",
    "HMAC_SHA256",
    "SIGNATURE_HEADER",
    "SIGNATURE_SETTINGS_HEADER",
    "FormParams",
    "InvalidCallbackError",
    "OutOfSessionCallback",
    "OutOfSessionParticipant",
    "ProxyCallback",
    "asgi_request_url",
    "compute_signature",
    "parse_callback",
    "parse_out_of_session_callback",
    "signature_algorithm",
    "validate_json_signature",
    "validate_request",
    "validate_signature",
    "verify_request",
]

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

# Twilio's algorithm names, upper case, to hashlib's digest names.
_DIGESTS: Final = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}

FormParams: TypeAlias = Mapping[str, str | Sequence[str]] | MultiMapping[object]
"""A decoded form: name to value or list of values, or a multidict (aiohttp's ``post()``)."""

_DEFAULT_PORTS: Final = {"https": "443", "http": "80"}
_BODY_HASH_PARAM: Final = "bodySHA256"
_FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
# RFC 3986 pchar and "/" stay as they are; "%" too, since a decoded path may still hold one.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"


# --------------------------------------------------------------------------- signatures


class _Unsignable(Exception):
    """Some text cannot be encoded as UTF-8, so Twilio cannot have signed it."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


def _secret_key(secret: object, parameter: str = "auth_token") -> bytes:
    """The HMAC key for ``secret`` (an Auth Token or SharedKey secret), named ``parameter``."""
    if not isinstance(secret, str):
        raise InvalidParameterError(parameter, "a str")
    key: bytes | None
    try:
        key = secret.encode("utf-8")
    except UnicodeEncodeError:
        key = None
    if key is None:
        # Raised outside the except block: a chained UnicodeEncodeError would carry
        # the whole secret in its .object attribute.
        raise InvalidParameterError(parameter, "text encodable as UTF-8")
    return key


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


def _checked_url(url: object) -> str:
    if not isinstance(url, str):
        raise InvalidParameterError("url", "a str: the full URL Twilio requested")
    return url


def _param_values(params: FormParams, name: str) -> list[str]:
    if isinstance(params, MultiMapping):
        raw: Sequence[object] = params.getall(name)
    else:
        value: object = params[name]
        if isinstance(value, str):
            return [value]
        if isinstance(value, (bytes, bytearray)) or not isinstance(value, Sequence):
            raise InvalidParameterError(f"params[{name!r}]", "a str or a sequence of str")
        raw = value
    values: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise InvalidParameterError(f"params[{name!r}]", "a str or a sequence of str")
        values.append(item)
    return values


def _signed_params(params: FormParams) -> str:
    """The form's part of the signed string: each name then value, names sorted.

    A name's distinct values follow it in sorted order, each once: a pair repeated
    verbatim (``a=1&a=1``) is signed as one, as twilio-python's ``RequestValidator``
    computes it (``sorted(set(values))``). Order is Python's, by code point.
    """
    if not isinstance(params, Mapping):
        raise InvalidParameterError("params", "a mapping of form names to str or lists of str")
    # set(): a multidict yields a repeated name once per value.
    names = set(params)
    for name in names:
        if not isinstance(name, str):
            raise InvalidParameterError("params", "a mapping with str keys")
    parts: list[str] = []
    for name in sorted(names):
        for value in sorted(set(_param_values(params, name))):
            parts.append(name)
            parts.append(value)
    return "".join(parts)


def _sign(key: bytes, text: str, what: str, digest: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Unsignable(what) from None
    return base64.b64encode(hmac.new(key, data, digest).digest())


def _url_variants(url: str) -> tuple[str, ...]:
    """The URLs a signature for a request to ``url`` may have been computed over.

    Twilio's signing is inconsistent about ports, so twilio-python's ``RequestValidator``
    (9.x, ``validate``) tries two forms of the URL as ``urllib.parse.urlparse`` parses
    and re-joins it (``geturl()``), and these are the same two:

    - the URL has a port (other than 0): the URL, and the URL without its port,
      default (``:443``) or not (``:8443``);
    - it has none: the URL, and the URL with ``:443`` added for ``https``, ``:80``
      for any other scheme.

    Re-joining normalises as ``urllib`` does (scheme lowercased; an empty ``?``, ``#``
    or trailing ``;`` dropped; tabs and newlines removed), so the URL is not always tried
    exactly as given. A URL ``urllib`` refuses (a port that is not a number in 0..65535, an
    unclosed ``[``) gives no variant: nothing matches.

    One deliberate difference: where the authority holds a ``:`` before the port (a
    password in ``user:pw@host:8443``, an IPv6 literal ``[::1]:8443``),
    ``RequestValidator`` cuts it at the first ``:`` and so also accepts a signature
    over ``https://user/...`` or ``https://[/...``: a URL with another host, or none,
    that Twilio never requests. That variant is not tried; only the URL itself is.
    """
    try:
        parts = urlparse(url)
        port = parts.port
    except ValueError:
        return ()
    joined = parts.geturl()
    if not port:
        default = _DEFAULT_PORTS["https"] if parts.scheme == "https" else _DEFAULT_PORTS["http"]
        return (joined, parts._replace(netloc=f"{parts.netloc}:{default}").geturl())
    if parts.netloc.count(":") != 1:
        return (joined,)
    return (joined, parts._replace(netloc=parts.netloc.partition(":")[0]).geturl())


def _signature_matches(
    key: bytes, url: str, signed_params: str, signature: str, digest: str
) -> bool:
    expected = signature.encode("ascii")
    matched = False
    try:
        for variant in _url_variants(url):
            computed = _sign(key, variant + signed_params, "url or params", digest)
            # |= rather than any(): try every variant, whichever matches.
            matched |= hmac.compare_digest(computed, expected)
    except _Unsignable:
        return False
    return matched


def _usable_signature(signature: object) -> str | None:
    if not isinstance(signature, str) or not signature or not signature.isascii():
        return None
    return signature


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
    key = _secret_key(auth_token)
    text = _checked_url(url) + _signed_params(params)
    digest = _digest_name(algorithm)
    if digest is None:
        raise InvalidParameterError("algorithm", f"{HMAC_SHA1} or {HMAC_SHA256}", algorithm)
    try:
        return _sign(key, text, "url or params", digest).decode("ascii")
    except _Unsignable as exc:
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
    signature)`` accepts, with the one exception :func:`_url_variants` gives (a port
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
    and a logged warning (see the module docstring).

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
    key = _secret_key(auth_token)
    url = _checked_url(url)
    signed_params = _signed_params(params)
    digest = _digest_name(algorithm)
    usable = _usable_signature(signature)
    if usable is None or not key:
        return False
    if digest is None:
        _warn_unsupported(algorithm)
        return False
    return _signature_matches(key, url, signed_params, usable, digest)


def _query_values(url: str, name: str, *, keep_blank: bool) -> list[str]:
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
    key = _secret_key(auth_token)
    url = _checked_url(url)
    raw = _body_bytes(body)
    digest = _digest_name(algorithm)
    usable = _usable_signature(signature)
    if usable is None or not key or raw is None:
        return False
    if digest is None:
        _warn_unsupported(algorithm)
        return False
    declared = _query_values(url, _BODY_HASH_PARAM, keep_blank=False)
    if declared:
        body_digest = hashlib.sha256(raw).hexdigest()
        body_ok = declared[0].isascii() and hmac.compare_digest(body_digest, declared[0])
    else:
        body_ok = not raw
    signature_ok = _signature_matches(key, url, "", usable, digest)
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


def _with_body_hash(public_url: str, raw_query: str) -> str:
    """``public_url``, plus the ``bodySHA256`` Twilio appended to it, if the request has one."""
    if not isinstance(public_url, str):
        raise InvalidParameterError("public_url", "a str: the URL configured on the Service")
    if _query_values(public_url, _BODY_HASH_PARAM, keep_blank=True):
        return public_url
    carried = [part for part in raw_query.split("&") if part.startswith(_BODY_HASH_PARAM + "=")]
    if not carried:
        return public_url
    base, hash_mark, fragment = public_url.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{'&'.join(carried)}{hash_mark}{fragment}"


def _request_url(request: web.Request, public_url: str | None) -> str:
    if public_url is None:
        # raw_path is the path and query exactly as sent; request.url would re-quote them.
        return f"{request.scheme}://{request.host}{request.raw_path}"
    return _with_body_hash(public_url, request.raw_path.partition("#")[0].partition("?")[2])


def _header(headers: object, name: bytes) -> str | None:
    """The first ``name`` header of ASGI ``headers`` (byte pairs, names lower-case)."""
    if isinstance(headers, (str, bytes, bytearray)) or not isinstance(headers, Iterable):
        raise InvalidParameterError("scope['headers']", "an iterable of (name, value) bytes")
    for pair in headers:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise InvalidParameterError("scope['headers']", "an iterable of (name, value) bytes")
        key, value = pair
        if not (isinstance(key, bytes) and isinstance(value, bytes)):
            raise InvalidParameterError("scope['headers']", "an iterable of (name, value) bytes")
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _scope_bytes(scope: Mapping[str, Any], key: str) -> bytes:
    """``scope[key]`` (bytes, as ASGI gives ``query_string`` and ``raw_path``); b"" if absent."""
    value = scope.get(key)
    if value is None:
        return b""
    if not isinstance(value, (bytes, bytearray)):
        raise InvalidParameterError(f"scope[{key!r}]", "bytes, as the ASGI HTTP scope gives it")
    return bytes(value)


def _scope_server_host(scope: Mapping[str, Any]) -> str:
    """``host[:port]`` from ASGI ``scope["server"]``: a (host, port) pair, port int or None."""
    server = scope.get("server")
    if not server:
        raise InvalidParameterError("scope", "an HTTP scope with a Host header or server")
    if not (
        isinstance(server, (tuple, list))
        and len(server) == 2
        and isinstance(server[0], str)
        and (server[1] is None or (isinstance(server[1], int) and not isinstance(server[1], bool)))
    ):
        raise InvalidParameterError("scope['server']", "a (host, port) pair")
    name, port = server
    host = f"[{name}]" if ":" in name else name
    return host if port is None else f"{host}:{port}"


def asgi_request_url(scope: Mapping[str, Any], *, public_url: str | None = None) -> str:
    """The URL to check a signature against, for a request given as its ASGI HTTP ``scope``.

    For Starlette, FastAPI and any ASGI framework (``request.scope``). By default the URL
    is rebuilt as the client sent it: scheme, ``Host`` header, ``raw_path`` and query
    string. Not ``str(request.url)``: Starlette builds that from the decoded path, so
    ``/a%20b`` would come back as ``/a b`` and never match. Behind a reverse proxy or
    load balancer pass ``public_url`` as for :func:`verify_request`; it is returned with
    Twilio's ``bodySHA256`` carried over from the request. Forwarded headers are ignored.
    Raises :class:`~proxy_async.errors.InvalidParameterError` naming the part of
    ``scope`` that is not as the ASGI specification gives it.
    """
    if not isinstance(scope, Mapping):
        raise InvalidParameterError("scope", "the ASGI HTTP scope, a mapping")
    query = _scope_bytes(scope, "query_string").decode("latin-1")
    if public_url is not None:
        return _with_body_hash(public_url, query)
    host = _header(scope.get("headers") or (), b"host")
    if host is None:
        host = _scope_server_host(scope)
    raw_path = _scope_bytes(scope, "raw_path")
    if raw_path:
        path = raw_path.decode("utf-8", "replace").partition("?")[0]
    else:
        # Servers without raw_path give only the decoded path: quote it back.
        decoded = str(scope.get("root_path", "")) + str(scope.get("path", "/"))
        if has_lone_surrogate(decoded):  # no bytes were sent that decode to it
            raise InvalidParameterError("scope", "a 'path' UTF-8 can encode (no lone surrogate)")
        path = quote(decoded, safe=_PATH_SAFE)
    scheme = str(scope.get("scheme") or "http")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def _form_params(body: bytes) -> dict[str, list[str]] | None:
    """A form body decoded as Twilio signed it; None when it is not UTF-8."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        return None
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def _request_secret(
    auth_token: str | None, shared_key: str | None, signature_settings: str | None
) -> tuple[str | None, str]:
    """The secret and algorithm to check a request with; a None secret refuses it.

    Twilio signs with the Auth Token and HMAC-SHA1 unless a Webhook Rule applies, and
    then with the Rule's SharedKey and algorithm, adding the settings header (Twilio's
    shared-key guide; twilio-node's ``webhook()`` middleware picks the secret the same
    way). So with ``shared_key`` given, a request with a non-empty settings header is
    checked with it alone, one without with ``auth_token`` alone (None: refused).
    Without ``shared_key``, ``auth_token`` is the one secret, checked with the header's
    algorithm: twilio-python's ``RequestValidator(auth_token).validate(..., algorithm)``.
    """
    if auth_token is None and shared_key is None:
        raise InvalidParameterError("auth_token", "a str, or None when shared_key is given")
    if auth_token is not None:
        _secret_key(auth_token)
    if shared_key is not None:
        _secret_key(shared_key, "shared_key")
    algorithm = signature_algorithm(signature_settings)
    if shared_key is not None and signature_settings:
        return shared_key, algorithm
    return auth_token, algorithm


def validate_request(
    auth_token: str | None,
    url: str,
    body: bytes,
    signature: str | None,
    *,
    content_type: str | None,
    signature_settings: str | None = None,
    shared_key: str | None = None,
) -> bool:
    """Whether a request, as received, carries Twilio's valid ``X-Twilio-Signature``.

    The framework-neutral core of :func:`verify_request`: ``url`` is the URL Twilio
    called (see :func:`asgi_request_url`), ``body`` the raw bytes, ``content_type`` the
    ``Content-Type`` header (parameters such as ``charset`` are ignored),
    ``signature_settings`` the ``X-Twilio-Webhooks-Signature-Settings`` header (None when
    absent). A URL with a non-empty ``bodySHA256`` query parameter is checked as a JSON
    body (:func:`validate_json_signature`); otherwise a form body (UTF-8, as Twilio sends
    it) is checked with :func:`validate_signature`, an empty body as a request without
    parameters, and any other body is refused.

    Secrets: ``auth_token`` is the account's Auth Token, ``shared_key`` the secret of
    the SharedKey a Webhook Rule signs this URL's webhooks with, if any. The algorithm
    is the one the settings header names (:func:`signature_algorithm`; ``HMAC_SHA1``
    without it). The secret:

    - without ``shared_key``: ``auth_token``, whatever the header, as twilio-python's
      ``RequestValidator(auth_token)`` would check it (so a single SharedKey secret may
      also be passed as ``auth_token``, as there);
    - with ``shared_key``: ``shared_key`` for a request with a non-empty settings
      header, ``auth_token`` for one without; never the other one, so a request cannot
      choose which of the two secrets checks it by naming an algorithm. Pass
      ``auth_token=None`` to refuse every request not signed with the SharedKey.

    Same return and error rules as :func:`validate_signature` (an unknown algorithm is
    False, and logged); a ``body`` that is not bytes, a secret, ``content_type`` or header
    value that is not a str, or neither secret given raises
    :class:`~proxy_async.errors.InvalidParameterError`.
    """
    secret, algorithm = _request_secret(auth_token, shared_key, signature_settings)
    url = _checked_url(url)
    if not isinstance(body, bytes):
        raise InvalidParameterError("body", "the raw request body as bytes")
    if content_type is not None and not isinstance(content_type, str):
        raise InvalidParameterError("content_type", "the Content-Type header as a str, or None")
    usable = _usable_signature(signature)
    if usable is None or not secret:
        return False
    if _query_values(url, _BODY_HASH_PARAM, keep_blank=False):
        return validate_json_signature(secret, url, body, usable, algorithm=algorithm)
    if _media_type(content_type) == _FORM_CONTENT_TYPE:
        params = _form_params(body)
        return params is not None and validate_signature(
            secret, url, params, usable, algorithm=algorithm
        )
    if not body:
        return validate_signature(secret, url, {}, usable, algorithm=algorithm)
    return False


async def verify_request(
    request: web.Request,
    auth_token: str | None,
    *,
    public_url: str | None = None,
    shared_key: str | None = None,
) -> bool:
    """Whether an ``aiohttp.web`` request carries a valid ``X-Twilio-Signature``.

    The signature covers the URL Twilio called, so the URL checked must be that one.
    By default it is rebuilt from the request (scheme, ``Host`` header, raw path and
    query), which is right only when Twilio reaches this server directly. Behind a
    reverse proxy or load balancer, pass ``public_url``: the full URL configured on the
    Proxy Service, query string included. It is used verbatim, except that the
    ``bodySHA256`` Twilio appends for a JSON body is carried over from the request.
    Forwarded headers (``X-Forwarded-Proto``...) are not trusted: any client sets them.

    The ``X-Twilio-Webhooks-Signature-Settings`` header names the algorithm, and with
    ``shared_key`` given picks the secret, as :func:`validate_request` says. The body is
    checked as :func:`validate_request` says, and stays readable afterwards
    (``await request.post()``). Returns False for a missing header or bad signature;
    aiohttp's own errors for an oversized body propagate (aiohttp answers them with 413).
    A ``request`` that is not an ``aiohttp.web`` request raises
    :class:`~proxy_async.errors.InvalidParameterError`.
    """
    from aiohttp.web import BaseRequest  # here: only aiohttp.web users need it loaded

    if not isinstance(request, BaseRequest):
        raise InvalidParameterError("request", "an aiohttp.web request")
    settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    secret, _ = _request_secret(auth_token, shared_key, settings)
    signature = _usable_signature(request.headers.get(SIGNATURE_HEADER))
    if signature is None or not secret:
        return False
    url = _request_url(request, public_url)
    body = await request.read()
    return validate_request(
        auth_token,
        url,
        body,
        signature,
        content_type=request.content_type,
        signature_settings=settings,
        shared_key=shared_key,
    )


# ----------------------------------------------------------------------------- parsing

_SID_HEX: Final = "[0-9a-fA-F]{32}"


def _extra_value(values: list[str]) -> str | tuple[str, ...]:
    return values[0] if len(values) == 1 else tuple(values)


class _FormReader:
    """Takes parameters out of a normalised form; what is left over becomes ``extra``."""

    def __init__(self, form: Mapping[str, object]) -> None:
        if not isinstance(form, Mapping):
            raise InvalidCallbackError("<form>", "expected a mapping of parameter names")
        self._values: dict[str, list[str]] = {}
        for name in form:
            if not isinstance(name, str):
                raise InvalidCallbackError(repr(name), "parameter names must be str")
            if name in self._values:  # a multidict yields a repeated name once per value
                continue
            raw: object = form.getall(name) if isinstance(form, MultiMapping) else form[name]
            self._values[name] = self._texts(name, raw)

    @staticmethod
    def _texts(name: str, raw: object) -> list[str]:
        items: Sequence[object]
        if isinstance(raw, str):
            return [raw]
        if isinstance(raw, Sequence) and not isinstance(raw, (bytes, bytearray)):
            items = raw
        else:
            raise InvalidCallbackError(name, f"expected text, got {type(raw).__name__}")
        texts: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidCallbackError(name, f"expected text, got {type(item).__name__}")
            texts.append(item)
        return texts

    def text(self, name: str) -> str | None:
        values = self._values.pop(name, None)
        if values is None:
            return None
        if len(values) != 1:
            raise InvalidCallbackError(name, f"expected a single value, got {len(values)}")
        return values[0] or None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise InvalidCallbackError(name, "required but missing or empty")
        return value

    def sid(self, name: str, prefix: str | None) -> str | None:
        value = self.text(name)
        return None if value is None else _checked_sid(name, value, prefix)

    def required_sid(self, name: str, prefix: str) -> str:
        return _checked_sid(name, self.required(name), prefix)

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise InvalidCallbackError(name, "expected an absolute http(s) URL")
        return value

    def date(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        parsed = _parse_datetime(value)
        if parsed is None:
            raise InvalidCallbackError(name, "expected an ISO 8601 date-time")
        return parsed

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            raise InvalidCallbackError(name, "expected a non-negative integer")
        try:
            return int(value)
        except ValueError:  # more digits than Python's int conversion limit (4,300)
            raise InvalidCallbackError(name, "expected an integer of fewer digits") from None

    def has_any(self, prefix: str) -> bool:
        return any(name.startswith(prefix) for name in self._values)

    def rest(self) -> Mapping[str, str | tuple[str, ...]]:
        return {name: _extra_value(values) for name, values in self._values.items()}


def _checked_sid(name: str, value: str, prefix: str | None) -> str:
    if re.fullmatch((prefix or "[A-Z]{2}") + _SID_HEX, value) is None:
        kind = f"{prefix} SID" if prefix else "SID"
        raise InvalidCallbackError(name, f"expected a {kind} (2 letters, 32 hex digits)")
    return value


# models.hooks.parse_datetime also reads a bare date ("2018-03-13") as midnight, since
# datetime.fromisoformat() does; a webhook timestamp without a time of day is malformed
# instead, so a clock time (HH:MM) is required first. That also refuses, on every Python,
# the basic ("20180313T224254Z") and hour-only forms that only 3.11+'s fromisoformat reads.
_CLOCK_TIME: Final = re.compile(r"\d{2}:\d{2}", re.ASCII)


def _parse_datetime(value: str) -> datetime | None:
    if _CLOCK_TIME.search(value) is None:
        return None
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        return None


def _read_only(
    mapping: Mapping[str, str | tuple[str, ...]],
) -> Mapping[str, str | tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


@attrs.frozen(kw_only=True)
class ProxyCallback:
    """One CallbackUrl or InterceptCallbackUrl request: an Interaction happened.

    Only ``interaction_sid`` is required: every interaction webhook names its
    Interaction, while the legs (an intercept callback has no outbound leg yet) and the
    other fields vary. Absent or empty parameters are None; dates are aware UTC.
    ``interaction_data`` is ``interactionData`` decoded as
    :attr:`Interaction.decoded_data <proxy_async.models.Interaction.decoded_data>` decodes
    it: the JSON value (e.g. ``{"body": "hello"}`` or ``{"duration": "5"}``), or the text
    itself when it is not JSON; None when absent. ``interaction_data_raw`` keeps the text
    as sent. Treat the decoded value as read-only.
    """

    interaction_sid: str
    interaction_type: str | None = None
    interaction_data_raw: str | None = None
    interaction_data: Any = attrs.field(default=None, hash=False)
    interaction_account_sid: str | None = None
    interaction_service_sid: str | None = None
    interaction_session_sid: str | None = None
    interaction_date_created: datetime | None = None
    interaction_date_updated: datetime | None = None
    inbound_participant_sid: str | None = None
    inbound_resource_sid: str | None = None
    inbound_resource_status: str | None = None
    inbound_resource_type: str | None = None
    inbound_resource_url: str | None = None
    outbound_participant_sid: str | None = None
    outbound_resource_sid: str | None = None
    outbound_resource_status: str | None = None
    outbound_resource_type: str | None = None
    outbound_resource_url: str | None = None
    extra: Mapping[str, str | tuple[str, ...]] = attrs.field(
        factory=dict, converter=_read_only, hash=False
    )

    @property
    def message_body(self) -> str | None:
        """The text of a message interaction (``interactionData``'s ``body``), if any."""
        data = self.interaction_data
        if isinstance(data, dict):
            body = data.get("body")
            if isinstance(body, str):
                return body
        return None


def parse_callback(form: Mapping[str, object]) -> ProxyCallback:
    """Read a CallbackUrl or InterceptCallbackUrl form into a :class:`ProxyCallback`.

    ``form`` maps names to a str or a list of str (a plain dict, or aiohttp's
    ``await request.post()``). Raises :class:`InvalidCallbackError` naming the parameter
    when ``interactionSid`` is missing, a known parameter is repeated or not text, a SID
    lacks its prefix (``KI``, ``KC``, ``KS``, ``AC``, ``KP``) or a date or URL is
    malformed. Check the signature first: this does not.
    """
    reader = _FormReader(form)
    interaction_sid = reader.required_sid("interactionSid", "KI")
    data = reader.text("interactionData")
    return ProxyCallback(
        interaction_sid=interaction_sid,
        interaction_type=reader.text("interactionType"),
        interaction_data_raw=data,
        interaction_data=decode_data(data),
        interaction_account_sid=reader.sid("interactionAccountSid", "AC"),
        interaction_service_sid=reader.sid("interactionServiceSid", "KS"),
        interaction_session_sid=reader.sid("interactionSessionSid", "KC"),
        interaction_date_created=reader.date("interactionDateCreated"),
        interaction_date_updated=reader.date("interactionDateUpdated"),
        inbound_participant_sid=reader.sid("inboundParticipantSid", "KP"),
        inbound_resource_sid=reader.sid("inboundResourceSid", None),
        inbound_resource_status=reader.text("inboundResourceStatus"),
        inbound_resource_type=reader.text("inboundResourceType"),
        inbound_resource_url=reader.url("inboundResourceUrl"),
        outbound_participant_sid=reader.sid("outboundParticipantSid", "KP"),
        outbound_resource_sid=reader.sid("outboundResourceSid", None),
        outbound_resource_status=reader.text("outboundResourceStatus"),
        outbound_resource_type=reader.text("outboundResourceType"),
        outbound_resource_url=reader.url("outboundResourceUrl"),
        extra=reader.rest(),
    )


@attrs.frozen(kw_only=True)
class OutOfSessionParticipant:
    """A Participant of the caller's earlier Session, as an out-of-session webhook tells it."""

    sid: str | None = None
    identifier: str | None = None
    friendly_name: str | None = None
    proxy_identifier: str | None = None
    proxy_identifier_sid: str | None = None
    account_sid: str | None = None
    service_sid: str | None = None
    session_sid: str | None = None
    date_created: datetime | None = None
    date_updated: datetime | None = None


@attrs.frozen(kw_only=True)
class OutOfSessionCallback:
    """One OutOfSessionCallbackUrl request: a call or message outside any open Session.

    It carries Twilio's usual inbound SMS or voice parameters (``From``, ``To``,
    ``Body``, ``MessageSid`` or ``CallSid``...) plus what Proxy knows of the sender's
    last Session (``session*``) and its Participants (``inboundParticipant*``,
    ``outboundParticipant*``). Required: ``AccountSid``, ``From`` and ``To``, which every
    inbound call or message has; the rest may be absent (None), e.g. when there was no
    earlier Session. Other parameters (``FromCity``, ``NumMedia``...) are in ``extra``.
    """

    account_sid: str
    from_: str
    to: str
    body: str | None = None
    message_sid: str | None = None
    call_sid: str | None = None
    call_status: str | None = None
    session_sid: str | None = None
    session_unique_name: str | None = None
    session_account_sid: str | None = None
    session_service_sid: str | None = None
    session_status: str | None = None
    session_mode: str | None = None
    session_closed_reason: str | None = None
    session_ttl: int | None = None
    session_date_created: datetime | None = None
    session_date_started: datetime | None = None
    session_date_updated: datetime | None = None
    session_date_ended: datetime | None = None
    session_date_last_interaction: datetime | None = None
    inbound_participant: OutOfSessionParticipant | None = None
    outbound_participant: OutOfSessionParticipant | None = None
    extra: Mapping[str, str | tuple[str, ...]] = attrs.field(
        factory=dict, converter=_read_only, hash=False
    )

    @property
    def kind(self) -> str:
        """``"message"``, ``"voice"``, or ``"unknown"`` when neither SID is present."""
        if self.message_sid is not None:
            return "message"
        if self.call_sid is not None:
            return "voice"
        return "unknown"


def _participant(reader: _FormReader, prefix: str) -> OutOfSessionParticipant | None:
    if not reader.has_any(prefix):
        return None
    participant = OutOfSessionParticipant(
        sid=reader.sid(f"{prefix}Sid", "KP"),
        identifier=reader.text(f"{prefix}Identifier"),
        friendly_name=reader.text(f"{prefix}FriendlyName"),
        proxy_identifier=reader.text(f"{prefix}ProxyIdentifier"),
        proxy_identifier_sid=reader.sid(f"{prefix}ProxyIdentifierSid", None),
        account_sid=reader.sid(f"{prefix}AccountSid", "AC"),
        service_sid=reader.sid(f"{prefix}ServiceSid", "KS"),
        session_sid=reader.sid(f"{prefix}SessionSid", "KC"),
        date_created=reader.date(f"{prefix}DateCreated"),
        date_updated=reader.date(f"{prefix}DateUpdated"),
    )
    return None if participant == OutOfSessionParticipant() else participant


def parse_out_of_session_callback(form: Mapping[str, object]) -> OutOfSessionCallback:
    """Read an OutOfSessionCallbackUrl form into an :class:`OutOfSessionCallback`.

    Same input and error rules as :func:`parse_callback`; required parameters are
    ``AccountSid``, ``From`` and ``To``. A participant whose parameters are all absent
    or empty is None.
    """
    reader = _FormReader(form)
    return OutOfSessionCallback(
        account_sid=reader.required_sid("AccountSid", "AC"),
        from_=reader.required("From"),
        to=reader.required("To"),
        body=reader.text("Body"),
        message_sid=reader.sid("MessageSid", None),
        call_sid=reader.sid("CallSid", "CA"),
        call_status=reader.text("CallStatus"),
        session_sid=reader.sid("sessionSid", "KC"),
        session_unique_name=reader.text("sessionUniqueName"),
        session_account_sid=reader.sid("sessionAccountSid", "AC"),
        session_service_sid=reader.sid("sessionServiceSid", "KS"),
        session_status=reader.text("sessionStatus"),
        session_mode=reader.text("sessionMode"),
        session_closed_reason=reader.text("sessionClosedReason"),
        session_ttl=reader.integer("ttl"),
        session_date_created=reader.date("sessionDateCreated"),
        session_date_started=reader.date("sessionDateStarted"),
        session_date_updated=reader.date("sessionDateUpdated"),
        session_date_ended=reader.date("sessionDateEnded"),
        session_date_last_interaction=reader.date("sessionDateLastInteraction"),
        inbound_participant=_participant(reader, "inboundParticipant"),
        outbound_participant=_participant(reader, "outboundParticipant"),
        extra=reader.rest(),
    )
