"""``proxy-async export`` and ``proxy-async demo``: a whole Service into one file.

Both run :func:`proxy_async.bulk_export.run.export` through
:func:`._export_run.run_export`; they differ in where the client points and what they
say around it. The demo's server is :func:`proxy_async.testing.demo.demo_server`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import attrs
import click

from ..bulk_export.events import ExportSummary
from ..bulk_export.formats import FORMATS
from ..bulk_export.paths import STDOUT, ExportPaths
from ..bulk_export.run import DEFAULT_CHECKPOINT_INTERVAL
from ..limits.base import DEFAULT_REQUESTS_PER_SECOND
from ..validation import is_sid
from ._client_settings import ClientSettings
from ._command import Command, say
from ._export_run import ExportRun, format_of, report, run_export
from ._failures import EXIT_USAGE, CommandFailure
from ._options import (
    CONTEXT_SETTINGS,
    COUNT,
    PROG,
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
from ._progress import ProgressDisplay
from ._runner import run_until_signalled

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
    expected = Sid("KC").expected
    sids = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if not is_sid(entry, "KC"):
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
    # Imported here: only the demo needs the fake server (and its aiohttp web server).
    from ..testing.demo import demo_server

    ExportPaths.for_output(run.out)  # a directory is refused before anything is made
    Path(run.out).parent.mkdir(parents=True, exist_ok=True)  # an OSError: Command says it
    async with demo_server(
        sessions=sessions, interactions=interactions, latency=latency, seed=seed
    ) as demo:
        run = attrs.evolve(run, service=demo.service_sid, intro=demo.intro)
        return await run_export(run, demo.client)
