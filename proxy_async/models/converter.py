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

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError
from cattrs.gen import make_dict_structure_fn

from ..errors import InvalidResponseError
from .fast_path import page_decoder, record_decoder
from .field_types import is_optional, unwrap_optional, without_none
from .json_codec import (
    MAX_JSON_DEPTH,
    decode_json,
    decode_json_text,
    encode_json,
    replace_lone_surrogates,
)
from .raw_records import DecodedRecords, MirroredRecords, RawRecords
from .records import OpenEnum, Page, PageMeta

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


def _optional_hook_factory(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """One hook per ``X | None``, bound to X's hook once instead of dispatching per value."""
    inner_type = without_none(type_)
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
    inner, optional = unwrap_optional(type_)
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
            enum_type = without_none(field.type)
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
    conv.register_structure_hook_factory(is_optional, _optional_hook_factory)
    conv.register_structure_hook(datetime, lambda value, _: parse_datetime(value))
    conv.register_structure_hook_func(lambda type_: type_ == dict[str, str], _string_map)
    if not detailed:
        conv.register_structure_hook_factory(_is_record, _record_hook_factory)
    return conv


converter = _build(detailed=False)
"""The converter every response goes through (generated, non-detailed hooks)."""

_diagnostic_converter = _build(detailed=True)


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
    that page (see :mod:`proxy_async.pagination`). ``records`` are the records as sent:
    dicts from the reference reader, or mirrors from the msgspec fast path
    (:mod:`proxy_async.models.fast_path`), which then also builds the records. ``path`` names
    the request in errors.
    """

    meta: PageMeta
    records: RawRecords
    model: type[T]
    list_key: str
    path: str = ""

    def __len__(self) -> int:
        return len(self.records)

    @property
    def raw_items(self) -> tuple[dict[str, Any], ...]:
        """The records as dicts (decoded on first use for a fast-path page)."""
        return self.records.dicts()

    def without(self, positions: Sequence[int]) -> ReceivedPage[T]:
        """This page without the records at ``positions``, once the whole page passed
        the checks of :meth:`structure`.

        Raises :class:`InvalidResponseError` for a bad record, even one left out, named
        by its place on the page as sent: as a page not cut down. Pages with repeats
        are rare (a healthy listing has none), so checking one twice costs nothing.
        """
        self.structure()
        skip = set(positions)
        keep = [index for index in range(len(self.records)) if index not in skip]
        return attrs.evolve(self, records=self.records.subset(keep))

    def structure(self, limit: int | None = None) -> Page[T]:
        """Build the page's records (only the first ``limit`` of them, if given).

        Raises :class:`InvalidResponseError` naming the first bad record's field.
        """
        records = self.records
        if limit is not None and limit < len(records):
            records = records.subset(range(limit))
        if isinstance(records, MirroredRecords):
            if page_decoder(self.model, self.list_key).accepts(records.mirrors):
                # Checked, to be built when first read: an export never reads them.
                return Page(_MirroredBuild(self, records), self.meta, records)
            # Refused: the reference reads the page again and answers for it.
            records = DecodedRecords(records.dicts())
        return Page(self._build(records.dicts()), self.meta, records)

    def _build(self, raw_items: tuple[dict[str, Any], ...]) -> tuple[T, ...]:
        model = self.model
        hook: Callable[[Any, type[T]], T] = converter.get_structure_hook(model)
        try:
            return tuple([hook(raw, model) for raw in raw_items])
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


class _MirroredBuild(Generic[T]):
    """Builds the records of a page the fast path accepted: all at once when
    ``Page.items`` is first read, or a few at a time (:meth:`chunks`) for
    ``Page.iter_items``. Should msgspec refuse what it accepted (never seen), the
    reference path answers for the page."""

    __slots__ = ("_page", "_records")

    def __init__(self, page: ReceivedPage[T], records: MirroredRecords) -> None:
        self._page = page
        self._records = records

    def __call__(self) -> tuple[T, ...]:
        built = page_decoder(self._page.model, self._page.list_key).build(self._records.mirrors)
        if built is None:
            return self._page._build(self._records.dicts())
        return tuple(built)

    def chunks(self, size: int) -> Iterator[Sequence[T]]:
        """The records in order, ``size`` at a time."""
        builder = page_decoder(self._page.model, self._page.list_key)
        mirrors = self._records.mirrors
        for start in range(0, len(mirrors), size):
            built = builder.build(mirrors[start : start + size])
            if built is None:
                yield self._page._build(self._records.dicts())[start:]
                return
            yield built


def structure_body(body: bytes, model: type[T]) -> T:
    """Structure one record's response body (a fetch, a create) into ``model``.

    The msgspec fast path if it takes the body (:mod:`proxy_async.models.fast_path`), else
    :func:`~proxy_async.models.json_codec.decode_json` and :func:`structure`, which name what is
    wrong (:class:`InvalidResponseError`).
    """
    record = record_decoder(model).decode(body)
    if record is None:
        return structure(decode_json(body), model)
    return record


def receive_body(body: bytes, model: type[T], list_key: str, path: str = "") -> ReceivedPage[T]:
    """Check a list response body ``{"<list_key>": [...], "meta": {...}}``; records come later.

    The msgspec fast path reads the page if it can (:mod:`proxy_async.models.fast_path`); else
    :func:`~proxy_async.models.json_codec.decode_json` and :func:`receive_page` do, and name
    what is wrong (:class:`InvalidResponseError`).
    """
    decoder = page_decoder(model, list_key)
    mirrored = decoder.decode(body)
    if mirrored is None:
        return receive_page(decode_json(body), model, list_key, path)
    records = MirroredRecords(body, mirrored.mirrors, decoder)
    return ReceivedPage(mirrored.meta, records, model, list_key, path)


def receive_page(body: Any, model: type[T], list_key: str, path: str = "") -> ReceivedPage[T]:
    """Check a decoded list response ``{"<list_key>": [...], "meta": {...}}``.

    Its records are built later, by :meth:`ReceivedPage.structure`.
    """
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
    return ReceivedPage(meta, DecodedRecords(raw_items), model, list_key, path)


def structure_page(body: Any, model: type[T], list_key: str) -> Page[T]:
    """Structure a list response into a Page: ``body`` decoded (the reference path) or
    the response's bytes (the fast path first, see :func:`receive_body`)."""
    if isinstance(body, bytes):
        return receive_body(body, model, list_key).structure()
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
    "receive_body",
    "receive_page",
    "replace_lone_surrogates",
    "structure",
    "structure_body",
    "structure_page",
]
