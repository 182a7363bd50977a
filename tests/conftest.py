"""Shared test fixtures: SIDs, the shared fixtures directory, mocked and real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from aioresponses_compat import mocked_aiohttp
from redis_server import RedisServer, running_redis_server

from proxy_async import ProxyClient, ProxyError
from proxy_async.client.environment import BASE_URL_VARIABLE
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
SPEC = SHARED / "spec" / "twilio_proxy_v1.json"

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-auth-token-do-not-leak-7f3a9c"
SERVICE_SID = "KS" + "b" * 32
SESSION_SID = "KC" + "c" * 32
PARTICIPANT_SID = "KP" + "d" * 32
INTERACTION_SID = "KI" + "e" * 32
BASE = "https://proxy.twilio.com"
SESSION_PATH = f"/v1/Services/{SERVICE_SID}/Sessions/{SESSION_SID}"


KNOWN_SECRETS = (
    AUTH_TOKEN,
    FAKE_AUTH_TOKEN,
    "api-secret-do-not-leak-55aa",
    "api-secret-value-1234",
    "wrong-token",
)
"""Every credential the suite uses; none may appear in a log record, repr or error."""

_BASIC_HEADER = re.compile(r"Basic [A-Za-z0-9+/]{8,}=*")


def load_fixture(name: str) -> Any:
    """The ``body`` of ../shared/fixtures/<name>.json."""
    with (FIXTURES / f"{name}.json").open(encoding="utf-8") as handle:
        return json.load(handle)["body"]


def list_body(items: list[dict[str, Any]], next_page_url: str | None, url: str) -> dict[str, Any]:
    """An Interactions list page: the SDK fixture's ``meta`` with these items and URLs."""
    meta = dict(load_fixture("sdk_interaction_read_empty_response")["meta"])
    meta.update(next_page_url=next_page_url, url=url)
    return {"interactions": items, "meta": meta}


def fake_client(server: FakeProxyServer | str, **options: Any) -> ProxyClient:
    """A client for a fake server (or any base URL) with the fake's credentials.

    The rate limit is off unless given: the fake is local and tests count requests.
    """
    base_url = server if isinstance(server, str) else server.url
    options.setdefault("requests_per_second", None)
    return ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=base_url, **options)


@pytest.fixture
def mock_http() -> Iterator[aioresponses]:
    """aioresponses, usable on aiohttp 3.14+."""
    with mocked_aiohttp() as mock:
        yield mock


def set_fake_credentials(
    monkeypatch: pytest.MonkeyPatch,
    account_sid: str = FAKE_ACCOUNT_SID,
    token: str = FAKE_AUTH_TOKEN,
) -> None:
    """Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (default: the fake server's) for CLI
    runs, and unset the API key pair, edge and region a developer may have set."""
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)


@pytest.fixture
async def client() -> AsyncIterator[ProxyClient]:
    """A client for the public host with fast retries (for mocked HTTP)."""
    async with ProxyClient(
        ACCOUNT_SID, AUTH_TOKEN, retry=0, requests_per_second=None, prefetch=False
    ) as proxy:
        yield proxy


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def assert_no_secret(text: str, where: str) -> None:
    """Fail if ``text`` holds a known credential or a Basic Authorization value."""
    for secret in KNOWN_SECRETS:
        assert secret not in text, f"credential leaked in {where}: {text[:300]!r}"
    assert _BASIC_HEADER.search(text) is None, f"Authorization value leaked in {where}"


@pytest.fixture(autouse=True)
def no_credential_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Across every test: no credential in any proxy_async log record (at DEBUG) or error."""
    logger = logging.getLogger("proxy_async")
    collector = _Collector()
    previous_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(collector)
    errors: list[ProxyError] = []

    def recording_init(self: ProxyError, *args: Any, **kwargs: Any) -> None:
        errors.append(self)
        super(ProxyError, self).__init__(*args, **kwargs)

    monkeypatch.setattr(ProxyError, "__init__", recording_init)
    try:
        yield
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous_level)
    for record in collector.records:
        assert_no_secret(record.getMessage() + repr(record.__dict__), "a log record")
    for error in errors:
        assert_no_secret(f"{error!s} {error!r} {vars(error)!r}", f"a {type(error).__name__}")


EGRESS_PROXY_VARIABLES = tuple(
    name
    for base in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    for name in (base, base.lower())
)


@pytest.fixture(autouse=True)
def no_egress_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients honour HTTPS_PROXY & co.: a developer's own must not route the suite's
    loopback traffic through their proxy. Tests of egress set what they need."""
    for name in EGRESS_PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # Nor may their own API host redirect a client built by ProxyClient.from_env().
    monkeypatch.delenv(BASE_URL_VARIABLE, raising=False)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh real redis-server on a free loopback port for one test, stopped afterwards."""
    yield from running_redis_server(tmp_path)


def pending_client_tasks() -> list[asyncio.Task[Any]]:
    """Pending tasks running proxy_async code (the fake server's own are excluded)."""
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "proxy_async" in filename and "testing" not in filename:
            found.append(task)
    return found
