"""JSON bytes <-> Python values, exactly: the reference reader and writer of every body.

orjson reads and writes nearly everything; the standard library's ``json`` takes over,
value for value, where orjson would refuse a valid document or misread it (a lone
UTF-16 surrogate, an integer beyond 64 bits, a byte order mark). Structuring the values
into records is :mod:`proxy_async.models.converter`'s job; the msgspec fast path for list
pages is :mod:`proxy_async.models.fast_path`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

import orjson

from ..errors import InvalidResponseError

MAX_JSON_DEPTH = 512
"""Deepest nesting of arrays and objects the fallback parser reads (a deeper body is an
:class:`InvalidResponseError`). Python's ``json`` recurses once per level and would
raise ``RecursionError`` near 1,000 levels; orjson's own limit, on the fast path, is 1,024.
Twilio's list pages are three levels deep."""

# A JSON integer beyond 64 bits: orjson (3.13) reads it as a float, silently losing
# digits (``123456789012345678901234567890`` -> ``1.2345678901234568e+29``). 19 digits
# is the shortest such (``-9223372036854775809``). One ``bytes.translate`` maps every
# digit to "0", every byte a number token may follow (``:``, ``,``, ``[``, whitespace,
# ``-``) to ":", and the rest to "x"; one ``find`` of ":" and 19 zeros then answers.
# That is 1 to 2 ms on a 1.2 MB page, about what orjson takes. Checking the context
# of every run of 19 digits instead cost 5.5 ms on pages whose SIDs hold long runs of
# zeros, and a regular expression 10 to 17 ms. A false alarm (19 digits after a space
# inside a string) only sends that page to the slower parser, which is exact anyway.
_NUMBER_MAP = bytes(
    0x30 if 0x30 <= byte <= 0x39 else 0x3A if byte in b":,[-\t\n\r " else 0x78
    for byte in range(256)
)
_WIDE_INTEGER = b":" + b"0" * 19
_BOM = "\ufeff"
# For the nesting bound (see _nested_deeper_than): every byte but a bracket is deleted,
# and an opening bracket becomes 1, a closing one 0xFF (-1 as a signed byte).
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")


def decode_json(body: bytes) -> Any:
    """Parse a response body as JSON, or raise :class:`InvalidResponseError` with an excerpt.

    orjson reads nearly every body. The standard library's ``json`` reads, exactly as
    Python defines them, the valid documents orjson refuses or would misread:

    * a lone UTF-16 surrogate escape (``"see you \\ud83d"``, an emoji cut in half by
      concatenated SMS segments): the ``str`` keeps the lone surrogate code point, as
      ``json.loads`` gives it, so nothing the server sent is lost (see
      :func:`proxy_async.bulk_export.formats.encode_ndjson` for how it is written back);
    * an integer beyond 64 bits (in ``meta``, an unknown field...): an exact ``int``,
      where orjson would give a float;
    * a UTF-8 byte order mark before the body: skipped.

    Refused, as :class:`InvalidResponseError`: bytes that are not UTF-8, ``NaN`` and
    ``Infinity`` (not JSON, RFC 8259 section 6), a number too large for a double
    (``1e400``: it would read as infinity, which no JSON writer can write back),
    an integer of more than 4,300 digits (Python's ``int`` conversion limit) and
    nesting deeper than :data:`MAX_JSON_DEPTH` on the fallback path. Duplicate keys:
    the last one wins, in both parsers (as in JavaScript's ``JSON.parse``).
    The fallback runs only for bodies orjson refuses or that may hold a run of 19
    digits after ``:``, ``,``, ``[``, whitespace or ``-``. Looking for such runs is the
    price of never losing digits silently: 1 to 2 ms on a 1.2 MB page of 1,000
    Interactions, about what orjson takes to parse it (measured on a noisy machine).
    """
    return _decode_json(body, None)


def decode_json_text(text: str) -> Any:
    """:func:`decode_json` of JSON already decoded to ``str`` (an Interaction's ``data``).

    Reads and refuses exactly what :func:`decode_json` does; in addition, a lone
    surrogate code point inside a JSON string of ``text`` (what a ``\\ud83d`` escape in
    the page that carried ``text`` becomes) is kept, as ``json.loads`` keeps it.
    Raises :class:`InvalidResponseError`, whose message quotes the start of ``text``.
    """
    # "surrogatepass" never fails; orjson refuses the bytes it makes of a lone surrogate,
    # which then go to the standard library's parser as the str itself.
    return _decode_json(text.encode("utf-8", "surrogatepass"), text)


