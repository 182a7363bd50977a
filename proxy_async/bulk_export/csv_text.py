"""CSV text of a page, byte for byte what ``csv.writer`` writes, a column at a time.

``csv.writer`` (the excel dialect: ``,``, ``"`` doubled, ``\\r\\n``, minimal quoting)
looks at every character of every cell in turn: 14 ms for a page of 1,000
Interactions here, three times what reading the page costs. Whether a field needs
quoting can be seen for a whole column at once: join its cells, count the commas, look
for a quote or a line break. Most columns never need it (SIDs, URLs, timestamps,
statuses). A column whose every cell holds a quote (``data``: JSON text) is quoted
whole with two ``replace`` calls; only a column of mixed cells is quoted cell by cell.
About 2.6 ms for the same page; the output is identical (``tests/bulk_export/test_export_csv.py``
checks it against ``csv.writer`` with hypothesis).

Each pass over a column touches every one of its cells, and a page's 19,000 cells (1.5
MB of strings) no longer fit in the CPU's cache once the next pages have arrived. So an
export takes a page :data:`CSV_CHUNK_RECORDS` records at a time
(:func:`csv_text_chunked`): every pass over a chunk finds it in the cache. A page held
back behind 5 others: 2.5-2.7 ms whole, 2.1 ms in chunks of 128 (64 and 256 alike).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import cast

LINE_TERMINATOR = "\r\n"

CSV_CHUNK_RECORDS = 128
"""Records an export writes to CSV at a time (see the module docstring)."""

Columns = Sequence[Sequence[str | None]]
"""Column-major cells: one sequence of cells per field, all of one length; a cell is text,
or None for an empty cell."""

# What makes the excel dialect quote a field: its delimiter, its quote character and the
# characters of its line terminator (CPython's Modules/_csv.c).
_QUOTE = '"'

# Joins a column's cells for the whole-column checks. A cell may hold it (a decoded
# "\u0000" escape); its column is then quoted cell by cell.
_SEPARATOR = "\x00"


def csv_text(columns: Columns) -> str:
    """The CSV lines of the records whose fields are ``columns`` (:data:`Columns`), each
    line ended by ``\\r\\n``. At least two columns: ``csv.writer`` quotes a lone empty
    field, and no export writes one-column rows."""
    return csv_text_chunked([columns])


def csv_text_chunked(chunks: Iterable[Columns]) -> str:
    """:func:`csv_text` of the records of every chunk in turn (each chunk: the columns of
    some records), as one text."""
    lines: list[str] = []
    for columns in chunks:
        if columns and columns[0]:
            texts = [_column_text(column) for column in columns]
            lines.extend(map(",".join, zip(*texts, strict=True)))
    if not lines:
        return ""
    # The last line's terminator from the join itself: ``+ "\r\n"`` copied the whole
    # page's text once more (a megabyte, 0.3 ms a page, measured).
    lines.append("")
    return LINE_TERMINATOR.join(lines)


def _column_text(cells: Sequence[str | None]) -> Sequence[str]:
    """The cells of one column as the CSV holds them."""
    try:
        plain = "".join(cast("Sequence[str]", cells))
        texts = cast("Sequence[str]", cells)
    except TypeError:  # a None: cheaper to find this way than by looking first
        texts = ["" if cell is None else cell for cell in cells]
        plain = "".join(texts)
    if "," not in plain and _QUOTE not in plain and "\n" not in plain and "\r" not in plain:
        return texts
    if _SEPARATOR not in plain and all(map(str.__contains__, texts, repeat(_QUOTE))):
        # Every cell needs quoting: double the quotes and wrap every cell, column-wide.
        doubled = _SEPARATOR.join(texts).replace(_QUOTE, '""')
        wrapped = doubled.replace(_SEPARATOR, f'"{_SEPARATOR}"')
        return f'"{wrapped}"'.split(_SEPARATOR)
    return [_quoted(text) for text in texts]


def _quoted(cell: str) -> str:
    # Spelled out: a loop over the special characters costs a generator per cell.
    if _QUOTE in cell or "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace(_QUOTE, '""') + '"'
    return cell


__all__ = ["CSV_CHUNK_RECORDS", "LINE_TERMINATOR", "Columns", "csv_text", "csv_text_chunked"]
