"""Checks on what callers pass in, run before any request is built.

Only caller input is checked against Twilio's SID patterns; what a server returns is
taken as sent (Twilio's own reference examples put ``"string"`` in SID fields).
"""

from __future__ import annotations

import re

from .errors import InvalidParameterError

MAX_PAGE_SIZE = 1000
"""Largest ``PageSize`` Twilio accepts."""

_HEX32 = "[0-9a-fA-F]{32}"


def _sid_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(f"{prefix}{_HEX32}")


SID_PATTERNS: dict[str, re.Pattern[str]] = {
    prefix: _sid_pattern(prefix) for prefix in ("AC", "SK", "KS", "KC", "KP", "KI")
}
"""Pattern of each SID kind this client accepts from callers (two letters + 32 hex)."""


def check_sid(value: object, prefix: str, parameter: str) -> str:
    """Return ``value`` if it is a ``prefix`` SID, else raise :class:`InvalidParameterError`."""
    pattern = SID_PATTERNS[prefix]
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidParameterError(parameter, f"a {prefix} SID matching ^{prefix}{_HEX32}$", value)
    return value


def check_limit(limit: object) -> int | None:
    """Validate a record ``limit``: None (no limit) or an int >= 1."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidParameterError("limit", "None or an integer >= 1", limit)
    return limit


def page_size_for(page_size: object, limit: int | None) -> int | None:
    """The ``PageSize`` to send: an explicit value capped at 1000, else ``min(limit, 1000)``.

    None means "let the server choose" (Twilio's default is 50). Above 1000 is
    clamped to 1000, as the official SDKs do, so ``page_size=5000`` asks for the
    largest page allowed; a non-integer or a value below 1 is a caller bug and raises.
    """
    if page_size is None:
        return None if limit is None else min(limit, MAX_PAGE_SIZE)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidParameterError(
            "page_size", "None or an integer >= 1 (capped at 1000)", page_size
        )
    return min(page_size, MAX_PAGE_SIZE)


def check_message(body: object, media_url: object) -> tuple[str | None, list[str]]:
    """Validate the form of a Message Interaction create: a non-empty body and/or media URLs."""
    if body is not None and (not isinstance(body, str) or not body.strip()):
        raise InvalidParameterError("body", "a non-empty string", body)
    urls: list[str] = []
    if media_url is not None:
        candidates = [media_url] if isinstance(media_url, str) else media_url
        if not isinstance(candidates, (list, tuple)):
            raise InvalidParameterError(
                "media_url", "a URL string or a list of URL strings", media_url
            )
        for url in candidates:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InvalidParameterError("media_url", "absolute http(s) URLs", url)
            urls.append(url)
    if body is None and not urls:
        raise InvalidParameterError("body", "a non-empty body or at least one media_url")
    return body, urls
