"""Egress through a real forward proxy (proxy.py) to an HTTPS fake server with a test CA.

proxy.py runs as a subprocess on a loopback port with Basic proxy authentication; its
access log is the proof that a request went through it (``CONNECT host:port``). The
fake server serves HTTPS with a certificate from a ``trustme`` CA, so the CONNECT
tunnel and the certificate check are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yarl
from conftest import assert_no_secret, set_fake_credentials

from proxy_async import (
    AttemptEvent,
    CertificateVerifyError,
    ConnectError,
    EgressProxyError,
    EgressProxyRefusedError,
    EgressProxyTimeoutError,
    EgressProxyUnresolvedError,
    InvalidParameterError,
    ProxyClient,
    RequestTimeoutError,
    RetryPolicy,
    Timeouts,
)
from proxy_async import cli as cli_module
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer
from proxy_async.transports import tls as tls_module
from proxy_async.transports.egress import NoProxy, ProxyRoutes
from proxy_async.transports.proxy_url import parse_proxy_url
from proxy_async.transports.tls import load_ca_bundle
from proxy_async.workers.config import WorkerConfig

PROXY_USER = "egress-user"
PROXY_PASSWORD = "proxy-pass-do-not-leak-91c4"
NO_ENV: dict[str, str] = {}
"""An environment with no proxy or CA variable, for clients that must not read ours."""


# -- a real forward proxy, a test CA, an HTTPS fake server ------------------------------------


class ForwardProxy:
    """proxy.py in a subprocess; ``connects(host_port)`` counts its logged CONNECTs."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log

    def url(self, user: str | None = PROXY_USER, password: str | None = PROXY_PASSWORD) -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def connects(self, target: str) -> int:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count(f"CONNECT {target} ")

    async def wait_for_connects(self, target: str, count: int, timeout: float = 5.0) -> int:
        """proxy.py logs a tunnel when it closes: wait for ``count`` of them (or time out)."""
        deadline = time.monotonic() + timeout
        # Another process's log file: there is nothing to await but time.
        while (seen := self.connects(target)) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return seen


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForwardProxy]:
    """proxy.py on a free loopback port, demanding Basic proxy auth; stopped afterwards."""
    directory = tmp_path_factory.mktemp("forward-proxy")
    port_file, log = directory / "port", directory / "proxy.log"
    log.touch()
    command = [
        sys.executable,
        "-m",
        "proxy",
        "--hostname",
        "127.0.0.1",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--num-workers",
        "1",
        "--num-acceptors",
        "1",
        "--basic-auth",
        f"{PROXY_USER}:{PROXY_PASSWORD}",
        "--log-file",
        str(log),
        "--log-level",
        "INFO",
    ]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its acceptor processes go with it at teardown
    )
    try:
        deadline = time.monotonic() + 15
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"proxy.py did not start: {log.read_text()[-2000:]}")
            time.sleep(0.02)
        yield ForwardProxy(int(port_file.read_text()), log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "corporate-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def https_server(test_ca: trustme.CA) -> AsyncIterator[FakeProxyServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    async with FakeProxyServer(ssl_context=context, interactions_per_session=3) as server:
        yield server


def target(server: FakeProxyServer) -> str:
    return f"127.0.0.1:{server.port}"


def client_for(server: FakeProxyServer, **options: Any) -> ProxyClient:
    options.setdefault("requests_per_second", None)
    options.setdefault("environ", NO_ENV)
    return ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, **options)


async def list_sessions(client: ProxyClient, server: FakeProxyServer) -> int:
    async with client:
        sessions = await client.services(server.service_sids[0]).sessions.list()
    return len(sessions)


def env_with(**variables: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
        **variables,
    }


