"""A page's records as the server sent them: what exports write and loop checks compare.

Two forms, one interface (:class:`RawRecords`):

* :class:`DecodedRecords`: the records as the reference reader decoded them (dicts,
  :func:`proxy_async.models.json_codec.decode_json`);
* :class:`MirroredRecords`: a page the msgspec fast path read (:mod:`proxy_async.models.fast_path`):
  the body's bytes and one mirror per record, whose values are the JSON values as sent.
  Dicts are decoded from the body only if someone asks for them.

Either gives the same answers: the same dicts, NDJSON lines that decode to those dicts,
the same CSV columns (``tests/models/test_fast_path.py``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from operator import attrgetter, itemgetter
from typing import Any, Protocol

import orjson
from msgspec.structs import astuple

from .json_codec import decode_json, encode_json

_SID = itemgetter("sid")
_MIRROR_SID = attrgetter("sid")

Column = Sequence[str | None]
"""One field's values down a page, for CSV: each as sent, or None for a null or absent
one (an empty cell)."""


class RawRecords:
    """The records of one page, as sent. Subclasses say how they hold them."""

    __slots__ = ("_sids",)

    def __len__(self) -> int:
        raise NotImplementedError

    def dicts(self) -> tuple[dict[str, Any], ...]:
        """The records as JSON objects, as :func:`.json_codec.decode_json` reads them."""
        raise NotImplementedError

    def sids(self) -> tuple[Hashable, ...] | None:
        """Each record's ``sid`` value, or None if a record has no hashable one.

        Read once: an export's walk checks the page for loops, then the exporter for
        repeated records, both from these."""
        try:
            return self._sids
        except AttributeError:
            self._sids: tuple[Hashable, ...] | None = self._read_sids()
            return self._sids

    def _read_sids(self) -> tuple[Hashable, ...] | None:
        raise NotImplementedError

    def ndjson(self) -> bytes:
        """One line of JSON per record, ``\\n``-terminated; each decodes to its record."""
        raise NotImplementedError

    def columns(self, names: Sequence[str]) -> list[Column]:
        """Per field of ``names``, its values in record order (see :data:`Column`)."""
        return self._columns_of(names, 0, len(self))

    def column_chunks(self, names: Sequence[str], size: int) -> Iterator[list[Column]]:
        """:meth:`columns` of ``size`` records at a time, in order (a CSV writer's way:
        see :mod:`proxy_async.bulk_export.csv_text`)."""
        for start in range(0, len(self), size):
            yield self._columns_of(names, start, start + size)

    def _columns_of(self, names: Sequence[str], start: int, stop: int) -> list[Column]:
        """:meth:`columns` of the records at positions ``start`` to ``stop``."""
        raise NotImplementedError

    def subset(self, keep: Sequence[int]) -> RawRecords:
        """Only the records at positions ``keep``, in that order."""
        dicts = self.dicts()
        return DecodedRecords(tuple(dicts[index] for index in keep))


class DecodedRecords(RawRecords):
    """Records held as the dicts the reference reader decoded."""

    __slots__ = ("_dicts",)

    def __init__(self, dicts: Sequence[dict[str, Any]]) -> None:
        self._dicts = tuple(dicts)

    def __len__(self) -> int:
        return len(self._dicts)

    def dicts(self) -> tuple[dict[str, Any], ...]:
        return self._dicts

    def _read_sids(self) -> tuple[Hashable, ...] | None:
        try:
            sids: tuple[Hashable, ...] = tuple(map(_SID, self._dicts))
            hash(sids)  # every SID must be hashable to be compared
        except (TypeError, KeyError, IndexError):
            return None
        return sids

    def ndjson(self) -> bytes:
        """Each dict re-encoded by orjson; a record orjson cannot write (a lone UTF-16
        surrogate kept from the server, an integer beyond 64 bits) by
        :func:`~proxy_async.models.json_codec.encode_json` instead, losslessly."""
        try:
            return b"".join(
                [orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE) for record in self._dicts]
            )
        except orjson.JSONEncodeError:
            return b"".join([encode_json(record) + b"\n" for record in self._dicts])

    def _columns_of(self, names: Sequence[str], start: int, stop: int) -> list[Column]:
        records = self._dicts[start:stop]
        return [[_cell(record.get(name)) for record in records] for name in names]


def _cell(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    # Record models admit only strings in the exported columns; should that change,
    # keep the value's JSON.
    return encode_json(value).decode()


class RecordSource(Protocol):
    """What :class:`MirroredRecords` needs of the fast path's page decoder."""

    @property
    def list_key(self) -> str:
        """The key of the page's records array."""

    @property
    def text_fields(self) -> frozenset[str]:
        """The mirror's fields whose values are JSON strings or null."""

    def record_bytes(self, body: bytes) -> list[Any]:
        """Each record's bytes in ``body``, as buffers, in a new list."""


