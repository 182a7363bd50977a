"""The retry loop: run attempts until one succeeds, a rule gives up, or the budget ends.

Each failed attempt is classified by :func:`~proxy_async.retry.rules.decide` (retry,
give up, outcome unknown, done); a retry then still needs budget: at most
``policy.retries`` of them, and none that would start after ``policy.deadline``
seconds from the first attempt. The wait before it is ``policy.backoff``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..errors import ApiError, OutcomeUnknownError, ProxyError
from ..transports.base import Request, Response
from .policy import RetryPolicy
from .rules import Attempt, Decision, decide, may_have_applied

logger = logging.getLogger("proxy_async")

Sleep = Callable[[float], Awaitable[None]]
"""Waits a number of seconds, as :func:`asyncio.sleep`."""


async def call_with_retries(
    attempt: Callable[[int], Awaitable[Response]],
    policy: RetryPolicy,
    request: Request,
    *,
    sleep: Sleep | None = None,
) -> Response:
    """Run ``attempt(n)`` for n = 1, 2, ... until it succeeds or the policy gives up.

    ``request`` is what every attempt sends: its properties (``idempotent``,
    ``not_found_on_retry_is_done``) drive the rules, its method and path the logs.
    When a retry of a DELETE answers 404 after an earlier attempt may have deleted the
    resource, the result is a ``204 No Content`` response, as the DELETE's own would
    be. The error raised at the end is the last attempt's, with ``attempts`` set to how
    many were made, or :class:`OutcomeUnknownError` wrapping it. ``sleep`` (default
    :func:`asyncio.sleep`) waits between attempts.
    """
    wait = asyncio.sleep if sleep is None else sleep
    clock = asyncio.get_running_loop()
    started = clock.time()
    number, applied = 1, False  # the Attempt is built only when one fails
    while True:
        try:
            return await attempt(number)
        except ProxyError as error:
            decision = decide(request, error, Attempt(number, applied))
            if decision is Decision.DONE:
                logger.info(
                    "%s %s: 404 after an earlier attempt may have succeeded; done",
                    request.method,
                    request.path,
                )
                return Response(204, {}, b"")
            delay = _delay_or_raise(
                decision, request, error, number, policy, clock.time() - started
            )
            applied = applied or may_have_applied(error)
        await wait(delay)
        number += 1


def _delay_or_raise(
    decision: Decision,
    request: Request,
    error: ProxyError,
    number: int,
    policy: RetryPolicy,
    elapsed: float,
) -> float:
    """Seconds to wait before attempt ``number + 1``, logged; or raise ``error`` (with
    ``attempts`` set) when the decision or the budget ends the retrying."""
    if hasattr(error, "attempts"):
        error.attempts = number
    if decision is Decision.OUTCOME_UNKNOWN:
        raise OutcomeUnknownError(
            error, method=request.method, path=request.path, attempts=number
        ) from error
    if decision is not Decision.RETRY or number > policy.retries:
        raise error
    delay = policy.backoff(number, getattr(error, "retry_after", None))
    if policy.deadline is not None and elapsed + delay > policy.deadline:
        logger.warning(
            "%s %s: giving up after %d attempts, retry deadline %.1f s",
            request.method,
            request.path,
            number,
            policy.deadline,
        )
        raise error
    logger.info(
        "%s %s: attempt %d failed (%s); retrying in %.2f s",
        request.method,
        request.path,
        number,
        _brief(error),
        delay,
    )
    return delay


def _brief(error: ProxyError) -> str:
    """``HTTP 503`` for an answer, the error's class name for anything else."""
    if isinstance(error, ApiError):
        return f"HTTP {error.status}"
    return type(error).__name__
