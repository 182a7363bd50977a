"""JSON bytes -> attrs records, with one cattrs converter built at import.

Two converters share the same strict primitive hooks:

* ``converter`` (``detailed_validation=False``) runs on every response: its generated
  hooks are the fast path.
* ``_diagnostic_converter`` (``detailed_validation=True``) runs only after the fast path
  failed, to name the offending field in an :class:`InvalidResponseError`.

The hooks are strict where cattrs' defaults are lenient: cattrs would turn ``12`` into
``"12"`` for a ``str`` field; here a wrong JSON type is an error, never a silently
wrong object.

For the record classes the fast converter uses a hook generated here instead of
cattrs' generic one (see :func:`_record_hook_factory`): straight-line code per class
that checks and converts each field inline and calls the attrs ``__init__``
positionally. It accepts and builds exactly what the diagnostic converter does
(``tests/test_fast_path.py`` checks this on random and malformed records); it is
about twice as fast on a 1,000-record page, where structuring was three quarters of
``stream()``'s CPU time.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from itertools import accumulate
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.errors import ClassValidationError
from cattrs.gen import make_dict_structure_fn

from .errors import InvalidResponseError
from .models import OpenEnum, Page, PageMeta

T = TypeVar("T")

UTC = timezone.utc
_ZERO = timedelta(0)

# ISO-8601 forms Python 3.10's fromisoformat rejects: "Z", fraction digits other than 3/6.
_ISO_8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE | re.ASCII,
)


def parse_datetime(value: object) -> datetime:
    """Parse a Twilio timestamp into a timezone-aware UTC datetime.

    Accepts ``2015-07-30T20:00:00Z``, ``+00:00`` and other offsets (converted to UTC),
    any number of fraction digits (``1984-11-24T21:58:21.033Z``), a naive time (taken as
    UTC, Twilio documents GMT) and RFC 2822 (``Thu, 30 Jul 2015 20:00:00 +0000``).
    ``datetime.fromisoformat`` is the fast path; the regex is the fallback.
    """
    if type(value) is not str:
        raise TypeError(f"expected an ISO-8601 datetime string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _parse_datetime_slow(value)
    if parsed.tzinfo is UTC:  # what "...Z" and "+00:00" give: the common case, done
        return parsed
    offset = parsed.utcoffset()
    if offset is None:
        return parsed.replace(tzinfo=UTC)
    if offset != _ZERO:
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
            raise ValueError(f"datetime out of range in UTC: {value[:40]!r}") from None
    return parsed if parsed.tzinfo is UTC else parsed.replace(tzinfo=UTC)


def _parse_datetime_slow(value: str) -> datetime:
    if sys.version_info < (3, 11) and value[-1:] in ("Z", "z"):
        # Python 3.10's fromisoformat rejects "Z" but takes "+00:00": try that first.
        try:
            return datetime.fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            pass
    match = _ISO_8601.fullmatch(value.strip())
    if match is None:
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ValueError(f"not an ISO-8601 datetime: {value[:40]!r}") from None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(sign * delta)
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
    )


def _strict_str(value: object, _: type) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_int(value: object, _: type) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _open_enum(value: object, enum_type: type[OpenEnum]) -> OpenEnum:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    # The member map lookup skips EnumType.__call__ for the common, exact-case value.
    member = enum_type._value2member_map_.get(value)
    return enum_type(value) if member is None else member  # type: ignore[return-value]


def _optional_str(value: object, _: type) -> str | None:
    if value is None or type(value) is str:
        return value
    raise TypeError(f"expected a string or null, got {type(value).__name__}")


def _is_optional(type_: Any) -> bool:
    args = get_args(type_)
    return len(args) == 2 and type(None) in args and get_origin(type_) in (Union, UnionType)


def _without_none(optional_type: Any) -> Any:
    """``X`` of ``X | None``."""
    return next(arg for arg in get_args(optional_type) if arg is not type(None))


def _optional_hook_factory(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """One hook per ``X | None``, bound to X's hook once instead of dispatching per value."""
    inner_type = _without_none(type_)
    if inner_type is str:
        return _optional_str
    inner = conv.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


def _string_map(value: object, _: type) -> dict[str, str]:
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise TypeError("expected a JSON object of strings")
    return dict(value)  # a copy: the record must not change when the decoded body does


# -- the generated record hook ------------------------------------------------------------

