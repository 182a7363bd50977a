"""The ``proxy-async`` command line (also ``python -m proxy_async``).

Commands:

* ``export``: every Interaction of a Service's sessions into an NDJSON or CSV file,
  concurrently, inside the rate limit, resumable (see :func:`proxy_async.export.export`).
  Credentials come from the environment only: ``TWILIO_ACCOUNT_SID`` with
  ``TWILIO_AUTH_TOKEN``, or ``TWILIO_API_KEY`` + ``TWILIO_API_SECRET``.
* ``demo``: the same export against the built-in fake server, in-process.
* ``fake-server``: run the fake server for your own code (``python -m proxy_async.testing``).

Exit codes: 0 success; 1 some sessions failed (output kept as ``.part`` with its
state: rerun with ``--resume``); 2 bad usage (arguments, SIDs, missing credentials,
files in the way); 3 fatal (authentication refused, sessions cannot be listed, output
cannot be written); 4 the API stopped answering (progress saved: ``--resume`` once it
is back); 128 + signal number when interrupted (the state is saved first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from ._progress import ProgressDisplay
from ._version import __version__
from .adaptive_rate import AdaptiveRateLimiter
from .client import ProxyClient
from .errors import (
    AuthError,
    EgressProxyError,
    ExportStateError,
    ExportWriteError,
    InvalidParameterError,
    ProxyError,
)
from .export import (
    DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    FORMATS,
    ApiUnavailableError,
    ExportProgress,
    ExportSummary,
    Format,
    SessionDiscoveryError,
    SessionFailure,
    export,
)
from .export_files import STDOUT, ExportPaths
from .ratelimit import DEFAULT_REQUESTS_PER_SECOND, MAX_CONCURRENCY, check_requests_per_second
from .validation import MAX_PAGE_SIZE, SID_PATTERNS

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_FATAL = 3
EXIT_UNAVAILABLE = 4

DEMO_OUTPUT = os.path.join("demo-output", "interactions.ndjson")
"""Where ``proxy-async demo`` writes unless told otherwise (relative to the current directory)."""

PROG = "proxy-async"

T = TypeVar("T")


class _UsageError(Exception):
    """A command-line mistake found after argparse (exit 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["fake-server"]:
        from .testing import main as fake_server_main

        return fake_server_main(arguments[1:], prog=f"{PROG} fake-server")
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as stop:  # argparse: --help (0) or a usage error (2)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if args.command == "export":
        return _export_command(args)
    if args.command == "demo":
        return _run(_demo(args))
    parser.print_usage(sys.stderr)
    _error("choose a command: export, demo or fake-server")
    return EXIT_USAGE


# -- arguments ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``proxy-async``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Bulk export of Twilio Proxy Interactions: concurrent, rate-limited, "
        "resumable.",
        epilog="Exit codes: 0 success, 1 some sessions failed (rerun with --resume), "
        "2 bad usage, 3 fatal error (authentication, cannot list sessions, cannot write), "
        "4 the API stopped answering (rerun with --resume once it is back).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "export",
        help="export the Interactions of a Service's sessions to a file",
        description="Export every Interaction of a Proxy Service's sessions (all of them, or "
        "those given) to an NDJSON or CSV file. Credentials come from the environment: "
        "TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET.",
        epilog="Records are written to OUT.part with the export's state in OUT.state.db (SQLite);"
        " the finished file is renamed to OUT. Listing every session writes the Session records "
        "to OUT's sessions file (interactions.ndjson -> interactions.sessions.ndjson, dump.csv -> "
        "dump.csv-sessions.ndjson). After a "
        "crash, a kill or failed sessions, run the same command with --resume: nothing is lost "
        "and nothing is written twice. Sessions that answer 404 (deleted) are counted as "
        "missing, not failed. Exit codes: 0 success, 1 some sessions failed, 2 bad usage, "
        "3 fatal error, 4 the API stopped answering, 128+N stopped by signal N (130: "
        "Ctrl-C); the state is saved first.",
    )
    run.add_argument(
        "--service", required=True, type=_sid("KS"), metavar="KS…", help="the Proxy Service"
    )
    run.add_argument(
        "--session",
        dest="sessions",
        action="append",
        type=_sid("KC"),
        metavar="KC…",
        help="export only this session (repeatable); default: every session of the service",
    )
    run.add_argument(
        "--sessions-file",
        metavar="FILE",
        help="file with one session SID per line ('#' comments allowed; '-' reads stdin)",
    )
    run.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="output file; a name ending in .gz is gzip-compressed (still resumable); '-' "
        "writes the records to stdout (no resume; messages and the summary go to stderr)",
    )
    run.add_argument(
        "--format",
        choices=FORMATS,
        help="ndjson: Twilio's records exactly, one per line; csv: a header row and one row "
        "per record (default: csv if FILE ends in .csv, else ndjson)",
    )
    _add_speed_options(run, rps_default=DEFAULT_REQUESTS_PER_SECOND)
    again = run.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished export to FILE from its saved state, retrying failed "
        "sessions (starts afresh if there is none; does nothing if FILE is complete)",
    )
    again.add_argument(
        "--force",
        action="store_true",
        help="discard an unfinished export's state and replace an existing FILE",
    )
    run.add_argument(
        "--base-url",
        metavar="URL",
        help="API host, e.g. a fake server's http://127.0.0.1:8080 (default: Twilio's, or "
        "TWILIO_EDGE/TWILIO_REGION)",
    )
    run.add_argument(
        "--proxy",
        metavar="URL",
        help="forward proxy for every request, http://[USER:PASSWORD@]HOST:PORT; HTTPS is "
        "tunnelled with CONNECT (default: HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, except for "
        "hosts in NO_PROXY; a password is better kept in HTTPS_PROXY than on the command line)",
    )
    run.add_argument(
        "--ca-bundle",
        metavar="PATH",
        help="PEM file (or directory) of the CA certificates to trust instead of the "
        "system's, e.g. a TLS-inspecting proxy's (default: SSL_CERT_FILE, then "
        "REQUESTS_CA_BUNDLE, then the system's)",
    )
    run.add_argument(
        "--checkpoint-interval",
        type=_seconds,
        default=DEFAULT_CHECKPOINT_INTERVAL,
        metavar="SECONDS",
        help=f"how often to commit progress to the state (default {DEFAULT_CHECKPOINT_INTERVAL})",
    )
    _add_output_options(run)

    demo = commands.add_parser(
        "demo",
        help="export from a built-in fake server (no account, no network)",
        description="Start the built-in fake Twilio Proxy server in this process, seeded with "
        "generated sessions, and export all of it with the same code as 'export'.",
    )
    demo.add_argument("--sessions", type=_count, default=50, help="sessions (default 50)")
    demo.add_argument(
        "--interactions", type=_count, default=2000, help="interactions per session (default 2000)"
    )
    demo.add_argument(
        "--latency",
        type=_seconds,
        default=0.02,
        metavar="SECONDS",
        help="the fake server's delay before each answer (default 0.02)",
    )
    demo.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    demo.add_argument(
        "--out",
        default=DEMO_OUTPUT,
        metavar="FILE",
        help=f"output file, replaced if it exists (default {DEMO_OUTPUT})",
    )
    demo.add_argument("--format", choices=FORMATS, help="as for export")
    _add_speed_options(demo, rps_default=None)
    _add_output_options(demo)

    commands.add_parser(
        "fake-server",
        help="run the fake Twilio Proxy server (options: proxy-async fake-server --help)",
        add_help=False,
    )
    return parser


