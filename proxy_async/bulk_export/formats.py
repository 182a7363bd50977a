"""What an export writes: a page's records, as sent, in NDJSON or CSV.

NDJSON writes each record's own bytes (:meth:`~proxy_async.models.raw_records.RawRecords.ndjson`);
CSV writes the Interaction fields of the spec, a column at a time
(:mod:`proxy_async.bulk_export.csv_text`). Both read the records a page keeps as sent
(``Page.raw_records``), never the typed models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import attrs

from ..errors import ExportError, InvalidParameterError
from ..models.json_codec import replace_lone_surrogates
from ..models.raw_records import Column, DecodedRecords, RawRecords
from ..models.records import Interaction, Page
from .csv_text import CSV_CHUNK_RECORDS, csv_text_chunked

Format = Literal["ndjson", "csv"]
"""Output formats: one JSON object per line, or CSV with a header row."""

FORMATS: tuple[Format, ...] = ("ndjson", "csv")

CSV_COLUMNS: tuple[str, ...] = tuple(field.name for field in attrs.fields(Interaction))
"""CSV header: the Interaction fields of the Proxy v1 spec, in spec order."""


def check_format(value: object) -> Format:
    """An export's output format, ``'ndjson'`` or ``'csv'``."""
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidParameterError("fmt", "'ndjson' or 'csv'", value)


def raw_records(page: Page[Any]) -> tuple[dict[str, Any], ...]:
    """A page's records exactly as decoded (``Page.raw_items``): what the files hold."""
    return page_records(page).dicts()


def page_records(page: Page[Any]) -> RawRecords:
    """A page's records as sent (``Page.raw_records``), one per item."""
    records = page.raw_records
    if len(records) != len(page):
        # Only a hand-built Page can lack them; writing nothing would lose records silently.
        raise ExportError("a page came without its raw records (Page.raw_items)")
    return records


def encode_ndjson(records: Sequence[dict[str, Any]]) -> bytes:
    """One JSON object per line, each record serialised exactly as decoded.

    Lossless: ``json.loads`` of a line gives the record back. A record orjson cannot
    write (a lone UTF-16 surrogate kept from the server, kept escaped as ``\\ud83d``;
    an integer beyond 64 bits) is written by :func:`~proxy_async.models.json_codec.encode_json`
    instead; only a page holding one pays for it. An export writes a page read by the
    fast path from each record's own bytes instead (:meth:`RawRecords.ndjson`).
    """
    return DecodedRecords(records).ndjson()


def encode_csv(records: Sequence[dict[str, Any]]) -> bytes:
    """CSV rows in :data:`CSV_COLUMNS` order: values as sent, null as an empty cell."""
    return csv_rows(DecodedRecords(records))


def csv_rows(records: RawRecords, columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    """The CSV rows of ``records`` (as sent), one field of ``columns`` a cell: a value as
    sent, null or absent as an empty cell, any other JSON value as its JSON text. What
    an export writes for a page; ``proxy-async sessions list`` uses it with
    the Session fields."""
    return _csv_bytes(records.column_chunks(columns, CSV_CHUNK_RECORDS))


def _csv_bytes(chunks: Iterable[Sequence[Column]]) -> bytes:
    """CSV of the records whose fields are the columns of ``chunks`` (None: an empty
    cell), chunk after chunk (:func:`~proxy_async.bulk_export.csv_text.csv_text_chunked`).

    A lone UTF-16 surrogate (half an emoji, kept by
    :func:`~proxy_async.models.json_codec.decode_json`) cannot be written in UTF-8: it
    becomes U+FFFD, the replacement character.
    """
    text = csv_text_chunked(chunks)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return replace_lone_surrogates(text).encode()


def csv_header(columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    """The CSV header row: the names of ``columns`` (default: an export's)."""
    return _csv_bytes([[[name] for name in columns]])


ENCODERS: dict[Format, Callable[[RawRecords], bytes]] = {
    "ndjson": lambda records: records.ndjson(),
    "csv": csv_rows,
}
"""How each format writes a page's records."""

HEADERS: dict[Format, Callable[[], bytes]] = {"ndjson": lambda: b"", "csv": csv_header}
"""What each format writes first in a new file."""
