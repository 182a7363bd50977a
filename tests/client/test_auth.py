"""Credentials, environment configuration and host selection."""

from __future__ import annotations

import base64
import pickle

import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN

from proxy_async import Credentials, InvalidParameterError, ProxyClient
from proxy_async.client.environment import config_from_env
from proxy_async.client.hosts import Origin, regional_host

API_KEY = "SK" + "1" * 32
API_SECRET = "api-secret-do-not-leak-55aa"


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials(ACCOUNT_SID, AUTH_TOKEN)
    encoded = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert AUTH_TOKEN not in text
        assert encoded not in text
        assert ACCOUNT_SID in text
    assert credentials.authorization_header() == f"Basic {encoded}"
    with pytest.raises(TypeError):
        pickle.dumps(credentials)


def test_api_key_credentials() -> None:
    credentials = Credentials(ACCOUNT_SID, api_key=API_KEY, api_secret=API_SECRET)
    assert credentials.username == API_KEY
    assert credentials.account_sid == ACCOUNT_SID
    assert API_SECRET not in repr(credentials)


def test_client_repr_hides_token() -> None:
    client = ProxyClient(ACCOUNT_SID, AUTH_TOKEN)
    assert AUTH_TOKEN not in repr(client)
    assert ACCOUNT_SID in repr(client)


def test_invalid_secret_is_not_echoed() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        Credentials(ACCOUNT_SID, "secret\nwith-newline")
    assert "secret" not in str(caught.value).replace("auth_token", "")


@pytest.mark.parametrize(
    ("edge", "region", "host"),
    [
        (None, None, "https://proxy.twilio.com"),
        ("sydney", "au1", "https://proxy.sydney.au1.twilio.com"),
        ("dublin", None, "https://proxy.dublin.us1.twilio.com"),
        (None, "ie1", "https://proxy.ie1.twilio.com"),
    ],
)
def test_regional_hosts_as_the_sdks_build_them(
    edge: str | None, region: str | None, host: str
) -> None:
    if edge is None and region is None:
        assert ProxyClient(ACCOUNT_SID, AUTH_TOKEN).base_url == host
    else:
        assert regional_host(edge, region) == host
        assert ProxyClient(ACCOUNT_SID, AUTH_TOKEN, edge=edge, region=region).base_url == host


def test_from_env_with_auth_token() -> None:
    client = ProxyClient.from_env(
        {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_EDGE": "sydney",
            "TWILIO_REGION": "au1",
        }
    )
    assert client.account_sid == ACCOUNT_SID
    assert client.base_url == "https://proxy.sydney.au1.twilio.com"


def test_from_env_prefers_api_key_and_honours_base_url() -> None:
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_KEY": API_KEY,
        "TWILIO_API_SECRET": API_SECRET,
        "TWILIO_REGION": "au1",
    }
    client = ProxyClient.from_env(env, base_url="http://127.0.0.1:8080")
    assert client.base_url == "http://127.0.0.1:8080"
    config = config_from_env(env)
    assert config.api_key == API_KEY
    assert config.auth_token is None
    assert API_SECRET not in repr(config)
    assert AUTH_TOKEN not in repr(config)


def test_from_env_base_url_none_means_not_given() -> None:
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_EDGE": "dublin",
        "TWILIO_REGION": "ie1",
    }
    client = ProxyClient.from_env(env, base_url=None)
    assert client.base_url == "https://proxy.dublin.ie1.twilio.com"


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert ProxyClient.from_env().base_url == "https://proxy.twilio.com"


@pytest.mark.parametrize(
    ("env", "parameter"),
    [
        ({}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID}, "TWILIO_AUTH_TOKEN"),
        # The variable at fault is named, not the constructor parameter it feeds.
        ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_KEY": API_KEY}, "TWILIO_API_SECRET"),
        ({"TWILIO_ACCOUNT_SID": "nope", "TWILIO_AUTH_TOKEN": AUTH_TOKEN}, "TWILIO_ACCOUNT_SID"),
    ],
)
def test_from_env_missing_or_bad(env: dict[str, str], parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(env)
    assert caught.value.parameter == parameter


def test_origin_fills_default_ports() -> None:
    import yarl

    assert Origin.of(yarl.URL("https://Proxy.Twilio.com/v1")) == Origin(
        "https", "proxy.twilio.com", 443
    )
    assert Origin.of(yarl.URL("https://proxy.twilio.com:443/x")) == Origin(
        "https", "proxy.twilio.com", 443
    )
    assert Origin.of(yarl.URL("http://proxy.twilio.com/x")) != Origin.of(
        yarl.URL("https://proxy.twilio.com/x")
    )
    assert str(Origin("http", "127.0.0.1", 8080)) == "http://127.0.0.1:8080"
