"""Credentials and the Authorization header.

Secrets live only inside :class:`Credentials` and the header value it builds; its
``repr``/``str`` show the Account SID and username, never the token or secret.
"""

from __future__ import annotations

import base64

from ..errors import InvalidParameterError
from ..validation import check_sid, has_lone_surrogate


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
            secret = check_secret(api_secret, "api_secret")
        else:
            if api_secret is not None:
                raise InvalidParameterError("api_key", "an SK SID whenever api_secret is given")
            self.username = self.account_sid
            secret = check_secret(auth_token, "auth_token")
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


def check_secret(secret: object, parameter: str) -> str:
    # The value is deliberately not echoed: it is a secret.
    if not isinstance(secret, str) or not secret:
        raise InvalidParameterError(parameter, "a non-empty string")
    if any(ch in secret for ch in "\r\n"):
        raise InvalidParameterError(parameter, "a string without line breaks")
    if has_lone_surrogate(secret):
        raise InvalidParameterError(parameter, "text encodable as UTF-8 (no lone surrogate)")
    return secret
