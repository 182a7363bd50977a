"""RateControl, the adaptive rate's arithmetic: exact numbers in, exact numbers out."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_async import InvalidParameterError
from proxy_async.limits.rate_control import RateControl


def test_a_429_cuts_by_backoff_from_the_lower_of_rate_and_measured_rate() -> None:
    control = RateControl(ceiling=30)
    assert control.on_throttle(10.0, 18.0, admitted=9.9) == 9.0  # measured 18 < rate 30
    control = RateControl(ceiling=30, backoff=0.75)
    assert control.on_throttle(10.0, 100.0, admitted=9.9) == 22.5  # rate 30 < measured
    assert (control.cuts, control.last_cut) == (1, 10.0)


def test_one_burst_of_429s_cuts_once() -> None:
    control = RateControl(ceiling=30)
    control.on_throttle(10.0, 40.0, admitted=9.9)
    assert control.rate == 15.0
    # Admitted before (or in the same instant as) the cut: the cut already answered them.
    assert control.on_throttle(10.2, 40.0, admitted=9.95) == 15.0
    assert control.on_throttle(10.3, 40.0, admitted=10.0) == 15.0
    assert control.cuts == 1
    # Admitted after the cut: news, it cuts again.
    assert control.on_throttle(10.4, 40.0, admitted=10.1) == 7.5
    # Admission unknown: counted with the last cut for one cooldown.
    assert control.on_throttle(11.3, 40.0) == 7.5
    assert control.on_throttle(11.4, 40.0) == 3.75
    assert control.cuts == 3


def test_cuts_stop_at_the_floor() -> None:
    control = RateControl(ceiling=8, min_rate=2)
    for second in range(1, 10):
        control.on_throttle(float(second), 8.0, admitted=second - 0.5)
    assert control.rate == 2.0
    assert control.cuts == 9


def test_probes_once_per_cooldown_by_a_tenth_of_the_cut_rate_up_to_the_ceiling() -> None:
    control = RateControl(ceiling=12)
    control.on_throttle(0.0, 20.0, admitted=-0.1)  # base min(12, 20) = 12 -> 6
    assert control.rate == 6.0
    assert control.on_success(0.9) == 6.0  # the cut is not a cooldown old yet
    assert control.on_success(1.0) == pytest.approx(7.2)  # step 0.1 x 12
    assert control.on_success(1.5) == pytest.approx(7.2)  # one step per cooldown
    assert control.on_success(2.0) == pytest.approx(8.4)
    for second in range(3, 10):
        control.on_success(float(second))
    assert control.rate == 12.0  # never above the ceiling


def test_small_rates_probe_by_at_least_half_a_request_per_second() -> None:
    control = RateControl(ceiling=30, cooldown=2.0)
    control.on_throttle(0.0, 2.0, admitted=-0.1)
    assert control.rate == 1.0
    assert control.on_success(1.0) == 1.0
    assert control.on_success(2.0) == 1.5  # max(0.5, 0.1 x 2)
    assert control.on_success(4.0) == 2.0


def test_a_rate_the_client_does_not_use_is_not_probed() -> None:
    control = RateControl(ceiling=30, initial_rate=10)
    assert control.on_success(5.0, measured_rate=4.0) == 10.0  # under half of 10/s
    assert control.on_success(5.0, measured_rate=6.0) == 11.0  # step 0.1 x initial 10


def test_an_unlimited_start_is_cut_from_the_measured_rate_and_has_no_ceiling() -> None:
    control = RateControl(ceiling=None)
    assert control.rate is None
    assert control.on_success(5.0) is None
    assert control.on_throttle(5.0, 40.0) == 20.0
    assert control.on_success(6.0) == 24.0  # step 0.1 x 40
    for second in range(7, 200):
        control.on_success(float(second))
    assert control.rate == pytest.approx(24.0 + 193 * 4.0)


@pytest.mark.parametrize(
    "options",
    [
        {"ceiling": 0},
        {"ceiling": True},
        {"ceiling": float("inf")},
        {"min_rate": 0},
        {"min_rate": 40},  # above the ceiling of 30
        {"initial_rate": 0.1},  # below min_rate
        {"initial_rate": 31},  # above the ceiling
        {"initial_rate": "5"},
        {"backoff": 1},
        {"backoff": 0},
        {"backoff": False},
        {"increase": 0},
        {"cooldown": 0},
        {"cooldown": float("nan")},
    ],
)
def test_rate_control_validates_its_parameters(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        RateControl(**options)


def test_rate_control_validates_the_measured_rate() -> None:
    with pytest.raises(InvalidParameterError, match="measured_rate"):
        RateControl().on_throttle(1.0, -1.0)
