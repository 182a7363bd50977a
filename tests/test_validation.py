"""Bad caller input is refused before any request, with an error naming the parameter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aioresponses import aioresponses
from conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    INTERACTION_SID,
    PARTICIPANT_SID,
    SERVICE_SID,
    SESSION_SID,
)

from proxy_async import InvalidParameterError, ProxyClient, RetryPolicy, Timeouts

GOOD_HEX = "0123456789abcdefABCDEF0123456789"


def session(client: ProxyClient) -> Any:
    return client.services(SERVICE_SID).sessions(SESSION_SID)


def messages(client: ProxyClient) -> Any:
    return session(client).participants(PARTICIPANT_SID).message_interactions


async def drain(iterator: Any) -> None:
    async for _ in iterator:
        pass


BAD_CALLS: list[tuple[str, str, Callable[[ProxyClient], Awaitable[object]]]] = [
    ("service_sid", "KS", lambda c: c.services("KS123").sessions(SESSION_SID).interactions.list()),
    (
        "service_sid",
        "KS",
        lambda c: c.services("KC" + GOOD_HEX).sessions(SESSION_SID).interactions.list(),
    ),
    (
        "session_sid",
        "KC",
        lambda c: c.services(SERVICE_SID).sessions("KC" + "g" * 32).interactions.list(),
    ),
    (
        "participant_sid",
        "KP",
        lambda c: session(c).participants("KP" + "0" * 31).message_interactions.list(),
    ),
    ("interaction_sid", "KI", lambda c: session(c).interactions.fetch("KI" + "0" * 33)),
    ("interaction_sid", "KI", lambda c: session(c).interactions.delete(" KI" + "0" * 32)),
    ("interaction_sid", "KI", lambda c: messages(c).fetch("SM" + "0" * 32)),
    ("page_size", ">= 1", lambda c: session(c).interactions.list(page_size=0)),
    ("page_size", ">= 1", lambda c: session(c).interactions.list(page_size="50")),
    ("page_size", ">= 1", lambda c: drain(session(c).interactions.pages(page_size=-1))),
    ("limit", ">= 1", lambda c: session(c).interactions.list(limit=0)),
    ("limit", ">= 1", lambda c: drain(session(c).interactions.stream(limit=True))),
    ("limit", ">= 1", lambda c: session(c).interactions.list(limit=2.5)),
    ("body", "non-empty", lambda c: messages(c).create(body="")),
    ("body", "non-empty", lambda c: messages(c).create(body="   ")),
    ("body", "non-empty", lambda c: messages(c).create()),
    ("media_url", "http", lambda c: messages(c).create(body="x", media_url=["ftp://x/y.png"])),
    ("media_url", "list", lambda c: messages(c).create(body="x", media_url=42)),
    ("start_url", "absolute", lambda c: drain(session(c).interactions.stream(start_url="/v1/x"))),
    ("timeout", "positive", lambda c: session(c).interactions.fetch(INTERACTION_SID, timeout=-1)),
]


@pytest.mark.parametrize(("parameter", "expected_fragment", "call"), BAD_CALLS)
async def test_bad_input_is_rejected_before_any_request(
    client: ProxyClient,
    mock_http: aioresponses,
    parameter: str,
    expected_fragment: str,
    call: Callable[[ProxyClient], Awaitable[object]],
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        await call(client)
    assert isinstance(caught.value, ValueError)
    assert caught.value.parameter == parameter
    assert expected_fragment in str(caught.value)
    assert parameter in str(caught.value)
    assert mock_http.requests == {}


def test_sid_patterns_accept_mixed_case_hex() -> None:
    client = ProxyClient(ACCOUNT_SID, AUTH_TOKEN)
    context = (
        client.services("KS" + GOOD_HEX).sessions("KC" + GOOD_HEX).participants("KP" + GOOD_HEX)
    )
    assert context.sid == "KP" + GOOD_HEX


def test_stream_arguments_are_checked_at_call_time() -> None:
    client = ProxyClient(ACCOUNT_SID, AUTH_TOKEN)
    with pytest.raises(InvalidParameterError, match="page_size"):
        session(client).interactions.stream(page_size=0)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"account_sid": "AC123", "auth_token": AUTH_TOKEN}, "account_sid"),
        ({"account_sid": ACCOUNT_SID, "auth_token": ""}, "auth_token"),
        ({"account_sid": ACCOUNT_SID}, "auth_token"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "a\r\nX-Evil: 1"}, "auth_token"),
        ({"account_sid": ACCOUNT_SID, "api_key": "AK" + "0" * 32, "api_secret": "s"}, "api_key"),
        ({"account_sid": ACCOUNT_SID, "api_key": "SK" + "0" * 32}, "api_secret"),
        ({"account_sid": ACCOUNT_SID, "api_secret": "s"}, "api_key"),
        (
            {
                "account_sid": ACCOUNT_SID,
                "auth_token": "t",
                "api_key": "SK" + "0" * 32,
                "api_secret": "s",
            },
            "auth_token",
        ),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "base_url": "ftp://x"}, "base_url"),
        (
            {"account_sid": ACCOUNT_SID, "auth_token": "t", "base_url": "https://u:p@host"},
            "base_url",
        ),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "base_url": "https://h?x=1"}, "base_url"),
        (
            {"account_sid": ACCOUNT_SID, "auth_token": "t", "base_url": "https://h", "edge": "e"},
            "base_url",
        ),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "max_concurrency": 0}, "max_concurrency"),
        (
            {"account_sid": ACCOUNT_SID, "auth_token": "t", "requests_per_second": 0},
            "requests_per_second",
        ),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "burst": 0.5}, "burst"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "retry": -1}, "retries"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "retry": "3"}, "retry"),
        ({"account_sid": ACCOUNT_SID, "auth_token": "t", "timeout": "10"}, "timeout"),
        (
            {"account_sid": ACCOUNT_SID, "auth_token": "t", "max_response_bytes": 0},
            "max_response_bytes",
        ),
    ],
)
def test_bad_client_options(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(**kwargs)
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"initial_backoff": -1}, "initial_backoff"),
        ({"max_backoff": "x"}, "max_backoff"),
        ({"max_retry_after": -0.1}, "max_retry_after"),
        ({"deadline": 0}, "deadline"),
        ({"retries": 1.5}, "retries"),
    ],
)
def test_bad_retry_policy(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        RetryPolicy(**kwargs)
    assert caught.value.parameter == parameter


def test_timeouts_coercion() -> None:
    default = Timeouts(connect=1, read=2, total=3)
    assert Timeouts.coerce(None, default) is default
    assert Timeouts.coerce(9, default) == Timeouts(connect=1, read=2, total=9)
    explicit = Timeouts(connect=None, read=None, total=None)
    assert Timeouts.coerce(explicit, default) is explicit
