"""Pre-rendered GET bodies: each answer serialised once, then served as the same bytes.

For client-bound benchmarks (``FakeProxyServer(prerender=True)``, ``python -m
proxy_async.testing --prerender``): building a page of 1,000 Interactions and
serialising it costs the server about as much CPU as a client spends decoding it, so
without a cache the server, not the client, sets the pace.
"""

from __future__ import annotations

import collections

import attrs

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""Default bound of the cached bodies: 256 MiB.

A page of 1,000 Interactions is about 1.2 MB, so this holds about 200 such pages,
e.g. one session of 200,000 interactions at page size 1000, or 20 sessions of 1,000
at page size 50 many times over.
"""


@attrs.frozen
class CacheKey:
    """What decides a GET's answer besides the data: path, raw query, URL base, PageSize default.

    ``base`` is the ``scheme://host[:port]`` absolute URLs in the body start with
    (from the request's Host header); ``default_page_size`` the server's PageSize for
    list requests that give none (an attribute that may change while it runs).
    """

    path: str
    query_string: str
    base: str
    default_page_size: int


@attrs.frozen
class Rendered:
    """One cached answer: a 200's serialised JSON body and the reply's own headers."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


class PageCache:
    """Least-recently-used cache of rendered GET bodies, bounded by their total bytes.

    ``max_bytes`` bounds the sum of cached body lengths (headers and keys, a few
    hundred bytes per entry, are not counted); a body larger than ``max_bytes`` on
    its own is never cached. Raises ValueError for ``max_bytes`` < 0. ``hits`` and
    ``misses`` count :meth:`get` results since creation.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: collections.OrderedDict[CacheKey, Rendered] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> Rendered | None:
        """The cached answer for ``key`` (now the most recently used), or None."""
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return found

    def put(self, key: CacheKey, rendered: Rendered) -> None:
        """Cache ``rendered``, evicting the least recently used answers to stay in bounds."""
        size = len(rendered.body)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        while self._entries and self.size + size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= len(evicted.body)
        self._entries[key] = rendered
        self.size += size

    def clear(self) -> None:
        """Forget every answer (the data changed)."""
        self._entries.clear()
        self.size = 0
