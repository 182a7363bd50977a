"""Stopping an HTTPS FakeProxyServer closes its sockets even when a peer stays silent.

Found as a flaky ``unclosed transport <_SelectorSocketTransport fd=17>`` ResourceWarning in
tests/transports/test_egress.py under CPU load: the client's close travels through proxy.py, a
separate process; when proxy.py is slow, the fake stops first. aiohttp closes an idle TLS
connection gracefully (close_notify, then up to asyncio's 30 s ``ssl_shutdown_timeout`` for the
peer's answer), so the socket under it was still open when the test's event loop closed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import trustme

from proxy_async.testing import FakeProxyServer


def tls_then_silence(port: int, context: ssl.SSLContext) -> socket.socket:
    """A TCP connection that completes the TLS handshake, then never reads or answers."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
    # Only the handshake is TLS: the socket underneath is then read raw, close_notify unanswered.
    return socket.socket(fileno=tls.detach())


def bytes_until_eof(raw: socket.socket, seconds: float) -> bool:
    """True when the server closes its end within ``seconds`` (TCP EOF or reset)."""
    raw.settimeout(seconds)
    try:
        while raw.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


async def test_stop_closes_a_tls_connection_whose_peer_does_not_answer_close_notify() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    fake = FakeProxyServer(ssl_context=server_context)
    await fake.start()
    raw = await asyncio.to_thread(tls_then_silence, fake.port, client_context)
    with raw:
        await fake.stop()
        # Without the abort in stop() the server holds the socket for the TLS shutdown
        # timeout (30 s): the read below times out, and the transport leaks with the loop.
        assert await asyncio.to_thread(bytes_until_eof, raw, 3.0)
