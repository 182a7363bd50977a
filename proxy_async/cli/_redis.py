"""Redis as the ``workers`` commands name it: the variable that points at it, and the one
line a Redis that cannot be used becomes (its URL's password masked)."""

from __future__ import annotations

import urllib.parse

from ._failures import EXIT_FATAL, CommandFailure

REDIS_VARIABLE = "PROXY_ASYNC_REDIS_URL"


def redis_failure(url: str, error: BaseException) -> CommandFailure:
    """``cannot use Redis at URL: <reason>; is redis-server running there?`` (exit 3)."""
    reason = (str(error) or type(error).__name__).rstrip(".")
    return CommandFailure(
        f"cannot use Redis at {safe_url(url)}: {reason}; is redis-server running there? "
        f"(set --redis or ${REDIS_VARIABLE})",
        EXIT_FATAL,
    )


def safe_url(url: str) -> str:
    """``url`` with its password (if any) masked."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
