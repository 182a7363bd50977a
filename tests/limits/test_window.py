"""The adaptive window as arithmetic: a Window and one event in, the next Window out.

No event loop and no clock: every expected number is worked out by hand from the rules
in proxy_async/limits/window.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from proxy_async import InvalidParameterError
from proxy_async.limits.window import Grant, Window, WindowPolicy

POLICY = WindowPolicy(min_concurrency=1, max_concurrency=64, backoff=0.5, probe_windows=2)


def succeed(policy: WindowPolicy, window: Window, times: int, sent: Grant | None = None) -> Window:
    """``times`` healthy answers with the window fully in use."""
    for _ in range(times):
        window = policy.on_success(window, sent, demand=window.concurrency)
    return window


def test_start_and_grant() -> None:
    window = POLICY.start(4)
    assert window == Window(4.0, probe_after=2)
    assert (window.concurrency, window.ceiling, window.cuts, window.last_cut) == (
        4,
        None,
        0,
        -math.inf,
    )
    assert window.grant() == Grant(epoch=0, limit=4)
    # n successes of 1/n each may sum a hair under the next integer: still that integer.
    assert Window(5 - 1e-12, probe_after=1).concurrency == 5


def test_each_success_adds_one_over_the_window_while_in_use() -> None:
    window = POLICY.start(4)
    assert POLICY.on_success(window, None, demand=3).size == 4.25  # demand >= 4 - 1
    window = succeed(POLICY, window, 4)
    assert (window.size, window.concurrency) == (5.0, 5)
    assert POLICY.on_success(window, None, demand=4).size == 5.2


def test_an_unused_window_does_not_grow() -> None:
    window = POLICY.start(4)
    assert POLICY.on_success(window, None, demand=2) is window  # 2 < 4 - 1


def test_growth_stops_at_max_concurrency_and_at_the_ceiling() -> None:
    small = WindowPolicy(min_concurrency=1, max_concurrency=10)
    assert small.on_success(Window(10.0, 100), None, demand=10).size == 10.0
    below_ceiling = Window(5.9, 2, ceiling=6)  # window 5: step 0.2 would reach 6.1
    assert POLICY.on_success(below_ceiling, None, demand=5).size == 6.0


def test_a_429_halves_the_window_it_was_sent_under_and_remembers_a_ceiling() -> None:
    window = POLICY.start(16)
    cut = POLICY.on_throttle(window, Grant(0, 16), now=5.0, cooldown=1.0)
    assert cut == Window(8.0, probe_after=2, ceiling=15, cuts=1, last_cut=5.0)
    # Sent under the earlier window, before the cut: that cut already answered it.
    assert POLICY.on_throttle(cut, Grant(0, 16), now=5.1, cooldown=1.0) is cut
    # Sent after the cut: news, it cuts again; ceiling = 8 - 1.
    again = POLICY.on_throttle(cut, Grant(1, 8), now=5.2, cooldown=1.0)
    assert (again.size, again.ceiling, again.cuts, again.last_cut) == (4.0, 7, 2, 5.2)


def test_a_cut_starts_from_the_smaller_of_the_window_and_what_the_request_saw() -> None:
    grown = Window(12.0, 2)  # grew since the request was admitted under 9
    cut = POLICY.on_throttle(grown, Grant(0, 9), now=1.0, cooldown=1.0)
    assert (cut.size, cut.ceiling) == (4.0, 8)  # floor(9 x 0.5); 9 - 1


def test_a_429_of_unknown_admission_cuts_once_per_cooldown() -> None:
    window = Window(16.0, 2, cuts=1, last_cut=5.0)
    assert POLICY.on_throttle(window, None, now=5.5, cooldown=1.0) is window
    cut = POLICY.on_throttle(window, None, now=6.0, cooldown=1.0)
    assert (cut.size, cut.ceiling, cut.cuts, cut.last_cut) == (8.0, 15, 2, 6.0)


def test_cuts_keep_backoff_of_the_window_and_stop_at_min_concurrency() -> None:
    gentle = WindowPolicy(min_concurrency=1, max_concurrency=64, backoff=0.75)
    cut = gentle.on_throttle(Window(10.0, 100), Grant(0, 10), now=0.0, cooldown=1.0)
    assert (cut.size, cut.ceiling) == (7.0, 9)  # floor(7.5)
    floor = WindowPolicy(min_concurrency=2, max_concurrency=64)
    cut = floor.on_throttle(Window(3.0, 100), Grant(0, 3), now=0.0, cooldown=1.0)
    assert (cut.size, cut.ceiling) == (2.0, 2)  # floor(1.5) = 1 is below the floor of 2


def test_a_probe_after_probe_windows_windows_at_the_ceiling() -> None:
    window = Window(6.0, 2, ceiling=6, cuts=1)
    window = succeed(POLICY, window, 11)
    assert (window.size, window.at_ceiling) == (6.0, 11)
    window = succeed(POLICY, window, 1)  # 2 windows x 6 successes: probe one above
    assert (window.size, window.ceiling, window.at_ceiling) == (7.0, 6, 0)


def test_a_probe_that_holds_a_whole_window_raises_the_ceiling() -> None:
    window = Window(7.0, 2, ceiling=6, cuts=1)
    probe = Grant(1, 7)
    window = succeed(POLICY, window, 6, probe)
    assert (window.size, window.ceiling, window.above_ceiling) == (7.0, 6, 6)
    window = succeed(POLICY, window, 1, probe)  # the 7th: a whole window held
    assert window == Window(7.0, probe_after=1, ceiling=7, cuts=1, at_ceiling=1)
    window = succeed(POLICY, window, 6, probe)  # the next probe after one window
    assert (window.size, window.ceiling, window.at_ceiling) == (8.0, 7, 0)


def test_successes_sent_before_the_last_cut_are_no_probe() -> None:
    window = Window(7.0, 2, ceiling=6, cuts=2)
    assert succeed(POLICY, window, 3, Grant(1, 7)).above_ceiling == 0
    assert succeed(POLICY, window, 3, Grant(2, 6)).above_ceiling == 0  # sent at the ceiling


def test_a_failed_probe_returns_to_the_ceiling_without_halving() -> None:
    window = Window(7.0, 1, ceiling=6, cuts=1, above_ceiling=3)
    cut = POLICY.on_throttle(window, Grant(1, 7), now=9.0, cooldown=1.0)
    assert cut == Window(6.0, probe_after=2, ceiling=6, cuts=2, last_cut=9.0)
    # A request sent at the ceiling while the window is above it: the ceiling held too.
    assert POLICY.on_throttle(window, Grant(1, 6), now=9.0, cooldown=1.0).size == 6.0


def test_a_busy_shared_account_blocks_probing() -> None:
    window = Window(4.0, 2, ceiling=4, at_ceiling=3)
    busy = POLICY.on_concurrency_header(window, 9)
    assert busy.account_in_flight == 9
    assert POLICY.on_concurrency_header(busy, 9) is busy
    assert POLICY.on_success(busy, None, demand=4).at_ceiling == 0  # 9 > 4: others use it
    alone = POLICY.on_concurrency_header(window, 3)
    assert POLICY.on_success(alone, None, demand=4).at_ceiling == 4


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 1001}, "max_concurrency"),
        ({"min_concurrency": 0}, "min_concurrency"),
        ({"min_concurrency": 5, "max_concurrency": 4}, "min_concurrency"),
        ({"backoff": 1.0}, "backoff"),
        ({"backoff": 0}, "backoff"),
        ({"backoff": True}, "backoff"),
        ({"backoff": math.nan}, "backoff"),
        ({"probe_windows": 0}, "probe_windows"),
    ],
)
def test_checked_refuses_bad_parameters(options: dict[str, Any], parameter: str) -> None:
    arguments: dict[str, Any] = {
        "min_concurrency": 1,
        "max_concurrency": 10,
        "backoff": 0.5,
        "probe_windows": 100,
    }
    with pytest.raises(InvalidParameterError) as raised:
        WindowPolicy.checked(**{**arguments, **options})
    assert raised.value.parameter == parameter


@pytest.mark.parametrize("initial", [0, 3, 11, True, 4.0])
def test_start_refuses_a_window_outside_min_and_max(initial: Any) -> None:
    policy = WindowPolicy(min_concurrency=4, max_concurrency=10)
    with pytest.raises(InvalidParameterError) as raised:
        policy.start(initial)
    assert raised.value.parameter == "initial_concurrency"
