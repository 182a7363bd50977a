"""List pages and single records as received: checked on arrival, records built later.

:func:`receive_body` checks a list response's bytes (the msgspec fast path first,
:mod:`proxy_async.models.fast_path`, else :func:`~proxy_async.models.json_codec.decode_json`
and :func:`receive_page`) into a :class:`ReceivedPage`, whose records the paging routine
builds later (:meth:`ReceivedPage.structure`). :func:`structure_body` does a fetched or
created record in one step. Any mismatch is an :class:`InvalidResponseError` naming the
field (:mod:`proxy_async.models.explain`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import attrs

from ..errors import InvalidResponseError
from .converter import converter, structure
from .explain import json_type
from .fast_path import page_decoder, record_decoder
from .json_codec import decode_json
from .raw_records import DecodedRecords, MirroredRecords, RawRecords
from .records import Page, PageMeta

T = TypeVar("T")


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
        raise InvalidResponseError(f"expected a JSON object, got {json_type(body)}")
    if "meta" not in body:
        raise InvalidResponseError("missing", field="meta")
    if list_key not in body:
        raise InvalidResponseError("missing", field=list_key)
    raw_items = body[list_key]
    if type(raw_items) is not list:
        raise InvalidResponseError(
            f"expected a JSON array, got {json_type(raw_items)}", field=list_key
        )
    meta = structure(body["meta"], PageMeta, "meta")
    return ReceivedPage(meta, DecodedRecords(raw_items), model, list_key, path)


def structure_page(body: Any, model: type[T], list_key: str) -> Page[T]:
    """Structure a list response into a Page: ``body`` decoded (the reference path) or
    the response's bytes (the fast path first, see :func:`receive_body`)."""
    if isinstance(body, bytes):
        return receive_body(body, model, list_key).structure()
    return receive_page(body, model, list_key).structure()
