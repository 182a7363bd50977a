"""JSON values -> attrs records, with one cattrs converter built at import.

Two converters share the strict primitive hooks of :mod:`proxy_async.models.hooks`:

* :data:`converter` (``detailed_validation=False``) runs on every response: its hooks
  for the record classes are generated (:mod:`proxy_async.models.record_hook`), the
  fast path;
* :data:`~proxy_async.models.explain.diagnostic_converter` (``detailed_validation=True``)
  runs only after the fast path failed, to name the offending field in an
  :class:`InvalidResponseError` (:mod:`proxy_async.models.explain`).

List pages are received and built by :mod:`proxy_async.models.pages`; the msgspec fast
path, which reads JSON bytes straight into records, is :mod:`proxy_async.models.fast_path`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import cattrs

from .explain import explain
from .hooks import strict_converter
from .record_hook import is_record, record_hook_factory

T = TypeVar("T")


def _fast_converter() -> cattrs.Converter:
    conv = strict_converter(detailed=False)
    conv.register_structure_hook_factory(is_record, record_hook_factory)
    return conv


converter = _fast_converter()
"""The converter every response goes through (generated, non-detailed hooks)."""


def structure(data: Any, model: type[T], where: str = "") -> T:
    """Structure one JSON object into ``model``; any mismatch becomes a named error.

    Raises :class:`InvalidResponseError` naming the first bad field under ``where``.
    """
    hook: Callable[[Any, type[T]], T] = converter.get_structure_hook(model)
    try:
        return hook(data, model)
    except Exception:
        raise explain(data, model, where) from None
