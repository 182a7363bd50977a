"""The :class:`~proxy_async.bulk_export.events.ExportSummary` of an export, from its state."""

from __future__ import annotations

import time
from pathlib import Path

from .events import ExportSummary, SessionFailure
from .formats import Format, check_format
from .paths import STDOUT, ExportPaths
from .schema import Status
from .state import ExportState


def summarize(
    state: ExportState,
    paths: ExportPaths | None,
    *,
    complete: bool,
    resumed: bool,
    started: float,
    records_this_run: int = 0,
    pages_this_run: int = 0,
    already_complete: bool = False,
) -> ExportSummary:
    """What the export in ``state`` holds, and what a run started at ``started``
    (``time.monotonic()``) did; its files are ``paths`` (None: stdout)."""
    counters = state.counters
    if paths is None:
        output, state_path, sessions_file = Path(STDOUT), None, None
    else:
        output = paths.output if complete else paths.partial
        state_path = paths.state
        sessions_file = None
        if state.params.sessions_file:
            sessions_file = paths.sessions if complete else paths.sessions_partial
    return ExportSummary(
        output=output,
        state=state_path,
        format=check_format(state.params.format),
        complete=complete,
        resumed=resumed,
        sessions_total=counters.sessions,
        sessions_done=counters.done,
        failures=_failures(state, "failed"),
        records=counters.records,
        records_this_run=records_this_run,
        elapsed=time.monotonic() - started,
        already_complete=already_complete,
        missing=_failures(state, "missing"),
        sessions_file=sessions_file,
        compression=state.params.compression,
        pages_this_run=pages_this_run,
        state_bytes_written=state.bytes_written,
    )


def _failures(state: ExportState, status: Status) -> tuple[SessionFailure, ...]:
    counters = state.counters
    if (counters.failed if status == "failed" else counters.missing) == 0:
        return ()  # no scan of the sessions when there is nothing to list
    return tuple(
        SessionFailure(row.sid, row.error or "", row.records) for row in state.sessions_with(status)
    )


def done_summary(paths: ExportPaths, fmt: Format, started: float) -> ExportSummary:
    """The summary of a resume that found no state but the finished output: nothing to do."""
    return ExportSummary(
        output=paths.output,
        state=None,
        format=fmt,
        complete=True,
        resumed=True,
        sessions_total=0,
        sessions_done=0,
        failures=(),
        records=0,
        records_this_run=0,
        elapsed=time.monotonic() - started,
        already_complete=True,
    )
