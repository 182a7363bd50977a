"""How the read commands print: :func:`write_records` writes pages of Twilio's records
(from :mod:`._read_pages`) as ``ndjson`` or ``csv`` with the export's own encoders (so
the bytes are those an export writes for the same records), as one ``json`` array, or
as a ``table`` for people (:mod:`._read_table`).

Typical use (close the pages when stopping early: :func:`write_records` does)::

    pages = interaction_pages(client, "KS…", "KC…", limit=100)
    await write_records(pages, INTERACTIONS, default_format(sys.stdout), sys.stdout)
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable
from typing import TextIO

from ..bulk_export.formats import csv_header, csv_rows
from ..errors import InvalidParameterError
from ..models.raw_records import RawRecords
from ._read_kinds import READ_FORMATS, ReadFormat, RecordKind
from ._read_table import TableOutput


async def write_records(
    pages: AsyncIterable[RawRecords] | Iterable[RawRecords],
    kind: RecordKind,
    fmt: ReadFormat,
    stream: TextIO,
) -> int:
    """Write the records of ``pages`` to ``stream`` as ``fmt``; return how many.

    * ``ndjson``: Twilio's records, one per line: the bytes an export writes for them;
    * ``csv``: the header of ``kind.csv_columns`` then a row a record, as an export
      writes them (``\\r\\n`` line ends, the excel dialect);
    * ``json``: one JSON array, streamed: ``[``, one record a line separated by
      ``,``, ``]`` (``[]`` for none);
    * ``table``: a table of ``kind.table_columns`` (see :class:`TableOutput`).

    Nothing is written before the first page has arrived, so an error there (a 404,
    refused credentials) leaves ``stream`` untouched. An error later leaves the output
    as far as it got: a ``json`` array is then not closed, on purpose, so that no
    script takes part of a list for all of it. Bytes go to ``stream.buffer`` when it
    has one (``sys.stdout``), else they are decoded (UTF-8 throughout). Each page is
    flushed as it is written. A closed pipe raises :class:`BrokenPipeError` as it is,
    and nothing more is written after it. ``pages`` is closed (``aclose``) when done,
    whatever happens, which cancels a page being prefetched. Raises
    :class:`~proxy_async.errors.InvalidParameterError` for an unknown ``fmt``.
    """
    if fmt not in READ_FORMATS:
        raise InvalidParameterError("fmt", "'table', 'ndjson', 'csv' or 'json'", fmt)
    each_page = _each_page(pages)
    try:
        page = await anext(each_page, None)
        output: TableOutput | _ByteOutput = (
            TableOutput(kind, stream) if fmt == "table" else _ByteOutput(kind, fmt, stream)
        )
        output.begin()
        count = 0
        while page is not None:
            output.page(page)
            count += len(page)
            page = await anext(each_page, None)
        output.end()
        return count
    finally:
        await each_page.aclose()


async def _each_page(
    pages: AsyncIterable[RawRecords] | Iterable[RawRecords],
) -> AsyncGenerator[RawRecords, None]:
    """The pages of either kind of iterable; an async one is closed when this is."""
    if not isinstance(pages, AsyncIterable):
        for page in pages:
            yield page
        return
    try:
        async for page in pages:
            yield page
    finally:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()


class _ByteOutput:
    """``ndjson``, ``csv`` or ``json``: bytes from the export's encoders."""

    def __init__(self, kind: RecordKind, fmt: ReadFormat, stream: TextIO) -> None:
        self._columns = kind.csv_columns
        self._fmt = fmt
        self._write, self._flush = _byte_sink(stream)
        self._records = 0

    def begin(self) -> None:
        if self._fmt == "csv":
            self._write(csv_header(self._columns))
        elif self._fmt == "json":
            self._write(b"[")

    def page(self, records: RawRecords) -> None:
        if not len(records):
            return
        if self._fmt == "csv":
            data = csv_rows(records, self._columns)
        elif self._fmt == "json":
            # NDJSON lines hold no line break of their own (JSON escapes them inside
            # strings; RawRecords.ndjson says so), so each \n ends a record.
            lines = records.ndjson()
            data = (b",\n" if self._records else b"\n") + lines[:-1].replace(b"\n", b",\n")
        else:
            data = records.ndjson()
        self._write(data)
        self._flush()
        self._records += len(records)

    def end(self) -> None:
        if self._fmt == "json":
            self._write(b"\n]\n" if self._records else b"]\n")
        self._flush()


def _byte_sink(stream: TextIO) -> tuple[Callable[[bytes], object], Callable[[], None]]:
    """Write and flush functions for bytes: the stream's buffer, else the stream's text."""
    buffer = getattr(stream, "buffer", None)
    if isinstance(buffer, io.BufferedIOBase | io.RawIOBase):
        stream.flush()  # whatever was written as text goes first
        return buffer.write, buffer.flush
    return (lambda data: stream.write(data.decode())), stream.flush
