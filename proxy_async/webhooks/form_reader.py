"""Take the parameters of a webhook form out one by one, checked, into typed values.

:class:`FormReader` is what :mod:`.callbacks` builds its models with. Every refusal is an
:class:`~proxy_async.errors.InvalidCallbackError` naming the form parameter as Twilio
sends it; the value itself is never quoted, since it may be a phone number or a message.
An empty value counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final, TypeVar

from multidict import MultiMapping

from ..errors import InvalidCallbackError
from ..models.enums import OpenEnum
from ..models.hooks import parse_datetime
from ..validation import is_sid

_Choice = TypeVar("_Choice", bound=OpenEnum)


def _extra_value(values: list[str]) -> str | tuple[str, ...]:
    return values[0] if len(values) == 1 else tuple(values)


class FormReader:
    """Takes parameters out of a normalised form; what is left over becomes ``extra``."""

    def __init__(self, form: Mapping[str, object]) -> None:
        if not isinstance(form, Mapping):
            raise InvalidCallbackError("<form>", "expected a mapping of parameter names")
        self._values: dict[str, list[str]] = {}
        for name in form:
            if not isinstance(name, str):
                raise InvalidCallbackError(repr(name), "parameter names must be str")
            if name in self._values:  # a multidict yields a repeated name once per value
                continue
            raw: object = form.getall(name) if isinstance(form, MultiMapping) else form[name]
            self._values[name] = self._texts(name, raw)

    @staticmethod
    def _texts(name: str, raw: object) -> list[str]:
        items: Sequence[object]
        if isinstance(raw, str):
            return [raw]
        if isinstance(raw, Sequence) and not isinstance(raw, (bytes, bytearray)):
            items = raw
        else:
            raise InvalidCallbackError(name, f"expected text, got {type(raw).__name__}")
        texts: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidCallbackError(name, f"expected text, got {type(item).__name__}")
            texts.append(item)
        return texts

    def text(self, name: str) -> str | None:
        """Take ``name``: its one value, or None when absent or empty."""
        values = self._values.pop(name, None)
        if values is None:
            return None
        if len(values) != 1:
            raise InvalidCallbackError(name, f"expected a single value, got {len(values)}")
        return values[0] or None

    def choice(self, name: str, kind: type[_Choice]) -> _Choice | None:
        """``name`` as a member of the open enum ``kind`` (read as the API's records are)."""
        value = self.text(name)
        return None if value is None else kind(value)

    def required(self, name: str) -> str:
        """Take ``name``, which must be present and non-empty."""
        value = self.text(name)
        if value is None:
            raise InvalidCallbackError(name, "required but missing or empty")
        return value

    def sid(self, name: str, prefix: str | None) -> str | None:
        """Take ``name`` as a ``prefix`` SID (None: any two capital letters), or None."""
        value = self.text(name)
        return None if value is None else _checked_sid(name, value, prefix)

    def required_sid(self, name: str, prefix: str) -> str:
        """Take ``name`` as a ``prefix`` SID that must be present."""
        return _checked_sid(name, self.required(name), prefix)

    def url(self, name: str) -> str | None:
        """Take ``name`` as an absolute http(s) URL, or None."""
        value = self.text(name)
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise InvalidCallbackError(name, "expected an absolute http(s) URL")
        return value

    def date(self, name: str) -> datetime | None:
        """Take ``name`` as an ISO 8601 date-time with a clock time (aware UTC), or None."""
        value = self.text(name)
        if value is None:
            return None
        parsed = _parse_datetime(value)
        if parsed is None:
            raise InvalidCallbackError(name, "expected an ISO 8601 date-time")
        return parsed

    def integer(self, name: str) -> int | None:
        """Take ``name`` as a non-negative decimal integer, or None."""
        value = self.text(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            raise InvalidCallbackError(name, "expected a non-negative integer")
        try:
            return int(value)
        except ValueError:  # more digits than Python's int conversion limit (4,300)
            raise InvalidCallbackError(name, "expected an integer of fewer digits") from None

    def has_any(self, prefix: str) -> bool:
        """Whether any parameter not yet taken starts with ``prefix``."""
        return any(name.startswith(prefix) for name in self._values)

    def rest(self) -> Mapping[str, str | tuple[str, ...]]:
        """The parameters not taken: one value as a str, several as a tuple."""
        return {name: _extra_value(values) for name, values in self._values.items()}


def _checked_sid(name: str, value: str, prefix: str | None) -> str:
    if not is_sid(value, prefix):
        kind = f"{prefix} SID" if prefix else "SID"
        raise InvalidCallbackError(name, f"expected a {kind} (2 letters, 32 hex digits)")
    return value


# conversion.parse_datetime also reads a bare date ("2018-03-13") as midnight, since
# datetime.fromisoformat() does; a webhook timestamp without a time of day is malformed
# instead, so a clock time (HH:MM) is required first. That also refuses, on every Python,
# the basic ("20180313T224254Z") and hour-only forms that only 3.11+'s fromisoformat reads.
_CLOCK_TIME: Final = re.compile(r"\d{2}:\d{2}", re.ASCII)


def _parse_datetime(value: str) -> datetime | None:
    if _CLOCK_TIME.search(value) is None:
        return None
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        return None
