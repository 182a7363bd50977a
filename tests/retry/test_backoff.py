"""The wait before a retry, as arithmetic: ceilings, a fixed jitter, Retry-After."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from proxy_async.errors import InvalidParameterError
from proxy_async.retry import (
    backoff_ceiling,
    full_jitter,
    parse_retry_after,
    retry_after_of,
    retry_delay,
)


def top(low: float, high: float) -> float:
    """A jitter that always waits the longest allowed."""
    return high


@pytest.mark.parametrize(
    ("retry_number", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 16.0), (7, 20.0), (50, 20.0)],
)
def test_backoff_ceiling_doubles_up_to_the_maximum(retry_number: int, expected: float) -> None:
    assert backoff_ceiling(retry_number, 0.5, 20.0) == expected


def test_backoff_ceiling_survives_huge_retry_numbers() -> None:
    assert backoff_ceiling(5000, 0.5, 20.0) == 20.0
    assert backoff_ceiling(5000, 0.0, 20.0) == 0.0  # no backoff stays no backoff


def test_full_jitter_draws_from_zero_to_the_ceiling() -> None:
    drawn: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        drawn.append((low, high))
        return 0.25

    assert full_jitter(4.0, record) == 0.25
    assert drawn == [(0.0, 4.0)]


def test_full_jitter_defaults_to_uniform() -> None:
    saved = random.getstate()
    try:
        random.seed(14)
        assert full_jitter(3.0) == random.Random(14).uniform(0.0, 3.0)
    finally:
        random.setstate(saved)


def test_retry_delay_with_fixed_jitter_is_exact() -> None:
    delays = [
        retry_delay(n, None, initial_backoff=0.5, max_backoff=3.0, max_retry_after=60.0, jitter=top)
        for n in range(1, 6)
    ]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_delay_honours_and_caps_retry_after() -> None:
    def never(low: float, high: float) -> float:
        raise AssertionError("no jitter when the server said how long")

    options = {"initial_backoff": 0.5, "max_backoff": 20.0, "max_retry_after": 60.0}
    assert retry_delay(1, 7.0, jitter=never, **options) == 7.0
    assert retry_delay(1, 0.0, jitter=never, **options) == 0.0
    assert retry_delay(3, 3600.0, jitter=never, **options) == 60.0


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=5), usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None
    assert parse_retry_after(None) is None


def test_retry_after_of_reads_the_header() -> None:
    assert retry_after_of({"Retry-After": "2"}) == 2.0
    assert retry_after_of({}) is None


@pytest.mark.parametrize("drawn", [math.nan, math.inf, -0.5, 2.0, "1", None, True])
def test_a_jitter_drawing_outside_the_window_is_refused_not_slept(drawn: object) -> None:
    with pytest.raises(InvalidParameterError, match="jitter"):
        full_jitter(1.0, lambda low, high: drawn)  # type: ignore[arg-type, return-value]
