"""Hostile bodies cost the fallback JSON parser time linear in their size (issue 11).

A 2xx body orjson refuses goes to the standard library's parser after a nesting check.
That check once stripped strings with a regular expression that took quadratic time on
an unterminated string of escaped quotes (83 s of CPU for 128 KB, on the event loop).
No absolute times are asserted: each hostile shape is timed at N and 4N bytes, and the
ratio must stay far below the 16 a quadratic cost would give.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy_async import InvalidResponseError
from proxy_async.models.json_codec import MAX_JSON_DEPTH, _nested_deeper_than, decode_json

MIB = 1 << 20

HOSTILE_SHAPES: dict[str, Callable[[int], bytes]] = {
    "unterminated-escaped-quotes": lambda size: b'"' + b'\\"' * (size // 2),
    "escaped-quotes-in-array": lambda size: b'["' + b'\\"' * (size // 2),
    "opening-brackets": lambda size: b"[" * size,
    "alternating-quotes-and-brackets": lambda size: b'"[' * (size // 2),
    "strings-holding-brackets": lambda size: b"[" + b'"[{",' * (size // 5),
    "backslash-run": lambda size: b'["' + b"\\" * size,
    # A quarter of the size: the standard library's parser builds every list before it
    # finds the array unterminated, which costs far more per byte than the scan.
    "empty-arrays-unterminated": lambda size: b"[" + b"[]," * (size // 12),
}


def _cpu_seconds(body: bytes) -> float:
    """Best of three: the CPU time one ``decode_json`` of ``body`` takes (it must refuse it)."""
    best = float("inf")
    # The cyclic collector's passes depend on what else the process holds, not on body.
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            start = time.process_time()
            with pytest.raises(InvalidResponseError):
                decode_json(body)
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("shape", list(HOSTILE_SHAPES), ids=list(HOSTILE_SHAPES))
def test_a_hostile_body_costs_time_linear_in_its_size(shape: str) -> None:
    build = HOSTILE_SHAPES[shape]
    small, large = build(MIB), build(4 * MIB)
    # The clock's resolution must not decide: floor the small time at one millisecond.
    ratio = _cpu_seconds(large) / max(_cpu_seconds(small), 1e-3)
    assert ratio < 8, f"{shape}: 4x the bytes took {ratio:.1f}x the time (quadratic: 16x)"


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"[" * 513 + b"]" * 513, True),
        (b"[" * 512 + b"]" * 512, False),
        (b"{" + b'"a":{' * 600 + b"}" * 601, True),
        # Brackets inside strings, behind escaped quotes and backslash runs, do not count.
        (b'["' + b"[" * 600 + b'"]', False),
        (b'["\\"' + b"[" * 600 + b'"]', False),
        (b'["\\\\\\"' + b"{" * 600 + b'"]', False),
        # Two backslashes escape each other: the quote after them closes the string.
        (b'["\\\\"' + b",[" * 600 + b"]" * 601, True),
        # Strings across the 64 KiB windows the scan splits the body in.
        (b'["' + b"x" * 70_000 + b"[" * 600 + b'"]', False),
        (b'["' + b"x" * 70_000 + b'"' + b",[" * 600 + b"]" * 601, True),
        (b"[" + b'"ab",' * 40_000 + b'"' + b"[" * 600 + b'"]', False),
        (b'"' + b"\\" * 1000 + b'"' + b"[" * 600, True),
        (b'"' + b"\\" * 1001 + b'"' + b"[" * 600, False),
    ],
)
def test_the_nesting_bound_counts_only_brackets_outside_strings(body: bytes, deeper: bool) -> None:
    assert _nested_deeper_than(body, MAX_JSON_DEPTH) is deeper


def _depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, the reference for the byte scan."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            members = item.values() if isinstance(item, dict) else item
            stack.extend((member, level + 1) for member in members)
    return deepest


_TRICKY_TEXT = st.text(alphabet='[]{}"\\\u00e9\ud83d,:', max_size=8)
_JSON_VALUES = st.recursive(
    st.none() | st.integers() | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY_TEXT, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.integers(min_value=0, max_value=12))
def test_the_nesting_bound_agrees_with_the_decoded_depth(value: Any, limit: int) -> None:
    body = json.dumps(value).encode()
    assert _nested_deeper_than(body, limit) is (_depth(value) > limit)
