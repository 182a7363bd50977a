"""Readable :class:`InvalidResponseError` text for a record the fast converter refused.

The fast converter (:mod:`proxy_async.models.converter`) only says *that* a record is
bad. Only then, on the slow path, :data:`diagnostic_converter` (cattrs'
``detailed_validation=True``, with the same strict hooks) structures it again to name
the first offending field: ``interactions[3].date_created: not an ISO-8601 datetime``.
"""

from __future__ import annotations

from typing import Any

from cattrs.errors import ClassValidationError

from ..errors import InvalidResponseError
from .hooks import strict_converter

diagnostic_converter = strict_converter(detailed=True)
"""The converter that names what is wrong (cattrs' generated, detailed hooks)."""


def explain(data: Any, model: type[Any], where: str) -> InvalidResponseError:
    """The error for ``data``, which did not structure into ``model``: its first bad
    field, named under ``where`` (``"interactions[3]"``, ``"meta"``, or ``""``)."""
    if type(data) is not dict:
        return InvalidResponseError(f"expected a JSON object, got {json_type(data)}", field=where)
    try:
        diagnostic_converter.structure(data, model)
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


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (``"object"``, ``"null"``, ...), for messages."""
    names = {dict: "object", list: "array", str: "string", int: "integer", float: "number"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return names.get(type(value), type(value).__name__)