def _add_speed_options(parser: argparse.ArgumentParser, *, rps_default: float | None) -> None:
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"sessions exported at once, 1..{MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY})",
    )
    shown = "0: no ceiling" if rps_default is None else f"{rps_default:g}"
    parser.add_argument(
        "--rps",
        type=_rate,
        default=rps_default,
        metavar="R",
        help="requests per second at most, 0 for no ceiling; the rate backs off on 429s and "
        f"probes back up to it (default {shown})",
    )
    parser.add_argument(
        "--page-size",
        type=_page_size,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"records per request, 1..{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress-interval",
        type=_seconds,
        metavar="SECONDS",
        help="seconds between progress lines (default: 0.2 on a terminal, 5 otherwise)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object on stdout"
    )


def _sid(prefix: str) -> Callable[[str], str]:
    pattern = SID_PATTERNS[prefix]

    def parse(value: str) -> str:
        if pattern.fullmatch(value) is None:
            raise argparse.ArgumentTypeError(
                f"expected a {prefix} SID ({prefix} followed by 32 hex digits), got {value[:40]!r}"
            )
        return value

    parse.__name__ = f"{prefix} SID"
    return parse


def _integer(value: str, low: int, high: int | None, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
    if number < low or (high is not None and number > high):
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return number


def _concurrency(value: str) -> int:
    return _integer(value, 1, MAX_CONCURRENCY, f"an integer from 1 to {MAX_CONCURRENCY}")


def _count(value: str) -> int:
    return _integer(value, 0, None, "an integer >= 0")


def _page_size(value: str) -> int:
    return _integer(value, 1, MAX_PAGE_SIZE, f"an integer from 1 to {MAX_PAGE_SIZE}")


def _number(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return number


def _seconds(value: str) -> float:
    return _number(value, "a number of seconds >= 0")


def _rate(value: str) -> float | None:
    what = "0 (no ceiling) or a number >= 1/86400 (a request a day)"
    rate = _number(value, what)
    if rate == 0:
        return None
    try:
        return check_requests_per_second("--rps", rate)
    except InvalidParameterError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None


def _read_sessions_file(name: str) -> list[str]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot read --sessions-file {name}: {exc}") from None
    pattern = SID_PATTERNS["KC"]
    sids = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if pattern.fullmatch(entry) is None:
            raise _UsageError(
                f"{name}, line {number}: expected a session SID (KC followed by 32 hex "
                f"digits), got {entry[:40]!r}"
            )
        sids.append(entry)
    return sids


def _selected_sessions(args: argparse.Namespace) -> list[str] | None:
    """The sessions asked for, or None for every session of the service."""
    if args.sessions is None and args.sessions_file is None:
        return None
    sids = list(args.sessions or [])
    if args.sessions_file is not None:
        sids += _read_sessions_file(args.sessions_file)
    return list(dict.fromkeys(sids))


def _format_of(args: argparse.Namespace) -> Format:
    if args.format is not None:
        return cast(Format, args.format)
    name = str(args.out).lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "ndjson"


# -- running --------------------------------------------------------------------------------


def _run(work: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(_until_signalled(work))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 128 + signal.SIGINT


async def _until_signalled(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; SIGINT/SIGTERM cancel it (so the export commits its state)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = []
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop, signum)
                installed.append(signum)
    try:
        return await task
    except asyncio.CancelledError:
        if received:
            return 128 + received[0]
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _displayed(display: ProgressDisplay, work: Awaitable[T]) -> T:
    """Await ``work`` while ``display`` redraws; draw the final state however it ends."""
    ticker = asyncio.ensure_future(display.run())
    try:
        return await work
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        display.close()


def _export_command(args: argparse.Namespace) -> int:
    try:
        sessions = _selected_sessions(args)
    except _UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if sessions == []:
        _error("warning: no session selected; the output will hold no record")
    return _run(_export(args, sessions))


async def _export(args: argparse.Namespace, sessions: list[str] | None) -> int:
    fmt = _format_of(args)
    to_stdout = args.out == STDOUT
    try:
        paths = None if to_stdout else ExportPaths.for_output(args.out)
    except (ExportStateError, InvalidParameterError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    if to_stdout and args.resume:
        _error("--resume needs --out FILE: an export to stdout ('-') cannot be resumed")
        return EXIT_USAGE
    limiter = _export_limiter(args)
    if limiter is None:
        return EXIT_USAGE
    display = ProgressDisplay(sys.stderr, interval=args.progress_interval, enabled=not args.quiet)
    options: dict[str, Any] = {
        "limiter": limiter,
        "on_response": display.on_response,
    }
    if args.base_url is not None:
        options["base_url"] = args.base_url
    if args.proxy is not None:
        options["proxy"] = args.proxy
    if args.ca_bundle is not None:
        options["ca_bundle"] = args.ca_bundle
    try:
        client = ProxyClient.from_env(**options)
    except InvalidParameterError as exc:
        if exc.parameter.startswith("TWILIO_"):
            _error(
                "no credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or "
                "TWILIO_API_KEY and TWILIO_API_SECRET) in the environment"
            )
        elif exc.parameter in _OPTION_NAMES:
            detail = str(exc).removeprefix(f"invalid {exc.parameter}: ")
            _error(f"bad {_OPTION_NAMES[exc.parameter]}: {detail}")
        else:
            _error(f"bad settings: {exc}")
        return EXIT_USAGE
    announce = _announcer(args, sessions, fmt, display)
    try:
        async with client:
            summary = await _displayed(
                display,
                export(
                    client,
                    args.service,
                    args.out,
                    sessions=sessions,
                    fmt=fmt,
                    concurrency=args.concurrency,
                    page_size=args.page_size,
                    resume=args.resume,
                    overwrite=args.force,
                    progress=announce,
                    checkpoint_interval=args.checkpoint_interval,
                ),
            )
    except asyncio.CancelledError:
        _error(f"interrupted. {_resume_hint(paths)}")
        raise
    except (InvalidParameterError, ExportStateError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except ExportWriteError as exc:
        _error(f"{exc}. {_resume_hint(paths)}")
        return EXIT_FATAL
    except AuthError as exc:
        _error(
            f"authentication failed: {exc}. Check the TWILIO_* credentials in the environment."
            f" {_resume_hint(paths)}"
        )
        return EXIT_FATAL
    except ApiUnavailableError as exc:
        if isinstance(exc.cause, EgressProxyError):
            # Not "the API stopped answering": the proxy in between did.
            _error(
                f"stopped early: cannot get through the proxy {exc.cause.proxy} "
                f"({exc.cause}). {_resume_hint(paths)}"
            )
        else:
            _error(f"stopped early: {exc}. {_resume_hint(paths)}")
        return EXIT_UNAVAILABLE
    except SessionDiscoveryError as exc:
        _error(f"{exc}. {_resume_hint(paths)}")
        return EXIT_FATAL
    except ProxyError as exc:
        _error(f"export stopped: {exc}. {_resume_hint(paths)}")
        return EXIT_FATAL
    except BrokenPipeError:
        if not to_stdout:
            raise
        # The reader of stdout stopped reading (`| head`): end quietly, as `cat` does.
        _silence_stdout()
        return 128 + signal.SIGPIPE
    except OSError as exc:
        _error(f"cannot write the output: {exc}. {_resume_hint(paths)}")
        return EXIT_FATAL
    _print_summary(summary, display, as_json=args.json, to_stderr=to_stdout)
    return EXIT_OK if summary.complete else EXIT_PARTIAL


_OPTION_NAMES = {"base_url": "--base-url", "proxy": "--proxy", "ca_bundle": "--ca-bundle"}
"""Client parameters set by a command-line option: errors name the option."""


def _export_limiter(args: argparse.Namespace) -> AdaptiveRateLimiter | None:
    """The export's limiter: ``--concurrency`` in flight, a rate that backs off on 429s and
    probes back up, never above ``--rps`` (the ceiling; none with ``--rps 0``). Any
    ``--rps`` above 0 works: below 0.5/s the floor of the cuts is the ceiling itself.
    None (after one line on stderr) if the options cannot make a limiter."""
    try:
        return AdaptiveRateLimiter(max_concurrency=args.concurrency, requests_per_second=args.rps)
    except InvalidParameterError as exc:
        _error(f"bad --concurrency or --rps: {exc}")
        return None


def _announcer(
    args: argparse.Namespace, sessions: list[str] | None, fmt: Format, display: ProgressDisplay
) -> Callable[[ExportProgress], None]:
    """The progress callback: says what runs once the export has started, then displays."""
    announced = False

    def progress(snapshot: ExportProgress) -> None:
        nonlocal announced
        if not announced and not args.quiet:
            what = "every session"
            if sessions is not None:
                what = f"{len(sessions):,} {_plural(len(sessions), 'session')}"
            rate = f"up to {args.rps:g} req/s" if args.rps else "no rate limit"
            _error(
                f"{'resuming' if snapshot.resumed else 'exporting'} {what} of {args.service} "
                f"to {args.out} ({fmt}; {args.concurrency} sessions at a time, {rate}, "
                f"pages of {args.page_size})"
            )
        announced = True
        display.update(snapshot)

    return progress


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def _resume_hint(paths: ExportPaths | None) -> str:
    if paths is not None and paths.state.exists():
        return f"Progress is saved in {paths.state}: rerun with --resume to continue."
    return "Nothing was written." if paths is not None else "Records so far went to stdout."


async def _demo(args: argparse.Namespace) -> int:
    from .testing import FakeProxyServer

    out = Path(args.out)
    fmt = _format_of(args)
    limiter = _export_limiter(args)
    if limiter is None:
        return EXIT_USAGE
    display = ProgressDisplay(sys.stderr, interval=args.progress_interval, enabled=not args.quiet)
    out.parent.mkdir(parents=True, exist_ok=True)
    say = _error if args.json else print
    async with FakeProxyServer(
        sessions_per_service=args.sessions,
        interactions_per_session=args.interactions,
        latency=args.latency,
        seed=args.seed,
        record_requests=False,
    ) as server:
        say(
            f"Fake Twilio Proxy server running in this process at {server.url}: "
            f"{args.sessions} sessions x {args.interactions:,} interactions, "
            f"{args.latency * 1000:g} ms latency per request. No account, no network."
        )
        rate = f"{args.rps:g} req/s" if args.rps else "no rate limit (the server is local)"
        say(
            f"Exporting every session, {args.concurrency} at a time, pages of "
            f"{args.page_size}, {rate}..."
        )
        async with ProxyClient(
            server.account_sid,
            server.auth_token,
            base_url=server.url,
            limiter=limiter,
            on_response=display.on_response,
            # The fake server is in this process: a corporate proxy could not reach it.
            trust_env=False,
        ) as client:
            summary = await _displayed(
                display,
                export(
                    client,
                    server.service_sids[0],
                    out,
                    fmt=fmt,
                    concurrency=args.concurrency,
                    page_size=args.page_size,
                    overwrite=True,
                    progress=display.update,
                ),
            )
    _print_summary(summary, display, as_json=args.json)
    if not args.json:
        print(f"Output file: {summary.output.resolve()}")
        print(
            "Next: run 'proxy-async fake-server --port 8080' and point 'proxy-async export "
            "--base-url http://127.0.0.1:8080' at it, or export your own account."
        )
    return EXIT_OK if summary.complete else EXIT_PARTIAL


# -- output ---------------------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def summary_text(summary: ExportSummary, display: ProgressDisplay | None = None) -> str:
    """The human-readable summary of an export."""
    if summary.already_complete:
        counts = ""
        if summary.state is not None:
            counts = (
                f" ({summary.records:,} records from "
                f"{summary.sessions_total:,} {_plural(summary.sessions_total, 'session')})"
            )
        return f"Nothing to resume: {summary.output} is complete{counts}."
    speed = (
        f"{summary.records_this_run:,} records in {summary.elapsed:.1f} s "
        f"({summary.records_per_second:,.0f} records/s)"
    )
    sessions = f"{summary.sessions_total:,} {_plural(summary.sessions_total, 'session')}"
    lines = []
    if summary.complete:
        head = "Export complete" + (" (resumed)" if summary.resumed else "")
        lines.append(f"{head}: {summary.records:,} records from {sessions}")
        lines.append(f"  this run : {speed}")
        size = "" if summary.output.name == STDOUT else f", {_size(summary.output)}"
        lines.append(f"  output   : {summary.output} ({summary.format}{size})")
        if summary.sessions_file is not None:
            lines.append(f"  sessions : {summary.sessions_file} (the Session records)")
    else:
        failed = len(summary.failures)
        lines.append(
            f"Export incomplete: {failed:,} of {sessions} failed; {summary.sessions_done:,} "
            f"done, {summary.records:,} records written so far"
        )
        lines.append(f"  this run : {speed}")
        lines.extend(_listed("failed", summary.failures))
        lines.append(f"  kept     : {summary.output} with its state {summary.state}")
        lines.append("  next     : rerun the same command with --resume to retry what failed")
    if summary.missing:
        count = len(summary.missing)
        lines.append(
            f"  missing  : {count:,} {_plural(count, 'session')} answered 404 (deleted or "
            f"expired): {'it is' if count == 1 else 'they are'} not retried"
        )
        lines.extend(_listed("missing", summary.missing))
    if display is not None:
        lines.append(
            f"  requests : {display.requests:,} ({display.retries:,} retries, "
            f"{display.rate_limited:,} answered 429)"
        )
    return "\n".join(lines)


def _listed(label: str, sessions: tuple[SessionFailure, ...], shown: int = 10) -> list[str]:
    # A missing session's error is always the same 404: its SID and records say it all.
    lines = [
        f"  {label:<9}: {item.session_sid} ({item.records:,} records kept)"
        + ("" if label == "missing" else f": {item.error}")
        for item in sessions[:shown]
    ]
    if len(sessions) > shown:
        lines.append(f"  {label:<9}: ... and {len(sessions) - shown:,} more (see --json)")
    return lines


def summary_json(summary: ExportSummary, display: ProgressDisplay | None = None) -> bytes:
    """The summary as one JSON object."""
    body: dict[str, Any] = {
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
    return orjson.dumps(body)


def _session_json(item: SessionFailure) -> dict[str, Any]:
    return {"session_sid": item.session_sid, "records": item.records, "error": item.error}


def _print_summary(
    summary: ExportSummary, display: ProgressDisplay, *, as_json: bool, to_stderr: bool = False
) -> None:
    text = summary_json(summary, display).decode() if as_json else summary_text(summary, display)
    print(text, file=sys.stderr if to_stderr else sys.stdout, flush=True)


def _size(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        return "size unknown"
    if size < 1000:
        return f"{size} B"
    scaled, unit = size / 1000, "KB"
    for bigger in ("MB", "GB", "TB"):
        if scaled < 1000:
            break
        scaled, unit = scaled / 1000, bigger
    return f"{scaled:,.1f} {unit}"
