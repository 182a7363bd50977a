"""The ``table`` format of the read commands: rich tables a page at a time, whose
columns fit the terminal (:class:`TableOutput`)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..models.raw_records import RawRecords
from ._command import CONTROL_ESCAPES
from ._read_kinds import COLUMN_GAP, RecordKind, TableColumn, default_format

MIN_FLEXIBLE_WIDTH = 12
"""The narrowest a flexible column gets before columns are left out (see :class:`TableOutput`)."""


class TableOutput:
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