def dead_proxy_url() -> str:
    """A loopback proxy address nothing listens on (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"


def assert_hidden(text: str, where: str) -> None:
    assert PROXY_PASSWORD not in text, f"proxy password leaked in {where}: {text[:300]!r}"
    assert_no_secret(text, where)


# -- through the real proxy ----------------------------------------------------------------------


async def test_https_through_proxy_with_the_corporate_ca(
    forward_proxy: ForwardProxy, https_server: FakeProxyServer, ca_file: Path
) -> None:
    client = client_for(https_server, proxy=forward_proxy.url(), ca_bundle=ca_file)
    assert await list_sessions(client, https_server) == 3
    assert await forward_proxy.wait_for_connects(target(https_server), 1) == 1
    assert https_server.requests, "the request reached the server through the tunnel"


async def test_untrusted_certificate_is_typed_and_not_retried(
    forward_proxy: ForwardProxy, https_server: FakeProxyServer
) -> None:
    attempts: list[AttemptEvent] = []
    client = client_for(
        https_server,
        proxy=forward_proxy.url(),
        retry=RetryPolicy(retries=3, initial_backoff=0),
        on_request=attempts.append,
    )
    with pytest.raises(CertificateVerifyError) as caught:
        await list_sessions(client, https_server)
    error = caught.value
    assert error.attempts == 1
    assert len(attempts) == 1
    assert not error.request_sent
    assert not error.retryable
    assert error.host == target(https_server)
    assert "certificate verify failed" in str(error)
    assert "SSL_CERT_FILE" in str(error)
    assert error.verify_message  # OpenSSL's reason, e.g. "unable to get local issuer..."
    assert https_server.requests == [], "nothing got past the TLS handshake"
    assert await forward_proxy.wait_for_connects(target(https_server), 1) == 1


async def test_https_proxy_variable_is_honoured(
    forward_proxy: ForwardProxy,
    https_server: FakeProxyServer,
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # conftest cleared every proxy variable; the real os.environ is what is read here.
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url())
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    set_fake_credentials(monkeypatch)
    client = ProxyClient.from_env(base_url=https_server.url, requests_per_second=None)
    assert await list_sessions(client, https_server) == 3
    assert await forward_proxy.wait_for_connects(target(https_server), 1) == 1


async def test_no_proxy_bypasses_and_its_absence_does_not(
    https_server: FakeProxyServer, ca_file: Path
) -> None:
    dead = dead_proxy_url()
    for no_proxy in ("127.0.0.1", "127.0.0.0/8", f"localhost,127.0.0.1:{https_server.port}", "*"):
        environ = env_with(HTTPS_PROXY=dead, NO_PROXY=no_proxy)
        client = ProxyClient.from_env(
            environ, base_url=https_server.url, ca_bundle=ca_file, requests_per_second=None
        )
        assert await list_sessions(client, https_server) == 3, no_proxy
    # The same without a matching NO_PROXY goes to the (dead) proxy: it is the only route.
    for no_proxy in ("", "127.0.0.2", f"127.0.0.1:{https_server.port + 1}", "example.com"):
        environ = env_with(HTTPS_PROXY=dead, NO_PROXY=no_proxy)
        client = ProxyClient.from_env(
            environ, base_url=https_server.url, ca_bundle=ca_file, retry=0
        )
        with pytest.raises(EgressProxyError) as caught:
            await list_sessions(client, https_server)
        assert caught.value.status is None
        assert caught.value.retryable, "an unreachable proxy may come back"
        assert "cannot connect to the proxy http://***@127.0.0.1:" in str(caught.value)
        assert_hidden(repr(vars(caught.value)), "an EgressProxyError")


async def test_explicit_proxy_beats_the_environment(
    forward_proxy: ForwardProxy, https_server: FakeProxyServer, ca_file: Path
) -> None:
    environ = env_with(HTTPS_PROXY=dead_proxy_url(), ALL_PROXY=dead_proxy_url(), NO_PROXY="*")
    client = ProxyClient.from_env(
        environ,
        base_url=https_server.url,
        proxy=forward_proxy.url(),
        ca_bundle=ca_file,
        requests_per_second=None,
    )
    assert await list_sessions(client, https_server) == 3
    assert await forward_proxy.wait_for_connects(target(https_server), 1) == 1


async def test_ssl_cert_file_and_requests_ca_bundle_are_honoured(
    https_server: FakeProxyServer, ca_file: Path, tmp_path: Path
) -> None:
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        client = ProxyClient.from_env(
            env_with(**{name: str(ca_file)}), base_url=https_server.url, requests_per_second=None
        )
        assert await list_sessions(client, https_server) == 3, name
    # SSL_CERT_FILE comes first; an explicit ca_bundle beats both.
    system = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(system))
    environ = env_with(SSL_CERT_FILE=str(ca_file), REQUESTS_CA_BUNDLE=str(system))
    client = ProxyClient.from_env(environ, base_url=https_server.url, requests_per_second=None)
    assert await list_sessions(client, https_server) == 3
    client = ProxyClient.from_env(
        environ, base_url=https_server.url, ca_bundle=system, retry=0, requests_per_second=None
    )
    with pytest.raises(CertificateVerifyError) as caught:
        await list_sessions(client, https_server)
    assert f"trusting the CAs of ca_bundle={system};" in str(caught.value)
    # trust_env=False ignores the variables: the system's CAs do not know the test CA.
    client = ProxyClient.from_env(environ, base_url=https_server.url, trust_env=False, retry=0)
    with pytest.raises(CertificateVerifyError) as caught:
        await list_sessions(client, https_server)
    assert "trusting the system's default CAs;" in str(caught.value)
    # A system-wide SSL_CERT_FILE silently shadows REQUESTS_CA_BUNDLE: the hint says so.
    environ = env_with(SSL_CERT_FILE=str(system), REQUESTS_CA_BUNDLE=str(ca_file))
    client = ProxyClient.from_env(environ, base_url=https_server.url, retry=0)
    with pytest.raises(CertificateVerifyError) as caught:
        await list_sessions(client, https_server)
    assert caught.value.trust == (
        f"the CAs of SSL_CERT_FILE={system}, which wins over REQUESTS_CA_BUNDLE={ca_file}"
    )
    assert f"trusting {caught.value.trust}; for a corporate CA" in str(caught.value)
    environ = env_with(REQUESTS_CA_BUNDLE=str(system))
    client = ProxyClient.from_env(environ, base_url=https_server.url, retry=0)
    with pytest.raises(CertificateVerifyError) as caught:
        await list_sessions(client, https_server)
    assert caught.value.trust == f"the CAs of REQUESTS_CA_BUNDLE={system}"


async def test_ssl_context_option(
    forward_proxy: ForwardProxy, https_server: FakeProxyServer, test_ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    client = client_for(https_server, proxy=forward_proxy.url(), ssl_context=context)
    assert await list_sessions(client, https_server) == 3


async def test_proxy_authentication_required_is_typed_and_not_retried(
    forward_proxy: ForwardProxy, https_server: FakeProxyServer, ca_file: Path
) -> None:
    wrong = "wrong-proxy-password-ab12"
    for url in (forward_proxy.url(user=None), forward_proxy.url(password=wrong)):
        events: list[AttemptEvent] = []
        client = client_for(
            https_server,
            proxy=url,
            ca_bundle=ca_file,
            retry=RetryPolicy(retries=3, initial_backoff=0),
            on_response=events.append,
        )
        with pytest.raises(EgressProxyRefusedError) as caught:
            await list_sessions(client, https_server)
        error = caught.value
        assert (error.status, error.attempts, len(events)) == (407, 1, 1)
        assert not error.request_sent
        assert "407" in str(error)
        assert "check the proxy user and password" in str(error)
        for text in (str(error), repr(error), repr(vars(error)), repr(events), repr(client)):
            assert wrong not in text
            assert_hidden(text, "a 407 error")
    assert https_server.requests == []


# -- proxies that refuse or fail, scripted --------------------------------------------------------


@contextlib.asynccontextmanager
async def scripted_proxy(status: int, reason: str) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A proxy that answers every CONNECT with ``status``; yields its URL and the requests."""
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        yield f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}", seen
    finally:
        server.close()
        await server.wait_closed()


