"""End to end: the example services in examples/, over real HTTP on 127.0.0.1.

Each example (aiohttp.web and Starlette under uvicorn) runs against the fake Proxy server
and is driven as Twilio and an internal caller would drive it. Intercept callbacks are
signed here with hmac/hashlib/base64 directly, never with proxy_async.webhooks.signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import attrs
import orjson
import pytest
from web_servers import (
    StateLifespan,
    collected_reports,
    recorded_loop_errors,
    serve_aiohttp,
    serve_asgi,
    spy_on,
)

from examples import aiohttp_app, starlette_app
from examples.common import Settings
from proxy_async import ProxyClient
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer
from proxy_async.web import proxy_client_from_state

FORM = "application/x-www-form-urlencoded"
INTERCEPT = "/proxy/intercept"
WRONG_TOKEN = "wrong-token"
FRAMEWORKS = ["aiohttp", "starlette"]


def twilio_signature(
    token: str, url: str, form: list[tuple[str, str]], hash_function: Any = hashlib.sha1
) -> str:
    """What Twilio sends: base64(HMAC-SHA1(token, url + sorted names and values)).

    With ``hashlib.sha256``: what it sends when a Webhook Rule signs with a SharedKey.
    """
    values: dict[str, list[str]] = {}
    for name, value in form:
        values.setdefault(name, []).append(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(token.encode("utf-8"), signed.encode("utf-8"), hash_function).digest()
    return base64.b64encode(digest).decode("ascii")


def sid(prefix: str, n: int) -> str:
    return f"{prefix}{n:032x}"


def intercept_form(body: str | None) -> list[tuple[str, str]]:
    """The parameters Proxy posts to the InterceptCallbackUrl for a message (or a call)."""
    form = [
        ("interactionSid", sid("KI", 1)),
        ("interactionType", "Message" if body is not None else "Voice"),
        ("interactionSessionSid", sid("KC", 2)),
        ("interactionServiceSid", sid("KS", 3)),
        ("interactionAccountSid", FAKE_ACCOUNT_SID),
        ("interactionDateCreated", "2024-01-01T12:00:00Z"),
        ("inboundParticipantSid", sid("KP", 4)),
        ("inboundResourceSid", sid("SM" if body is not None else "CA", 5)),
        ("inboundResourceStatus", "received" if body is not None else "ringing"),
        ("inboundResourceType", "Message" if body is not None else "Call"),
        ("outboundParticipantSid", sid("KP", 6)),
    ]
    if body is not None:
        form.append(("interactionData", orjson.dumps({"body": body}).decode()))
    return form


@attrs.frozen
class Running:
    """An example service that is up: its base URL and the ProxyClient it opened."""

    framework: str
    base: str
    client: ProxyClient
    server: FakeProxyServer
    settings: Settings

    @property
    def intercept_url(self) -> str:
        return self.base + INTERCEPT

    def target(self) -> tuple[str, str, str]:
        """A service, session and participant that exist on the fake server."""
        service = self.settings.service_sid
        session = self.server.session_sids(service)[0]
        return service, session, self.server.participant_sids(service, session)[0]

    def messages_path(self, session: str, participant: str) -> str:
        return f"{self.base}/sessions/{session}/participants/{participant}/messages"


@asynccontextmanager
async def run_example(
    framework: str, server: FakeProxyServer, **settings: Any
) -> AsyncIterator[Running]:
    """Start one example service on a free port of 127.0.0.1, configured for ``server``."""
    config = Settings(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, server.service_sids[0], base_url=server.url, **settings
    )
    if framework == "aiohttp":
        app = aiohttp_app.create_app(config)
        async with serve_aiohttp(app) as (_, base):
            yield Running(framework, base, app[aiohttp_app.PROXY_CLIENT], server, config)
    else:
        asgi = starlette_app.create_app(config)
        states: list[Any] = []
        # The example's lifespan yields state; Starlette types it as either kind.
        lifespan = cast(StateLifespan, asgi.router.lifespan_context)
        asgi.router.lifespan_context = spy_on(lifespan, states)
        async with serve_asgi(asgi) as base:
            client = proxy_client_from_state(states[0])
            yield Running(framework, base, client, server, config)


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=2, interactions_per_session=5) as server:
        yield server


@pytest.fixture(params=FRAMEWORKS)
async def example(
    request: pytest.FixtureRequest, fake_server: FakeProxyServer
) -> AsyncIterator[Running]:
    async with run_example(request.param, fake_server) as running:
        yield running


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler during the test."""
    with recorded_loop_errors() as errors:
        yield errors


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post_form(
    http: aiohttp.ClientSession,
    url: str,
    form: list[tuple[str, str]],
    signature: str | None,
    *,
    signature_settings: str | None = None,
) -> tuple[int, str]:
    headers = {"Content-Type": FORM}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    if signature_settings is not None:
        headers["X-Twilio-Webhooks-Signature-Settings"] = signature_settings
    async with http.post(url, data=urlencode(form).encode(), headers=headers) as response:
        return response.status, await response.text()