def _decode_json(body: bytes, text: str | None) -> Any:
    """orjson's reading of ``body``, else the standard library's of ``text`` (or of
    ``body`` decoded, when ``text`` is None)."""
    refusal = ""
    if not _holds_wide_integer(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            refusal = str(exc)
    return _decode_json_slowly(body, text, refusal)


def _holds_wide_integer(body: bytes) -> bool:
    """Whether ``body`` may hold a JSON integer of 19 or more digits (see _NUMBER_MAP)."""
    mapped = body.translate(_NUMBER_MAP)
    return mapped.find(_WIDE_INTEGER) >= 0 or mapped.startswith(_WIDE_INTEGER[1:])


def _decode_json_slowly(body: bytes, text: str | None, refusal: str) -> Any:
    """The standard library's reading of ``text`` (``body`` decoded if None); ``refusal``
    is orjson's complaint."""
    if text is None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_json(body, f"not UTF-8 at byte {exc.start}") from None
    text = text.removeprefix(_BOM)
    if _nested_deeper_than(body, MAX_JSON_DEPTH):
        raise _not_json(body, f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise _not_json(body, refusal or str(exc)) from None
    except (ValueError, RecursionError) as exc:  # NaN, 1e400, over 4,300 digits, deep stack
        raise _not_json(body, str(exc) or type(exc).__name__) from None


def _not_json(body: bytes, reason: str) -> InvalidResponseError:
    excerpt = body[:80].decode("utf-8", "replace")
    return InvalidResponseError(f"body is not valid JSON ({reason}); starts {excerpt!r}")


def _nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether JSON ``body`` nests arrays and objects more than ``limit`` deep.

    Brackets inside strings do not count. Exact for valid JSON; for invalid JSON the
    answer may be wrong either way, which is harmless: the parser that runs next refuses
    the body anyway (and its ``RecursionError`` is caught). Linear time whatever the
    bytes, in C-speed passes only (``count``, ``replace``, ``split``, ``translate``):
    a regular expression for JSON strings took quadratic time on an unterminated string
    of escaped quotes (``"\\"\\"\\"...``: 83 s for 128 KB), and a loop per byte in
    Python would take seconds on the 64 MiB a body may hold. About 15 ns a byte in the
    worst case measured (many short strings holding brackets); two counts when the
    body holds at most ``limit`` opening brackets.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    # Escapes only occur in strings. A run of backslashes escapes in pairs from its
    # start, so after the pairs go, a backslash left before a quote escapes it; with
    # both gone, every quote left opens or closes a string.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    steps = b"".join(
        outside.translate(_BRACKET_STEP, _NOT_BRACKET) for outside in _outside_strings(unescaped)
    )
    # Chunks of `limit // 2` steps: a chunk whose opening brackets cannot take the depth
    # past `limit` costs one count; only the others are summed step by step.
    size = max(limit // 2, 1)
    depth = 0
    for start in range(0, len(steps), size):
        chunk = steps[start : start + size]
        opening = chunk.count(1)
        if (
            depth + opening > limit
            and max(accumulate(memoryview(chunk).cast("b"), initial=depth)) > limit
        ):
            return True
        depth += 2 * opening - len(chunk)
    return False


_SPLIT_WINDOW = 1 << 16


def _outside_strings(unescaped: bytes) -> Iterator[bytes]:
    """The bytes of ``unescaped`` (JSON without escapes) outside strings, window by window.

    Split a window at a time: split at once, a body of many short strings (``"ab"ab...``)
    would become one object per string, some 15 times the body's size in memory.
    """
    in_string = False
    for start in range(0, len(unescaped), _SPLIT_WINDOW):
        pieces = unescaped[start : start + _SPLIT_WINDOW].split(b'"')
        yield b"".join(pieces[1 if in_string else 0 :: 2])
        in_string ^= len(pieces) % 2 == 0  # an odd number of quotes in the window


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is too large for a double")
    return value


def encode_json(value: Any) -> bytes:
    """UTF-8 JSON of a value :func:`decode_json` gave, such that decoding it gives ``value`` back.

    orjson writes nearly every value. What it refuses, written here instead (only then,
    value by value, without recursion so that any depth is written):

    * a ``str`` holding a lone surrogate: the code unit is written as the escape the
      server sent (``\\ud83d``), since UTF-8 cannot hold it; ``json.loads`` of the
      output gives back the same ``str``;
    * an integer beyond 64 bits: its exact digits;
    * nesting deeper than orjson writes (254 levels).

    Raises ``TypeError`` or ``ValueError`` for a value JSON cannot hold (``NaN``, a
    ``set``): :func:`decode_json` never gives one.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _escape_lone_surrogates(_json_text(value)).encode()


class _Punctuation(str):
    """JSON text already written (brackets, commas, keys) on :func:`_json_text`'s stack."""


def _json_text(value: Any) -> str:
    """Compact JSON text of ``value`` (lone surrogates left raw), built without recursion."""
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Punctuation:
            parts.append(item)
        elif isinstance(item, dict):
            stack.append(_Punctuation("}"))
            for index, (key, member) in enumerate(reversed(item.items())):
                stack.append(member)
                comma = "," if index < len(item) - 1 else ""
                stack.append(_Punctuation(f"{comma}{_scalar_text(str(key))}:"))
            parts.append("{")
        elif isinstance(item, (list, tuple)):
            stack.append(_Punctuation("]"))
            for index, member in enumerate(reversed(item)):
                stack.append(member)
                if index < len(item) - 1:
                    stack.append(_Punctuation(","))
            parts.append("[")
        else:
            parts.append(_scalar_text(item))
    return "".join(parts)


def _scalar_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as its JSON escape (only strings can hold one)."""
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def replace_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so that it encodes as UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)


__all__ = [
    "MAX_JSON_DEPTH",
    "decode_json",
    "decode_json_text",
    "encode_json",
    "replace_lone_surrogates",
]
