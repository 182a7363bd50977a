"""Make aioresponses 0.7.x build responses under aiohttp >= 3.14.

aiohttp 3.14 added a required ``stream_writer`` argument to ``ClientResponse``;
aioresponses (pnuckowski/aioresponses#289, still open) does not pass it, so every mocked
request fails with a TypeError. A mocked response never wrote anything, so a writer
reporting zero bytes sent is all it needs.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aioresponses.core
from aiohttp import ClientResponse
from aioresponses import aioresponses as _aioresponses


class _SentNothing:
    output_size = 0


class _CompatClientResponse(ClientResponse):
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentNothing())
        super().__init__(method, url, **kwargs)


_NEEDS_SHIM = "stream_writer" in inspect.signature(ClientResponse.__init__).parameters


@contextmanager
def mocked_aiohttp() -> Iterator[_aioresponses]:
    """``aioresponses()`` that also works on aiohttp 3.14+."""
    # aioresponses.core builds responses from the ClientResponse name it imported.
    original = vars(aioresponses.core)["ClientResponse"]
    if _NEEDS_SHIM:
        setattr(aioresponses.core, "ClientResponse", _CompatClientResponse)  # noqa: B010
    try:
        with _aioresponses() as mock:
            yield mock
    finally:
        setattr(aioresponses.core, "ClientResponse", original)  # noqa: B010
