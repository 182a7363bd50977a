"""What the client sends for each operation: method, path, query, form, headers.

A MockTransport sees each request exactly as the client built it; only the last test,
about what the aiohttp transport passes to aiohttp, patches aiohttp (aioresponses).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aioresponses import aioresponses
from aioresponses.compat import normalize_url
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
from proxy_async.testing import MockTransport, json_response
from proxy_async.transports import Request, Response

INTERACTIONS = f"{BASE}{SESSION_PATH}/Interactions"
MESSAGES = f"{BASE}{SESSION_PATH}/Participants/{PARTICIPANT_SID}/MessageInteractions"
BASIC = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
USER_AGENT = re.compile(
    r"^proxy-async/\d+\.\d+\.\d+\S* \([^)]+\) Python/3\.\d+\.\d+\S* aiohttp/\d+\.\d+"
)


def answering(routes: dict[tuple[str, str], Response]) -> MockTransport:
    """A transport answering each ``(method, url)`` of ``routes``; any other request
    fails the test."""
    table = {(method, URL(url)): response for (method, url), response in routes.items()}

    def handler(request: Request) -> Response:
        key = (request.method, request.url)
        assert key in table, f"unexpected request {key}"
        return table[key]

    return MockTransport(handler)


def client_for(transport: MockTransport) -> ProxyClient:
    """A client like conftest's ``client`` fixture, over ``transport``."""
    return ProxyClient(
        ACCOUNT_SID,
        AUTH_TOKEN,
        transport=transport,
        retry=0,
        requests_per_second=None,
        prefetch=False,
    )


def only_call(transport: MockTransport, method: str, url: str) -> Request:
    calls = [r for r in transport.requests if (r.method, r.url) == (method, URL(url))]
    assert len(calls) == 1
    return calls[0]


def assert_standard_headers(call: Request) -> None:
    headers = call.headers
    assert headers["Authorization"] == BASIC
    assert USER_AGENT.match(headers["User-Agent"]), headers["User-Agent"]
    assert headers["Accept"] == "application/json"


async def test_list_interactions_sends_page_size_then_follows_page_token() -> None:
    record = load_fixture("sdk_interaction_fetch_response")
    second = f"{INTERACTIONS}?PageSize=2&Page=1&PageToken=PTtoken1"
    # Another record than page 1's: a page repeating the previous one is a loop.
    other = dict(record, sid="KI" + "f" * 32)
    transport = answering(
        {
            ("GET", f"{INTERACTIONS}?PageSize=2"): json_response(
                list_body([record, record], second, "p0")
            ),
            ("GET", second): json_response(list_body([other], None, "p1")),
        }
    )
    async with client_for(transport) as client:
        session = client.services(SERVICE_SID).sessions(SESSION_SID)
        items = await session.interactions.list(page_size=2)

    assert [type(item) for item in items] == [Interaction] * 3
    first_call = only_call(transport, "GET", f"{INTERACTIONS}?PageSize=2")
    second_call = only_call(transport, "GET", second)
    for call in (first_call, second_call):
        assert_standard_headers(call)
        assert call.encoded_form() is None
    assert len(transport.requests) == 2


async def test_list_without_page_size_lets_server_choose() -> None:
    transport = answering({("GET", INTERACTIONS): json_response(list_body([], None, "p0"))})
    async with client_for(transport) as client:
        interactions = client.services(SERVICE_SID).sessions(SESSION_SID).interactions
        pages = [page async for page in interactions.pages()]
    assert len(pages) == 1
    assert [(r.method, r.url) for r in transport.requests] == [("GET", URL(INTERACTIONS))]


async def test_limit_sets_page_size() -> None:
    record = load_fixture("sdk_interaction_fetch_response")
    page = list_body([record] * 3, f"{INTERACTIONS}?x=1", "p")
    transport = answering({("GET", f"{INTERACTIONS}?PageSize=3"): json_response(page)})
    async with client_for(transport) as client:
        items = await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.list(limit=3)
    assert len(items) == 3
    assert len(transport.requests) == 1  # the limit was met: no further page


@pytest.mark.parametrize(("page_size", "sent"), [(5000, "1000"), (1000, "1000"), (1, "1")])
async def test_page_size_is_capped_at_1000(page_size: int, sent: str) -> None:
    url = f"{INTERACTIONS}?PageSize={sent}"
    transport = answering({("GET", url): json_response(list_body([], None, "p"))})
    async with client_for(transport) as client:
        session = client.services(SERVICE_SID).sessions(SESSION_SID)
        assert await session.interactions.list(page_size=page_size) == []
    assert only_call(transport, "GET", url).url.query["PageSize"] == sent


