"""What goes on the wire for each operation: method, path, query, form, headers."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl

import pytest
from aioresponses import aioresponses
from aioresponses.compat import normalize_url
from aioresponses.core import RequestCall
from conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BASE,
    INTERACTION_SID,
    PARTICIPANT_SID,
    SERVICE_SID,
    SESSION_PATH,
    SESSION_SID,
    list_body,
    load_fixture,
)
from yarl import URL

from proxy_async import Interaction, MessageInteraction, ProxyClient

INTERACTIONS = f"{BASE}{SESSION_PATH}/Interactions"
MESSAGES = f"{BASE}{SESSION_PATH}/Participants/{PARTICIPANT_SID}/MessageInteractions"
BASIC = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
USER_AGENT = re.compile(
    r"^proxy-async/\d+\.\d+\.\d+\S* \([^)]+\) Python/3\.\d+\.\d+\S* aiohttp/\d+\.\d+"
)


def only_call(mock: aioresponses, method: str, url: str) -> RequestCall:
    calls = mock.requests[(method, normalize_url(URL(url)))]
    assert len(calls) == 1
    return calls[0]


def assert_standard_headers(call: RequestCall) -> None:
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == BASIC
    assert USER_AGENT.match(headers["User-Agent"]), headers["User-Agent"]
    assert headers["Accept"] == "application/json"


async def test_list_interactions_sends_page_size_then_follows_page_token(
    client: ProxyClient, mock_http: aioresponses
) -> None:
    record = load_fixture("sdk_interaction_fetch_response")
    second = f"{INTERACTIONS}?PageSize=2&Page=1&PageToken=PTtoken1"
    mock_http.get(f"{INTERACTIONS}?PageSize=2", payload=list_body([record, record], second, "p0"))
    # Another record than page 1's: a page repeating the previous one is a loop.
    mock_http.get(second, payload=list_body([dict(record, sid="KI" + "f" * 32)], None, "p1"))

    session = client.services(SERVICE_SID).sessions(SESSION_SID)
    items = await session.interactions.list(page_size=2)

    assert [type(item) for item in items] == [Interaction] * 3
    first_call = only_call(mock_http, "GET", f"{INTERACTIONS}?PageSize=2")
    second_call = only_call(mock_http, "GET", second)
    for call in (first_call, second_call):
        assert_standard_headers(call)
        assert call.kwargs.get("data") is None
    assert len(mock_http.requests) == 2


async def test_list_without_page_size_lets_server_choose(
    client: ProxyClient, mock_http: aioresponses
) -> None:
    mock_http.get(INTERACTIONS, payload=list_body([], None, "p0"))
    pages = [
        page
        async for page in client.services(SERVICE_SID).sessions(SESSION_SID).interactions.pages()
    ]
    assert len(pages) == 1
    assert list(mock_http.requests) == [("GET", URL(INTERACTIONS))]


async def test_limit_sets_page_size(client: ProxyClient, mock_http: aioresponses) -> None:
    record = load_fixture("sdk_interaction_fetch_response")
    mock_http.get(
        f"{INTERACTIONS}?PageSize=3", payload=list_body([record] * 3, f"{INTERACTIONS}?x=1", "p")
    )
    items = await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.list(limit=3)
    assert len(items) == 3
    assert len(mock_http.requests) == 1  # the limit was met: no further page


@pytest.mark.parametrize(("page_size", "sent"), [(5000, "1000"), (1000, "1000"), (1, "1")])
async def test_page_size_is_capped_at_1000(
    client: ProxyClient, mock_http: aioresponses, page_size: int, sent: str
) -> None:
    mock_http.get(f"{INTERACTIONS}?PageSize={sent}", payload=list_body([], None, "p"))
    session = client.services(SERVICE_SID).sessions(SESSION_SID)
    assert await session.interactions.list(page_size=page_size) == []
    assert ("GET", URL(f"{INTERACTIONS}?PageSize={sent}")) in mock_http.requests


async def test_fetch_interaction(client: ProxyClient, mock_http: aioresponses) -> None:
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    mock_http.get(url, payload=load_fixture("sdk_interaction_fetch_response"))
    one = (
        await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.fetch(INTERACTION_SID)
    )
    assert one.sid == "KIaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    call = only_call(mock_http, "GET", url)
    assert_standard_headers(call)
    assert call.kwargs.get("data") is None


async def test_delete_interaction(client: ProxyClient, mock_http: aioresponses) -> None:
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    mock_http.delete(url, status=204, body=b"")
    interactions = client.services(SERVICE_SID).sessions(SESSION_SID).interactions
    await interactions.delete(INTERACTION_SID)  # returns None: a 204 has no body
    assert_standard_headers(only_call(mock_http, "DELETE", url))


@pytest.mark.parametrize("status", [200, 201])
async def test_create_message_interaction_sends_form(
    client: ProxyClient, mock_http: aioresponses, status: int
) -> None:
    mock_http.post(
        MESSAGES, status=status, payload=load_fixture("sdk_message_interaction_create_response")
    )
    messages = (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )

    created = await messages.create(
        body="héllo & bye", media_url=["https://example.com/a.png", "https://example.com/b.png"]
    )

    assert isinstance(created, MessageInteraction)
    assert created.participant_sid == "KPaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    call = only_call(mock_http, "POST", MESSAGES)
    assert_standard_headers(call)
    assert call.kwargs["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(call.kwargs["data"].decode()) == [
        ("Body", "héllo & bye"),
        ("MediaUrl", "https://example.com/a.png"),
        ("MediaUrl", "https://example.com/b.png"),
    ]


async def test_create_with_media_only(client: ProxyClient, mock_http: aioresponses) -> None:
    mock_http.post(
        MESSAGES, status=201, payload=load_fixture("sdk_message_interaction_create_response")
    )
    messages = (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )
    await messages.create(media_url="https://example.com/a.png")
    call = only_call(mock_http, "POST", MESSAGES)
    assert parse_qsl(call.kwargs["data"].decode()) == [("MediaUrl", "https://example.com/a.png")]


async def test_fetch_message_interaction(client: ProxyClient, mock_http: aioresponses) -> None:
    url = f"{MESSAGES}/{INTERACTION_SID}"
    mock_http.get(url, payload=load_fixture("sdk_message_interaction_fetch_response"))
    messages = (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )
    fetched = await messages.fetch(INTERACTION_SID)
    assert isinstance(fetched, MessageInteraction)
    assert_standard_headers(only_call(mock_http, "GET", url))


async def test_list_message_interactions(client: ProxyClient, mock_http: aioresponses) -> None:
    record = load_fixture("sdk_message_interaction_fetch_response")
    second = f"{MESSAGES}?PageSize=1&Page=1&PageToken=PTnext"
    mock_http.get(f"{MESSAGES}?PageSize=1", payload=list_body([record], second, "m0"))
    # Another record than page 1's: a page repeating the previous one is a loop.
    mock_http.get(second, payload=list_body([dict(record, sid="KI" + "f" * 32)], None, "m1"))
    messages = (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )
    streamed = [item async for item in messages.stream(page_size=1)]
    assert [type(item) for item in streamed] == [MessageInteraction, MessageInteraction]
    assert_standard_headers(only_call(mock_http, "GET", second))


async def test_api_key_credentials_build_their_own_basic_header(mock_http: aioresponses) -> None:
    api_key, secret = "SK" + "f" * 32, "api-secret-value-1234"
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    mock_http.get(url, payload=load_fixture("sdk_interaction_fetch_response"))
    async with ProxyClient(ACCOUNT_SID, api_key=api_key, api_secret=secret, retry=0) as proxy:
        await proxy.services(SERVICE_SID).sessions(SESSION_SID).interactions.fetch(INTERACTION_SID)
    expected = "Basic " + base64.b64encode(f"{api_key}:{secret}".encode()).decode()
    assert only_call(mock_http, "GET", url).kwargs["headers"]["Authorization"] == expected


async def test_redirects_are_never_followed(client: ProxyClient, mock_http: aioresponses) -> None:
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    mock_http.get(url, payload=load_fixture("sdk_interaction_fetch_response"))
    await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.fetch(INTERACTION_SID)
    assert only_call(mock_http, "GET", url).kwargs["allow_redirects"] is False
