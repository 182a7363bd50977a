"""Settings at the edge: what ProxyClient.from_env reads, how it checks it, and what it says.

One base URL variable (PROXY_ASYNC_BASE_URL) for the client, the workers and the examples;
TWILIO_EDGE/TWILIO_REGION and the edge=/region= parameters checked as DNS labels where
they enter; a missing credential named exactly; the pair in use said once, and a 401
saying which pair was tried; never a secret in a message, log record or repr.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ACCOUNT_SID, ROOT

from proxy_async import ApiError, AuthenticationError, AuthError, InvalidParameterError, ProxyClient
from proxy_async.client.environment import BASE_URL_VARIABLE, base_url_from_env, config_from_env
from proxy_async.testing import FAKE_ACCOUNT_SID, FakeProxyServer
from proxy_async.workers.config import WorkerConfig

API_KEY = "SK" + "5" * 32
API_SECRET = "api-secret-SETTINGS-d15c-never-shown"
AUTH_TOKEN = "auth-token-SETTINGS-d15c-never-shown"
SECRETS = (API_SECRET, AUTH_TOKEN)
LOCAL = "http://127.0.0.1:9"


def env(**variables: str) -> dict[str, str]:
    """An environment with the account SID and ``variables`` (no other variable)."""
    return {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, **variables}


def assert_hides_secrets(*texts: object) -> None:
    """None of ``texts`` (or their repr) holds a secret, raw or in a Basic header."""
    users = (ACCOUNT_SID, API_KEY, FAKE_ACCOUNT_SID)
    encoded = [base64.b64encode(f"{u}:{s}".encode()).decode() for u in users for s in SECRETS]
    for text in texts:
        for shown in (str(text), repr(text)):
            for secret in (*SECRETS, *encoded):
                assert secret not in shown, shown


def shown_by(error: BaseException) -> list[object]:
    return [error, error.args, vars(error)]


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog for the "proxy_async" logger, DEBUG up; no record may hold a secret."""
    caplog.set_level(logging.DEBUG, logger="proxy_async")
    yield caplog
    for record in caplog.records:
        assert_hides_secrets(record.getMessage(), record.__dict__)


# -- 1. one base URL variable --------------------------------------------------------------


def test_from_env_reads_the_base_url_variable() -> None:
    client = ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, PROXY_ASYNC_BASE_URL=LOCAL))
    assert client.base_url == LOCAL
    assert BASE_URL_VARIABLE == "PROXY_ASYNC_BASE_URL"


@pytest.mark.parametrize("given", [None, "unset"])
def test_the_base_url_variable_beats_edge_and_region_variables(given: str | None) -> None:
    environ = env(
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        PROXY_ASYNC_BASE_URL=LOCAL,
        TWILIO_EDGE="sydney",
        TWILIO_REGION="au1",
    )
    # base_url=None is "not given", as a CLI passes an option it did not get.
    options: dict[str, Any] = {} if given == "unset" else {"base_url": None}
    assert ProxyClient.from_env(environ, **options).base_url == LOCAL


def test_an_explicit_base_url_beats_the_variable() -> None:
    environ = env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, PROXY_ASYNC_BASE_URL=LOCAL)
    client = ProxyClient.from_env(environ, base_url="http://127.0.0.1:8080")
    assert client.base_url == "http://127.0.0.1:8080"


def test_explicit_edge_or_region_beat_the_variable() -> None:
    environ = env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, PROXY_ASYNC_BASE_URL=LOCAL, TWILIO_EDGE="dublin")
    client = ProxyClient.from_env(environ, region="ie1")
    assert client.base_url == "https://proxy.dublin.ie1.twilio.com"
    client = ProxyClient.from_env(environ, edge=None, region=None)
    assert client.base_url == LOCAL


def test_empty_variables_count_as_unset() -> None:
    environ = env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, PROXY_ASYNC_BASE_URL="", TWILIO_REGION="")
    assert ProxyClient.from_env(environ).base_url == "https://proxy.twilio.com"


@pytest.mark.parametrize(
    "value", ["ftp://example.com", "not a url", "http://u:pw-SETTINGS@127.0.0.1:9", "http://h?t=x"]
)
def test_a_bad_base_url_variable_is_named(value: str) -> None:
    for read in (
        lambda: ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, PROXY_ASYNC_BASE_URL=value)),
        lambda: WorkerConfig.from_env({"PROXY_ASYNC_BASE_URL": value}),
        lambda: base_url_from_env({"PROXY_ASYNC_BASE_URL": value}),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            read()
        assert caught.value.parameter == "PROXY_ASYNC_BASE_URL"
        assert str(caught.value).startswith("invalid PROXY_ASYNC_BASE_URL: expected ")
        assert "pw-SETTINGS" not in str(caught.value)


