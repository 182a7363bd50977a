"""The column-wise CSV writer writes exactly what ``csv.writer`` writes."""

from __future__ import annotations

import csv
import io
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy_async.bulk_export.csv_text import csv_text, csv_text_chunked

# Texts rich in what CSV cares about: delimiters, quotes, line breaks, spaces, NULs.
cells = (
    st.none()
    | st.text(alphabet=st.sampled_from(list(',"\r\n \t\x00ab\u00e9\U0001f600')), max_size=8)
    | st.text(max_size=8)
)


def columns_of(rows: list[list[str | None]]) -> list[list[str | None]]:
    return [list(column) for column in zip(*rows, strict=True)]


def reference(rows: list[list[str | None]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(width=st.integers(2, 6), data=st.data())
def test_same_text_as_csv_writer(width: int, data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=6))
    assert csv_text(columns_of(rows)) == reference(rows)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_columns_whose_every_cell_needs_quotes(data: st.DataObject) -> None:
    """The column-wide quoting of a column like ``data`` (JSON text in every cell)."""
    quoted = st.text(max_size=6).map(lambda text: '{"' + text + '"}')
    rows = data.draw(st.lists(st.lists(quoted | cells, min_size=3, max_size=3), max_size=5))
    rows = [[row[0], '"' + (row[1] or ""), row[2]] for row in rows]
    assert csv_text(columns_of(rows)) == reference(rows)


def test_a_column_quoted_only_where_needed() -> None:
    rows: list[list[str | None]] = [
        ["KI1", '{"body":"a, b"}', None],
        ["KI2", "plain", ""],
        ["KI3", "two\nlines", "x"],
    ]
    assert csv_text(columns_of(rows)) == reference(rows)
    assert csv_text(columns_of(rows)).splitlines()[1] == "KI2,plain,"


def test_no_rows() -> None:
    assert csv_text([]) == ""


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(width=st.integers(2, 4), data=st.data())
def test_chunks_of_rows_make_the_same_text(width: int, data: st.DataObject) -> None:
    """An export writes a page a chunk of records at a time: the same text as csv.writer
    writes for the whole page, whatever the chunks (one column's quoting may differ
    from chunk to chunk; each cell is still quoted exactly as csv.writer quotes it)."""
    rows = data.draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=9))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    bounds = [0, *cuts, len(rows)]
    chunks = [columns_of(rows[start:stop]) for start, stop in pairwise(bounds)]
    assert csv_text_chunked(chunks) == reference(rows)
