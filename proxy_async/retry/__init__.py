"""Retry: which failed attempts are retried, how long to wait, when to give up."""

from .policy import (
    RetryPolicy,
    call_with_retries,
    parse_retry_after,
    retry_after_of,
)

__all__ = [
    "RetryPolicy",
    "call_with_retries",
    "parse_retry_after",
    "retry_after_of",
]