# ---------------------------------------------------------------------- intercept callback


@pytest.mark.parametrize("body", ["See you at 5, bring the keys", "héllo 👋 & a+b=c", None])
async def test_signed_intercept_lets_the_interaction_through(
    example: Running, http: aiohttp.ClientSession, body: str | None
) -> None:
    form = intercept_form(body)
    signature = twilio_signature(FAKE_AUTH_TOKEN, example.intercept_url, form)
    assert await post_form(http, example.intercept_url, form, signature) == (200, "ok")


@pytest.mark.parametrize("body", ["my Password is hunter2", "send your IBAN.", "CVV?"])
async def test_signed_intercept_with_banned_word_is_blocked(
    example: Running, http: aiohttp.ClientSession, body: str
) -> None:
    form = intercept_form(body)
    signature = twilio_signature(FAKE_AUTH_TOKEN, example.intercept_url, form)
    assert await post_form(http, example.intercept_url, form, signature) == (403, "blocked")


@pytest.mark.parametrize(
    "data",
    [
        '{"body":"my password \\ud83d"}',  # half an emoji: legal JSON orjson refuses
        '{"body":"my password","segments":123456789012345678901234567890}',
        '\ufeff{"body":"CVV please"}',  # a byte order mark before the JSON
        "send your IBAN, not JSON at all",  # unreadable data is filtered as text
    ],
    ids=["lone-surrogate", "wide-integer", "bom", "not-json"],
)
async def test_banned_words_are_found_in_any_data_json_allows(
    example: Running, http: aiohttp.ClientSession, data: str
) -> None:
    form = [
        (name, data if name == "interactionData" else value)
        for name, value in intercept_form("hello")
    ]
    signature = twilio_signature(FAKE_AUTH_TOKEN, example.intercept_url, form)
    assert await post_form(http, example.intercept_url, form, signature) == (403, "blocked")


