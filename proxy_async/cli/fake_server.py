"""``proxy-async fake-server``: the fake Twilio Proxy server, on its own, until Ctrl+C."""

from __future__ import annotations

import errno
from typing import Any

import click

from ._command import Command, emit_json
from ._failures import EXIT_FATAL, EXIT_USAGE, CommandFailure, Interrupted
from ._options import (
    CONTEXT_SETTINGS,
    COUNT,
    PAGE_SIZE,
    Number,
    latency_option,
    reporting_options,
    seed_option,
)
from ._runner import run_until_signalled

# The server lists its services, and a session's participants, in memory: a billion of
# either used to end in a MemoryError (or a machine swapping) before it listened.
MAX_SERVICES = 10_000
MAX_PARTICIPANTS = 1_000

_EPILOG = (
    "Exit codes: 0 after Ctrl+C or SIGTERM; 2 bad options; 3 the server cannot listen (the "
    "port is in use, the host is unknown). With --json the ready line is one JSON object: "
    "url, account_sid, auth_token, service_sids, the counts, session_sids_sample (the "
    "first 3 session SIDs of the first service), participant_sid_sample, environment (the "
    "variables pointing proxy-async at this server) and export_command."
)


@click.command("fake-server", cls=Command, context_settings=CONTEXT_SETTINGS, epilog=_EPILOG)
@click.option("--host", default="127.0.0.1", help="address to listen on")
@click.option(
    "--port", type=Number(0, 65535, integer=True), default=8080, help="TCP port; 0 picks a free one"
)
@click.option(
    "--services", type=Number(0, MAX_SERVICES, integer=True), default=1, help="number of services"
)
@click.option("--sessions", type=COUNT, default=3, help="sessions per service")
@click.option(
    "--participants",
    type=Number(0, MAX_PARTICIPANTS, integer=True),
    default=2,
    help="participants per session",
)
@click.option("--interactions", type=COUNT, default=120, help="interactions per session")
@click.option(
    "--vanishing-sessions",
    type=COUNT,
    default=0,
    metavar="N",
    help="N sessions per service (spread evenly) that are listed but answer 404 on "
    "everything under them, as if deleted right after the listing",
)
@seed_option
@latency_option(0.0, "seconds from arrival to each answer")
@click.option(
    "--max-in-flight",
    type=Number(1, integer=True),
    metavar="N",
    help="answer 429 while more than N requests are in flight  [default: no cap]",
)
@click.option(
    "--max-rps",
    type=Number(0, low_open=True),
    metavar="R",
    help="answer 429 above R requests per second  [default: no cap]",
)
@click.option(
    "--page-size", type=PAGE_SIZE, default=50, help="PageSize of list requests that give none"
)
@click.option(
    "--concurrency-header",
    is_flag=True,
    help="add Twilio-Concurrent-Requests (requests in flight) to every response",
)
@click.option(
    "--prerender",
    is_flag=True,
    help="serialise each successful GET answer once, then serve the same bytes (client-bound "
    "benchmarks; creates and deletes empty the cache)",
)
@click.option(
    "--prerender-max-mib",
    type=COUNT,
    default=None,
    metavar="MIB",
    help="bound of the pre-rendered bodies, least recently used first out  [default: 256]",
)
@click.option("--record", is_flag=True, help="keep every request in memory")
@reporting_options
def fake_server_command(
    host: str,
    port: int,
    vanishing_sessions: int,
    sessions: int,
    max_rps: float | None,
    prerender_max_mib: int | None,
    as_json: bool,
    **options: Any,
) -> int:
    """Run a fake Twilio Proxy v1 server with generated data: point 'proxy-async export',
    ProxyClient or your tests at it. It prints the credentials and a ready-to-paste export
    command."""
    _check_host(host)
    if vanishing_sessions > sessions:
        raise CommandFailure("--vanishing-sessions must not exceed --sessions", EXIT_USAGE)
    settings = _server_settings(
        sessions=sessions,
        vanishing_sessions=vanishing_sessions,
        max_rps=max_rps,
        prerender_max_mib=prerender_max_mib,
        **options,
    )
    return _serve_until_stopped(host, port, settings, as_json=as_json)


def _check_host(host: str) -> None:
    if not host.strip():
        # aiohttp would listen on every interface and print an unusable http://:PORT.
        raise CommandFailure(
            "--host is empty: give an address, e.g. 127.0.0.1 (or 0.0.0.0 for every "
            "interface, reachable from other machines)",
            EXIT_USAGE,
        )


def _server_settings(
    *,
    sessions: int,
    vanishing_sessions: int,
    max_rps: float | None,
    prerender_max_mib: int | None,
    **options: Any,
) -> dict[str, Any]:
    """The :class:`~proxy_async.testing.FakeProxyServer` arguments the options give."""
    from ..testing._prerender import DEFAULT_MAX_BYTES

    return {
        "services": options["services"],
        "sessions_per_service": sessions,
        "participants_per_session": options["participants"],
        "interactions_per_session": options["interactions"],
        "vanishing_sessions": vanishing_sessions,
        "seed": options["seed"],
        "latency": options["latency"],
        "max_in_flight": options["max_in_flight"],
        "max_requests_per_second": max_rps,
        "default_page_size": options["page_size"],
        "concurrency_header": options["concurrency_header"],
        "record_requests": options["record"],
        "prerender": options["prerender"],
        "prerender_max_bytes": DEFAULT_MAX_BYTES
        if prerender_max_mib is None
        else prerender_max_mib * 1024 * 1024,
    }


def _serve_until_stopped(host: str, port: int, settings: dict[str, Any], *, as_json: bool) -> int:
    """Serve until Ctrl+C or SIGTERM (exit 0), saying once it listens what it serves."""
    from ..testing._serve import banner, describe, serve

    listening = False

    def ready(server: Any) -> None:
        nonlocal listening
        listening = True
        details = describe(server)
        if as_json:
            emit_json(details)
        else:
            print(banner(details), flush=True)

    try:
        run_until_signalled(serve(host, port, on_ready=ready, **settings))
    except Interrupted:
        return 0  # Ctrl+C is how a server is meant to stop
    except OSError as error:
        if listening:  # e.g. stdout closed under the banner: not a listening problem
            raise
        raise CommandFailure(_listen_error(host, port, error), EXIT_FATAL) from error
    return 0


def _listen_error(host: str, port: int, error: OSError) -> str:
    """One line saying why the server could not listen on ``host:port``, and what to do."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another fake server?): choose another "
            "with --port, or --port 0 for a free one"
        )
    return f"cannot listen on {host} port {port}: {error.strerror or error}"