# Per field type: statements that check and convert ``v{n}`` in place, ``{n}`` being the
# field's index (also naming its bound enum), ``{q}`` its quoted name. Each mirrors the
# primitive hook the diagnostic converter uses for that type; any exception makes the
# caller fall back to the diagnostic converter, which names the field.
_CHECK_STR = "    if type(v{n}) is not str: raise TypeError({q})\n"
_CHECK_OPTIONAL_STR = "    if v{n} is not None and type(v{n}) is not str: raise TypeError({q})\n"
_CHECK_INT = "    if type(v{n}) is not int: raise TypeError({q})\n"
_CHECK_OPTIONAL_INT = "    if v{n} is not None and type(v{n}) is not int: raise TypeError({q})\n"
# The member map lookup is _open_enum's fast case; a miss (unknown value, wrong case,
# wrong type) goes through _open_enum itself. Member values are non-empty strings, so
# a hit is never falsy.
_CONVERT_OPTIONAL_ENUM = (
    "    if v{n} is not None: v{n} = members_{n}.get(v{n}) or open_enum(v{n}, enum_{n})\n"
)
_CONVERT_OPTIONAL_DATETIME = "    if v{n} is not None: v{n} = parse_datetime(v{n})\n"
_CONVERT_OPTIONAL_STRING_MAP = "    if v{n} is not None: v{n} = string_map(v{n}, None)\n"


def _field_code(type_: Any) -> str | None:
    """The statements for one field's type, or None if the generator does not know it."""
    optional = _is_optional(type_)
    inner = _without_none(type_) if optional else type_
    if inner is str:
        return _CHECK_OPTIONAL_STR if optional else _CHECK_STR
    if inner is int:
        return _CHECK_OPTIONAL_INT if optional else _CHECK_INT
    if not optional:
        return None  # required enums, datetimes and maps do not occur in the spec
    if isinstance(inner, type) and issubclass(inner, OpenEnum):
        return _CONVERT_OPTIONAL_ENUM
    if inner is datetime:
        return _CONVERT_OPTIONAL_DATETIME
    if inner == dict[str, str]:
        return _CONVERT_OPTIONAL_STRING_MAP
    return None


def _record_hook_factory(cls: type[Any], conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Generate ``structure_<Class>(o, _)`` for an attrs record class.

    Per field, in declaration order: read the key (``o[key]`` when the field has no
    default, so a missing key fails as in cattrs; else ``o.get(key, default)``), check
    or convert the value inline, then call the class positionally. A class with a type
    the generator does not know gets cattrs' own generated hook.
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    names: dict[str, Any] = {
        "cls": cls,
        "open_enum": _open_enum,
        "parse_datetime": parse_datetime,
        "string_map": _string_map,
    }
    lines = [f"def structure_{cls.__name__}(o, _):\n"]
    for index, field in enumerate(fields):
        code = _field_code(field.type)
        unusual = not field.init or field.kw_only or field.converter is not None
        if code is None or unusual or isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            return make_dict_structure_fn(cls, conv)
        key = repr(field.name)
        if field.default is attrs.NOTHING:
            lines.append(f"    v{index} = o[{key}]\n")
        elif field.default is None:
            lines.append(f"    v{index} = o.get({key})\n")
        else:
            names[f"default_{index}"] = field.default
            lines.append(f"    v{index} = o.get({key}, default_{index})\n")
        if code is _CONVERT_OPTIONAL_ENUM:
            enum_type = _without_none(field.type)
            names[f"enum_{index}"] = enum_type
            names[f"members_{index}"] = enum_type._value2member_map_
        lines.append(code.format(n=index, q=key))
    arguments = ", ".join(f"v{index}" for index in range(len(fields)))
    lines.append(f"    return cls({arguments})\n")
    source = "".join(lines)
    namespace: dict[str, Any] = {}
    # Generated from attrs field metadata of our own classes, never from input data.
    exec(compile(source, f"<proxy_async structure {cls.__qualname__}>", "exec"), names, namespace)  # noqa: S102
    hook: Callable[[Any, Any], Any] = namespace[f"structure_{cls.__name__}"]
    hook.__doc__ = source  # shown by help(); the generated code is the documentation
    return hook


def _is_record(type_: Any) -> bool:
    return isinstance(type_, type) and attrs.has(type_) and not getattr(type_, "__parameters__", ())


def _build(detailed: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=False)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(OpenEnum, _open_enum)
    conv.register_structure_hook_factory(_is_optional, _optional_hook_factory)
    conv.register_structure_hook(datetime, lambda value, _: parse_datetime(value))
    conv.register_structure_hook_func(lambda type_: type_ == dict[str, str], _string_map)
    if not detailed:
        conv.register_structure_hook_factory(_is_record, _record_hook_factory)
    return conv


converter = _build(detailed=False)
"""The converter every response goes through (generated, non-detailed hooks)."""

_diagnostic_converter = _build(detailed=True)


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
      :func:`proxy_async.export.encode_ndjson` for how it is written back);
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


