"""Typed records of the Proxy v1 API: attrs classes mirroring Twilio's OpenAPI schemas.

Field names and nullability follow ``twilio_proxy_v1.json`` exactly (the conformance
test reads it). Every field except ``sid`` may be absent from a response and then is
None. The ``sid`` key must be present (its value may be null, as the spec allows), so
an object that is not a record at all, such as ``{"error": ...}`` answered with 200,
is reported as a bad response instead of becoming an empty record. The enums are in
:mod:`proxy_async.models.enums`; structuring from JSON is :mod:`proxy_async.models.converter`'s
job (the msgspec fast path: :mod:`proxy_async.models.fast_path`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, Generic, TypeVar

import attrs

from ..errors import InvalidResponseError
from .enums import InteractionType, ResourceStatus, SessionMode, SessionStatus
from .json_codec import decode_json_text
from .raw_records import DecodedRecords, RawRecords


def decode_data(data: str | None) -> Any:
    """Decode an Interaction's ``data``: the JSON value, or the string itself if not JSON.

    JSON is read as response bodies are (:func:`proxy_async.models.json_codec.decode_json_text`):
    a lone surrogate escape (``{"body":"see you \\ud83d"}``, half an emoji) kept, an
    integer beyond 64 bits exact, a byte order mark skipped. What that refuses (not JSON,
    ``NaN``, nesting beyond its bound) gives the string itself.
    """
    if data is None:
        return None
    try:
        return decode_json_text(data)
    except InvalidResponseError:
        return data


@attrs.frozen(slots=True)
class _InteractionFields:
    """Fields shared by Interaction and MessageInteraction (the spec lists them in both)."""

    sid: str | None
    session_sid: str | None = None
    service_sid: str | None = None
    account_sid: str | None = None
    data: str | None = attrs.field(default=None, repr=False)  # PII: kept out of reprs/logs
    type: InteractionType | None = None
    inbound_participant_sid: str | None = None
    inbound_resource_sid: str | None = None
    inbound_resource_status: ResourceStatus | None = None
    inbound_resource_type: str | None = None
    inbound_resource_url: str | None = None
    outbound_participant_sid: str | None = None
    outbound_resource_sid: str | None = None
    outbound_resource_status: ResourceStatus | None = None
    outbound_resource_type: str | None = None
    outbound_resource_url: str | None = None
    date_created: datetime | None = None
    date_updated: datetime | None = None
    url: str | None = None

    @property
    def decoded_data(self) -> Any:
        """``data`` decoded from JSON (``{"body": "hello"}``), or the raw string if not JSON."""
        return decode_data(self.data)


@attrs.frozen(slots=True)
class Interaction(_InteractionFields):
    """One Interaction of a Session: a message or call between participants."""


@attrs.frozen(slots=True)
class MessageInteraction(_InteractionFields):
    """A Message Interaction sent to one Participant through the API."""

    participant_sid: str | None = None


@attrs.frozen(slots=True)
class Session:
    """A Proxy Session: the conversation whose Interactions are exported."""

    sid: str | None
    service_sid: str | None = None
    account_sid: str | None = None
    date_started: datetime | None = None
    date_ended: datetime | None = None
    date_last_interaction: datetime | None = None
    date_expiry: datetime | None = None
    unique_name: str | None = None
    status: SessionStatus | None = None
    closed_reason: str | None = None
    ttl: int = 0
    mode: SessionMode | None = None
    date_created: datetime | None = None
    date_updated: datetime | None = None
    url: str | None = None
    links: dict[str, str] | None = attrs.field(default=None, hash=False)  # dicts are unhashable


@attrs.frozen(slots=True)
class Participant:
    """A Participant of a Session (its MessageInteractions are listed per participant)."""

    sid: str | None
    session_sid: str | None = None
    service_sid: str | None = None
    account_sid: str | None = None
    friendly_name: str | None = None
    identifier: str | None = attrs.field(default=None, repr=False)  # a phone number: PII
    proxy_identifier: str | None = None
    proxy_identifier_sid: str | None = None
    date_deleted: datetime | None = None
    date_created: datetime | None = None
    date_updated: datetime | None = None
    url: str | None = None
    links: dict[str, str] | None = attrs.field(default=None, hash=False)  # dicts are unhashable


@attrs.frozen(slots=True)
class PageMeta:
    """The ``meta`` object of a list page; ``next_page_url`` is None on the last page.

    ``next_page_url`` must be present (null or a URL): a page without it is rejected,
    because reading its absence as "last page" could silently truncate an export.
    """

    key: str
    page: int
    page_size: int
    url: str
    first_page_url: str
    next_page_url: str | None
    previous_page_url: str | None = None


T = TypeVar("T")


def _items_or_builder(
    items: Sequence[T] | Callable[[], Sequence[T]],
) -> tuple[T, ...] | Callable[[], Sequence[T]]:
    """A builder (a callable) as given; records as a tuple."""
    return items if callable(items) else tuple(items)


ITEM_CHUNK = 64
"""Records :meth:`Page.iter_items` builds at a time (32 to 250 measured alike)."""


@attrs.frozen(slots=True, eq=False)
class Page(Generic[T]):
    """One page of a list: its records in server order and its ``meta``.

    ``items`` are the typed records. A page read by the msgspec fast path has had every
    value checked when it arrives but builds ``items`` when they are first read (an
    export, which writes the records as sent, never reads them); ``Page(items, ...)``
    also takes a callable returning them.

    ``raw_items`` are the same records as the server sent them, as decoded JSON
    objects, untouched: Twilio's field names and values survive exactly, and fields
    newer than this package stay reachable. ``raw_records`` holds them in whatever
    form the page was read (:mod:`proxy_async.models.raw_records`): a fast-path page decodes
    the dicts only when ``raw_items`` is first read, and exports write each record's
    own bytes instead. ``raw_items`` takes the dicts or a
    :class:`~proxy_async.models.raw_records.RawRecords`.
    """

    _items: tuple[T, ...] | Callable[[], Sequence[T]] = attrs.field(
        alias="items", repr=False, converter=_items_or_builder
    )
    meta: PageMeta
    _raw: tuple[dict[str, Any], ...] | RawRecords = attrs.field(
        default=(), repr=False, alias="raw_items"
    )

    @property
    def items(self) -> tuple[T, ...]:
        """The typed records, in server order (built on first read)."""
        items = self._items
        if not isinstance(items, tuple):
            items = tuple(items())
            object.__setattr__(self, "_items", items)  # frozen: caching is not a change
        return items

    @property
    def raw_items(self) -> tuple[dict[str, Any], ...]:
        """The records as decoded JSON objects, in ``items`` order."""
        raw = self._raw
        return raw.dicts() if isinstance(raw, RawRecords) else raw

    @property
    def raw_records(self) -> RawRecords:
        """The records as sent, in whatever form the page was read."""
        raw = self._raw
        return raw if isinstance(raw, RawRecords) else DecodedRecords(raw)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self.items, self.meta) == (other.items, other.meta)

    def __hash__(self) -> int:
        return hash((self.items, self.meta))

    def __repr__(self) -> str:
        return f"Page(items={self.items!r}, meta={self.meta!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled and copied with its records built: a builder holds the page's decoder.
        return (type(self), (self.items, self.meta, self._raw))

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def iter_items(self) -> Iterator[T]:
        """The typed records one by one, as :attr:`items` would give them.

        A fast-path page whose :attr:`items` were not read yet builds its records
        :data:`ITEM_CHUNK` at a time and keeps none: what a stream does with each page.
        Fewer records alive at once leave Python's cycle collector less to look at
        (it tracks every record object): a stream of 200,000 records took 4 to 5% less
        CPU than when each page built its 1,000 records at once (measured). The page
        was checked when it arrived, so no chunk can fail; should msgspec refuse one
        after all (never seen), the reference path builds the page and the records
        from that chunk on come from it, each once.
        """
        items = self._items
        chunks = getattr(items, "chunks", None)
        if isinstance(items, tuple) or chunks is None:
            return iter(self.items)
        # Chained in C: no Python frame per record, one per chunk.
        return chain.from_iterable(chunks(ITEM_CHUNK))

    def __len__(self) -> int:
        """The number of records (without building them)."""
        items, raw = self._items, self._raw
        if isinstance(items, tuple) or not isinstance(raw, RawRecords):
            return len(self.items)
        return len(raw)  # one record as sent per record to build
