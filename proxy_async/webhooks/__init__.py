"""Twilio's webhooks: request signatures, framework adapters, and typed callbacks."""

from ..errors import InvalidCallbackError
from .signature import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    FormParams,
    OutOfSessionCallback,
    OutOfSessionParticipant,
    ProxyCallback,
    asgi_request_url,
    compute_signature,
    parse_callback,
    parse_out_of_session_callback,
    signature_algorithm,
    validate_json_signature,
    validate_request,
    validate_signature,
    verify_request,
)

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
