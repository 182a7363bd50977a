"""Shared test fixtures: SIDs, the shared fixtures directory, mocked and real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from aioresponses_compat import mocked_aiohttp

from proxy_async import ProxyClient

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


def load_fixture(name: str) -> Any:
    """The ``body`` of ../shared/fixtures/<name>.json."""
    with (FIXTURES / f"{name}.json").open(encoding="utf-8") as handle:
        return json.load(handle)["body"]


@pytest.fixture
def mock_http() -> Iterator[aioresponses]:
    """aioresponses, usable on aiohttp 3.14+."""
    with mocked_aiohttp() as mock:
        yield mock


@pytest.fixture
async def client() -> AsyncIterator[ProxyClient]:
    """A client for the public host with fast retries (for mocked HTTP)."""
    async with ProxyClient(
        ACCOUNT_SID, AUTH_TOKEN, retry=0, requests_per_second=None, prefetch=False
    ) as proxy:
        yield proxy
