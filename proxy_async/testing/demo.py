"""The server behind ``proxy-async demo``: a :class:`FakeProxyServer` started in the
process with generated data, described in one line, and a client pointed at it.

The command line calls :func:`demo_server` and nothing else from this package::

    async with demo_server(sessions=50, interactions=2000, latency=0.02, seed=0) as demo:
        print(demo.intro)
        async with demo.client() as client:
            ...  # export demo.service_sid
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs

from ..client.proxy_client import ProxyClient
from ._server import FakeProxyServer


@attrs.frozen
class DemoServer:
    """A running demo server: its one Service, what it serves, and clients for it."""

    server: FakeProxyServer
    intro: str
    """One line for the start of the demo: the server's URL, its data and latency."""

    @property
    def service_sid(self) -> str:
        """The Service the demo exports (the server generates exactly one)."""
        return self.server.service_sids[0]

    def client(self, **options: Any) -> ProxyClient:
        """A :class:`ProxyClient` with the server's credentials and URL, and ``options``
        (limiter, hooks). It ignores the proxy variables of the environment: the server
        is in this process, where a corporate proxy could not reach it."""
        return ProxyClient(
            self.server.account_sid,
            self.server.auth_token,
            base_url=self.server.url,
            trust_env=False,
            **options,
        )


@contextlib.asynccontextmanager
async def demo_server(
    *, sessions: int, interactions: int, latency: float, seed: int
) -> AsyncIterator[DemoServer]:
    """Start the demo's server for the block: one Service of ``sessions`` sessions of
    ``interactions`` interactions each, generated from ``seed``, answering after
    ``latency`` seconds, on a free port of 127.0.0.1; requests are not recorded (a demo
    of millions of records would keep them all). Stopped when the block ends.

    Raises what :class:`FakeProxyServer` raises for a bad count, latency or seed.
    """
    async with FakeProxyServer(
        sessions_per_service=sessions,
        interactions_per_session=interactions,
        latency=latency,
        seed=seed,
        record_requests=False,
    ) as server:
        yield DemoServer(server, _intro(server.url, sessions, interactions, latency))


def _intro(url: str, sessions: int, interactions: int, latency: float) -> str:
    return (
        f"Fake Twilio Proxy server running in this process at {url}: "
        f"{_count(sessions, 'session')} x {_count(interactions, 'interaction')}, "
        f"{latency * 1000:g} ms latency per request. No account, no network."
    )


def _count(count: int, noun: str) -> str:
    """``"1 session"``, ``"2,000 sessions"``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
