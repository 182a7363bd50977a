"""What the read commands list (:class:`RecordKind`: Sessions, Interactions), the
columns of their tables, and the formats they print (:data:`READ_FORMATS`)."""

from __future__ import annotations

from typing import IO, Any, Literal

import attrs

from ..bulk_export.formats import CSV_COLUMNS
from ..models.records import Session

ReadFormat = Literal["table", "ndjson", "csv", "json"]
"""How a read command prints records (see :func:`~.read_output.write_records`)."""

READ_FORMATS: tuple[ReadFormat, ...] = ("table", "ndjson", "csv", "json")

SESSION_CSV_COLUMNS: tuple[str, ...] = tuple(field.name for field in attrs.fields(Session))
"""CSV header of ``sessions list``: the Session fields of the Proxy v1 spec, in spec order
(as :data:`~proxy_async.bulk_export.formats.CSV_COLUMNS` is for Interactions). ``links`` (an object)
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


def default_format(stream: IO[Any]) -> ReadFormat:
    """``table`` when ``stream`` is a terminal, else ``ndjson`` (for scripts and pipes)."""
    try:
        return "table" if stream.isatty() else "ndjson"
    except (AttributeError, ValueError):  # no isatty, or closed
        return "ndjson"
