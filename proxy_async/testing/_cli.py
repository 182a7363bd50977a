"""Run the fake server on its own: ``python -m proxy_async.testing``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

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


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a fake Twilio Proxy v1 server with generated data.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--services", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=3, help="sessions per service")
    parser.add_argument("--participants", type=int, default=2, help="participants per session")
    parser.add_argument("--interactions", type=int, default=120, help="interactions per session")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--max-in-flight", type=int, default=None)
    parser.add_argument("--max-rps", type=float, default=None, help="requests per second cap")
    parser.add_argument("--page-size", type=int, default=50, help="default PageSize")
    parser.add_argument("--concurrency-header", action="store_true")
    parser.add_argument(
        "--record", action="store_true", help="keep every request in memory (off by default)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line when ready")
    return parser


def _announce(server: FakeProxyServer, *, as_json: bool) -> None:
    service = server.service_sids[0] if server.service_sids else None
    sessions = server.session_sids(service) if service else []
    if as_json:
        details = {
            "url": server.url,
            "account_sid": server.account_sid,
            "auth_token": server.auth_token,
            "service_sids": server.service_sids,
            "session_sids": sessions,
        }
        print(orjson.dumps(details).decode(), flush=True)
        return
    print(f"Fake Twilio Proxy server listening on {server.url}")
    print(f"  account sid : {server.account_sid}")
    print(f"  auth token  : {server.auth_token}")
    if service and sessions:
        print(f"  service     : {service}")
        print(f"  session     : {sessions[0]}")
        print(
            f"  try         : curl -u {server.account_sid}:{server.auth_token} "
            f"{server.url}/v1/Services/{service}/Sessions/{sessions[0]}/Interactions"
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
    args = parser.parse_args(argv)
    options: dict[str, Any] = {
        "services": args.services,
        "sessions_per_service": args.sessions,
        "participants_per_session": args.participants,
        "interactions_per_session": args.interactions,
        "seed": args.seed,
        "latency": args.latency,
        "max_in_flight": args.max_in_flight,
        "max_requests_per_second": args.max_rps,
        "default_page_size": args.page_size,
        "concurrency_header": args.concurrency_header,
        "record_requests": args.record,
    }

    def ready(server: FakeProxyServer) -> None:
        _announce(server, as_json=args.json)

    try:
        asyncio.run(_run_until_signalled(serve(args.host, args.port, on_ready=ready, **options)))
    except KeyboardInterrupt:
        pass
    except (ValueError, OSError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return 0
