"""Twilio's webhooks: request signatures, framework adapters, and typed callbacks.

- :mod:`.signing`: what Twilio signs (the signed string, the URL port variants, the HMAC);
- :mod:`.signature`: the pure checks, :func:`compute_signature`,
  :func:`validate_signature`, :func:`validate_json_signature`, :func:`signature_algorithm`;
- :mod:`.frameworks`: a request as received, in any framework (:func:`validate_request`),
  ASGI (:func:`asgi_request_url`) and ``aiohttp.web`` (:func:`verify_request`);
- :mod:`.form_reader` and :mod:`.callbacks`: a form read into :class:`ProxyCallback` or
  :class:`OutOfSessionCallback` (:func:`parse_callback`,
  :func:`parse_out_of_session_callback`).

Every exception out of this package is a :class:`~proxy_async.errors.ProxyError`: form
content is an :class:`InvalidCallbackError`, a programming error an
:class:`~proxy_async.errors.InvalidParameterError`; the one exception is aiohttp's
``HTTPRequestEntityTooLarge``, which :func:`verify_request` lets through.
"""

from ..errors import InvalidCallbackError
from .callbacks import (
    OutOfSessionCallback,
    OutOfSessionParticipant,
    ProxyCallback,
    parse_callback,
    parse_out_of_session_callback,
)
from .frameworks import asgi_request_url, validate_request, verify_request
from .signature import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    compute_signature,
    signature_algorithm,
    validate_json_signature,
    validate_signature,
)
from .signing import FormParams

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
