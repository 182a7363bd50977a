"""Run the fake server on its own: ``python -m proxy_async.testing``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import math
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn

import orjson

from ._paging import MAX_PAGE_SIZE
from ._prerender import DEFAULT_MAX_BYTES
from ._server import FakeProxyServer


async def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[FakeProxyServer], None] | None = None,
    **kwargs: Any,
) -> None:
    """Run a :class:`FakeProxyServer` until cancelled.

    ``kwargs`` go to the constructor; ``on_ready`` is called once the server
    listens (``port=0`` picks a free port, readable there as ``server.url``).
    """
    async with FakeProxyServer(host=host, port=port, **kwargs) as server:
        if on_ready is not None:
            on_ready(server)
        await asyncio.get_running_loop().create_future()


_EPILOG = """\
exit status: 0 after Ctrl+C or SIGTERM; 1 if the server cannot listen (the port
is in use, the host is unknown); 2 for invalid options.

With --json the ready line is one JSON object: url, account_sid, auth_token,
service_sids, sessions_per_service, interactions_per_session,
participants_per_session, vanishing_sessions, session_sids_sample (the first 3
session SIDs of the first service) and participant_sid_sample (the first
participant of the first session, or null). List the Sessions to get the rest.
"""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, with no usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the epilog's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:  # the help text says what "not given" means
            return action.help
        return super()._get_help_string(action)


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer from ``low`` to ``high`` (None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    """An argparse ``type``: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _rate(text: str) -> float:
    """An argparse ``type``: a finite number of requests per second > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Run a fake Twilio Proxy v1 server with generated data.",
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
    )
    count = _int_in(0)
    option = parser.add_argument
    option("--host", default="127.0.0.1", help="address to listen on")
    option("--port", type=_int_in(0, 65535), default=8080, help="TCP port; 0 picks a free one")
    option("--services", type=count, default=1, help="number of services")
    option("--sessions", type=count, default=3, help="sessions per service")
    option("--participants", type=count, default=2, help="participants per session")
    option("--interactions", type=count, default=120, help="interactions per session")
    option(
        "--vanishing-sessions",
        type=count,
        default=0,
        metavar="N",
        help="N sessions per service (spread evenly) that are listed but answer 404 "
        "on everything under them, as if deleted right after the listing",
    )
    option("--seed", type=int, default=0, help="seed of the generated data (SIDs, contents)")
    option("--latency", type=_seconds, default=0.0, help="seconds from arrival to each answer")
    option(
        "--max-in-flight",
        type=_int_in(1),
        default=None,
        help="answer 429 while more than this many requests are in flight (default: no cap)",
    )
    option(
        "--max-rps",
        type=_rate,
        default=None,
        help="answer 429 above this many requests per second (default: no cap)",
    )
    option(
        "--page-size",
        type=_int_in(1, MAX_PAGE_SIZE),
        default=50,
        help="PageSize of list requests that give none",
    )
    option(
        "--concurrency-header",
        action="store_true",
        help="add Twilio-Concurrent-Requests (requests in flight) to every response",
    )
    option(
        "--prerender",
        action="store_true",
        help="serialise each successful GET answer once, then serve the same bytes "
        "(client-bound benchmarks; creates and deletes empty the cache)",
    )
    option(
        "--prerender-max-mib",
        type=_int_in(0),
        default=DEFAULT_MAX_BYTES // (1024 * 1024),
        metavar="MIB",
        help="bound of the pre-rendered bodies, least recently used first out",
    )
    option("--record", action="store_true", help="keep every request in memory")
    option("--json", action="store_true", help="print one JSON line when ready (see below)")
    return parser


def _banner(server: FakeProxyServer) -> dict[str, Any]:
    """What the server serves: counts, credentials and a few SIDs (never one per session)."""
    services = server.service_sids
    sessions = server.session_sids(services[0], limit=3) if services else []
    participant = None
    with contextlib.suppress(KeyError, IndexError):  # no session, or it vanishes
        participant = server.participant_sids(services[0], sessions[0])[0]
    return {
        "url": server.url,
        "account_sid": server.account_sid,
        "auth_token": server.auth_token,
        "service_sids": services,
        "sessions_per_service": server.sessions_per_service,
        "interactions_per_session": server.interactions_per_session,
        "participants_per_session": server.participants_per_session,
        "vanishing_sessions": server.vanishing_sessions,
        "session_sids_sample": sessions,
        "participant_sid_sample": participant,
    }


def _announce(server: FakeProxyServer, *, as_json: bool) -> None:
    details = _banner(server)
    if as_json:
        print(orjson.dumps(details).decode(), flush=True)
        return
    services, sessions = details["service_sids"], details["session_sids_sample"]
    print(f"Fake Twilio Proxy server listening on {server.url}")
    print(f"  account sid  : {server.account_sid}")
    print(f"  auth token   : {server.auth_token}")
    print(
        f"  data         : {len(services)} service(s) x {details['sessions_per_service']:,} "
        f"sessions x {details['interactions_per_session']:,} interactions, "
        f"{details['participants_per_session']} participants per session"
    )
    if details["vanishing_sessions"]:
        print(
            f"  vanishing    : {details['vanishing_sessions']:,} sessions per service "
            "are listed, then answer 404"
        )
    if services:
        print(f"  service      : {services[0]}")
    if sessions:
        print(f"  session      : {sessions[0]}")
        print(
            f"  try          : curl -u {server.account_sid}:{server.auth_token} "
            f"{server.url}/v1/Services/{services[0]}/Sessions/{sessions[0]}/Interactions"
        )
    print("Press Ctrl+C to stop.", flush=True)


async def _run_until_signalled(run: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(run)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: Sequence[str] | None = None, prog: str = "python -m proxy_async.testing") -> int:
    """Command-line entry point; returns the exit status. ``prog`` names it in help."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or an invalid option (2)
        return stop.code if isinstance(stop.code, int) else 2
    if args.vanishing_sessions > args.sessions:
        return _fail(parser, 2, "--vanishing-sessions must not exceed --sessions")
    options: dict[str, Any] = {
        "services": args.services,
        "sessions_per_service": args.sessions,
        "participants_per_session": args.participants,
        "interactions_per_session": args.interactions,
        "vanishing_sessions": args.vanishing_sessions,
        "seed": args.seed,
        "latency": args.latency,
        "max_in_flight": args.max_in_flight,
        "max_requests_per_second": args.max_rps,
        "default_page_size": args.page_size,
        "concurrency_header": args.concurrency_header,
        "record_requests": args.record,
        "prerender": args.prerender,
        "prerender_max_bytes": args.prerender_max_mib * 1024 * 1024,
    }

    listening = False

    def ready(server: FakeProxyServer) -> None:
        nonlocal listening
        listening = True
        _announce(server, as_json=args.json)

    try:
        asyncio.run(_run_until_signalled(serve(args.host, args.port, on_ready=ready, **options)))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if listening:  # e.g. stdout closed under the banner: not a listening problem
            return _fail(parser, 1, str(exc))
        return _fail(parser, 1, _listen_error(args.host, args.port, exc))
    return 0


def _listen_error(host: str, port: int, exc: OSError) -> str:
    """One line saying why the server could not listen on ``host:port``."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use (choose another, or --port 0)"
    return f"cannot listen on {host} port {port}: {exc.strerror or exc}"


def _fail(parser: argparse.ArgumentParser, status: int, message: str) -> int:
    print(f"{parser.prog}: error: {message}", file=sys.stderr, flush=True)
    return status