def structure(data: Any, model: type[T], where: str = "") -> T:
    """Structure one JSON object into ``model``; any mismatch becomes a named error."""
    hook: Callable[[Any, type[T]], T] = converter.get_structure_hook(model)
    try:
        return hook(data, model)
    except Exception:
        raise _explain(data, model, where) from None


@attrs.frozen(slots=True)
class ReceivedPage(Generic[T]):
    """A list page as received: its shape and ``meta`` checked, its records not yet built.

    Building the records is the costly step of a page. The paging routine does it
    after it has asked for the next page, so that it runs while the server prepares
    that page (see :mod:`proxy_async.pagination`). ``path`` names the request in errors.
    """

    meta: PageMeta
    raw_items: list[Any]
    model: type[T]
    list_key: str
    path: str = ""

    def __len__(self) -> int:
        return len(self.raw_items)

    def structure(self, limit: int | None = None) -> Page[T]:
        """Build the page's records (only the first ``limit`` of them, if given)."""
        raw_items = self.raw_items if limit is None else self.raw_items[:limit]
        model = self.model
        hook: Callable[[Any, type[T]], T] = converter.get_structure_hook(model)
        try:
            items = tuple([hook(raw, model) for raw in raw_items])
        except Exception:
            # Slow path, only on failure: find the first bad record and name its field.
            try:
                for index, raw in enumerate(raw_items):
                    structure(raw, model, f"{self.list_key}[{index}]")
            except InvalidResponseError as error:
                if self.path:
                    error.method, error.path = "GET", self.path
                raise
            raise  # unreachable unless a hook is nondeterministic
        return Page(items, self.meta, tuple(raw_items))


def receive_page(body: Any, model: type[T], list_key: str, path: str = "") -> ReceivedPage[T]:
    """Check a list response ``{"<list_key>": [...], "meta": {...}}``; records come later."""
    if type(body) is not dict:
        raise InvalidResponseError(f"expected a JSON object, got {_json_type(body)}")
    if "meta" not in body:
        raise InvalidResponseError("missing", field="meta")
    if list_key not in body:
        raise InvalidResponseError("missing", field=list_key)
    raw_items = body[list_key]
    if type(raw_items) is not list:
        raise InvalidResponseError(
            f"expected a JSON array, got {_json_type(raw_items)}", field=list_key
        )
    meta = structure(body["meta"], PageMeta, "meta")
    return ReceivedPage(meta, raw_items, model, list_key, path)


def structure_page(body: Any, model: type[T], list_key: str) -> Page[T]:
    """Structure a list response ``{"<list_key>": [...], "meta": {...}}`` into a Page."""
    return receive_page(body, model, list_key).structure()


def _explain(data: Any, model: type[Any], where: str) -> InvalidResponseError:
    if type(data) is not dict:
        return InvalidResponseError(f"expected a JSON object, got {_json_type(data)}", field=where)
    try:
        _diagnostic_converter.structure(data, model)
    except ClassValidationError as group:
        field, reason = _first_failure(group)
        return InvalidResponseError(reason, field=_join(where, field))
    except Exception as exc:
        return InvalidResponseError(_reason(exc), field=where)
    return InvalidResponseError("could not be structured", field=where)


def _first_failure(group: ClassValidationError) -> tuple[str, str]:
    with_notes, others = group.group_exceptions()
    for exc, note in with_notes:
        if isinstance(exc, ClassValidationError):
            inner, reason = _first_failure(exc)
            return _join(note.name, inner), reason
        return note.name, _reason(exc)
    return "", _reason(others[0]) if others else "invalid"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ValueError) and not str(exc):
        return "invalid value"
    return str(exc) or type(exc).__name__


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return f"{prefix}.{name}" if name else prefix


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", int: "integer", float: "number"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return names.get(type(value), type(value).__name__)


__all__ = [
    "MAX_JSON_DEPTH",
    "ReceivedPage",
    "converter",
    "decode_json",
    "decode_json_text",
    "encode_json",
    "parse_datetime",
    "receive_page",
    "replace_lone_surrogates",
    "structure",
    "structure_page",
]
