"""HTTP errors and unusable 2xx bodies become typed errors carrying Twilio's details."""

from __future__ import annotations

import pytest
from aioresponses import aioresponses
from conftest import BASE, INTERACTION_SID, PARTICIPANT_SID, SERVICE_SID, SESSION_PATH, SESSION_SID

from proxy_async import (
    ApiError,
    AuthenticationError,
    AuthError,
    BadRequestError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProxyClient,
    ProxyError,
    RateLimitError,
    ServerError,
)
from proxy_async.errors import api_error_class

FETCH_URL = f"{BASE}{SESSION_PATH}/Interactions/{INTERACTION_SID}"
LIST_URL = f"{BASE}{SESSION_PATH}/Interactions"


def twilio_error(status: int, code: int, message: str) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


async def fetch(client: ProxyClient) -> object:
    return (
        await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.fetch(INTERACTION_SID)
    )


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (400, 20001, BadRequestError),
        (401, 20003, AuthenticationError),
        (403, 20403, PermissionDeniedError),
        (404, 20404, NotFoundError),
        (409, 20409, ConflictError),
        (429, 20429, RateLimitError),
        (500, 20500, ServerError),
        (503, 20503, ServerError),
        (418, 12345, ApiError),
    ],
)
async def test_twilio_error_body_is_parsed(
    client: ProxyClient, mock_http: aioresponses, status: int, code: int, error_type: type[ApiError]
) -> None:
    mock_http.get(
        FETCH_URL,
        status=status,
        payload=twilio_error(status, code, "The requested resource was not found"),
    )
    with pytest.raises(error_type) as caught:
        await fetch(client)
    error = caught.value
    assert type(error) is error_type
    assert isinstance(error, ProxyError)
    assert (error.status, error.code) == (status, code)
    assert error.message == "The requested resource was not found"
    assert error.more_info == f"https://www.twilio.com/docs/errors/{code}"
    assert error.method == "GET"
    assert error.path == f"{SESSION_PATH}/Interactions/{INTERACTION_SID}"
    assert str(code) in str(error)
    assert error.path in str(error)


def test_auth_errors_share_a_base() -> None:
    assert issubclass(AuthenticationError, AuthError)
    assert issubclass(PermissionDeniedError, AuthError)
    assert api_error_class(599) is ServerError
    assert api_error_class(302) is ApiError


async def test_details_are_kept(client: ProxyClient, mock_http: aioresponses) -> None:
    body = {**twilio_error(400, 21602, "Message body is required"), "details": {"field": "Body"}}
    mock_http.get(FETCH_URL, status=400, payload=body)
    with pytest.raises(BadRequestError) as caught:
        await fetch(client)
    assert caught.value.details == {"field": "Body"}


async def test_html_502_is_a_typed_error_with_short_excerpt(
    client: ProxyClient, mock_http: aioresponses
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    mock_http.get(FETCH_URL, status=502, body=page, content_type="text/html")
    with pytest.raises(ServerError) as caught:
        await fetch(client)
    error = caught.value
    assert error.status == 502
    assert error.code is None
    assert error.message is None
    assert error.body_excerpt.startswith("502 Bad Gateway")
    assert len(error.body_excerpt) <= 160
    assert "<html>" not in str(error)


async def test_rate_limit_carries_retry_after(client: ProxyClient, mock_http: aioresponses) -> None:
    mock_http.get(
        FETCH_URL,
        status=429,
        payload=twilio_error(429, 20429, "Too Many Requests"),
        headers={"Retry-After": "7"},
    )
    with pytest.raises(RateLimitError) as caught:
        await fetch(client)
    assert caught.value.retry_after == 7.0


async def test_rate_limit_without_retry_after(client: ProxyClient, mock_http: aioresponses) -> None:
    mock_http.get(FETCH_URL, status=429, payload=twilio_error(429, 20429, "Too Many Requests"))
    with pytest.raises(RateLimitError) as caught:
        await fetch(client)
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (b"<html>oops</html>", "", "not valid JSON"),
        (b'{"interactions": [', "", "not valid JSON"),
        (b'{"interactions": []}', "meta", "missing"),
        (b'{"meta": {}}', "interactions", "missing"),
        (b"[]", "", "expected a JSON object"),
    ],
)
async def test_unusable_list_body_is_a_typed_error(
    client: ProxyClient, mock_http: aioresponses, body: bytes, field: str, fragment: str
) -> None:
    mock_http.get(LIST_URL, status=200, body=body)
    with pytest.raises(InvalidResponseError) as caught:
        await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.list()
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert caught.value.path == f"{SESSION_PATH}/Interactions"


async def test_create_with_unusable_body_names_the_request(
    client: ProxyClient, mock_http: aioresponses
) -> None:
    url = f"{BASE}{SESSION_PATH}/Participants/{PARTICIPANT_SID}/MessageInteractions"
    mock_http.post(url, status=201, body=b"not json")
    messages = (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )
    with pytest.raises(InvalidResponseError) as caught:
        await messages.create("hi")
    assert caught.value.method == "POST"
