"""Test helpers: run aiohttp.web and ASGI apps on 127.0.0.1, and watch for unclosed sessions."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import uvicorn
from aiohttp import web

BACKLOG = 2048
"""Listen backlog of the servers: room for thousands of connections opened at once."""

StateLifespan = Callable[[object], AbstractAsyncContextManager[Mapping[str, Any]]]
"""An ASGI lifespan that yields state (what proxy_client_lifespan returns)."""


@contextmanager
def recorded_loop_errors() -> Iterator[list[dict[str, Any]]]:
    """Collect what reaches the running loop's exception handler while inside.

    aiohttp reports a ClientSession garbage-collected while open there, as
    "Unclosed client session" (besides a ResourceWarning).
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: seen.append(context))
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)


def collected_reports(errors: list[dict[str, Any]]) -> list[str]:
    """Collect garbage, then the messages recorded: [] when everything was closed."""
    gc.collect()
    return [str(context.get("message")) for context in errors]


@asynccontextmanager
async def serve_aiohttp(app: web.Application) -> AsyncIterator[tuple[web.AppRunner, str]]:
    """Run ``app`` on a free port of 127.0.0.1; cleaned up on exit (if not already)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG)
        await site.start()
        yield runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn (lifespan on) on a free port of 127.0.0.1.

    On exit uvicorn shuts down as on SIGTERM: it stops accepting, lets the requests in
    flight finish, then runs the lifespan's shutdown.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, backlog=BACKLOG)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # No callback tells when uvicorn is ready: poll its flag, which it sets once
        # the lifespan startup has completed and the socket listens.
        while not server.started:
            if task.done():
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def get_all(base: str, paths: list[str]) -> list[tuple[int, Any]]:
    """GET every path at once, each on its own connection; (status, JSON body) in order."""

    async def get(http: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
        async with http.get(base + path) as response:
            return response.status, await response.json()

    # limit=0: every request really reaches the app at the same time.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        return await asyncio.gather(*(get(http, path) for path in paths))


def spy_on(lifespan: StateLifespan, states: list[Mapping[str, Any]]) -> StateLifespan:
    """Wrap a lifespan so the test sees the state it yields."""

    @asynccontextmanager
    async def spied(app: object) -> AsyncIterator[Mapping[str, Any]]:
        async with lifespan(app) as state:
            states.append(state)
            yield state

    return spied