def test_workers_and_examples_read_the_same_variable() -> None:
    from examples.common import Settings

    assert WorkerConfig.from_env({"PROXY_ASYNC_BASE_URL": LOCAL}).base_url == LOCAL
    example = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PROXY_SERVICE_SID": "KS" + "b" * 32,
    }
    assert Settings.from_env({**example, "PROXY_ASYNC_BASE_URL": LOCAL}).base_url == LOCAL
    # The old name is gone, not a second spelling.
    assert Settings.from_env({**example, "PROXY_BASE_URL": LOCAL}).base_url is None


def test_the_variable_is_spelled_once_in_the_code() -> None:
    # Docs may name it; code reads it through BASE_URL_VARIABLE only.
    literal = re.compile(r"""["']PROXY_ASYNC_BASE_URL["']""")
    sources = [*(ROOT / "proxy_async").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]
    spelled = [path for path in sources if literal.search(path.read_text(encoding="utf-8"))]
    assert spelled == [ROOT / "proxy_async" / "client" / "environment.py"]
    assert not any("PROXY_BASE_URL" in path.read_text(encoding="utf-8") for path in sources)


# -- 2. edge and region are DNS labels -----------------------------------------------------

BAD_LABELS = ["bad region!", "au1.evil.com", "-au1", "au1-", "a" * 64, "a/b", "x y", "é1", "xn--zz"]


@pytest.mark.parametrize("value", BAD_LABELS)
@pytest.mark.parametrize("variable", ["TWILIO_REGION", "TWILIO_EDGE"])
def test_bad_edge_or_region_variables_are_named(variable: str, value: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, **{variable: value}))
    assert caught.value.parameter == variable
    message = str(caught.value)
    assert message.startswith(f"invalid {variable}: expected one DNS label such as 'sydney'")
    assert "twilio.com" not in message  # no host was built


@pytest.mark.parametrize("value", BAD_LABELS)
@pytest.mark.parametrize("parameter", ["region", "edge"])
def test_bad_edge_or_region_parameters_are_named(parameter: str, value: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, **{parameter: value})  # type: ignore[arg-type]
    assert caught.value.parameter == parameter
    # An explicit parameter is checked by the constructor, under its own name.
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN), **{parameter: value})
    assert caught.value.parameter == parameter


def test_a_bad_region_is_refused_even_when_the_base_url_variable_overrides_it() -> None:
    environ = env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, PROXY_ASYNC_BASE_URL=LOCAL, TWILIO_REGION="a b")
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(environ)
    assert caught.value.parameter == "TWILIO_REGION"


@pytest.mark.parametrize("label", ["a", "au1", "a" * 63, "x-1-y", "AU1", "xn--bcher-kva"])
def test_good_labels_pass(label: str) -> None:
    client = ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_REGION=label))
    assert client.base_url == f"https://proxy.{label.lower()}.twilio.com"


# -- 3. a missing credential is named ------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({}, "TWILIO_ACCOUNT_SID", ["Account SID"]),
        (env(), "TWILIO_AUTH_TOKEN", ["TWILIO_API_KEY and TWILIO_API_SECRET"]),
        (env(TWILIO_API_KEY=API_KEY), "TWILIO_API_SECRET", [API_KEY, "TWILIO_AUTH_TOKEN"]),
        (
            env(TWILIO_API_KEY=API_KEY, TWILIO_AUTH_TOKEN=AUTH_TOKEN),
            "TWILIO_API_SECRET",
            [API_KEY, "unset to use TWILIO_AUTH_TOKEN"],
        ),
        (env(TWILIO_API_SECRET=API_SECRET), "TWILIO_API_KEY", ["TWILIO_AUTH_TOKEN instead"]),
    ],
)
def test_a_missing_variable_is_named(
    environ: dict[str, str], variable: str, words: list[str], log: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(environ)
    error = caught.value
    assert (error.parameter, error.missing) == (variable, True)
    assert str(error).startswith(f"missing {variable}: expected ")
    for word in words:
        assert word in str(error)
    assert_hides_secrets(*shown_by(error))


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": AUTH_TOKEN}, "TWILIO_ACCOUNT_SID"),
        (env(TWILIO_API_KEY="AC" + "1" * 32, TWILIO_API_SECRET=API_SECRET), "TWILIO_API_KEY"),
        (env(TWILIO_AUTH_TOKEN=AUTH_TOKEN + "\n"), "TWILIO_AUTH_TOKEN"),
        (env(TWILIO_API_KEY=API_KEY, TWILIO_API_SECRET=API_SECRET + "\r"), "TWILIO_API_SECRET"),
    ],
)
def test_a_malformed_variable_is_named_without_its_secret(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient.from_env(environ)
    assert (caught.value.parameter, caught.value.missing) == (variable, False)
    assert str(caught.value).startswith(f"invalid {variable}: expected ")
    assert_hides_secrets(*shown_by(caught.value))


# -- 4. which pair is used -----------------------------------------------------------------


def test_both_pairs_use_the_api_key_and_say_so_once(log: pytest.LogCaptureFixture) -> None:
    environ = env(
        TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_API_KEY=API_KEY, TWILIO_API_SECRET=API_SECRET
    )
    client = ProxyClient.from_env(environ, base_url=LOCAL)
    said = [r for r in log.records if r.name == "proxy_async" and r.levelno == logging.INFO]
    assert [r.getMessage() for r in said] == [
        f"using TWILIO_API_KEY {API_KEY} with TWILIO_API_SECRET; "
        "TWILIO_AUTH_TOKEN is set but not used"
    ]
    assert client.credentials_description == f"API key {API_KEY} of account {ACCOUNT_SID}"
    config = config_from_env(environ)
    assert (config.api_key, config.auth_token) == (API_KEY, None)
    assert_hides_secrets(client, config, client.credentials_description)


def test_one_pair_logs_nothing(log: pytest.LogCaptureFixture) -> None:
    client = ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN))
    assert client.credentials_description == f"auth token of account {ACCOUNT_SID}"
    ProxyClient.from_env(env(TWILIO_API_KEY=API_KEY, TWILIO_API_SECRET=API_SECRET))
    assert [r for r in log.records if r.levelno >= logging.INFO] == []


