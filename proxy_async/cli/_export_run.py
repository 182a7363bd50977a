"""One export as the command line runs it: :class:`ExportRun` (what was asked for) and
:func:`run_export`, shared by ``proxy-async export`` and ``proxy-async demo``.

:func:`run_export` owns the limiter, the progress display, the request log, the start
line and the resume hint of every failure; :func:`report` prints the summary.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import attrs

from ..bulk_export.events import ExportProgress, ExportSummary
from ..bulk_export.formats import Format
from ..bulk_export.paths import STDOUT, ExportPaths
from ..bulk_export.run import DEFAULT_CHECKPOINT_INTERVAL, export
from ..client.proxy_client import ProxyClient
from ..errors import ProxyError
from ..limits.adaptive_rate import AdaptiveRateLimiter
from ._client_settings import ClientSettings
from ._command import emit_json, say
from ._failures import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    CommandFailure,
    Interrupted,
    ReaderGone,
    failure_of,
)
from ._progress import ProgressDisplay
from ._request_log import configure_request_logging
from ._summary import plural, summary_json, summary_text


@attrs.frozen
class ExportRun:
    """One export as the command line asked for it (see :func:`run_export`)."""

    service: str
    out: str
    fmt: Format
    sessions: list[str] | None = None
    concurrency: int = 16
    page_size: int = 1000
    rps: float | None = None
    resume: bool = False
    force: bool = False
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL
    progress_interval: float | None = None
    quiet: bool = False
    verbose: int = 0
    as_json: bool = False
    intro: str | None = None
    """Said before the start line, once the export has begun (the demo's server)."""
    resumable: bool = True
    """False for the demo: it has no --resume (its server's data lives in the process),
    so a stopped demo must not tell people to rerun it with one."""

    @property
    def to_stdout(self) -> bool:
        return self.out == STDOUT


async def run_export(
    run: ExportRun, make_client: Callable[..., ProxyClient]
) -> tuple[int, ExportSummary, ProgressDisplay]:
    """Run the export; see :func:`_run_export`. With ``--out -`` a failure's ``--json``
    object goes to stderr, as the summary does: stdout carries the records."""
    try:
        return await _run_export(run, make_client)
    except CommandFailure as failure:
        failure.json_to_stderr = run.to_stdout
        raise


async def _run_export(
    run: ExportRun, make_client: Callable[..., ProxyClient]
) -> tuple[int, ExportSummary, ProgressDisplay]:
    """Run the export; return its exit code (0 or 1), summary and display.

    ``make_client(limiter=..., on_response=...)`` builds the client. Every failure is
    raised as a :class:`CommandFailure` whose message ends with what to do next
    (resume, or that nothing was written).
    """
    paths = None if run.to_stdout else ExportPaths.for_output(run.out)
    if run.to_stdout and run.resume:
        raise CommandFailure(
            "--resume needs --out FILE: an export to stdout ('-') cannot be resumed", EXIT_USAGE
        )
    display = ProgressDisplay(
        sys.stderr,
        interval=run.progress_interval,
        enabled=not run.quiet,
        bytes_written=None if paths is None else _size_of(paths.partial, paths.output),
    )
    undo_logging = configure_request_logging(run.verbose, display, sys.stderr)
    try:
        summary = await _exported(run, make_client, display)
    except asyncio.CancelledError:
        raise Interrupted(_resume_hint(paths, run.resumable)) from None
    except BrokenPipeError:
        if not run.to_stdout:
            raise CommandFailure(f"cannot write {run.out}: broken pipe") from None
        raise ReaderGone() from None
    except (ProxyError, OSError) as error:
        failure = failure_of(error, ClientSettings.option_names())
        if failure.exit_code == EXIT_USAGE:
            raise failure from error  # refused before anything ran: nothing to resume
        raise failure.with_hint(_resume_hint(paths, run.resumable)) from error
    finally:
        undo_logging()
    return (EXIT_OK if summary.complete else EXIT_PARTIAL), summary, display


async def _exported(
    run: ExportRun, make_client: Callable[..., ProxyClient], display: ProgressDisplay
) -> ExportSummary:
    """The export itself, inside the run's rate and shown on ``display``."""
    limiter = AdaptiveRateLimiter(max_concurrency=run.concurrency, requests_per_second=run.rps)
    client = make_client(limiter=limiter, on_response=display.on_response)
    async with client:
        return await display.follow(
            export(
                client,
                run.service,
                run.out,
                sessions=run.sessions,
                fmt=run.fmt,
                concurrency=run.concurrency,
                page_size=run.page_size,
                resume=run.resume,
                overwrite=run.force,
                progress=_announcer(run, client, display),
                checkpoint_interval=run.checkpoint_interval,
            )
        )


def _size_of(partial: Path, output: Path) -> Callable[[], int | None]:
    """The size of ``partial``, or of ``output`` once ``partial`` was seen and renamed to
    it; None before (``output`` may be an old file the export will replace)."""
    seen = False

    def size() -> int | None:
        nonlocal seen
        for path in (partial, output) if seen else (partial,):
            try:
                found = path.stat().st_size
            except OSError:
                continue
            seen = True
            return found
        return None

    return size


def _announcer(
    run: ExportRun, client: ProxyClient, display: ProgressDisplay
) -> Callable[[ExportProgress], None]:
    """The progress callback: says what runs once the export has started, then displays.

    Said only once the export has begun (the first progress), so a refusal is never
    preceded by a line claiming the export runs.
    """
    announced = False

    def progress(snapshot: ExportProgress) -> None:
        nonlocal announced
        if not announced and not run.quiet:
            if run.intro is not None:
                display.print(run.intro)
            display.print(_start_line(run, client, resumed=snapshot.resumed))
        announced = True
        display.update(snapshot)

    return progress


def _start_line(run: ExportRun, client: ProxyClient, *, resumed: bool) -> str:
    """``Exporting every session of KS… to FILE (ndjson; 16 sessions at a time, ...)``."""
    what = "every session"
    if run.sessions is not None:
        what = plural(len(run.sessions), "session")
    rate = f"up to {run.rps:g} req/s" if run.rps else "no rate limit"
    return (
        f"{'Resuming' if resumed else 'Exporting'} {what} of {run.service} "
        f"to {run.out} ({run.fmt}; {run.concurrency} sessions at a time, {rate}, "
        f"pages of {run.page_size}; {client.base_url} with the "
        f"{client.credentials_description})"
    )


def _resume_hint(paths: ExportPaths | None, resumable: bool) -> str:
    if paths is not None and paths.state.exists():
        if not resumable:
            return "Run the demo again to start afresh."
        return f"Progress is saved in {paths.state}: rerun with --resume to continue."
    return "Nothing was written." if paths is not None else "Records so far went to stdout."


def report(code: int, summary: ExportSummary, display: ProgressDisplay, run: ExportRun) -> None:
    """Print the summary: text, or one JSON object (on stderr when records go to stdout)."""
    stream = sys.stderr if run.to_stdout else sys.stdout
    if run.as_json:
        emit_json(summary_json(summary, display, exit_code=code), stream=stream)
    else:
        say(summary_text(summary, display), stream=stream)


def format_of(out: str, fmt: str | None) -> Format:
    """``fmt`` if given, else csv for a ``.csv`` or ``.csv.gz`` name, else ndjson."""
    if fmt is not None:
        return cast(Format, fmt)
    name = out.lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "ndjson"
