"""ClientConfig: the one frozen configuration every client is built from (issue 14)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from aiohttp import web
from conftest import ACCOUNT_SID, AUTH_TOKEN

from proxy_async import ClientConfig, InvalidParameterError, ProxyClient, RetryPolicy, Timeouts
from proxy_async.testing import FakeProxyServer
from proxy_async.web import proxy_client_context

API_KEY = "SK" + "b" * 32


def config(**settings: Any) -> ClientConfig:
    return ClientConfig.build(ACCOUNT_SID, AUTH_TOKEN, **settings)


def test_build_turns_the_conveniences_into_fields() -> None:
    made = config(region="au1", edge="sydney", retry=2, timeout=5)
    assert made.base_url == "https://proxy.sydney.au1.twilio.com"
    assert made.retry == RetryPolicy(retries=2)
    assert made.timeouts == attrs.evolve(Timeouts(), total=5.0)
    assert made.credentials.account_sid == ACCOUNT_SID
    assert made.max_concurrency == 20
    assert made.requests_per_second == 30.0


@pytest.mark.parametrize(
    ("settings", "parameter"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"requests_per_second": None, "burst": 5}, "burst"),
        ({"requests_per_second": -1}, "requests_per_second"),
        ({"prefetch": 1}, "prefetch"),
        ({"trust_env": "yes"}, "trust_env"),
        ({"environ": ["A=1"]}, "environ"),
        ({"retry": 1.5}, "retry"),
        ({"timeout": float("inf")}, "timeout"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "https://example.com", "region": "au1"}, "base_url"),
        ({"region": "bad region!"}, "region"),
    ],
)
def test_each_bad_setting_is_refused_by_its_name(settings: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        config(**settings)
    assert caught.value.parameter == parameter
    # The constructor goes through the same checks, with the same message.
    with pytest.raises(InvalidParameterError) as again:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, **settings)
    assert str(again.value) == str(caught.value)


def test_frozen_and_rechecked_on_evolve() -> None:
    made = config()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.max_concurrency = 5  # type: ignore[misc]
    assert attrs.evolve(made, max_concurrency=5).max_concurrency == 5
    with pytest.raises(InvalidParameterError, match="max_concurrency"):
        attrs.evolve(made, max_concurrency=0)
    with pytest.raises(InvalidParameterError, match="credentials"):
        ClientConfig(credentials="AC…:token")  # type: ignore[arg-type]


def test_repr_shows_no_secret() -> None:
    made = config(proxy="http://user:pr0xy-pass@proxy.example:3128")
    text = repr(made)
    assert ACCOUNT_SID in text
    assert AUTH_TOKEN not in text
    assert "pr0xy-pass" not in text


def test_from_env_reads_the_variables_and_settings_win() -> None:
    environ = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_API_KEY": API_KEY,
        "TWILIO_API_SECRET": "s3cret",
        "TWILIO_REGION": "au1",
    }
    made = ClientConfig.from_env(environ, max_concurrency=7)
    assert made.credentials.username == API_KEY
    assert made.base_url == "https://proxy.au1.twilio.com"
    assert made.max_concurrency == 7
    assert made.environ is environ  # the egress variables come from the same place
    local = ClientConfig.from_env(environ, base_url="http://127.0.0.1:9")
    assert local.base_url == "http://127.0.0.1:9"


async def test_a_client_is_built_from_a_config_and_keeps_it() -> None:
    made = config(base_url="http://127.0.0.1:9", max_concurrency=3)
    async with ProxyClient.from_config(made) as client:
        assert client.config is made
        assert client.base_url == "http://127.0.0.1:9"
        assert client.limiter.max_concurrency == 3
    async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, region="au1") as built:
        assert built.config.base_url == "https://proxy.au1.twilio.com"
    with pytest.raises(InvalidParameterError, match="a ClientConfig, not dict"):
        ProxyClient.from_config({"base_url": "x"})  # type: ignore[arg-type]


async def test_from_env_passes_the_parts_beside_the_config() -> None:
    events: list[object] = []
    environ = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    async with (
        FakeProxyServer(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake,
        ProxyClient.from_env(environ, base_url=fake.url, on_response=events.append) as client,
    ):
        await client.request("GET", f"/v1/Services/{fake.service_sids[0]}/Sessions")
    assert len(events) == 1


async def test_the_web_helper_takes_a_config() -> None:
    key = web.AppKey("proxy", ProxyClient)
    made = config(base_url="http://127.0.0.1:9")
    app = web.Application()
    app.cleanup_ctx.append(proxy_client_context(key, config=made))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert app[key].config is made
    finally:
        await runner.cleanup()
    assert app[key].closed


def test_fields_are_checked_even_when_given_directly() -> None:
    credentials = config().credentials
    with pytest.raises(InvalidParameterError, match="proxy") as caught:
        ClientConfig(credentials=credentials, proxy=123)  # type: ignore[arg-type]
    assert "123" not in str(caught.value)
    with pytest.raises(InvalidParameterError, match="ca_bundle"):
        ClientConfig(credentials=credentials, ca_bundle=123)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="timeouts"):
        config(timeouts=5)
    with pytest.raises(InvalidParameterError, match="credentials"):
        config(credentials=credentials)


async def test_the_web_helper_refuses_settings_beside_a_config() -> None:
    key = web.AppKey("proxy", ProxyClient)
    app = web.Application()
    app.cleanup_ctx.append(proxy_client_context(key, config=config(), max_concurrency=3))
    runner = web.AppRunner(app)
    with pytest.raises(InvalidParameterError, match="max_concurrency"):
        await runner.setup()
    await runner.cleanup()