def test_a_secret_without_its_key_is_said_unused(log: pytest.LogCaptureFixture) -> None:
    client = ProxyClient.from_env(env(TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_API_SECRET=API_SECRET))
    assert client.credentials_description == f"auth token of account {ACCOUNT_SID}"
    assert [r.getMessage() for r in log.records if r.levelno >= logging.INFO] == [
        "using TWILIO_AUTH_TOKEN; TWILIO_API_SECRET is set without TWILIO_API_KEY and not used"
    ]


# -- 5. a 401 says which pair was tried ----------------------------------------------------


@pytest.fixture
async def server() -> Any:
    async with FakeProxyServer(
        sessions_per_service=1, interactions_per_session=1, api_keys={API_KEY: API_SECRET}
    ) as fake:
        yield fake


async def refusal(client: ProxyClient, server: FakeProxyServer) -> AuthenticationError:
    async with client:
        with pytest.raises(AuthenticationError) as caught:
            await client.services(server.service_sids[0]).sessions.list()
    return caught.value


async def test_a_401_names_the_api_key_tried(
    server: FakeProxyServer, log: pytest.LogCaptureFixture
) -> None:
    # The auth token is right: the refusal proves the (wrongly paired) API key was sent.
    environ = {
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": server.auth_token,
        "TWILIO_API_KEY": "SK" + "6" * 32,
        "TWILIO_API_SECRET": API_SECRET,
    }
    client = ProxyClient.from_env(environ, base_url=server.url, retry=0)
    error = await refusal(client, server)
    tried = f"API key {'SK' + '6' * 32} of account {FAKE_ACCOUNT_SID}"
    assert error.credentials == tried
    assert str(error).endswith(f"(tried the {tried})")
    assert (error.status, error.code) == (401, 20003)
    assert_hides_secrets(*shown_by(error), server.auth_token)


async def test_a_401_names_the_auth_token_account(server: FakeProxyServer) -> None:
    environ = {"TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    error = await refusal(ProxyClient.from_env(environ, base_url=server.url, retry=0), server)
    assert str(error).endswith(f"(tried the auth token of account {FAKE_ACCOUNT_SID})")
    assert_hides_secrets(*shown_by(error))


async def test_the_api_key_is_what_is_sent_when_both_pairs_are_set(
    server: FakeProxyServer,
) -> None:
    environ = {
        "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,  # wrong for the fake: a 401 if it were sent
        "TWILIO_API_KEY": API_KEY,
        "TWILIO_API_SECRET": API_SECRET,
    }
    async with ProxyClient.from_env(environ, base_url=server.url, retry=0) as client:
        sessions = await client.services(server.service_sids[0]).sessions.list()
    assert len(sessions) == 1


@pytest.mark.parametrize(
    ("status", "ending"),
    [
        (401, "(tried the API key SK1 of account AC1)"),
        (403, "(authenticated as the API key SK1 of account AC1)"),
    ],
)
def test_auth_errors_carry_the_description_and_others_ignore_it(status: int, ending: str) -> None:
    body = b'{"code": 20003, "message": "Authenticate"}'
    described = "API key SK1 of account AC1"
    error = ApiError.from_response(status, {}, body, credentials=described)
    assert isinstance(error, AuthError)
    assert (error.credentials, str(error).endswith(ending)) == (described, True)
    other = ApiError.from_response(404, {}, body, credentials=described)
    assert described not in str(other)
    assert not hasattr(other, "credentials")
    assert ApiError.from_response(status, {}, b"<html>no</html>").credentials is None  # type: ignore[attr-defined]
