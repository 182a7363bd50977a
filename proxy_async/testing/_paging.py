"""Twilio-style list pages over a :class:`~._sources.Source`.

``Page`` is only echoed (client state). Where a page starts comes from ``PageToken``
when present, otherwise from ``Page * PageSize`` counted over live records. Tokens
encode a raw position, so records deleted between two page fetches never make a
walk skip or repeat anything.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
from typing import Any

import attrs

from ._sources import Source

MAX_PAGE_SIZE = 1000
_TOKEN_POSITION = re.compile(r"[0-9a-f]{1,15}")
_MAC_HEX = 12


class PageTokens:
    """Makes and checks opaque ``PageToken`` values bound to one list path."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, list_path: str, raw: int) -> str:
        return hashlib.blake2b(
            f"{list_path}|{raw}".encode(), key=self._secret, digest_size=_MAC_HEX // 2
        ).hexdigest()

    def make(self, list_path: str, raw: int) -> str:
        """The token of the page of ``list_path`` starting at raw position ``raw``."""
        return f"PT{self._mac(list_path, raw)}{raw:x}"

    def parse(self, list_path: str, token: str) -> int | None:
        """The raw position in ``token``, or None if it was not made for ``list_path``."""
        mac, position = token[2 : 2 + _MAC_HEX], token[2 + _MAC_HEX :]
        if not token.startswith("PT") or _TOKEN_POSITION.fullmatch(position) is None:
            return None
        raw = int(position, 16)
        return raw if hmac.compare_digest(mac, self._mac(list_path, raw)) else None


@attrs.frozen
class PageQuery:
    """The validated paging parameters of one request."""

    size: int
    index: int
    token: str | None
    start: int | None  # raw position from the token, None when paging by index


@attrs.frozen
class Page:
    """A rendered page plus what the empty-page fault needs."""

    payload: dict[str, Any]
    empty_next_url: str


def _start_of_offset(deleted: list[int], offset: int) -> int:
    # The smallest raw position with exactly `offset` live records before it.
    raw = offset
    while True:
        moved = offset + bisect.bisect_left(deleted, raw)
        if moved == raw:
            return raw
        raw = moved


def _previous_start(deleted: list[int], start: int, size: int) -> int | None:
    index = bisect.bisect_left(deleted, start)
    raw, wanted = start, size
    while raw > 0 and wanted:
        raw -= 1
        if index and deleted[index - 1] == raw:
            index -= 1
        else:
            wanted -= 1
    return None if wanted == size else raw


def _render_live(source: Source, start: int, end: int, size: int) -> tuple[list[Any], int]:
    """Up to ``size`` live records from raw ``start`` on, and the raw position after them."""
    deleted, render = source.deleted, source.render
    items: list[Any] = []
    index = bisect.bisect_left(deleted, start)
    raw = start
    while raw < end and len(items) < size:
        if index < len(deleted) and deleted[index] == raw:
            index += 1
            raw += 1
            continue
        # Render the whole run of live positions up to the next deleted one at once.
        stop = min(deleted[index] if index < len(deleted) else end, end, raw + size - len(items))
        items.extend(map(render, range(raw, stop)))
        raw = stop
    return items, raw


def build_page(
    source: Source, query: PageQuery, *, key: str, base_url: str, list_path: str, tokens: PageTokens
) -> Page:
    """The page ``query`` asks for, with Twilio's ``meta`` block."""
    deleted = source.deleted
    end = source.raw_len
    if query.start is not None:
        start = min(query.start, end)
    else:
        start = min(_start_of_offset(deleted, query.index * query.size), end)
    items, raw = _render_live(source, start, end, query.size)
    live_after = (end - raw) - (len(deleted) - bisect.bisect_left(deleted, raw))

    list_url = base_url + list_path

    def url(page: int, token: str | None) -> str:
        tail = f"&PageToken={token}" if token is not None else ""
        return f"{list_url}?PageSize={query.size}&Page={page}{tail}"

    previous = _previous_start(deleted, start, query.size)
    payload = {
        key: items,
        "meta": {
            "previous_page_url": None
            if previous is None
            else url(max(query.index - 1, 0), tokens.make(list_path, previous)),
            "next_page_url": url(query.index + 1, tokens.make(list_path, raw))
            if live_after > 0
            else None,
            "url": url(query.index, query.token),
            "page": query.index,
            "first_page_url": url(0, None),
            "page_size": query.size,
            "key": key,
        },
    }
    return Page(payload, url(query.index + 1, tokens.make(list_path, start)))