async def test_fetch_interaction() -> None:
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    transport = answering(
        {("GET", url): json_response(load_fixture("sdk_interaction_fetch_response"))}
    )
    async with client_for(transport) as client:
        interactions = client.services(SERVICE_SID).sessions(SESSION_SID).interactions
        one = await interactions.fetch(INTERACTION_SID)
    assert one.sid == "KIaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    call = only_call(transport, "GET", url)
    assert_standard_headers(call)
    assert call.encoded_form() is None


async def test_delete_interaction() -> None:
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    transport = answering({("DELETE", url): Response(204, {}, b"")})
    async with client_for(transport) as client:
        interactions = client.services(SERVICE_SID).sessions(SESSION_SID).interactions
        await interactions.delete(INTERACTION_SID)  # returns None: a 204 has no body
    assert_standard_headers(only_call(transport, "DELETE", url))


def message_interactions(client: ProxyClient) -> Any:
    return (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )


@pytest.mark.parametrize("status", [200, 201])
async def test_create_message_interaction_sends_form(status: int) -> None:
    created_body = load_fixture("sdk_message_interaction_create_response")
    transport = answering({("POST", MESSAGES): json_response(created_body, status)})
    async with client_for(transport) as client:
        created = await message_interactions(client).create(
            body="héllo & bye",
            media_url=["https://example.com/a.png", "https://example.com/b.png"],
        )

    assert isinstance(created, MessageInteraction)
    assert created.participant_sid == "KPaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    call = only_call(transport, "POST", MESSAGES)
    assert_standard_headers(call)
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = call.encoded_form()
    assert form is not None
    assert parse_qsl(form.decode()) == [
        ("Body", "héllo & bye"),
        ("MediaUrl", "https://example.com/a.png"),
        ("MediaUrl", "https://example.com/b.png"),
    ]


async def test_create_with_media_only() -> None:
    created_body = load_fixture("sdk_message_interaction_create_response")
    transport = answering({("POST", MESSAGES): json_response(created_body, 201)})
    async with client_for(transport) as client:
        await message_interactions(client).create(media_url="https://example.com/a.png")
    form = only_call(transport, "POST", MESSAGES).encoded_form()
    assert form is not None
    assert parse_qsl(form.decode()) == [("MediaUrl", "https://example.com/a.png")]


async def test_fetch_message_interaction() -> None:
    url = f"{MESSAGES}/{INTERACTION_SID}"
    body = load_fixture("sdk_message_interaction_fetch_response")
    transport = answering({("GET", url): json_response(body)})
    async with client_for(transport) as client:
        fetched = await message_interactions(client).fetch(INTERACTION_SID)
    assert isinstance(fetched, MessageInteraction)
    assert_standard_headers(only_call(transport, "GET", url))


async def test_list_message_interactions() -> None:
    record = load_fixture("sdk_message_interaction_fetch_response")
    second = f"{MESSAGES}?PageSize=1&Page=1&PageToken=PTnext"
    # Another record than page 1's: a page repeating the previous one is a loop.
    other = dict(record, sid="KI" + "f" * 32)
    transport = answering(
        {
            ("GET", f"{MESSAGES}?PageSize=1"): json_response(list_body([record], second, "m0")),
            ("GET", second): json_response(list_body([other], None, "m1")),
        }
    )
    async with client_for(transport) as client:
        streamed = [item async for item in message_interactions(client).stream(page_size=1)]
    assert [type(item) for item in streamed] == [MessageInteraction, MessageInteraction]
    assert_standard_headers(only_call(transport, "GET", second))


async def test_api_key_credentials_build_their_own_basic_header() -> None:
    api_key, secret = "SK" + "f" * 32, "api-secret-value-1234"
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    transport = answering(
        {("GET", url): json_response(load_fixture("sdk_interaction_fetch_response"))}
    )
    async with ProxyClient(
        ACCOUNT_SID, api_key=api_key, api_secret=secret, retry=0, transport=transport
    ) as proxy:
        await proxy.services(SERVICE_SID).sessions(SESSION_SID).interactions.fetch(INTERACTION_SID)
    expected = "Basic " + base64.b64encode(f"{api_key}:{secret}".encode()).decode()
    assert only_call(transport, "GET", url).headers["Authorization"] == expected


async def test_redirects_are_never_followed(client: ProxyClient, mock_http: aioresponses) -> None:
    url = f"{INTERACTIONS}/{INTERACTION_SID}"
    mock_http.get(url, payload=load_fixture("sdk_interaction_fetch_response"))
    await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.fetch(INTERACTION_SID)
    calls = mock_http.requests[("GET", normalize_url(URL(url)))]
    assert len(calls) == 1
    assert calls[0].kwargs["allow_redirects"] is False