async def test_proxy_forbidden_is_final_and_bad_gateway_is_retried(
    https_server: FakeProxyServer,
) -> None:
    policy = RetryPolicy(retries=2, initial_backoff=0)
    async with scripted_proxy(403, "Forbidden") as (url, seen):
        client = client_for(https_server, proxy=url, retry=policy)
        with pytest.raises(EgressProxyRefusedError) as refused:
            await list_sessions(client, https_server)
        assert (refused.value.status, len(seen)) == (403, 1)
        assert "does not allow this destination" in str(refused.value)
        # The tunnel asked for the API host, with the proxy's credentials alone.
        assert seen[0].startswith(f"CONNECT {target(https_server)} HTTP/1.1".encode())
        assert b"Proxy-Authorization: Basic " in seen[0]
        assert b"\r\nAuthorization:" not in seen[0], "the API credentials stay in the tunnel"
    async with scripted_proxy(502, "Bad Gateway") as (url, seen):
        client = client_for(https_server, proxy=url, retry=policy)
        with pytest.raises(EgressProxyError) as failed:
            await list_sessions(client, https_server)
        assert not isinstance(failed.value, EgressProxyRefusedError)
        assert (failed.value.status, failed.value.attempts, len(seen)) == (502, 3, 3)


async def test_plain_http_through_a_proxy_that_answers_407() -> None:
    """Without TLS there is no CONNECT: the proxy's 407 arrives as a response."""
    async with scripted_proxy(407, "Proxy Authentication Required") as (url, seen):
        client = ProxyClient(
            FAKE_ACCOUNT_SID,
            FAKE_AUTH_TOKEN,
            base_url="http://api.example.invalid",
            proxy=url,
            retry=RetryPolicy(retries=2, initial_backoff=0),
            environ=NO_ENV,
        )
        with pytest.raises(EgressProxyRefusedError) as caught:
            await list_sessions_of(client)
        assert (caught.value.status, len(seen)) == (407, 1)
        assert seen[0].startswith(b"GET http://api.example.invalid/v1/Services/")


async def list_sessions_of(client: ProxyClient) -> None:
    async with client:
        await client.services("KS" + "0" * 32).sessions.list()


# -- credentials never leak ---------------------------------------------------------------------


