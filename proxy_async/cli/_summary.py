"""What an export prints when it ends: a few aligned lines, or one JSON object (``--json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.filesize import decimal

from ..bulk_export.events import ExportSummary, SessionFailure
from ..bulk_export.paths import STDOUT
from ._progress import ProgressDisplay


def plural(count: int, noun: str) -> str:
    """``"1 session"``, ``"2 sessions"``, ``"3 batches"`` (with thousands separators)."""
    many = noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{count:,} {noun if count == 1 else many}"


def summary_text(summary: ExportSummary, display: ProgressDisplay | None = None) -> str:
    """The human-readable summary of an export."""
    if summary.already_complete:
        counts = ""
        if summary.state is not None:
            counts = (
                f" ({plural(summary.records, 'record')} from "
                f"{plural(summary.sessions_total, 'session')})"
            )
        return f"Nothing to resume: {summary.output} is complete{counts}."
    speed = (
        f"{plural(summary.records_this_run, 'record')} in {summary.elapsed:.1f} s "
        f"({summary.records_per_second:,.0f} records/s)"
    )
    lines = (_complete if summary.complete else _incomplete)(summary, speed)
    if summary.missing:
        count = len(summary.missing)
        lines.append(
            f"  missing  : {plural(count, 'session')} answered 404 (deleted or expired): "
            f"{'it is' if count == 1 else 'they are'} not retried"
        )
        lines.extend(_listed("missing", summary.missing))
    if display is not None:
        lines.append(
            f"  requests : {display.requests:,} ({display.retries:,} "
            f"{'retry' if display.retries == 1 else 'retries'}, "
            f"{display.rate_limited:,} answered 429)"
        )
    return "\n".join(lines)


def _complete(summary: ExportSummary, speed: str) -> list[str]:
    """The head of a complete export's summary: records, this run, the files."""
    head = "Export complete" + (" (resumed)" if summary.resumed else "")
    sessions = plural(summary.sessions_total, "session")
    lines = [f"{head}: {plural(summary.records, 'record')} from {sessions}"]
    lines.append(f"  this run : {speed}")
    size = "" if summary.output.name == STDOUT else f", {_size(summary.output)}"
    lines.append(f"  output   : {summary.output} ({summary.format}{size})")
    if summary.sessions_file is not None:
        lines.append(f"  sessions : {summary.sessions_file} (the Session records)")
    return lines


def _incomplete(summary: ExportSummary, speed: str) -> list[str]:
    """The head of an incomplete export's summary: what failed, what is kept, what next."""
    failed = len(summary.failures)
    sessions = plural(summary.sessions_total, "session")
    lines = [
        f"Export incomplete: {failed:,} of {sessions} failed; {summary.sessions_done:,} "
        f"done, {plural(summary.records, 'record')} written so far"
    ]
    lines.append(f"  this run : {speed}")
    lines.extend(_listed("failed", summary.failures))
    lines.append(f"  kept     : {summary.output} with its state {summary.state}")
    lines.append("  next     : rerun the same command with --resume to retry what failed")
    return lines


def _listed(label: str, sessions: tuple[SessionFailure, ...], shown: int = 10) -> list[str]:
    # A missing session's error is always the same 404: its SID and records say it all.
    lines = [
        f"  {label:<9}: {item.session_sid} ({plural(item.records, 'record')} kept)"
        + ("" if label == "missing" else f": {item.error}")
        for item in sessions[:shown]
    ]
    if len(sessions) > shown:
        lines.append(f"  {label:<9}: ... and {len(sessions) - shown:,} more (see --json)")
    return lines


def summary_json(
    summary: ExportSummary, display: ProgressDisplay | None = None, *, exit_code: int = 0
) -> dict[str, Any]:
    """The summary as one JSON object (``ok``, ``exit_code`` and ``outcome`` first)."""
    body: dict[str, Any] = {
        "ok": summary.complete,
        "exit_code": exit_code,
        "outcome": "ok" if summary.complete else "partial",
        "complete": summary.complete,
        "already_complete": summary.already_complete,
        "resumed": summary.resumed,
        "output": str(summary.output),
        "state": None if summary.state is None else str(summary.state),
        "sessions_file": None if summary.sessions_file is None else str(summary.sessions_file),
        "format": summary.format,
        "compression": summary.compression,
        "records": summary.records,
        "records_this_run": summary.records_this_run,
        "pages_this_run": summary.pages_this_run,
        "sessions_total": summary.sessions_total,
        "sessions_done": summary.sessions_done,
        "sessions_failed": [_session_json(failure) for failure in summary.failures],
        "sessions_missing": [_session_json(missing) for missing in summary.missing],
        "elapsed_seconds": round(summary.elapsed, 3),
        "records_per_second": round(summary.records_per_second, 1),
        "state_bytes_written": summary.state_bytes_written,
    }
    if display is not None:
        body.update(
            requests=display.requests, retries=display.retries, rate_limited=display.rate_limited
        )
    return body


def _session_json(item: SessionFailure) -> dict[str, Any]:
    return {"session_sid": item.session_sid, "records": item.records, "error": item.error}


def _size(path: Path) -> str:
    """``"812 bytes"``, ``"12.1 kB"``: powers of 1000, as disk sizes are sold, and as the
    progress display writes them (rich's ``decimal``)."""
    try:
        return decimal(path.stat().st_size)
    except OSError:
        return "size unknown"
