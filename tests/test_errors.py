"""HTTP errors and unusable 2xx bodies become typed errors carrying Twilio's details.

Each answer comes from a MockTransport: the mapping is the client's, no wire needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BASE,
    INTERACTION_SID,
    PARTICIPANT_SID,
    SERVICE_SID,
    SESSION_PATH,
    SESSION_SID,
)
from yarl import URL

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
from proxy_async.testing import MockTransport, json_response
from proxy_async.transports import Request, Response

FETCH_URL = f"{BASE}{SESSION_PATH}/Interactions/{INTERACTION_SID}"
LIST_URL = f"{BASE}{SESSION_PATH}/Interactions"


class Expected:
    """The requests a test expects, in order, each with its answer (a MockTransport handler)."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, URL, Response]] = []

    def get(self, url: str, response: Response) -> None:
        self.queue.append(("GET", URL(url), response))

    def post(self, url: str, response: Response) -> None:
        self.queue.append(("POST", URL(url), response))

    def answer(self, request: Request) -> Response:
        method, url, response = self.queue.pop(0)
        assert (request.method, request.url) == (method, url)
        return response


@pytest.fixture
def expected() -> Expected:
    return Expected()


@pytest.fixture
async def client(expected: Expected) -> AsyncIterator[ProxyClient]:
    """A client as conftest's (no retry, no rate limit) answered by ``expected``."""
    async with ProxyClient(
        ACCOUNT_SID,
        AUTH_TOKEN,
        transport=MockTransport(expected.answer),
        retry=0,
        requests_per_second=None,
        prefetch=False,
    ) as proxy:
        yield proxy
    assert expected.queue == []  # every expected request was sent


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
    client: ProxyClient, expected: Expected, status: int, code: int, error_type: type[ApiError]
) -> None:
    body = twilio_error(status, code, "The requested resource was not found")
    expected.get(FETCH_URL, json_response(body, status))
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


async def test_details_are_kept(client: ProxyClient, expected: Expected) -> None:
    body = {**twilio_error(400, 21602, "Message body is required"), "details": {"field": "Body"}}
    expected.get(FETCH_URL, json_response(body, 400))
    with pytest.raises(BadRequestError) as caught:
        await fetch(client)
    assert caught.value.details == {"field": "Body"}


async def test_html_502_is_a_typed_error_with_short_excerpt(
    client: ProxyClient, expected: Expected
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    expected.get(FETCH_URL, Response(502, {"Content-Type": "text/html"}, page.encode()))
    with pytest.raises(ServerError) as caught:
        await fetch(client)
    error = caught.value
    assert error.status == 502
    assert error.code is None
    assert error.message is None
    assert error.body_excerpt.startswith("502 Bad Gateway")
    assert len(error.body_excerpt) <= 160
    assert "<html>" not in str(error)


async def test_rate_limit_carries_retry_after(client: ProxyClient, expected: Expected) -> None:
    body = twilio_error(429, 20429, "Too Many Requests")
    expected.get(FETCH_URL, json_response(body, 429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as caught:
        await fetch(client)
    assert caught.value.retry_after == 7.0


async def test_rate_limit_without_retry_after(client: ProxyClient, expected: Expected) -> None:
    expected.get(FETCH_URL, json_response(twilio_error(429, 20429, "Too Many Requests"), 429))
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
    client: ProxyClient, expected: Expected, body: bytes, field: str, fragment: str
) -> None:
    expected.get(LIST_URL, Response(200, {"Content-Type": "application/json"}, body))
    with pytest.raises(InvalidResponseError) as caught:
        await client.services(SERVICE_SID).sessions(SESSION_SID).interactions.list()
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert caught.value.path == f"{SESSION_PATH}/Interactions"


async def test_create_with_unusable_body_names_the_request(
    client: ProxyClient, expected: Expected
) -> None:
    url = f"{BASE}{SESSION_PATH}/Participants/{PARTICIPANT_SID}/MessageInteractions"
    expected.post(url, Response(201, {"Content-Type": "application/json"}, b"not json"))
    messages = (
        client.services(SERVICE_SID)
        .sessions(SESSION_SID)
        .participants(PARTICIPANT_SID)
        .message_interactions
    )
    with pytest.raises(InvalidResponseError) as caught:
        await messages.create("hi")
    assert caught.value.method == "POST"
