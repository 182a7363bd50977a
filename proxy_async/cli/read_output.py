"""What the read commands print: ``sessions list``, ``interactions list``, ``interactions fetch``.

Two halves:

* the records, as pages of Twilio's records as sent
  (:class:`~proxy_async.models.raw_records.RawRecords`), streamed a page at a time
  (:func:`session_pages`, :func:`interaction_pages`, :func:`fetch_interaction`): memory
  holds one page (at most 1,000 records, plus the one the client prefetches), however
  long the list;
* :func:`write_records`, which prints them as ``ndjson`` or ``csv`` with the export's
  own encoders (so the bytes are those an export writes for the same records), as one
  ``json`` array, or as a ``table`` for people.

Typical use (close the pages when stopping early: :func:`write_records` does)::

    pages = interaction_pages(client, "KS…", "KC…", limit=100)
    await write_records(pages, INTERACTIONS, default_format(sys.stdout), sys.stdout)
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Sequence
from operator import attrgetter
from typing import IO, Any, Literal, TextIO

import attrs
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..bulk_export.engine import CSV_COLUMNS, DEFAULT_PAGE_SIZE, csv_header, csv_rows, page_records
from ..client.proxy_client import ProxyClient
from ..errors import InvalidParameterError
from ..models.raw_records import DecodedRecords, RawRecords
from ..models.records import Session
from ..resources.list_resource import ListResource
from ._command import CONTROL_ESCAPES

ReadFormat = Literal["table", "ndjson", "csv", "json"]
"""How a read command prints records (see :func:`write_records`)."""

READ_FORMATS: tuple[ReadFormat, ...] = ("table", "ndjson", "csv", "json")

SESSION_CSV_COLUMNS: tuple[str, ...] = tuple(field.name for field in attrs.fields(Session))
"""CSV header of ``sessions list``: the Session fields of the Proxy v1 spec, in spec order
(as :data:`~proxy_async.bulk_export.engine.CSV_COLUMNS` is for Interactions). ``links`` (an object)
and ``ttl`` (a number) are written as their JSON text."""


@attrs.frozen
class TableColumn:
    """One column of a table: the record's field, its heading, its width in characters
    (None: the rest of the line, shared with any other such column) and when it is left
    out of a table too wide for the terminal (0: never; else the lowest rank first)."""

    field: str
    heading: str
    width: int | None = None
    drop_rank: int = 0


@attrs.frozen
class RecordKind:
    """What a read command lists: its record's name, its CSV columns (the export's
    layout) and the few columns its table shows."""

    noun: str
    csv_columns: tuple[str, ...]
    table_columns: tuple[TableColumn, ...]

    @property
    def table_width(self) -> int:
        """The characters a table row takes with :data:`FLEXIBLE_WIDTH` for each
        flexible column: the width of a table written to a file."""
        widths = (column.width or FLEXIBLE_WIDTH for column in self.table_columns)
        return sum(widths) + COLUMN_GAP * (len(self.table_columns) - 1)


SID_WIDTH = 34
"""A Twilio SID: two letters and 32 hex digits."""

DATE_WIDTH = 20
"""An ISO 8601 date as Twilio sends it: ``2015-07-30T20:00:00Z``."""

FLEXIBLE_WIDTH = 40
"""Width of a flexible column (``unique_name``, ``data``) in a table written to a file."""

COLUMN_GAP = 3
"""Characters between two columns of a table (rich's padding and separator)."""

# Widths from the spec's enums (twilio_proxy_v1.json): the longest session status is
# "in-progress" (11); a resource status "delivery-unknown" (16); a type "message" (7).
SESSIONS = RecordKind(
    "session",
    SESSION_CSV_COLUMNS,
    (
        TableColumn("sid", "SID", SID_WIDTH),
        TableColumn("unique_name", "UNIQUE NAME"),
        TableColumn("status", "STATUS", 11, drop_rank=4),
        TableColumn("date_created", "CREATED", DATE_WIDTH, drop_rank=2),
        TableColumn("date_last_interaction", "LAST INTERACTION", DATE_WIDTH, drop_rank=3),
        TableColumn("ttl", "TTL", 6, drop_rank=1),
    ),
)
"""The records of ``proxy-async sessions list``."""

INTERACTIONS = RecordKind(
    "interaction",
    CSV_COLUMNS,
    (
        TableColumn("sid", "SID", SID_WIDTH),
        TableColumn("type", "TYPE", 7, drop_rank=3),
        TableColumn("inbound_resource_status", "INBOUND", 16, drop_rank=1),
        TableColumn("outbound_resource_status", "OUTBOUND", 16, drop_rank=2),
        TableColumn("date_created", "CREATED", DATE_WIDTH, drop_rank=4),
        TableColumn("data", "DATA"),
    ),
)
"""The records of ``proxy-async interactions list`` and ``interactions fetch``."""


# -- the records ----------------------------------------------------------------------------


def _page_size(page_size: int | None, limit: int | None) -> int | None:
    """An unlimited listing asks for the largest pages (the fewest requests, as an
    export does); with a limit the resource asks for ``min(limit, 1000)``."""
    if page_size is None and limit is None:
        return DEFAULT_PAGE_SIZE
    return page_size


async def session_pages(
    client: ProxyClient,
    service_sid: str,
    *,
    limit: int | None = None,
    page_size: int | None = None,
) -> AsyncGenerator[RawRecords, None]:
    """The Service's Session records as sent, a page at a time, in server order.

    ``limit``: stop after this many records (the last page is cut, nothing more is
    requested). ``page_size`` (capped at 1000): records a request; default 1000, or
    ``min(limit, 1000)`` with a limit. Arguments are checked when the first page is
    asked for (:class:`~proxy_async.errors.InvalidParameterError`); the client's
    errors propagate as they are (an unknown Service: a
    :class:`~proxy_async.errors.NotFoundError`).
    """
    async for records in _records_of(client.services(service_sid).sessions, limit, page_size):
        yield records


async def interaction_pages(
    client: ProxyClient,
    service_sid: str,
    session_sid: str,
    *,
    limit: int | None = None,
    page_size: int | None = None,
) -> AsyncGenerator[RawRecords, None]:
    """A Session's Interaction records as sent, a page at a time (as :func:`session_pages`)."""
    interactions = client.services(service_sid).sessions(session_sid).interactions
    async for records in _records_of(interactions, limit, page_size):
        yield records


async def _records_of(
    resource: ListResource[Any], limit: int | None, page_size: int | None
) -> AsyncGenerator[RawRecords, None]:
    """``resource``'s records as sent, a page at a time; its walk closed however this ends."""
    pages = resource.pages(limit=limit, page_size=_page_size(page_size, limit))
    async with contextlib.aclosing(pages):
        async for page in pages:
            yield page_records(page)


async def fetch_interaction(
    client: ProxyClient, service_sid: str, session_sid: str, interaction_sid: str
) -> AsyncGenerator[RawRecords, None]:
    """One Interaction, as sent: a single page of one record, so that it is written as
    lists are (an array of one in ``json``, as twilio-cli prints a fetch).

    A missing Interaction (or Session, or Service) raises the client's
    :class:`~proxy_async.errors.NotFoundError` when the page is asked for, before
    :func:`write_records` has written anything; SIDs are checked then too.
    """
    interactions = client.services(service_sid).sessions(session_sid).interactions
    _, raw = await interactions.fetch_raw(interaction_sid)
    yield DecodedRecords((raw,))


# -- writing --------------------------------------------------------------------------------


def default_format(stream: IO[Any]) -> ReadFormat:
    """``table`` when ``stream`` is a terminal, else ``ndjson`` (for scripts and pipes)."""
    try:
        return "table" if stream.isatty() else "ndjson"
    except (AttributeError, ValueError):  # no isatty, or closed
        return "ndjson"


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
    * ``table``: a table of ``kind.table_columns`` (see :class:`_TableOutput`).

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
        output: _TableOutput | _ByteOutput = (
            _TableOutput(kind, stream) if fmt == "table" else _ByteOutput(kind, fmt, stream)
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


MIN_FLEXIBLE_WIDTH = 12
"""The narrowest a flexible column gets before columns are left out (see :class:`_TableOutput`)."""


class _TableOutput:
    """A rich table, printed a page at a time.

    Each page is its own table, the heading over the first only, and every column has
    a width fixed for the whole run (the flexible ones share what the line leaves), so
    the pages line up as one table while memory holds one page, however long the list
    (100,000 Interactions are 100 pages, not one table of 100,000 rows). On a
    terminal narrower than the columns need, the least useful columns are left out
    (:attr:`TableColumn.drop_rank`) rather than cutting SIDs short, and narrower still
    the table keeps the width those need (the terminal wraps it); written to a file,
    a table has room for every column (:attr:`RecordKind.table_width`). Values are
    shown as sent, null as empty, control characters escaped (``\\x1b``): a value
    cannot drive the terminal.
    """

    def __init__(self, kind: RecordKind, stream: TextIO) -> None:
        terminal = default_format(stream) == "table"
        self._console = _Console(
            file=stream,
            width=None if terminal else kind.table_width,
            highlight=False,
            markup=False,
            emoji=False,
        )
        self._columns = _fitting(kind.table_columns, self._console.width)
        # Narrower than the columns that are never left out (COLUMNS=0, a tiny pane):
        # the lines wrap rather than cut every SID to "K…" or print nothing at all.
        self._console.width = max(self._console.width, _needed(self._columns))
        self._fields = [column.field for column in self._columns]
        self._first = True

    def begin(self) -> None:
        """Nothing: the heading comes with the first page, even an empty one."""

    def page(self, records: RawRecords) -> None:
        if not len(records) and not self._first:
            return
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            show_header=self._first,
            expand=True,
        )
        for column in self._columns:
            table.add_column(
                column.heading,
                width=column.width,
                min_width=column.width or MIN_FLEXIBLE_WIDTH,
                ratio=None if column.width else 1,
                no_wrap=True,
                overflow="ellipsis",
            )
        for row in zip(*records.columns(self._fields), strict=True):
            table.add_row(*[Text(_shown(cell)) for cell in row])
        self._console.print(table)
        self._first = False

    def end(self) -> None:
        """Nothing: every page was printed as it came."""


class _Console(Console):
    """A rich console that lets a closed pipe raise :class:`BrokenPipeError` as it is.

    rich's own answer to one (``Console.on_broken_pipe``) points ``sys.stdout``'s
    descriptor at ``/dev/null`` and raises ``SystemExit(1)``, whatever file the console
    writes: the CLI decides what a closed pipe means, as for every other format.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written
        raise  # re-raised: rich calls this inside its ``except BrokenPipeError``


def _fitting(columns: Sequence[TableColumn], width: int) -> tuple[TableColumn, ...]:
    """``columns`` without the lowest ranked droppable ones that do not fit in ``width``."""
    shown = list(columns)
    droppable = sorted(
        (column for column in columns if column.drop_rank), key=attrgetter("drop_rank")
    )
    for column in droppable:
        if _needed(shown) <= width:
            break
        shown.remove(column)
    return tuple(shown)


def _needed(columns: Sequence[TableColumn]) -> int:
    widths = sum(column.width or MIN_FLEXIBLE_WIDTH for column in columns)
    return widths + COLUMN_GAP * (len(columns) - 1)


def _shown(cell: str | None) -> str:
    """A cell as a table shows it: null as empty, control characters escaped."""
    return "" if cell is None else cell.translate(CONTROL_ESCAPES)


__all__ = [
    "INTERACTIONS",
    "READ_FORMATS",
    "SESSIONS",
    "SESSION_CSV_COLUMNS",
    "ReadFormat",
    "RecordKind",
    "TableColumn",
    "default_format",
    "fetch_interaction",
    "interaction_pages",
    "session_pages",
    "write_records",
]
