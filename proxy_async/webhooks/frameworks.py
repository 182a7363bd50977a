"""Check a webhook request as a web framework receives it: any framework, ASGI, aiohttp.

- :func:`validate_request` checks a request as received (URL, raw body,
  ``Content-Type``, signature settings header), in any framework, and picks the secret:
  give it the Auth Token, and the SharedKey secret as ``shared_key=`` if a Webhook Rule
  signs with one; it checks the body with :mod:`.signature`'s validators.
- :func:`asgi_request_url` gives the URL to check for an ASGI request (Starlette,
  FastAPI).
- :func:`verify_request` does the whole check from inside an ``aiohttp.web`` handler.

The URL must be the one Twilio called. A URL rebuilt behind a TLS-terminating proxy or
load balancer (``http://10.0.0.5:8080`` instead of ``https://example.com``) gives a
different signature, so pass the public URL there (``public_url=``). Forwarded headers
are never trusted: any client sets them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, quote

from ..errors import InvalidParameterError
from ..validation import has_lone_surrogate, is_int
from .signature import (
    BODY_HASH_PARAM,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    query_values,
    signature_algorithm,
    validate_json_signature,
    validate_signature,
)
from .signing import checked_url, secret_key, usable_signature

if TYPE_CHECKING:
    from aiohttp import web

_FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
# RFC 3986 pchar and "/" stay as they are; "%" too, since a decoded path may still hold one.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"


def _with_body_hash(public_url: str, raw_query: str) -> str:
    """``public_url``, plus the ``bodySHA256`` Twilio appended to it, if the request has one."""
    if not isinstance(public_url, str):
        raise InvalidParameterError("public_url", "a str: the URL configured on the Service")
    if query_values(public_url, BODY_HASH_PARAM, keep_blank=True):
        return public_url
    carried = [part for part in raw_query.split("&") if part.startswith(BODY_HASH_PARAM + "=")]
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
        and (server[1] is None or is_int(server[1]))
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
        secret_key(auth_token)
    if shared_key is not None:
        secret_key(shared_key, "shared_key")
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
    url = checked_url(url)
    if not isinstance(body, bytes):
        raise InvalidParameterError("body", "the raw request body as bytes")
    if content_type is not None and not isinstance(content_type, str):
        raise InvalidParameterError("content_type", "the Content-Type header as a str, or None")
    usable = usable_signature(signature)
    if usable is None or not secret:
        return False
    return _body_signed(secret, url, body, usable, _media_type(content_type), algorithm)


def _body_signed(
    secret: str, url: str, body: bytes, signature: str, media_type: str, algorithm: str
) -> bool:
    """Check ``body`` as JSON (a ``bodySHA256`` in ``url``), a form, or no body at all."""
    if query_values(url, BODY_HASH_PARAM, keep_blank=False):
        return validate_json_signature(secret, url, body, signature, algorithm=algorithm)
    if media_type == _FORM_CONTENT_TYPE:
        params = _form_params(body)
        return params is not None and validate_signature(
            secret, url, params, signature, algorithm=algorithm
        )
    if not body:
        return validate_signature(secret, url, {}, signature, algorithm=algorithm)
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
    signature = usable_signature(request.headers.get(SIGNATURE_HEADER))
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
