"""MockTransport: a handler answers in process, and the client above it runs unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import yarl
from conftest import ACCOUNT_SID, AUTH_TOKEN, load_fixture

from proxy_async import (
    ConnectionLostError,
    NotFoundError,
    ProxyClient,
    RetryPolicy,
    TransportError,
)
from proxy_async.testing import MockTransport, json_response
from proxy_async.transports import Request, Response

FAST = RetryPolicy(retries=2, initial_backoff=0.001, max_backoff=0.002)
RECORD = load_fixture("docs_message_interaction_fetch")
SERVICE, SESSION = RECORD["service_sid"], RECORD["session_sid"]
PARTICIPANT, INTERACTION = RECORD["participant_sid"], RECORD["sid"]
FETCH_PATH = (
    f"/v1/Services/{SERVICE}/Sessions/{SESSION}/Participants/{PARTICIPANT}"
    f"/MessageInteractions/{INTERACTION}"
)


def request(form: list[tuple[str, str]] | None = None) -> Request:
    url = yarl.URL("https://proxy.twilio.com" + FETCH_PATH)
    return Request("POST" if form else "GET", url, {}, form)


def client(transport: MockTransport, **options: Any) -> ProxyClient:
    options.setdefault("requests_per_second", None)
    return ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=transport, **options)


def interactions(proxy: ProxyClient) -> Any:
    return proxy.services(SERVICE).sessions(SESSION).participants(PARTICIPANT).message_interactions


async def test_a_handler_answers_the_client_and_sees_the_request_it_built() -> None:
    transport = MockTransport(lambda _: json_response(RECORD))
    async with client(transport) as proxy:
        interaction = await interactions(proxy).fetch(INTERACTION)
    assert interaction.sid == INTERACTION
    assert interaction.data == RECORD["data"]
    [sent] = transport.requests
    assert (sent.method, sent.path) == ("GET", FETCH_PATH)
    assert sent.url.host == "proxy.twilio.com"
    assert sent.headers["Authorization"].startswith("Basic ")
    assert transport.closed  # the client closes the transport it was given


async def test_an_async_handler_is_awaited() -> None:
    async def handler(request: Request) -> Response:
        await asyncio.sleep(0)
        return json_response(RECORD)

    transport = MockTransport(handler)
    async with client(transport) as proxy:
        assert (await interactions(proxy).fetch(INTERACTION)).sid == INTERACTION
    assert len(transport.requests) == 1


async def test_a_raised_transport_error_is_retried_like_a_network_failure() -> None:
    answers: list[Response | TransportError] = [
        ConnectionLostError("connection lost: reset", method="GET", path=FETCH_PATH),
        json_response({"status": 503, "message": "busy"}, 503),
        json_response(RECORD),
    ]

    def handler(request: Request) -> Response:
        answer = answers.pop(0)
        if isinstance(answer, TransportError):
            raise answer
        return answer

    transport = MockTransport(handler)
    async with client(transport, retry=FAST) as proxy:
        assert (await interactions(proxy).fetch(INTERACTION)).sid == INTERACTION
    assert [sent.method for sent in transport.requests] == ["GET", "GET", "GET"]
    assert answers == []


async def test_an_error_status_is_the_typed_api_error() -> None:
    body = {"code": 20404, "message": "not found", "status": 404}
    transport = MockTransport(lambda _: json_response(body, 404))
    async with client(transport, retry=FAST) as proxy:
        with pytest.raises(NotFoundError) as caught:
            await interactions(proxy).fetch(INTERACTION)
    assert caught.value.status == 404
    assert caught.value.path == FETCH_PATH
    assert len(transport.requests) == 1  # a 404 is not retried


async def test_the_form_is_what_the_client_encoded() -> None:
    created = load_fixture("docs_message_interaction_create")
    transport = MockTransport(lambda _: json_response(created, 201))
    async with client(transport) as proxy:
        await interactions(proxy).create("Running late")
    [sent] = transport.requests
    assert sent.method == "POST"
    assert sent.encoded_form() == b"Body=Running+late"


async def test_a_form_that_cannot_be_encoded_fails_before_it_is_recorded() -> None:
    transport = MockTransport(lambda _: json_response({}))
    with pytest.raises(UnicodeEncodeError):
        await transport.send(request([("Body", "late \ud83d")]))
    assert transport.requests == []


async def test_any_other_handler_exception_comes_out_unchanged() -> None:
    def handler(request: Request) -> Response:
        raise AssertionError("unexpected request")

    transport = MockTransport(handler)
    with pytest.raises(AssertionError, match="unexpected request"):
        await transport.send(request())
    assert len(transport.requests) == 1


async def test_a_handler_must_return_a_response() -> None:
    transport = MockTransport(lambda _: {"status": 200})  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="the handler returned dict, not a Response"):
        await transport.send(request())
    with pytest.raises(TypeError, match="handler must be a callable"):
        MockTransport("not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (Response("200", {}, b""), "status '200'"),  # type: ignore[arg-type]
        (Response(True, {}, b""), "status True"),
        (Response(99, {}, b""), "status 99"),
        (Response(200, {}, "text"), "bytes for body"),  # type: ignore[arg-type]
        (Response(200, [("a", "b")], b""), "a mapping for headers"),  # type: ignore[arg-type]
    ],
)
async def test_a_malformed_response_is_named(response: Response, problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        await MockTransport(lambda _: response).send(request())


async def test_response_headers_are_case_insensitive_as_on_the_wire() -> None:
    transport = MockTransport(lambda _: Response(429, {"retry-after": "7"}, b"{}"))
    response = await transport.send(request())
    assert response.headers["Retry-After"] == "7"
    assert response.status == 429


async def test_after_aclose_a_send_is_a_transport_error() -> None:
    transport = MockTransport(lambda _: json_response({}))
    await transport.aclose()
    await transport.aclose()  # idempotent
    with pytest.raises(TransportError, match="transport is closed"):
        await transport.send(request())
    assert transport.requests == []
    assert repr(transport) == "<MockTransport requests=0 closed=True>"


def test_json_response_sets_the_body_status_and_content_type() -> None:
    response = json_response({"a": [1, "é"]}, 201)
    assert (response.status, orjson.loads(response.body)) == (201, {"a": [1, "é"]})
    assert response.headers["content-type"] == "application/json"
    typed = json_response([], headers={"Content-Type": "application/problem+json", "X-A": "1"})
    assert typed.headers["Content-Type"] == "application/problem+json"
    assert typed.headers["X-A"] == "1"
    assert typed.status == 200
    with pytest.raises(TypeError):
        json_response(object())
