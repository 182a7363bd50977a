"""Whether a failed attempt is retried: pure rules of (request, error, attempt), chained.

What is retried:

* Idempotent requests (GET, DELETE; :attr:`Request.idempotent
  <proxy_async.transports.base.Request.idempotent>`): HTTP 429, 500, 502, 503, 504,
  connection errors, resets and timeouts.
* A create (POST, not idempotent) is **at most once**. It is retried only on 429
  (Twilio documents that a 429 was not processed) and when the request provably never
  left the client (connection refused, DNS failure, connect/pool timeout). A 5xx, a
  reset or a timeout after the body was sent becomes :class:`OutcomeUnknownError`:
  the message may have gone out, and a retry could send it twice.
* A DELETE that answers 404 after an earlier attempt may have gone through counts as
  done: the earlier attempt deleted it (:attr:`Request.not_found_on_retry_is_done
  <proxy_async.transports.base.Request.not_found_on_retry_is_done>`).

Never retried: other 4xx (the request is wrong and will stay wrong), invalid 2xx
bodies (resending would not fix the server), a TLS certificate that fails
verification or a forward proxy that refuses (only new settings fix those).

Each rule is a function ``(request, error, attempt) -> Decision | None``: None means
"no opinion", and :func:`decide` asks :data:`DEFAULT_RULES` in order, so the first
rule with an opinion wins. The rules only classify the failure; how many retries the
budget allows, how long to wait and the deadline are :mod:`~proxy_async.retry.loop`'s.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

import attrs

from ..errors import ApiError, NotFoundError, ProxyError, RateLimitError, TransportError
from ..transports.base import Request

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses an idempotent request retries on."""


class Decision(enum.Enum):
    """What to do about one failed attempt."""

    RETRY = "retry"
    """Send the request again, if the policy's budget allows."""
    GIVE_UP = "give up"
    """Raise the attempt's error: another attempt would fail the same way."""
    OUTCOME_UNKNOWN = "outcome unknown"
    """Raise :class:`OutcomeUnknownError`: the request may have been processed, and
    resending a request that is not idempotent could apply it twice."""
    DONE = "done"
    """The request succeeded after all (an earlier attempt did the work)."""


@attrs.frozen
class Attempt:
    """Where the retry loop stands when attempt ``number`` (1-based) has failed.

    ``earlier_may_have_applied``: whether an attempt before this one failed in a way
    that may still have changed state on the server (see :func:`may_have_applied`).
    """

    number: int
    earlier_may_have_applied: bool = False


Rule = Callable[[Request, ProxyError, Attempt], Decision | None]
"""A retry rule: a decision about one failed attempt, or None for "no opinion"."""


def may_have_applied(error: ProxyError) -> bool:
    """Whether the attempt that raised ``error`` might have changed state on the server:
    it was sent and got no answer, or the server answered with a 5xx."""
    if isinstance(error, TransportError):
        return error.request_sent
    return isinstance(error, ApiError) and error.status >= 500


def done_when_already_gone(
    request: Request, error: ProxyError, attempt: Attempt
) -> Decision | None:
    """DONE for a 404 answering a request whose earlier attempt may have been applied,
    when the request says such a 404 means done (a DELETE)."""
    if (
        request.not_found_on_retry_is_done
        and attempt.earlier_may_have_applied
        and isinstance(error, NotFoundError)
    ):
        return Decision.DONE
    return None


def retry_rate_limited(request: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
    """RETRY a 429, whatever the method: Twilio documents that it was not processed."""
    return Decision.RETRY if isinstance(error, RateLimitError) else None


def retry_never_sent(request: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
    """For a request that provably never left the client, whatever the method: RETRY,
    unless only new settings can help (an untrusted certificate, a refusing proxy)."""
    if isinstance(error, TransportError) and not error.request_sent:
        return Decision.RETRY if error.retryable else Decision.GIVE_UP
    return None


def at_most_once(request: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
    """Never resend a request that is not idempotent: OUTCOME_UNKNOWN when the failed
    attempt may have been applied, else GIVE_UP (a 4xx, an untrustworthy 2xx)."""
    if request.idempotent:
        return None
    return Decision.OUTCOME_UNKNOWN if may_have_applied(error) else Decision.GIVE_UP


def give_up_when_settings_refused(
    request: Request, error: ProxyError, attempt: Attempt
) -> Decision | None:
    """GIVE_UP on a transport failure that only new settings fix (``retryable`` False)."""
    if isinstance(error, TransportError) and not error.retryable:
        return Decision.GIVE_UP
    return None


def retry_transient(request: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
    """RETRY a :data:`RETRYABLE_STATUSES` answer and any connection trouble or timeout."""
    if isinstance(error, ApiError):
        return Decision.RETRY if error.status in RETRYABLE_STATUSES else None
    return Decision.RETRY if isinstance(error, TransportError) else None


DEFAULT_RULES: tuple[Rule, ...] = (
    done_when_already_gone,
    retry_rate_limited,
    retry_never_sent,
    at_most_once,
    give_up_when_settings_refused,
    retry_transient,
)
"""The rules :func:`decide` asks, in order; anything none has an opinion on is given up."""


def decide(
    request: Request,
    error: ProxyError,
    attempt: Attempt,
    rules: Sequence[Rule] = DEFAULT_RULES,
) -> Decision:
    """The first opinion of ``rules`` on this failed attempt; GIVE_UP if none has one."""
    for rule in rules:
        decision = rule(request, error, attempt)
        if decision is not None:
            return decision
    return Decision.GIVE_UP
