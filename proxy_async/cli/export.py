"""``proxy-async export`` and ``proxy-async demo``: a whole Service into one file.

Both run :func:`proxy_async.bulk_export.engine.export` through :func:`run_export`, which owns the
limiter, the progress display, the start line, the summary and the resume hint of
every failure; they differ in where the client points and what they say around it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import attrs
import click

from ..bulk_export.engine import (
    DEFAULT_CHECKPOINT_INTERVAL,
    FORMATS,
    ExportProgress,
    ExportSummary,
    Format,
    export,
)
from ..bulk_export.files import STDOUT, ExportPaths
from ..client.proxy_client import ProxyClient
from ..errors import ProxyError
from ..limits.adaptive_rate import AdaptiveRateLimiter
from ..limits.base import DEFAULT_REQUESTS_PER_SECOND
from ..validation import SID_PATTERNS
from ._command import Command, emit_json, say
from ._failures import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    CommandFailure,
    Interrupted,
    ReaderGone,
    failure_of,
)
from ._options import (
    CONTEXT_SETTINGS,
    COUNT,
    PROG,
    ClientSettings,
    Number,
    Sid,
    connection_options,
    latency_option,
    progress_options,
    reporting_options,
    seed_option,
    speed_options,
    verbose_option,
)
from ._progress import ProgressDisplay, configure_request_logging
from ._runner import run_until_signalled
from ._summary import plural, summary_json, summary_text

DEMO_OUTPUT = os.path.join("demo-output", "interactions.ndjson")
"""Where ``proxy-async demo`` writes unless told otherwise (relative to the current
directory); ``--format csv`` makes it ``interactions.csv``."""

_EXIT_CODES = (
    "Exit codes: 0 success; 1 some sessions failed (rerun with --resume); 2 bad usage "
    "(options, SIDs, credentials, files in the way); 3 fatal (credentials refused, sessions "
    "cannot be listed, output cannot be written); 4 the API stopped answering (rerun with "
    "--resume once it is back); 128+N stopped by signal N (130: Ctrl-C), state saved first."
)

_DEMO_EXIT_CODES = (
    "Exit codes: 0 success; 2 bad usage (options, a directory as FILE); 3 fatal (FILE "
    "cannot be written); 128+N stopped by signal N (130: Ctrl-C). The demo has no --resume: "
    "run it again to start afresh."
)


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
    limiter = AdaptiveRateLimiter(max_concurrency=run.concurrency, requests_per_second=run.rps)
    display = ProgressDisplay(
        sys.stderr,
        interval=run.progress_interval,
        enabled=not run.quiet,
        bytes_written=None if paths is None else _size_of(paths.partial, paths.output),
    )
    undo_logging = configure_request_logging(run.verbose, display, sys.stderr)
    try:
        client = make_client(limiter=limiter, on_response=display.on_response)
        async with client:
            summary = await display.follow(
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
            what = "every session"
            if run.sessions is not None:
                what = plural(len(run.sessions), "session")
            rate = f"up to {run.rps:g} req/s" if run.rps else "no rate limit"
            display.print(
                f"{'Resuming' if snapshot.resumed else 'Exporting'} {what} of {run.service} "
                f"to {run.out} ({run.fmt}; {run.concurrency} sessions at a time, {rate}, "
                f"pages of {run.page_size}; {client.base_url} with the "
                f"{client.credentials_description})"
            )
        announced = True
        display.update(snapshot)

    return progress


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


# -- export ----------------------------------------------------------------------------------


@click.command(
    "export",
    cls=Command,
    context_settings=CONTEXT_SETTINGS,
    epilog="Records are written to FILE.part with the export's state in FILE.state.db "
    "(SQLite); the finished file is renamed to FILE. Listing every session writes the "
    "Session records beside it (interactions.ndjson -> interactions.sessions.ndjson). After "
    "a crash, a kill or failed sessions, run the same command with --resume: nothing is "
    "lost and nothing is written twice. Sessions that answer 404 (deleted) are counted as "
    f"missing, not failed. {_EXIT_CODES}",
)
@click.option("--service", required=True, type=Sid("KS"), help="the Proxy Service")
@click.option(
    "--session",
    "sessions",
    multiple=True,
    type=Sid("KC"),
    help="export only this session (repeatable)  [default: every session of the service]",
)
@click.option(
    "--sessions-file",
    metavar="FILE",
    help="file with one session SID per line ('#' comments allowed; '-' reads stdin)",
)
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    help="output file; a name ending in .gz is gzip-compressed (still resumable); '-' writes "
    "the records to stdout (no resume; messages and the summary go to stderr)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="ndjson: Twilio's records exactly, one per line; csv: a header row and one row per "
    "record  [default: csv if FILE ends in .csv or .csv.gz, else ndjson]",
)
@speed_options(DEFAULT_REQUESTS_PER_SECOND)
@click.option(
    "--resume",
    is_flag=True,
    help="continue the unfinished export to FILE from its saved state, retrying failed "
    "sessions (starts afresh if there is none; does nothing if FILE is complete)",
)
@click.option("--force", is_flag=True, help="discard an unfinished export's state and replace FILE")
@connection_options
@click.option(
    "--checkpoint-interval",
    type=Number(0, unit="seconds"),
    default=DEFAULT_CHECKPOINT_INTERVAL,
    metavar="SECONDS",
    help="how often progress is committed to the state",
)
@progress_options
@verbose_option
@reporting_options
def export_command(
    service: str,
    sessions: tuple[str, ...],
    sessions_file: str | None,
    out: str,
    fmt: str | None,
    resume: bool,
    force: bool,
    base_url: str | None,
    proxy: str | None,
    ca_bundle: str | None,
    **options: Any,
) -> int:
    """Export every Interaction of a Proxy Service's sessions (all of them, or those given)
    to an NDJSON or CSV file: concurrent, inside the rate limit, resumable.

    Credentials come from the environment: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or
    with TWILIO_API_KEY and TWILIO_API_SECRET.
    """
    if resume and force:
        raise click.UsageError("--resume and --force cannot be used together")
    selected = _selected_sessions(sessions, sessions_file)
    run = ExportRun(
        service=service,
        out=out,
        fmt=format_of(out, fmt),
        sessions=selected,
        resume=resume,
        force=force,
        **options,
    )
    if selected == [] and not run.quiet:
        say(f"{PROG}: warning: no session selected; the output will hold no record")
    settings = ClientSettings(base_url=base_url, proxy=proxy, ca_bundle=ca_bundle)
    code, summary, display = run_until_signalled(run_export(run, settings.client))
    report(code, summary, display, run)
    return code


def _selected_sessions(flags: tuple[str, ...], sessions_file: str | None) -> list[str] | None:
    """The sessions asked for, in order without repeats, or None for every session."""
    if not flags and sessions_file is None:
        return None
    sids = list(flags)
    if sessions_file is not None:
        sids += _read_sessions_file(sessions_file)
    return list(dict.fromkeys(sids))


def _read_sessions_file(name: str) -> list[str]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise CommandFailure(f"cannot read --sessions-file {name}: {reason}", EXIT_USAGE) from None
    pattern, expected = SID_PATTERNS["KC"], Sid("KC").expected
    sids = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if pattern.fullmatch(entry) is None:
            raise CommandFailure(
                f"--sessions-file {name}, line {number}: expected {expected}, got {entry[:40]!r}",
                EXIT_USAGE,
            )
        sids.append(entry)
    return sids


# -- demo ------------------------------------------------------------------------------------


@click.command(
    "demo",
    cls=Command,
    context_settings=CONTEXT_SETTINGS,
    epilog=_DEMO_EXIT_CODES,
)
@click.option("--sessions", type=COUNT, default=50, metavar="N", help="sessions to generate")
@click.option(
    "--interactions", type=COUNT, default=2000, metavar="N", help="interactions per session"
)
@latency_option(0.02, "the fake server's delay before each answer")
@seed_option
@click.option(
    "--out",
    metavar="FILE",
    help=f"output file, replaced if it exists  [default: {DEMO_OUTPUT}, or "
    "demo-output/interactions.csv with --format csv]",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="as for export  [default: csv if FILE ends in .csv, else ndjson]",
)
@speed_options(None)
@progress_options
@verbose_option
@reporting_options
def demo_command(
    sessions: int,
    interactions: int,
    latency: float,
    seed: int,
    out: str | None,
    fmt: str | None,
    **options: Any,
) -> int:
    """Export a whole Service from the built-in fake Twilio Proxy server, started in this
    process with generated data: the same code as 'export', no account, no network."""
    if out is None:
        out = DEMO_OUTPUT if fmt != "csv" else os.path.join("demo-output", "interactions.csv")
    if out == STDOUT:
        raise CommandFailure("demo writes a file: give --out FILE, not '-'", EXIT_USAGE)
    run = ExportRun(
        service="", out=out, fmt=format_of(out, fmt), force=True, resumable=False, **options
    )
    code, summary, display = run_until_signalled(
        _demo(run, sessions=sessions, interactions=interactions, latency=latency, seed=seed)
    )
    report(code, summary, display, run)
    if not run.as_json:
        say(f"Output file: {summary.output.resolve()}", stream=sys.stdout)
        say(
            "Next: run 'proxy-async fake-server' and paste the export command it prints, "
            "or export your own account with 'proxy-async export --help'.",
            stream=sys.stdout,
        )
    return code


async def _demo(
    run: ExportRun, *, sessions: int, interactions: int, latency: float, seed: int
) -> tuple[int, ExportSummary, ProgressDisplay]:
    from ..testing import FakeProxyServer

    ExportPaths.for_output(run.out)  # a directory is refused before anything is made
    Path(run.out).parent.mkdir(parents=True, exist_ok=True)  # an OSError: Command says it
    async with FakeProxyServer(
        sessions_per_service=sessions,
        interactions_per_session=interactions,
        latency=latency,
        seed=seed,
        record_requests=False,
    ) as server:
        intro = (
            f"Fake Twilio Proxy server running in this process at {server.url}: "
            f"{plural(sessions, 'session')} x {plural(interactions, 'interaction')}, "
            f"{latency * 1000:g} ms latency per request. No account, no network."
        )

        def make_client(**options: Any) -> ProxyClient:
            # The fake server is in this process: a corporate proxy could not reach it.
            return ProxyClient(
                server.account_sid,
                server.auth_token,
                base_url=server.url,
                trust_env=False,
                **options,
            )

        run = attrs.evolve(run, service=server.service_sids[0], intro=intro)
        return await run_export(run, make_client)
