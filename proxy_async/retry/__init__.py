"""Retry: which failed attempts are retried, how long to wait, when to give up.

* :mod:`~proxy_async.retry.rules`: pure decisions ``(request, error, attempt) ->
  Decision``, chained; what is retried and why is written there.
* :mod:`~proxy_async.retry.backoff`: the wait, full-jitter backoff or ``Retry-After``.
* :mod:`~proxy_async.retry.policy`: :class:`RetryPolicy`, the numbers (and the jitter).
* :mod:`~proxy_async.retry.loop`: :func:`call_with_retries`, which applies them.
"""

from .backoff import (
    Jitter,
    backoff_ceiling,
    full_jitter,
    parse_retry_after,
    retry_after_of,
    retry_delay,
)
from .loop import call_with_retries
from .policy import RetryPolicy
from .rules import (
    DEFAULT_RULES,
    RETRYABLE_STATUSES,
    Attempt,
    Decision,
    Rule,
    at_most_once,
    decide,
    done_when_already_gone,
    give_up_when_settings_refused,
    may_have_applied,
    retry_never_sent,
    retry_rate_limited,
    retry_transient,
)

__all__ = [
    "DEFAULT_RULES",
    "RETRYABLE_STATUSES",
    "Attempt",
    "Decision",
    "Jitter",
    "RetryPolicy",
    "Rule",
    "at_most_once",
    "backoff_ceiling",
    "call_with_retries",
    "decide",
    "done_when_already_gone",
    "full_jitter",
    "give_up_when_settings_refused",
    "may_have_applied",
    "parse_retry_after",
    "retry_after_of",
    "retry_delay",
    "retry_never_sent",
    "retry_rate_limited",
    "retry_transient",
]