async def test_forged_intercepts_are_refused(example: Running, http: aiohttp.ClientSession) -> None:
    url = example.intercept_url
    form = intercept_form("hello")
    good = twilio_signature(FAKE_AUTH_TOKEN, url, form)
    tampered = [
        (name, '{"body": "hello, world"}' if name == "interactionData" else value)
        for name, value in form
    ]
    extra_param = [*form, ("interactionType", "Voice")]
    cases: dict[str, tuple[str, list[tuple[str, str]], str | None]] = {
        "tampered body": (url, tampered, good),
        "added parameter": (url, extra_param, good),
        "wrong token": (url, form, twilio_signature(WRONG_TOKEN, url, form)),
        "missing header": (url, form, None),
        "empty header": (url, form, ""),
        "garbage header": (url, form, "not base64 at all"),
        "replayed to another URL": (url + "?replay=1", form, good),
        "signed for another host": (
            url,
            form,
            twilio_signature(FAKE_AUTH_TOKEN, "https://elsewhere.example" + INTERCEPT, form),
        ),
    }
    for case, (target, body, signature) in cases.items():
        status, text = await post_form(http, target, body, signature)
        assert (status, text) == (403, "invalid signature"), case
    # The real one still passes: nothing above changed the app's state.
    assert await post_form(http, url, form, good) == (200, "ok")


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_intercept_signed_with_a_shared_key(
    framework: str, fake_server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    shared = "sharedkey-secret-" + "9" * 24
    settings = "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"
    async with run_example(framework, fake_server, webhook_shared_key=shared) as running:
        url = running.intercept_url
        form = intercept_form("hello")
        with_key = twilio_signature(shared, url, form, hashlib.sha256)
        with_token = twilio_signature(FAKE_AUTH_TOKEN, url, form)
        token_256 = twilio_signature(FAKE_AUTH_TOKEN, url, form, hashlib.sha256)
        cases = [
            (with_key, settings, (200, "ok")),
            (with_token, None, (200, "ok")),  # no header: the Auth Token, HMAC-SHA1
            (with_key, None, (403, "invalid signature")),
            (token_256, settings, (403, "invalid signature")),  # header: the SharedKey only
            (with_key, settings.replace("256", "512"), (403, "invalid signature")),
        ]
        for signature, header, expected in cases:
            got = await post_form(http, url, form, signature, signature_settings=header)
            assert got == expected, (signature, header)


def test_settings_read_the_shared_key_and_keep_it_out_of_repr() -> None:
    env = {
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
        "PROXY_SERVICE_SID": sid("KS", 3),
    }
    assert Settings.from_env(env).webhook_shared_key is None
    with_key = Settings.from_env({**env, "TWILIO_WEBHOOK_SHARED_KEY": "sk-secret-123"})
    assert with_key.webhook_shared_key == "sk-secret-123"
    assert "sk-secret-123" not in repr(with_key)


async def test_signed_but_unreadable_callback_is_blocked(
    example: Running, http: aiohttp.ClientSession
) -> None:
    # Twilio lets an interaction through on any answer but 403, so fail closed.
    form = [(name, value) for name, value in intercept_form("hi") if name != "interactionSid"]
    signature = twilio_signature(FAKE_AUTH_TOKEN, example.intercept_url, form)
    status, text = await post_form(http, example.intercept_url, form, signature)
    assert status == 403
    assert "interactionSid" in text


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_intercept_behind_a_proxy_checks_the_configured_url(
    framework: str, fake_server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    public = "https://hooks.example.com/twilio/intercept?tenant=acme"
    async with run_example(framework, fake_server, intercept_url=public) as example:
        form = intercept_form("hello")
        signed_public = twilio_signature(FAKE_AUTH_TOKEN, public, form)
        assert await post_form(http, example.intercept_url, form, signed_public) == (200, "ok")
        signed_local = twilio_signature(FAKE_AUTH_TOKEN, example.intercept_url, form)
        status, _ = await post_form(http, example.intercept_url, form, signed_local)
        assert status == 403


# ----------------------------------------------------------------------------- sending


async def test_send_creates_a_message_interaction_on_the_server(
    example: Running, http: aiohttp.ClientSession
) -> None:
    service, session, participant = example.target()
    text = f"Your driver is on the way ({example.framework}) é"
    url = example.messages_path(session, participant)
    async with http.post(url, json={"body": text}) as response:
        assert response.status == 201
        answer = await response.json()
    created = example.server.created_message_interactions(service, session, participant)
    assert [item["sid"] for item in created] == [answer["sid"]]
    assert orjson.loads(created[0]["data"]) == {"body": text}
    assert answer == {
        "sid": created[0]["sid"],
        "session_sid": session,
        "participant_sid": participant,
    }
    posts = [r for r in example.server.requests if r.method == "POST"]
    assert [r.form for r in posts] == [[("Body", text)]]


async def test_send_rejects_bad_input_and_reports_unknown_resources(
    example: Running, http: aiohttp.ClientSession
) -> None:
    service, session, participant = example.target()
    url = example.messages_path(session, participant)
    for payload in ({}, {"body": ""}, {"body": "   "}, {"body": 5}, ["body"]):
        async with http.post(url, json=payload) as response:
            assert response.status == 400, payload
    async with http.post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    bad_sid = example.messages_path("KC-nope", participant)
    async with http.post(bad_sid, json={"body": "hi"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "InvalidParameterError"
    unknown = example.messages_path(session, sid("KP", 999))
    async with http.post(unknown, json={"body": "hi"}) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "NotFoundError"
    assert example.server.created_message_interactions(service, session) == []


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_example_closes_its_client_at_shutdown(
    framework: str,
    fake_server: FakeProxyServer,
    http: aiohttp.ClientSession,
    loop_errors: list[dict[str, Any]],
) -> None:
    async with run_example(framework, fake_server) as example:
        _, session, participant = example.target()
        async with http.post(
            example.messages_path(session, participant), json={"body": "bye"}
        ) as response:
            assert response.status == 201
        assert not example.client.closed
    assert example.client.closed
    assert collected_reports(loop_errors) == []