class MirroredRecords(RawRecords):
    """Records of a page the fast path read: its body and one mirror per record."""

    __slots__ = ("_body", "_dicts", "_keep", "_mirrors", "_source")

    def __init__(
        self,
        body: bytes,
        mirrors: Sequence[Any],
        source: RecordSource,
        keep: Sequence[int] | None = None,
    ) -> None:
        """``mirrors`` are the records at positions ``keep`` of the page ``body`` (all if None)."""
        self._body = body
        self._mirrors = mirrors
        self._source = source
        self._keep = keep
        self._dicts: tuple[dict[str, Any], ...] | None = None

    def __len__(self) -> int:
        return len(self._mirrors)

    @property
    def mirrors(self) -> Sequence[Any]:
        """One ``msgspec.Struct`` per record, values as sent (see :mod:`.fast_path`)."""
        return self._mirrors

    def dicts(self) -> tuple[dict[str, Any], ...]:
        """Decoded from the body on first use (the fast path kept none)."""
        if self._dicts is None:
            dicts = decode_json(self._body)[self._source.list_key]
            keep = self._keep
            self._dicts = tuple(dicts if keep is None else [dicts[index] for index in keep])
        return self._dicts

    def _read_sids(self) -> tuple[Hashable, ...] | None:
        # A mirror's sid is a str or None, as the record's: always hashable.
        return tuple(map(_MIRROR_SID, self._mirrors))

    def ndjson(self) -> bytes:
        """Each record's own bytes, when the body holds no line break: the fast path
        checked them as JSON, so each is one line of valid JSON that decodes to its
        record. Else (a pretty-printed body) the records re-encoded."""
        body = self._body
        if b"\n" in body or b"\r" in body:
            return DecodedRecords(self.dicts()).ndjson()
        pieces = self._source.record_bytes(body)
        if self._keep is not None:
            pieces = [pieces[index] for index in self._keep]
        if not pieces:
            return b""
        # The last line's \n from the join itself: ``+ b"\n"`` copied the page's bytes
        # once more, into fresh memory (1 ms a 1.2 MB page with its page faults, measured).
        pieces.append(b"")
        return b"\n".join(pieces)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled and copied as the dicts: the mirror classes and decoder are not picklable.
        return (DecodedRecords, (self.dicts(),))

    def _columns_of(self, names: Sequence[str], start: int, stop: int) -> list[Column]:
        if not names:
            return []
        if not self._source.text_fields.issuperset(names):
            return DecodedRecords(self.dicts())._columns_of(names, start, stop)
        mirrors = self._mirrors[start:stop]
        if not mirrors:
            return [[] for _ in names]
        if tuple(names) == mirrors[0].__struct_fields__:  # every field, in order: C all the way
            return list(zip(*map(astuple, mirrors), strict=True))
        if len(names) == 1:
            return [list(map(attrgetter(names[0]), mirrors))]
        return list(zip(*map(attrgetter(*names), mirrors), strict=True))

    def subset(self, keep: Sequence[int]) -> RawRecords:
        mirrors = self._mirrors
        kept = [mirrors[index] for index in keep]
        # Positions in the body: ``keep`` is relative to this (possibly kept) set.
        positions = list(keep) if self._keep is None else [self._keep[index] for index in keep]
        return MirroredRecords(self._body, kept, self._source, positions)


__all__ = ["Column", "DecodedRecords", "MirroredRecords", "RawRecords", "RecordSource"]
