"""What a record field's annotation says: its type, and whether it may be None.

Shared by the reference path (:mod:`proxy_async.models.hooks`,
:mod:`proxy_async.models.record_hook`) and the msgspec fast path
(:mod:`proxy_async.models.fast_path`), which must read every field's type alike.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin


def is_optional(type_: Any) -> bool:
    """Whether ``type_`` is ``X | None`` (``Optional[X]``) for a single ``X``."""
    args = get_args(type_)
    return len(args) == 2 and type(None) in args and get_origin(type_) in (Union, UnionType)


def without_none(optional_type: Any) -> Any:
    """``X`` of ``X | None``."""
    return next(arg for arg in get_args(optional_type) if arg is not type(None))


def unwrap_optional(type_: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``, else ``(type_, False)``."""
    if is_optional(type_):
        return without_none(type_), True
    return type_, False


__all__ = ["is_optional", "unwrap_optional", "without_none"]
