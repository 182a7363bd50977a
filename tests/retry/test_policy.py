"""RetryPolicy: its checks, its fixed-jitter sleep times, its unchanged constructor."""

from __future__ import annotations

import random
from typing import Any

import pytest

from proxy_async import InvalidParameterError, RetryPolicy


def test_constructor_keeps_its_positional_order_and_defaults() -> None:
    policy = RetryPolicy(2, 0.1, 3, 9, None)
    assert (policy.retries, policy.initial_backoff, policy.max_backoff) == (2, 0.1, 3.0)
    assert (policy.max_retry_after, policy.deadline) == (9.0, None)
    default = RetryPolicy()
    assert (default.retries, default.initial_backoff, default.max_backoff) == (4, 0.5, 20.0)
    assert (default.max_retry_after, default.deadline) == (60.0, 120.0)
    assert default.jitter == random.uniform


def test_fixed_jitter_gives_exact_sleep_times() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=3.0, jitter=lambda low, high: high)
    assert [policy.backoff(n, None) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    half = RetryPolicy(jitter=lambda low, high: (low + high) / 2)
    assert [half.backoff(n, None) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


def test_retry_after_is_capped_by_max_retry_after() -> None:
    policy = RetryPolicy(max_retry_after=5.0, jitter=lambda low, high: high)
    assert policy.backoff(1, 2.5) == 2.5
    assert policy.backoff(1, 3600.0) == 5.0


def test_default_jitter_stays_within_the_window() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=8.0)
    waits = [policy.backoff(3, None) for _ in range(200)]
    assert all(0.0 <= wait <= 4.0 for wait in waits)
    assert len(set(waits)) > 1


def test_jitter_is_left_out_of_the_repr() -> None:
    assert "jitter" not in repr(RetryPolicy())
    assert "retries=4" in repr(RetryPolicy())


@pytest.mark.parametrize(
    ("kwargs", "parameter", "expected"),
    [
        ({"retries": -1}, "retries", "an integer >= 0"),
        ({"retries": True}, "retries", "an integer >= 0"),
        ({"initial_backoff": float("nan")}, "initial_backoff", "a finite number >= 0"),
        ({"max_backoff": float("inf")}, "max_backoff", "a finite number >= 0"),
        ({"max_retry_after": True}, "max_retry_after", "a finite number >= 0"),
        ({"deadline": -5}, "deadline", "None or a finite number of seconds > 0"),
        ({"deadline": float("inf")}, "deadline", "None or a finite number of seconds > 0"),
        ({"jitter": 0.5}, "jitter", "a function (low, high) -> seconds"),
    ],
)
def test_bad_values_name_the_field(kwargs: dict[str, Any], parameter: str, expected: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        RetryPolicy(**kwargs)
    assert caught.value.parameter == parameter
    assert expected in str(caught.value)
