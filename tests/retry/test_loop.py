"""call_with_retries without HTTP: scripted attempts, a recorded sleep, a fixed jitter."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import pytest
import yarl

from proxy_async import (
    ApiError,
    ConnectError,
    ConnectionLostError,
    NotFoundError,
    OutcomeUnknownError,
    ProxyError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from proxy_async.errors import api_error_class
from proxy_async.retry import call_with_retries
from proxy_async.transports.base import Request, Response

OK = Response(200, {}, b"{}")
TOP = RetryPolicy(retries=3, initial_backoff=0.5, max_backoff=20.0, jitter=lambda lo, hi: hi)


def request(method: str) -> Request:
    return Request(method, yarl.URL("https://proxy.twilio.com/v1/Services/KS1"), {})


def status(code: int, retry_after: float | None = None) -> ApiError:
    return api_error_class(code)(code, retry_after=retry_after)


class Script:
    """Attempts that raise the given errors in turn, then answer OK; sleeps recorded."""

    def __init__(self, errors: Sequence[ProxyError]) -> None:
        self.errors = list(errors)
        self.numbers: list[int] = []
        self.slept: list[float] = []

    async def attempt(self, number: int) -> Response:
        self.numbers.append(number)
        if self.errors:
            raise self.errors.pop(0)
        return OK

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def run(self, policy: RetryPolicy, method: str = "GET") -> Awaitable[Response]:
        return call_with_retries(self.attempt, policy, request(method), sleep=self.sleep)


async def test_retries_until_success_with_exact_sleeps_and_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script([status(503), ConnectionLostError("reset")])
    with caplog.at_level(logging.INFO, logger="proxy_async"):
        assert await script.run(TOP) is OK
    assert script.numbers == [1, 2, 3]
    assert script.slept == [0.5, 1.0]
    assert [r.getMessage() for r in caplog.records] == [
        "GET /v1/Services/KS1: attempt 1 failed (HTTP 503); retrying in 0.50 s",
        "GET /v1/Services/KS1: attempt 2 failed (ConnectionLostError); retrying in 1.00 s",
    ]


async def test_gives_up_after_the_retries_with_the_attempt_count() -> None:
    script = Script([status(502)] * 10)
    with pytest.raises(ServerError) as caught:
        await script.run(TOP)
    assert caught.value.attempts == 4
    assert script.slept == [0.5, 1.0, 2.0]


async def test_a_final_error_is_raised_at_once() -> None:
    script = Script([status(400)])
    with pytest.raises(ApiError) as caught:
        await script.run(TOP)
    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert script.slept == []


async def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(retries=2, max_retry_after=2.0, jitter=lambda lo, hi: hi)
    script = Script([status(429, retry_after=1.5), status(503, retry_after=3600.0)])
    assert await script.run(policy) is OK
    assert script.slept == [1.5, 2.0]


async def test_no_attempt_would_start_after_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=5, max_retry_after=60.0, deadline=5.0)
    script = Script([status(503, retry_after=10.0)])
    with caplog.at_level(logging.INFO, logger="proxy_async"), pytest.raises(ServerError):
        await script.run(policy)
    assert script.slept == []
    assert [r.getMessage() for r in caplog.records] == [
        "GET /v1/Services/KS1: giving up after 1 attempts, retry deadline 5.0 s"
    ]


async def test_create_with_unknown_outcome_is_not_retried() -> None:
    cause = status(500)
    script = Script([cause])
    with pytest.raises(OutcomeUnknownError) as caught:
        await script.run(TOP, "POST")
    assert caught.value.cause is cause
    assert caught.value.attempts == 1
    assert caught.value.method == "POST"
    assert script.slept == []


@pytest.mark.parametrize(
    "make", [lambda: status(429), lambda: ConnectError("refused")], ids=["429", "never sent"]
)
async def test_create_is_retried_when_provably_unprocessed(
    make: Callable[[], ProxyError],
) -> None:
    script = Script([make(), make()])
    assert await script.run(TOP, "POST") is OK
    assert script.numbers == [1, 2, 3]


async def test_create_on_persistent_429_raises_the_429() -> None:
    script = Script([status(429)] * 10)
    with pytest.raises(RateLimitError) as caught:
        await script.run(TOP, "POST")
    assert caught.value.attempts == 4


async def test_delete_gone_after_a_maybe_applied_attempt_is_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script([ConnectionLostError("reset"), status(404)])
    with caplog.at_level(logging.INFO, logger="proxy_async"):
        response = await script.run(TOP, "DELETE")
    assert response == Response(204, {}, b"")
    assert caplog.records[-1].getMessage() == (
        "DELETE /v1/Services/KS1: 404 after an earlier attempt may have succeeded; done"
    )


async def test_delete_gone_after_clean_failures_is_not_found() -> None:
    # A refused connection changed nothing: the 404 is the server's real answer.
    script = Script([ConnectError("refused"), status(404)])
    with pytest.raises(NotFoundError) as caught:
        await script.run(TOP, "DELETE")
    assert caught.value.attempts == 2


async def test_retries_zero_makes_one_attempt() -> None:
    script = Script([status(503)])
    with pytest.raises(ServerError):
        await script.run(RetryPolicy(retries=0))
    assert script.numbers == [1]
