"""The strict primitive structuring hooks both cattrs converters share, and timestamps.

The hooks are strict where cattrs' defaults are lenient: cattrs would turn ``12`` into
``"12"`` for a ``str`` field; here a wrong JSON type is an error, never a silently
wrong object. They check the *JSON type* of a decoded value (``type(value) is int``:
orjson gives exact ``int``, ``str``, ``bool``), not a caller's argument, so they are
not :mod:`proxy_async.validation` checks. :func:`strict_converter` builds a converter
with them; :mod:`proxy_async.models.converter` and :mod:`proxy_async.models.explain`
each build theirs with it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import cattrs

from .enums import OpenEnum
from .field_types import is_optional, without_none

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


def strict_str(value: object, _: type) -> str:
    """``value`` if it is a JSON string, else ``TypeError``."""
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def strict_int(value: object, _: type) -> int:
    """``value`` if it is a JSON integer (never a boolean), else ``TypeError``."""
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def open_enum(value: object, enum_type: type[OpenEnum]) -> OpenEnum:
    """The ``enum_type`` member for a JSON string (see :class:`OpenEnum`), else ``TypeError``."""
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    # The member map lookup skips EnumType.__call__ for the common, exact-case value.
    member = enum_type._value2member_map_.get(value)
    return enum_type(value) if member is None else member  # type: ignore[return-value]


def _optional_str(value: object, _: type) -> str | None:
    if value is None or type(value) is str:
        return value
    raise TypeError(f"expected a string or null, got {type(value).__name__}")


def _optional_hook_factory(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """One hook per ``X | None``, bound to X's hook once instead of dispatching per value."""
    inner_type = without_none(type_)
    if inner_type is str:
        return _optional_str
    inner = conv.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


def string_map(value: object, _: type) -> dict[str, str]:
    """A copy of a JSON object of strings (``links``), else ``TypeError``."""
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise TypeError("expected a JSON object of strings")
    return dict(value)  # a copy: the record must not change when the decoded body does


def strict_converter(*, detailed: bool) -> cattrs.Converter:
    """A cattrs converter with these hooks; ``detailed``: cattrs' ``detailed_validation``."""
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=False)
    conv.register_structure_hook(str, strict_str)
    conv.register_structure_hook(int, strict_int)
    conv.register_structure_hook(OpenEnum, open_enum)
    conv.register_structure_hook_factory(is_optional, _optional_hook_factory)
    conv.register_structure_hook(datetime, lambda value, _: parse_datetime(value))
    conv.register_structure_hook_func(lambda type_: type_ == dict[str, str], string_map)
    return conv