async def test_proxy_credentials_never_leak(
    forward_proxy: ForwardProxy,
    https_server: FakeProxyServer,
    ca_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[AttemptEvent] = []
    texts: list[str] = []
    for options in (
        {"proxy": forward_proxy.url(), "ca_bundle": ca_file},  # success
        {"proxy": forward_proxy.url()},  # certificate failure
        {
            "proxy": dead_proxy_url(),
            "retry": RetryPolicy(retries=1, initial_backoff=0),
        },  # unreachable proxy, retried once
        {"environ": env_with(HTTPS_PROXY=forward_proxy.url(), SSL_CERT_FILE=str(ca_file))},
    ):
        client = client_for(https_server, **options, on_response=events.append)
        texts.append(repr(client))
        texts.append(repr(client._transport))
        try:
            await list_sessions(client, https_server)
        except EgressProxyError as error:
            texts.extend([str(error), repr(error), repr(vars(error))])
        except CertificateVerifyError as error:
            texts.extend([str(error), repr(error), repr(vars(error))])
    assert any("http://***@127.0.0.1" in text for text in texts), "the proxy is shown, redacted"
    assert len(events) >= 5
    texts.extend(repr(event) for event in events)
    texts.extend(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert any("egress: proxy http://***@127.0.0.1" in r.getMessage() for r in caplog.records)
    for text in texts:
        assert_hidden(text, "a repr, log record, event or error")
        assert f"{PROXY_USER}:" not in text


# -- a proxy that cannot be reached is named, whatever the reason ---------------------------------


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Names mapped to the getaddrinfo error they get (``socket.EAI_*``); others resolve.

    aiohttp's default resolver runs ``socket.getaddrinfo`` in a thread, so this holds
    whatever the machine's DNS does (offline CI included), and answers at once.
    """
    failures: dict[str, int] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in failures:
            raise socket.gaierror(failures[name], f"fake DNS failure {failures[name]}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return failures


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("http://nosuchproxy.invalid:3128", "http://nosuchproxy.invalid:3128"),
        ("notaurl", "http://notaurl"),  # no scheme means http://, port 80
        (f" http://{PROXY_USER}:{PROXY_PASSWORD}@nosuchproxy.invalid:3128\n", None),
    ],
)
async def test_a_proxy_host_that_does_not_exist_is_named_and_final(
    https_server: FakeProxyServer, fake_dns: dict[str, int], value: str, shown: str | None
) -> None:
    fake_dns.update({"nosuchproxy.invalid": socket.EAI_NONAME, "notaurl": socket.EAI_NONAME})
    attempts: list[AttemptEvent] = []
    client = client_for(
        https_server,
        proxy=value,
        retry=RetryPolicy(retries=3, initial_backoff=0),
        on_request=attempts.append,
    )
    with pytest.raises(EgressProxyUnresolvedError) as caught:
        await list_sessions(client, https_server)
    error = caught.value
    # Surrounding whitespace is dropped; the password is redacted.
    expected = shown or f"http://***@nosuchproxy.invalid:{3128}"
    assert error.proxy == expected
    assert f"the host name of the proxy {expected} does not resolve" in str(error)
    assert isinstance(error, EgressProxyRefusedError), "fatal for an export, like a 407"
    assert (error.attempts, len(attempts), error.retryable) == (1, 1, False)
    assert not error.request_sent
    assert https_server.requests == []
    assert_hidden(f"{error} {error!r} {vars(error)}", "an EgressProxyUnresolvedError")


async def test_a_dns_server_that_does_not_answer_for_the_proxy_is_retried(
    https_server: FakeProxyServer, fake_dns: dict[str, int]
) -> None:
    fake_dns["proxy.corp.example"] = socket.EAI_AGAIN
    client = client_for(
        https_server,
        proxy="http://proxy.corp.example:3128",
        retry=RetryPolicy(retries=2, initial_backoff=0),
    )
    with pytest.raises(EgressProxyError) as caught:
        await list_sessions(client, https_server)
    assert type(caught.value) is EgressProxyError
    assert (caught.value.attempts, caught.value.retryable) == (3, True)
    assert "cannot resolve the host name of the proxy http://proxy.corp.example:3128" in str(
        caught.value
    )


async def test_an_api_host_that_does_not_resolve_without_a_proxy_is_not_a_proxy_error(
    fake_dns: dict[str, int],
) -> None:
    fake_dns["nosuchapi.invalid"] = socket.EAI_NONAME
    client = ProxyClient(
        FAKE_ACCOUNT_SID,
        FAKE_AUTH_TOKEN,
        base_url="https://nosuchapi.invalid",
        retry=0,
        environ=env_with(HTTPS_PROXY=dead_proxy_url(), NO_PROXY="nosuchapi.invalid"),
    )
    with pytest.raises(ConnectError) as caught:
        await list_sessions_of(client)
    assert not isinstance(caught.value, EgressProxyError)
    assert "cannot connect to nosuchapi.invalid:443" in str(caught.value)


async def test_a_reserved_invalid_proxy_host_fails_fast_with_the_real_resolver(
    https_server: FakeProxyServer,
) -> None:
    """``.invalid`` never resolves (RFC 6761). Offline, a resolver may not answer at all:
    the connect timeout bounds that, and either way the error names the proxy."""
    started = time.monotonic()
    client = client_for(
        https_server,
        proxy="http://nosuchproxy.invalid:3128",
        retry=0,
        timeout=Timeouts(connect=2.0),
    )
    with pytest.raises(EgressProxyError) as caught:
        await list_sessions(client, https_server)
    assert caught.value.proxy == "http://nosuchproxy.invalid:3128"
    assert time.monotonic() - started < 5


async def test_a_proxy_that_does_not_open_the_tunnel_in_time_is_named(
    https_server: FakeProxyServer,
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def stay_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(stay_silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
        client = client_for(
            https_server,
            proxy=url,
            retry=RetryPolicy(retries=1, initial_backoff=0),
            timeout=Timeouts(connect=0.2),
        )
        with pytest.raises(EgressProxyTimeoutError) as caught:
            await list_sessions(client, https_server)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    error = caught.value
    assert isinstance(error, RequestTimeoutError)
    assert error.phase == "connect"
    assert (error.attempts, error.retryable, error.request_sent) == (2, True, False)
    assert error.proxy == f"http://***@127.0.0.1:{port}"
    assert f"through the proxy http://***@127.0.0.1:{port} to 127.0.0.1:" in str(error)
    assert https_server.requests == []
    assert_hidden(f"{error} {error!r} {vars(error)}", "an EgressProxyTimeoutError")


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("socks5://user:s3cret-value@127.0.0.1:1080", "socks5:// proxies are not supported"),
        ("https://user:s3cret-value@proxy.example:443", "https:// proxies are not supported"),
        ("http://user:s3cret-value@:3128", "with a valid host and port"),
        ("http://user:s3cret-value@proxy.example:99999", "with a valid host and port"),
        ("http://user:s3cret-value@proxy.example:http", "with a valid host and port"),
        ("http://user:s3cret-value@proxy.example:3128/path?q=1", "without path or query"),
        ("", "an http://[user:password@]host[:port] proxy URL"),
        ("   ", "an http://[user:password@]host[:port] proxy URL"),
        # yarl keeps a space in the host and silently drops a tab: neither names a proxy.
        ("http://user:s3cret-value@proxy host:3128", "without spaces or control characters"),
        ("http://user:s3cret-value@proxy\t.example:3128", "without spaces or control"),
        ("http:// user:s3cret-value@proxy.example:3128", "without spaces or control"),
        ("http://user:s3cret-value@bad_host!:3128", "whose host is an IP address or a DNS"),
        ("http://user:s3cret-value@proxy..example:3128", "whose host is an IP address or a"),
    ],
)
def test_bad_proxy_urls_are_refused_without_echoing_the_password(value: str, expected: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, proxy=value, environ=NO_ENV)
    assert caught.value.parameter == "proxy"
    assert expected in str(caught.value)
    assert "s3cret-value" not in f"{caught.value} {caught.value!r} {vars(caught.value)}"


def test_bad_proxy_variables_name_the_variable() -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"):
        with pytest.raises(InvalidParameterError) as caught:
            ProxyClient.from_env(env_with(**{name: "socks5://u:s3cret-value@127.0.0.1:1"}))
        assert caught.value.parameter == name
        assert "s3cret-value" not in str(caught.value)
    # A proxy given explicitly means the variables are not even read.
    client = ProxyClient.from_env(
        env_with(HTTPS_PROXY="socks5://127.0.0.1:1"), proxy="http://127.0.0.1:3128"
    )
    assert "egress='proxy http://127.0.0.1:3128'" in repr(client._transport)


def test_proxy_with_a_transport_is_refused() -> None:
    from proxy_async import AiohttpTransport

    for option in ({"proxy": "http://127.0.0.1:1"}, {"ca_bundle": "/x.pem"}):
        with pytest.raises(InvalidParameterError, match="no value when a transport is given"):
            ProxyClient(
                FAKE_ACCOUNT_SID,
                FAKE_AUTH_TOKEN,
                transport=AiohttpTransport(environ=NO_ENV),
                **option,  # type: ignore[arg-type]
            )


def test_unloadable_ca_bundles_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    unreadable = tmp_path / "unreadable.pem"
    unreadable.write_text("x")
    unreadable.chmod(0)
    cases = [
        (missing, "No such file"),
        (empty, "no certificate could be read"),
        (garbage, "no certificate"),
    ]
    if os.geteuid() != 0:  # root reads anything
        cases.append((unreadable, "Permission denied"))
    for path, reason in cases:
        with pytest.raises(InvalidParameterError) as caught:
            ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, ca_bundle=path, environ=NO_ENV)
        assert caught.value.parameter == "ca_bundle"
        assert str(path) in str(caught.value)
        assert reason.lower() in str(caught.value).lower()
        with pytest.raises(InvalidParameterError) as caught:
            ProxyClient.from_env(env_with(SSL_CERT_FILE=str(path)))
        assert caught.value.parameter == "SSL_CERT_FILE"
        assert str(path) in str(caught.value)
    with pytest.raises(InvalidParameterError, match="ssl_context"):
        ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, ssl_context="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="either ssl_context or ca_bundle"):
        ProxyClient(
            FAKE_ACCOUNT_SID,
            FAKE_AUTH_TOKEN,
            ssl_context=ssl.create_default_context(),
            ca_bundle=missing,
        )


def test_ca_bundles_are_loaded_once_until_they_change(ca_file: Path, tmp_path: Path) -> None:
    assert load_ca_bundle(ca_file, "ca_bundle") is load_ca_bundle(str(ca_file), "ca_bundle")
    copy = tmp_path / "ca.pem"
    copy.write_bytes(ca_file.read_bytes())
    first = load_ca_bundle(copy, "ca_bundle")
    trustme.CA().cert_pem.write_to_path(str(copy))
    os.utime(copy, ns=(0, 12345))
    assert load_ca_bundle(copy, "ca_bundle") is not first


# -- the selection rules, unit by unit ------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypass"),
    [
        ("example.com", "example.com", 443, True),
        ("example.com", "api.example.com", 443, True),
        (".example.com", "api.example.com", 443, True),
        ("*.example.com", "api.example.com", 443, True),
        ("example.com", "badexample.com", 443, False),
        ("EXAMPLE.com.", "Api.Example.COM", 443, True),
        ("example.com:8443", "example.com", 8443, True),
        ("example.com:8443", "example.com", 443, False),
        (" twilio.com , other ", "proxy.dublin.ie1.twilio.com", 443, True),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("10.0.0.0/8", "10.example.com", 443, False),
        ("192.168.1.5", "192.168.1.5", 80, True),
        ("::1", "::1", 443, True),
        ("[::1]", "[::1]", 443, True),
        ("fd00::/8", "fd00::1", 443, True),
        ("*", "anything.example", 1, True),
        ("", "example.com", 443, False),
        (",,", "example.com", 443, False),
    ],
)
def test_no_proxy_rules(no_proxy: str, host: str, port: int, bypass: bool) -> None:
    assert NoProxy.parse(no_proxy).matches(host, port) is bypass


def routes(**variables: str) -> ProxyRoutes:
    return ProxyRoutes.resolve(None, trust_env=True, environ=variables)


def shown(route: object) -> str | None:
    return None if route is None else getattr(route, "display", None)


API = yarl.URL("https://proxy.twilio.com/v1/Services")
PLAIN = yarl.URL("http://127.0.0.1:8080/v1/Services")


def test_proxy_variables_follow_urllib_and_requests() -> None:
    assert shown(routes(HTTPS_PROXY="http://a:1").for_url(API)) == "http://a:1"
    assert shown(routes(HTTPS_PROXY="a:1").for_url(API)) == "http://a:1", "no scheme: http"
    assert routes(HTTPS_PROXY="http://a:1").for_url(PLAIN) is None
    assert shown(routes(HTTP_PROXY="http://b:2").for_url(PLAIN)) == "http://b:2"
    assert routes(HTTP_PROXY="http://b:2").for_url(API) is None
    # Lowercase wins; set-but-empty lowercase means "none" (urllib).
    assert shown(routes(HTTPS_PROXY="http://a:1", https_proxy="http://c:3").for_url(API)) == (
        "http://c:3"
    )
    assert routes(HTTPS_PROXY="http://a:1", https_proxy="").for_url(API) is None
    # ALL_PROXY is the fallback of both schemes.
    everywhere = routes(ALL_PROXY="http://d:4", HTTPS_PROXY="http://a:1")
    assert (shown(everywhere.for_url(API)), shown(everywhere.for_url(PLAIN))) == (
        "http://a:1",
        "http://d:4",
    )
    # httpoxy: under CGI, HTTP_PROXY may come from the client's Proxy header.
    cgi = routes(HTTP_PROXY="http://evil:1", REQUEST_METHOD="GET")
    assert cgi.for_url(PLAIN) is None
    assert shown(routes(http_proxy="http://b:2", REQUEST_METHOD="GET").for_url(PLAIN)) == (
        "http://b:2"
    )
    # trust_env=False reads nothing.
    ignored = ProxyRoutes.resolve(None, trust_env=False, environ={"HTTPS_PROXY": "http://a:1"})
    assert ignored.for_url(API) is None


def test_proxy_url_credentials_are_separated_and_redacted() -> None:
    proxy = parse_proxy_url("http://us%40er:p%3Ass@proxy.example:3128/", "proxy")
    assert str(proxy.url) == "http://proxy.example:3128"
    assert proxy.authorization == "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    assert proxy.display == "http://***@proxy.example:3128"
    assert "p:ss" not in repr(proxy)
    assert "p%3Ass" not in repr(proxy)
    with pytest.raises(TypeError):
        __import__("pickle").dumps(proxy)


# -- the CLI and the workers ----------------------------------------------------------------------


async def run_cli(argv: list[str]) -> int:
    """``proxy-async ARGV`` in a thread (it runs its own event loop), in this process."""
    run: Callable[[list[str]], int] = cli_module.main
    pending: Awaitable[int] = asyncio.to_thread(run, argv)
    return await pending


async def test_cli_export_goes_through_the_proxy(
    forward_proxy: ForwardProxy,
    https_server: FakeProxyServer,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_fake_credentials(monkeypatch)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "interactions.ndjson"
    common = ["export", "--service", https_server.service_sids[0], "--base-url", https_server.url]
    argv = [*common, "--out", str(out), "--quiet", "--proxy", forward_proxy.url()]
    assert await run_cli([*argv, "--ca-bundle", str(ca_file)]) == 0
    assert len(out.read_text().splitlines()) == 3 * 3
    assert await forward_proxy.wait_for_connects(target(https_server), 1) >= 1
    # The environment is the default of both options.
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url())
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    before = forward_proxy.connects(target(https_server))
    assert await run_cli([*common, "--out", str(tmp_path / "again.csv"), "--quiet"]) == 0
    assert await forward_proxy.wait_for_connects(target(https_server), before + 1) > before
    capsys.readouterr()
    # Bad values are usage errors that name the option, never the password.
    for bad, option in (
        (["--ca-bundle", str(tmp_path / "nope.pem")], "--ca-bundle"),
        (["--proxy", f"socks5://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:1"], "--proxy"),
    ):
        code = await run_cli([*common, "--out", str(tmp_path / "x.ndjson"), "--quiet", *bad])
        err = capsys.readouterr().err
        assert code == cli_module.EXIT_USAGE
        assert option in err
        assert "ca_bundle" not in err
        assert_hidden(err, "the CLI's error")
    # An untrusted certificate stops the export at once, with the hint.
    monkeypatch.delenv("SSL_CERT_FILE")
    code = await run_cli([*common, "--out", str(tmp_path / "y.ndjson"), "--quiet"])
    err = capsys.readouterr().err
    assert code == cli_module.EXIT_FATAL
    assert "certificate verify failed" in err
    assert "--ca-bundle" in err


async def test_cli_export_names_a_proxy_it_cannot_reach(
    https_server: FakeProxyServer,
    fake_dns: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_fake_credentials(monkeypatch)
    fake_dns["nosuchproxy.invalid"] = socket.EAI_NONAME
    common = ["export", "--service", https_server.service_sids[0], "--base-url", https_server.url]
    # A mistyped proxy host stops the export at once (exit 3), naming the proxy.
    started = time.monotonic()
    argv = [*common, "--out", str(tmp_path / "a.ndjson"), "--quiet"]
    code = await run_cli([*argv, "--proxy", " http://nosuchproxy.invalid:3128"])
    err = capsys.readouterr().err
    assert code == cli_module.EXIT_FATAL, err
    assert time.monotonic() - started < 2, "no retries"
    assert "the host name of the proxy http://nosuchproxy.invalid:3128 does not resolve" in err
    assert "the API stopped answering" not in err
    assert len(err.strip().splitlines()) == 1
    # A proxy that refuses connections may come back: exit 4, but naming the proxy.
    argv = [*common, "--out", str(tmp_path / "b.ndjson"), "--quiet", "--rps", "0"]
    code = await run_cli([*argv, "--proxy", dead_proxy_url()])
    err = capsys.readouterr().err
    assert code == cli_module.EXIT_UNAVAILABLE, err
    assert "stopped early: cannot get through the proxy http://***@127.0.0.1:" in err
    assert_hidden(err, "the CLI's error")


def test_worker_config_passes_egress_settings(ca_file: Path) -> None:
    config = WorkerConfig.from_env(
        env_with(
            PROXY_ASYNC_PROXY="http://u:s3cret-value@127.0.0.1:3128",
            PROXY_ASYNC_CA_BUNDLE=str(ca_file),
        )
    )
    assert "s3cret-value" not in repr(config)
    client = config.make_client(config.make_limiter())
    transport = repr(client._transport)
    assert "proxy http://***@127.0.0.1:3128" in transport
    assert str(ca_file) in transport
    # With none set, the standard variables of the same environment apply.
    config = WorkerConfig.from_env(env_with(HTTPS_PROXY="http://127.0.0.1:3129"))
    transport = repr(config.make_client(config.make_limiter())._transport)
    assert "https: http://127.0.0.1:3129 (HTTPS_PROXY)" in transport


# -- CA bundles that are not plain files, and proxy user info that would be altered ------------


@contextlib.contextmanager
def watchdog(fifo: Path, seconds: float = 5.0) -> Iterator[None]:
    """If a reader still blocks on ``fifo`` after ``seconds``, open it for writing.

    A regression (``open()`` of a FIFO with no writer) then fails the test instead of
    hanging the suite: a writer's non-blocking open succeeds once a reader waits.
    """

    def unblock() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(seconds, unblock)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def test_a_fifo_with_no_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)
    attempts: list[tuple[str, Callable[[], ProxyClient]]] = [
        ("ca_bundle", lambda: client_for_bundle(ca_bundle=fifo)),
        ("SSL_CERT_FILE", lambda: ProxyClient.from_env(env_with(SSL_CERT_FILE=str(fifo)))),
        (
            "REQUESTS_CA_BUNDLE",
            lambda: ProxyClient.from_env(env_with(REQUESTS_CA_BUNDLE=str(fifo))),
        ),
        (
            "PROXY_ASYNC_CA_BUNDLE",
            lambda: worker_client(env_with(PROXY_ASYNC_CA_BUNDLE=str(fifo))),
        ),
    ]
    for parameter, attempt in attempts:
        started = time.monotonic()
        with watchdog(fifo), pytest.raises(InvalidParameterError) as caught:
            attempt()
        assert time.monotonic() - started < 2, f"{parameter}: waited on the FIFO"
        assert caught.value.parameter in {parameter, "ca_bundle"}
        assert str(fifo) in str(caught.value)
        assert "nothing to read" in str(caught.value)


def worker_client(environ: dict[str, str]) -> ProxyClient:
    config = WorkerConfig.from_env(environ)
    return config.make_client(config.make_limiter())


def client_for_bundle(**options: Any) -> ProxyClient:
    return ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, environ=NO_ENV, **options)


async def test_a_bundle_from_a_pipe_is_trusted_like_a_file(
    https_server: FakeProxyServer, test_ca: trustme.CA
) -> None:
    """``--ca-bundle <(cat ca.pem)``: the shell passes ``/dev/fd/N``, a pipe."""
    read_end, write_end = os.pipe()
    try:
        # Comments and other text around the certificate, as in a system bundle.
        os.write(write_end, b"# Issuer: Corporate \xc3\xa9 CA\n" + test_ca.cert_pem.bytes())
        os.close(write_end)
        client = client_for(https_server, ca_bundle=f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert await list_sessions(client, https_server) == 3
    assert https_server.requests, "the certificate was checked against the piped CA"


def test_pipes_that_stall_overflow_or_hold_no_certificate_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tls_module, "PIPE_BUNDLE_TIMEOUT", 0.2)
    monkeypatch.setattr(tls_module, "PIPE_BUNDLE_MAX_BYTES", 1000)
    cases = [
        (b"", False, "did not deliver the bundle within 0.2 s"),  # writer stays, silent
        (b"x" * 2000, True, "more than 1000 bytes"),
        (b"not a certificate\n", True, "no PEM certificate block"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            True,
            "no certificate could be read",
        ),
    ]
    for data, close, reason in cases:
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, data)
            if close:
                os.close(write_end)
            started = time.monotonic()
            with pytest.raises(InvalidParameterError) as caught:
                client_for_bundle(ca_bundle=f"/dev/fd/{read_end}")
            assert time.monotonic() - started < 2
            assert caught.value.parameter == "ca_bundle"
            assert reason in str(caught.value)
        finally:
            os.close(read_end)
            if not close:
                os.close(write_end)


def test_sockets_and_devices_are_refused_as_bundles(tmp_path: Path) -> None:
    path = str(tmp_path / "bundle.sock")
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(path)
        for bundle in (path, "/dev/null", "/dev/zero"):
            with pytest.raises(InvalidParameterError) as caught:
                client_for_bundle(ca_bundle=bundle)
            assert caught.value.parameter == "ca_bundle"
            assert "not a regular file" in str(caught.value)
            assert "write the bundle to a file" in str(caught.value)
            with pytest.raises(InvalidParameterError) as caught:
                ProxyClient.from_env(env_with(SSL_CERT_FILE=bundle))
            assert caught.value.parameter == "SSL_CERT_FILE"


@pytest.mark.parametrize("bundle", ["\x00", "ca\x00.pem", "\ud83d", "ca-\udfff.pem", b"ca.pem"])
def test_bundle_paths_that_cannot_be_paths_are_typed(bundle: Any) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        client_for_bundle(ca_bundle=bundle)
    assert caught.value.parameter == "ca_bundle"
    if isinstance(bundle, str):
        with pytest.raises(InvalidParameterError) as caught:
            ProxyClient.from_env(env_with(REQUESTS_CA_BUNDLE=bundle))
        assert caught.value.parameter == "REQUESTS_CA_BUNDLE"


SECRET = "s3cret-value"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        (f"{SECRET}%0d%0aX-Injected:%20yes", "holds no control character"),
        (f"{SECRET}%00", "holds no control character"),
        (f"{SECRET}%7f", "holds no control character"),
        (f"{SECRET}%ff", "is UTF-8"),
        (f"{SECRET}%ed%a0%bd", "is UTF-8"),  # a lone surrogate, UTF-8-encoded
        (f"{SECRET}%c3", "is UTF-8"),  # a cut sequence
        (f"{SECRET}%2", "a literal '%' as %25"),
        (f"{SECRET}%zz", "a literal '%' as %25"),
        (f"{SECRET}100%", "a literal '%' as %25"),
        (f"{SECRET}\ud83d", "nor lone surrogates"),
        (f"{SECRET}\r\n", "without spaces or control characters"),
    ],
)
def test_proxy_passwords_are_never_altered_silently(password: str, reason: str) -> None:
    cases: list[tuple[str, str, Callable[[str], ProxyClient]]] = [
        (
            f"http://user:{password}@127.0.0.1:3128",
            "proxy",
            lambda url: client_for_bundle(proxy=url),
        ),
        (
            f"http://user:{password}@127.0.0.1:3128",
            "HTTPS_PROXY",
            lambda url: ProxyClient.from_env(env_with(HTTPS_PROXY=url)),
        ),
        (
            f"http://{password}:pw@127.0.0.1:3128",  # the same rules for the user
            "http_proxy",
            lambda url: ProxyClient.from_env(env_with(http_proxy=url)),
        ),
    ]
    for text, parameter, build in cases:
        with pytest.raises(InvalidParameterError) as caught:
            build(text)
        assert caught.value.parameter == parameter
        assert reason in str(caught.value)
        shown = f"{caught.value} {caught.value!r} {vars(caught.value)}"
        assert "s3cret" not in shown


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("egress-user", "p@ss:w%rd"),
        ("ü-user", "pé😀 /?#[]%40"),
        ("", "only-a-password"),
        ("only-a-user", ""),
    ],
)
async def test_proxy_authorization_is_exactly_basic_of_the_decoded_user_info(
    https_server: FakeProxyServer, user: str, password: str
) -> None:
    async with scripted_proxy(407, "Proxy Authentication Required") as (url, seen):
        port = yarl.URL(url).port
        quoted = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
        client = client_for(https_server, proxy=f"http://{quoted}@127.0.0.1:{port}", retry=0)
        with pytest.raises(EgressProxyRefusedError) as caught:
            await list_sessions(client, https_server)
    assert caught.value.status == 407
    expected = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    headers = seen[0].split(b"\r\n")
    assert f"Proxy-Authorization: Basic {expected}".encode() in headers
    if password:
        assert password not in f"{caught.value} {caught.value!r}"


def test_proxy_hosts_yarl_cannot_decode_are_typed() -> None:
    builds: list[tuple[str, Callable[[], ProxyClient]]] = [
        ("proxy", lambda: client_for_bundle(proxy="http://u:s3cret-value@xn--zz.com:3128")),
        (
            "HTTPS_PROXY",
            lambda: ProxyClient.from_env(env_with(HTTPS_PROXY="http://xn--zz.example:3128")),
        ),
        (
            "ALL_PROXY",
            lambda: ProxyClient.from_env(
                env_with(ALL_PROXY="http://u:s3cret-value@proxy.xn--a.example")
            ),
        ),
    ]
    for parameter, build in builds:
        with pytest.raises(InvalidParameterError) as caught:
            build()
        assert caught.value.parameter == parameter
        assert "IDNA" in str(caught.value)
        assert "s3cret-value" not in f"{caught.value} {caught.value!r}"
    # A valid IDNA name is still taken, encoded.
    assert str(parse_proxy_url("http://bücher.example:3128", "proxy").url) == (
        "http://xn--bcher-kva.example:3128"
    )


async def test_cli_refuses_a_fifo_bundle_and_an_idna_host_as_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_fake_credentials(monkeypatch)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)
    common = ["export", "--service", "KS" + "0" * 32, "--out", str(tmp_path / "x.ndjson")]
    for bad, option in (
        (["--ca-bundle", str(fifo)], "--ca-bundle"),
        (["--base-url", "https://xn--zz.com"], "--base-url"),
        (["--proxy", "http://u:s3cret-value@xn--zz.com:3128"], "--proxy"),
        (["--proxy", "http://u:s3cret-value%ff@127.0.0.1:3128"], "--proxy"),
    ):
        with watchdog(fifo):
            code = await run_cli([*common, "--quiet", *bad])
        err = capsys.readouterr().err
        assert code == cli_module.EXIT_USAGE, err
        assert option in err
        assert "Traceback" not in err
        assert "s3cret-value" not in err
