"""Hostile input through every public entry point: only ProxyError subclasses come out.

Bad caller input is an InvalidParameterError naming the parameter, raised before the
limiter or a hook counts an attempt, and no exception carries a message body. A bad
server value is a typed error that fails only its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SESSION_PATH,
    fake_client,
    list_body,
    load_fixture,
    set_fake_credentials,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proxy_async import (
    AttemptEvent,
    InvalidParameterError,
    InvalidResponseError,
    ProxyClient,
    ProxyError,
    webhooks,
    workers,
)
from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.run import export
from proxy_async.cli import main
from proxy_async.limits.fixed import RateLimiter
from proxy_async.testing import FakeProxyServer, Fault, MockTransport
from proxy_async.transports.base import Response

SERVICE = "KS" + "b" * 32
PARTICIPANT = "KP" + "d" * 32
LIST = f"{SESSION_PATH}/Interactions"
BODY = "Running late \ud83d"

# Odd text: lone surrogates, NUL, controls, astral characters, and very long strings.
ODD_TEXT = st.one_of(
    st.text(
        st.one_of(
            st.characters(),
            st.characters(categories=["Cs"]),
            st.sampled_from("\x00\r\n\t%/?#@:"),
        ),
        max_size=30,
    ),
    st.sampled_from(["", " ", BODY, "x" * 100_000, "\ud83d" * 1000, "https://a/\ud800"]),
)
WRONG_TYPES = st.sampled_from([None, 5, 2.5, True, b"bytes", ["list"], {"a": "b"}, object()])


class CountingLimiter(RateLimiter):
    """A RateLimiter that counts how many attempts took a slot."""

    def __init__(self) -> None:
        super().__init__(requests_per_second=None)
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1
        await super().acquire()


def canned(status: int = 200, body: bytes = b"{}") -> MockTransport:
    """A transport answering every request with one canned response; it records each
    request it was sent (after encoding its form, as the real transport does)."""
    return MockTransport(lambda _: Response(status, {"Content-Type": "application/json"}, body))


def counting_client(transport: MockTransport, events: list[AttemptEvent]) -> ProxyClient:
    return ProxyClient(
        ACCOUNT_SID,
        AUTH_TOKEN,
        limiter=CountingLimiter(),
        retry=0,
        prefetch=False,
        transport=transport,
        on_request=events.append,
    )


def chain(error: BaseException) -> list[BaseException]:
    """The error and everything it was raised from or during."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def assert_carries_no(text: str, error: BaseException) -> None:
    """Neither the error nor its chain shows ``text`` anywhere: str, repr, args, attributes."""
    if len(text.strip()) < 4:
        return  # too short to tell a leak from the error's own words
    for link in chain(error):
        # Attribute values, not names, and not flags or counts: 'missing': False would
        # otherwise "carry" a generated body such as 'Fals'.
        values = [v for v in vars(link).values() if not isinstance(v, (bool, int, type(None)))]
        shown = [str(link), repr(link), repr(link.args), repr(values)]
        shown.append(repr(getattr(link, "object", "")))
        for where in shown:
            assert text not in where, f"{type(link).__name__} carries the text"
            assert repr(text)[1:-1] not in where, f"{type(link).__name__} carries the text"


def run(coroutine: Awaitable[Any]) -> Any:
    async def wrapper() -> Any:
        return await coroutine

    return asyncio.run(wrapper())


# -- the message body ---------------------------------------------------------------------


async def test_a_body_with_half_an_emoji_is_refused_before_any_attempt() -> None:
    transport = canned(201)
    events: list[AttemptEvent] = []
    async with counting_client(transport, events) as client:
        messages = client.services(SERVICE).sessions("KC" + "c" * 32).participants(PARTICIPANT)
        with pytest.raises(InvalidParameterError) as caught:
            await messages.message_interactions.create(body=BODY)
        limiter = client.limiter
    assert caught.value.parameter == "body"
    assert isinstance(limiter, CountingLimiter)
    assert limiter.acquired == 0
    assert events == []
    assert transport.requests == []
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert_carries_no(BODY, caught.value)
    assert_carries_no("Running late", caught.value)


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(ODD_TEXT, WRONG_TYPES), media_url=st.one_of(st.none(), ODD_TEXT, WRONG_TYPES))
def test_create_refuses_bad_bodies_and_media_urls_before_any_attempt(
    body: Any, media_url: Any
) -> None:
    created = load_fixture("sdk_message_interaction_create_response")
    transport = canned(201, orjson.dumps(created))
    events: list[AttemptEvent] = []

    async def attempt() -> None:
        async with counting_client(transport, events) as client:
            session = client.services(SERVICE).sessions("KC" + "c" * 32)
            messages = session.participants(PARTICIPANT).message_interactions
            await messages.create(body=body, media_url=media_url)

    refused: InvalidParameterError | None = None
    try:
        run(attempt())
    except InvalidParameterError as error:
        refused = error
    if refused is None:
        assert len(transport.requests) == 1  # accepted: it was sent, once, and encoded
        return
    assert refused.parameter in {"body", "media_url"}
    assert events == []
    assert transport.requests == []
    for text in (body, media_url):
        if isinstance(text, str):
            assert_carries_no(text, refused)


# -- the low-level request ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    method=st.one_of(
        st.sampled_from(["GET", "POST", "DELETE", "get", "G ET"]), ODD_TEXT, WRONG_TYPES
    ),
    target=st.one_of(
        st.sampled_from(["/v1/x", "relative", "http://a:1:1/x"]), ODD_TEXT, WRONG_TYPES
    ),
    params=st.one_of(st.none(), st.dictionaries(ODD_TEXT, ODD_TEXT, max_size=2), WRONG_TYPES),
    form=st.one_of(st.none(), st.lists(st.tuples(ODD_TEXT, ODD_TEXT), max_size=2), WRONG_TYPES),
)
def test_request_raises_only_typed_errors_and_checks_before_any_attempt(
    method: Any, target: Any, params: Any, form: Any
) -> None:
    transport = canned()
    events: list[AttemptEvent] = []

    async def attempt() -> None:
        async with counting_client(transport, events) as client:
            await client.request(method, target, params=params, form=form)

    try:
        run(attempt())
    except InvalidParameterError:
        assert events == []
        assert transport.requests == []
    except ProxyError:
        pass


# -- server values ------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ODD_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(ODD_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
HOSTILE_URLS = st.one_of(
    ODD_TEXT,
    st.sampled_from(
        [
            f"http://127.0.0.1:5:5{LIST}?Page=1",
            f"https://proxy.twilio.com:99999{LIST}",
            f"https://[::1{LIST}",
            f"https://proxy.twilio.com\\@evil.com{LIST}",
            f"https://proxy.twilio.com{LIST}\x00",
            f"https://proxy.twilio.com/v1/\ud83d{LIST}",
            f"https://u:p@proxy.twilio.com{LIST}",
            f"//proxy.twilio.com{LIST}",
            LIST,
        ]
    ),
)


def stream_of(client: ProxyClient) -> Callable[[], Awaitable[list[Any]]]:
    async def collect() -> list[Any]:
        session = client.services(SERVICE).sessions("KC" + "c" * 32)
        return [item async for item in session.interactions.stream()]

    return collect


@settings(max_examples=200, deadline=None)
@given(next_page_url=HOSTILE_URLS)
def test_a_hostile_next_page_url_is_a_typed_error(next_page_url: str) -> None:
    body = json.dumps(list_body([], next_page_url, f"https://proxy.twilio.com{LIST}")).encode()
    transport = canned(200, body)

    async def attempt() -> None:
        async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=transport, retry=0) as client:
            await stream_of(client)()

    with pytest.raises(ProxyError):
        run(attempt())
    assert len(transport.requests) == 1  # nothing but page 1 was sent


async def test_a_doubled_port_is_an_invalid_response_naming_the_field() -> None:
    bad = f"http://127.0.0.1:5:5{LIST}?Page=1"
    transport = canned(200, orjson.dumps(list_body([], bad, f"https://x{LIST}")))
    async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=transport, retry=0) as client:
        with pytest.raises(InvalidResponseError) as caught:
            await stream_of(client)()
    assert caught.value.field == "meta.next_page_url"
    assert caught.value.path == LIST


@settings(max_examples=200, deadline=None)
@given(body=st.one_of(JSON_VALUES, st.binary(max_size=40)))
def test_hostile_bodies_are_typed_errors_for_lists_fetches_and_creates(body: Any) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    transport = canned(200, raw)

    async def attempt() -> None:
        async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=transport, retry=0) as client:
            session = client.services(SERVICE).sessions("KC" + "c" * 32)
            calls: list[Callable[[], Awaitable[Any]]] = [
                stream_of(client),
                lambda: session.fetch(),
                lambda: session.interactions.fetch("KI" + "e" * 32),
                lambda: session.participants(PARTICIPANT).message_interactions.create("hi"),
            ]
            for call in calls:
                with contextlib.suppress(ProxyError):
                    await call()

    run(attempt())


# -- the constructor and the environment ---------------------------------------------------


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"auth_token": "secret\ud83d-do-not-leak"}, "auth_token"),
        (
            {"auth_token": None, "api_key": "SK" + "a" * 32, "api_secret": "s\udc00cret"},
            "api_secret",
        ),
        ({"edge": 5}, "edge"),
        ({"region": ["au1"]}, "region"),
        ({"edge": "sydney/evil"}, "edge"),
        ({"base_url": "http://a:1:1"}, "base_url"),
        ({"base_url": "https://proxy.twilio.com/?token=do-not-leak"}, "base_url"),
    ],
)
def test_constructor_input_is_typed_and_never_echoes_secrets(
    options: dict[str, Any], parameter: str
) -> None:
    arguments: dict[str, Any] = {"auth_token": AUTH_TOKEN, **options}
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, **arguments)
    assert caught.value.parameter == parameter
    for secret in ("secret\ud83d-do-not-leak", "s\udc00cret", "do-not-leak"):
        assert_carries_no(secret, caught.value)


def test_from_env_with_a_hostile_edge_is_typed() -> None:
    environ = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_EDGE": "x/y",
    }
    with pytest.raises(InvalidParameterError, match="TWILIO_EDGE"):
        ProxyClient.from_env(environ)


# -- export, workers, webhooks -------------------------------------------------------------


@pytest.fixture
async def server() -> Any:
    async with FakeProxyServer(sessions_per_service=4, interactions_per_session=12) as fake:
        yield fake


async def test_a_doubled_port_fails_only_its_session(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    service = server.service_sids[0]
    sessions = server.session_sids(service)
    bad = f"http://127.0.0.1:{server.port}:{server.port}/v1/Services/{service}/Sessions/x"
    server.add_fault(Fault.foreign_next_page(bad), times=None, path_contains=f"/{sessions[1]}/")
    out = tmp_path / "out.ndjson"
    async with fake_client(server, retry=0) as client:
        summary = await export(client, service, out, page_size=5)
    assert [failure.session_sid for failure in summary.failures] == [sessions[1]]
    assert summary.failures[0].error.startswith("InvalidResponseError")
    # Incomplete, so the records are still in the .part file a resume continues.
    written = ExportPaths.for_output(out).partial.read_bytes().splitlines()
    assert {orjson.loads(line)["session_sid"] for line in written} == set(sessions) - {sessions[1]}
    assert len(written) == 3 * 12


async def test_the_cli_exits_1_without_a_traceback_for_a_session_with_a_garbage_page_url(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_fake_credentials(monkeypatch)
    service = server.service_sids[0]
    first = server.session_sids(service)[0]
    server.add_fault(Fault.foreign_next_page("http://[::1/x"), times=None, path_contains=first)
    argv = ["export", "--service", service, "--out", str(tmp_path / "o.ndjson")]
    argv += ["--base-url", server.url, "--page-size", "5"]
    assert await asyncio.to_thread(main, argv) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    failed = [line for line in captured.out.splitlines() if "meta.next_page_url" in line]
    assert len(failed) == 1  # one line names the session and the field
    assert first in failed[0]


@pytest.mark.parametrize(
    "extra",
    [
        ["--base-url", "http://a:1:1"],
        ["--base-url", "http://h\ud83d"],
        ["--out", "o\x00.ndjson"],
        ["--out", "\ud83d.ndjson"],
    ],
)
def test_cli_hostile_arguments_exit_2_without_a_traceback(
    extra: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.chdir(tmp_path)
    argv = ["export", "--service", SERVICE, "--out", "o.ndjson", "--base-url", "http://127.0.0.1:9"]
    assert main([*argv, *extra]) == 2
    assert "Traceback" not in capsys.readouterr().err


BAD_PATHS: Sequence[Any] = ["o\x00ut", "\ud83d", 5, None, b"bytes"]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_export_and_worker_paths_are_checked(path: Any, tmp_path: Path) -> None:
    async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=canned()) as client:
        with pytest.raises(InvalidParameterError, match="out"):
            await export(client, SERVICE, path)
    with pytest.raises(InvalidParameterError, match="out_dir"):
        workers.job_id(SERVICE, path, "ndjson", 1)
    with pytest.raises(InvalidParameterError, match="out_dir"):
        workers.merge_exports(path, tmp_path / "merged.ndjson")
    with pytest.raises(InvalidParameterError, match="dest"):
        workers.merge_exports(tmp_path, path)


@pytest.mark.parametrize(
    "options", [{"sessions": 5}, {"sessions": [5]}, {"progress": 5}, {"fmt": object()}]
)
async def test_export_argument_types_are_checked(options: dict[str, Any], tmp_path: Path) -> None:
    async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=canned()) as client:
        with pytest.raises(InvalidParameterError):
            await export(client, SERVICE, tmp_path / "o.ndjson", **options)


@settings(max_examples=150, deadline=None)
@given(
    token=st.one_of(ODD_TEXT, WRONG_TYPES),
    url=st.one_of(ODD_TEXT, WRONG_TYPES, st.sampled_from(["https://a:1:1/x", "https://[::1/x"])),
    params=st.one_of(st.dictionaries(ODD_TEXT, ODD_TEXT, max_size=2), WRONG_TYPES),
    signature=st.one_of(ODD_TEXT, WRONG_TYPES),
)
def test_webhook_signature_functions_raise_only_typed_errors(
    token: Any, url: Any, params: Any, signature: Any
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: webhooks.validate_signature(token, url, params, signature),
        lambda: webhooks.validate_json_signature(token, url, b"{}", signature),
        lambda: webhooks.compute_signature(token, url, params),
    ]
    for call in calls:
        with contextlib.suppress(ProxyError):
            call()


# == egress and host inputs (helper e1): hostile hosts, CA bundles and proxy user info ======
# Every value below once escaped as a raw UnicodeError/ValueError, hung, or was altered.

HOSTILE_CLIENT_OPTIONS: list[dict[str, Any]] = [
    {"base_url": "https://xn--zz.com"},
    {"base_url": "https://u:secret-do-not-leak@xn--zz.com"},
    {"base_url": "http://proxy.xn--a.twilio.com:8080"},
    {"region": "xn--zz"},
    {"edge": "xn--zz", "region": "au1"},
    {"proxy": "http://u:secret-do-not-leak@xn--zz.com:3128"},
    {"proxy": "http://u:secret-do-not-leak%ff@127.0.0.1:3128"},
    {"proxy": "http://u:secret-do-not-leak%0d%0a@127.0.0.1:3128"},
    {"proxy": "http://u:secret-do-not-leak%@127.0.0.1:3128"},
    {"proxy": "http://u%ed%a0%bd:secret-do-not-leak@127.0.0.1:3128"},
    {"ca_bundle": "\x00"},
    {"ca_bundle": "\ud83d"},
    {"ca_bundle": "/dev/null"},
    {"environ": {"HTTPS_PROXY": "http://xn--zz.example:3128"}},
    {"environ": {"SSL_CERT_FILE": "\ud83d"}},
    {"environ": {"REQUESTS_CA_BUNDLE": "ca\x00.pem"}},
]


@pytest.mark.parametrize("options", HOSTILE_CLIENT_OPTIONS)
def test_hostile_hosts_bundles_and_proxy_user_info_are_invalid_parameters(
    options: dict[str, Any],
) -> None:
    options.setdefault("environ", {})
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, **options)
    assert_carries_no("secret-do-not-leak", caught.value)


# == limits, timeouts, constructor types, worker variables (issue 11, section 5) ============
# Each hostile value is refused where it enters, as an InvalidParameterError naming it,
# or (the CLIs) as one line and exit 2; a small --rps works.

from proxy_async.bulk_export import streams as export_module  # noqa: E402
from proxy_async.limits.adaptive import AdaptiveLimiter  # noqa: E402
from proxy_async.limits.adaptive_rate import AdaptiveRateLimiter  # noqa: E402
from proxy_async.limits.base import MAX_CONCURRENCY  # noqa: E402
from proxy_async.limits.rate_control import RateControl  # noqa: E402
from proxy_async.transports.base import MAX_TIMEOUT, Timeouts  # noqa: E402

HOSTILE_NUMBERS: Sequence[Any] = [math.inf, -math.inf, math.nan, -1, 0, True, 10**400, "3"]


@pytest.mark.parametrize("rate", [0.25, 0.01, 1 / 86_400])
def test_a_rate_ceiling_below_the_default_floor_is_its_own_floor(rate: float) -> None:
    limiter = AdaptiveRateLimiter(requests_per_second=rate)
    assert limiter.rate == limiter.ceiling == limiter.min_rate == rate
    control = RateControl(ceiling=rate)
    assert control.on_throttle(0.0, 10.0) == rate  # a cut stops at the floor
    assert RateControl(ceiling=None).min_rate == 0.5
    with pytest.raises(InvalidParameterError, match="min_rate"):
        RateControl(ceiling=rate, min_rate=1.0)  # an explicit floor above it is a mistake


async def test_the_cli_exports_below_half_a_request_per_second(
    server: FakeProxyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_fake_credentials(monkeypatch)
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    out = tmp_path / "o.ndjson"
    argv = ["export", "--service", service, "--session", session, "--out", str(out)]
    argv += ["--base-url", server.url, "--rps", "0.25", "--quiet"]
    assert await asyncio.to_thread(main, argv) == 0  # one request: the first is not delayed
    assert "Traceback" not in capsys.readouterr().err
    assert len(out.read_bytes().splitlines()) == 12


def test_demo_runs_below_half_a_request_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--sessions", "0", "--latency", "0", "--rps", "0.25", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "d.ndjson")]) == 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "option",
    [
        ["--concurrency", "10000000"],
        ["--concurrency", "0"],
        ["--page-size", "1001"],
        ["--rps", "1e-300"],  # accepted once, it waited forever between requests, silently
        ["--rps", "5e-324"],
    ],
)
@pytest.mark.parametrize("command", ["export", "demo"])
def test_cli_size_options_are_bounded(
    command: str,
    option: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    argv = [command, "--out", str(tmp_path / "o.ndjson"), *option]
    if command == "export":
        argv += ["--service", SERVICE, "--base-url", "http://127.0.0.1:9"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert option[0] in err


@pytest.mark.parametrize("concurrency", [MAX_CONCURRENCY + 1, 10**30, 0, 2.5, True])
async def test_export_concurrency_is_bounded(concurrency: Any, tmp_path: Path) -> None:
    async with ProxyClient(ACCOUNT_SID, AUTH_TOKEN, transport=canned()) as client:
        with pytest.raises(InvalidParameterError) as caught:
            await export(client, SERVICE, tmp_path / "o.ndjson", concurrency=concurrency)
        assert caught.value.parameter == "concurrency"
        with pytest.raises(InvalidParameterError, match="concurrency"):
            export_module.stream_pages(client, SERVICE, concurrency=concurrency)
    assert not (tmp_path / "o.ndjson.state.db").exists()


@pytest.mark.parametrize("selected", [True, False])
async def test_no_more_walkers_start_than_there_are_sessions(
    selected: bool, server: FakeProxyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = 0
    walker = export_module.WalkerPool._walker

    async def counted(self: Any) -> None:
        nonlocal started
        started += 1
        await walker(self)

    monkeypatch.setattr(export_module.WalkerPool, "_walker", counted)
    service = server.service_sids[0]
    sessions = server.session_sids(service)[:3] if selected else None
    async with fake_client(server) as client:
        summary = await export(
            client, service, tmp_path / "o.ndjson", sessions=sessions, concurrency=MAX_CONCURRENCY
        )
    assert summary.complete
    assert summary.records == 12 * (3 if selected else 4)
    assert 1 <= started <= (3 if selected else 4)


@pytest.mark.parametrize("value", [*HOSTILE_NUMBERS, MAX_TIMEOUT * 2])
async def test_timeouts_must_be_finite_positive_and_bounded(value: Any) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, timeout=value)
    assert caught.value.parameter == "timeout"
    for bound in ("connect", "read", "total"):
        with pytest.raises(InvalidParameterError) as caught:
            Timeouts(**{bound: value})
        assert caught.value.parameter == f"timeout.{bound}"
    transport = canned()
    events: list[AttemptEvent] = []
    async with counting_client(transport, events) as client:
        with pytest.raises(InvalidParameterError) as caught:
            await client.request("GET", LIST, timeout=value)
        assert caught.value.parameter == "timeout"
    assert events == []  # refused before any attempt
    assert Timeouts(connect=None, read=1, total=MAX_TIMEOUT).read == 1.0


class SyncLimiter:
    """Looks like a limiter but its acquire cannot be awaited."""

    max_concurrency = 5

    def acquire(self) -> None:
        """Not a coroutine."""

    def release(self) -> None:
        """Nothing held."""

    def observe(self, status: object, headers: object) -> None:
        """No feedback."""


class HugeLimiter(CountingLimiter):
    """A limiter asking for a pool beyond MAX_CONCURRENCY."""

    @property
    def max_concurrency(self) -> int:
        return 10**30


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("environ", 5),
        ("environ", "PATH"),
        ("limiter", 5),
        ("limiter", object()),
        ("limiter", SyncLimiter()),
        ("limiter", "HugeLimiter"),
        ("trace_configs", 5),
        ("trace_configs", "x"),
        ("trace_configs", [object()]),
        ("on_request", 5),
        ("on_response", "print"),
        ("transport", 5),
        ("transport", RateLimiter()),
        ("max_concurrency", 10**30),
        ("max_concurrency", MAX_CONCURRENCY + 1),
        ("max_concurrency", 2.5),
        ("requests_per_second", math.inf),
        ("requests_per_second", "30"),
        ("burst", math.inf),
        ("burst", math.nan),
        ("prefetch", "no"),
        ("prefetch", 1),
        ("trust_env", None),
    ],
)
def test_constructor_options_of_the_wrong_type_are_refused_at_once(name: str, value: Any) -> None:
    if value == "HugeLimiter":
        value = HugeLimiter()
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, **{name: value})
    assert caught.value.parameter == name


@pytest.mark.parametrize("value", [math.inf, math.nan, 10**400, MAX_CONCURRENCY + 1, True])
def test_limiters_refuse_unbounded_sizes_and_rates(value: Any) -> None:
    makers: list[Callable[[], object]] = [
        lambda: RateLimiter(max_concurrency=value),
        lambda: AdaptiveLimiter(max_concurrency=value),
        lambda: AdaptiveRateLimiter(max_concurrency=value),
    ]
    if not isinstance(value, int) or value is True:
        makers += [
            lambda: RateLimiter(requests_per_second=value),
            lambda: RateLimiter(burst=value),
            lambda: AdaptiveLimiter(requests_per_second=value),
            lambda: AdaptiveRateLimiter(requests_per_second=value),
        ]
    for make in makers:
        with pytest.raises(InvalidParameterError):
            make()


BAD_VARIABLES = [
    ("PROXY_ASYNC_MAX_CONCURRENCY", "inf"),
    ("PROXY_ASYNC_MAX_CONCURRENCY", "1001"),
    ("PROXY_ASYNC_MAX_CONCURRENCY", "1e3"),
    ("PROXY_ASYNC_MAX_JOBS", "0.1"),
    ("PROXY_ASYNC_MAX_JOBS", "0"),
    ("PROXY_ASYNC_MAX_JOBS", " 4"),
    ("PROXY_ASYNC_BATCH_CONCURRENCY", "10000000"),
    ("PROXY_ASYNC_BATCH_CONCURRENCY", "-1"),
    ("PROXY_ASYNC_RPS", "inf"),
    ("PROXY_ASYNC_RPS", "nan"),
    ("PROXY_ASYNC_RPS", "0"),
    ("PROXY_ASYNC_JOB_TIMEOUT", "inf"),
    ("PROXY_ASYNC_JOB_TIMEOUT", "1e300"),
    ("PROXY_ASYNC_RETRY_DELAY", "1e400"),
    ("PROXY_ASYNC_RETRIES", "1.5"),
    ("PROXY_ASYNC_RETRIES", "1_000"),
    ("PROXY_ASYNC_RETRIES", "101"),
    ("PROXY_ASYNC_ADAPTIVE", "banana"),
    ("PROXY_ASYNC_REDIS_URL", "nope://secret@host"),
]


@pytest.mark.parametrize(("name", "raw"), BAD_VARIABLES)
def test_worker_variables_are_parsed_strictly(name: str, raw: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        workers.worker_settings({name: raw})
    assert caught.value.parameter == name
    assert "secret" not in str(caught.value)


def test_worker_variables_in_range_are_taken_as_written() -> None:
    settings = workers.worker_settings(
        {
            "PROXY_ASYNC_MAX_JOBS": "12",
            "PROXY_ASYNC_JOB_TIMEOUT": "90.5",
            "PROXY_ASYNC_RPS": "0.25",
            "PROXY_ASYNC_ADAPTIVE": "off",
        }
    )
    assert (settings.max_jobs, settings.job_timeout) == (12, 90.5)  # type: ignore[attr-defined]
    config = workers.WorkerConfig.from_env({"PROXY_ASYNC_ADAPTIVE": "TRUE"})
    assert config.adaptive


@pytest.mark.parametrize(("name", "raw"), BAD_VARIABLES[::3])
def test_the_workers_cli_names_a_bad_variable_in_one_line(
    name: str, raw: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, raw)
    assert workers.main(["enqueue", SERVICE, "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert name in err


# Every parameter the two callback parsers read (dates, SIDs, URLs, the integer ttl), and
# an unknown one that lands in ``extra``.
CALLBACK_NAMES = [
    "interactionSid",
    "interactionData",
    "interactionDateCreated",
    "inboundResourceUrl",
    "inboundParticipantSid",
    "AccountSid",
    "From",
    "To",
    "ttl",
    "sessionDateEnded",
    "outboundParticipantDateCreated",
    "outboundParticipantSessionSid",
    "someNewParameter",
]
HOSTILE_FORM_VALUES = st.one_of(
    ODD_TEXT,
    st.lists(ODD_TEXT, max_size=2),
    st.sampled_from(
        [
            "9" * 5000,  # beyond Python's int conversion limit
            "١٢٣",  # digits, but not ASCII
            "2024-13-45T25:61:00Z",
            "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
            "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
            "12:00 " + "x" * 10_000,
            '{"body":"my password \\ud83d"}',
            "[" * 100_000,
        ]
    ),
    WRONG_TYPES,
)


@settings(max_examples=200, deadline=None)
@given(form=st.dictionaries(st.sampled_from(CALLBACK_NAMES), HOSTILE_FORM_VALUES, max_size=6))
def test_callback_parsers_raise_only_invalid_callback_errors(form: dict[str, Any]) -> None:
    base = {"interactionSid": "KI" + "a" * 32, "AccountSid": "AC" + "a" * 32, "From": "+1"}
    for parse in (webhooks.parse_callback, webhooks.parse_out_of_session_callback):
        with contextlib.suppress(webhooks.InvalidCallbackError):
            parse({**base, "To": "+2", **form})


@pytest.mark.parametrize("ttl", ["9" * 5000, "9" * 4301, "-1", "1e3", "١٢٣"])
def test_a_hostile_ttl_is_an_invalid_callback_error_naming_it(ttl: str) -> None:
    form = {"AccountSid": "AC" + "a" * 32, "From": "+1", "To": "+2", "ttl": ttl}
    with pytest.raises(webhooks.InvalidCallbackError) as caught:
        webhooks.parse_out_of_session_callback(form)
    assert caught.value.parameter == "ttl"
    assert ttl not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"content_type": b"application/x-www-form-urlencoded"}, "content_type"),
        ({"content_type": 5}, "content_type"),
        ({"content_type": None, "body": "a=1"}, "body"),
        ({"content_type": None, "body": bytearray(b"a=1")}, "body"),
        ({"content_type": None, "url": b"https://a/"}, "url"),
        (
            {"content_type": None, "signature_settings": b"algorithm=HMAC_SHA256"},
            "signature_settings",
        ),
        ({"content_type": None, "shared_key": 5}, "shared_key"),
        ({"content_type": None, "auth_token": None}, "auth_token"),
        ({"content_type": None, "auth_token": "tok\ud83d"}, "auth_token"),
    ],
)
@pytest.mark.parametrize("signature", ["bm90IGEgc2lnbmF0dXJl", None, b"bytes"])
def test_validate_request_names_the_bad_parameter_whatever_the_signature(
    options: dict[str, Any], parameter: str, signature: Any
) -> None:
    arguments: dict[str, Any] = {"auth_token": AUTH_TOKEN, "url": "https://a/cb", "body": b""}
    arguments.update(options)
    with pytest.raises(InvalidParameterError) as caught:
        webhooks.validate_request(
            arguments.pop("auth_token"),
            arguments.pop("url"),
            arguments.pop("body"),
            signature,
            **arguments,
        )
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(
    ("scope", "parameter"),
    [
        (None, "scope"),
        ([("headers", [])], "scope"),
        ({"headers": 5}, "scope['headers']"),
        ({"headers": "host: a"}, "scope['headers']"),
        ({"headers": [("host", "a")]}, "scope['headers']"),
        ({"headers": [(b"host",)]}, "scope['headers']"),
        ({"headers": [(b"host", "a")]}, "scope['headers']"),
        ({"headers": [None]}, "scope['headers']"),
        ({"headers": [(b"host", b"a")], "query_string": "a=1"}, "scope['query_string']"),
        ({"headers": [(b"host", b"a")], "query_string": 5}, "scope['query_string']"),
        ({"headers": [(b"host", b"a")], "raw_path": "/cb"}, "scope['raw_path']"),
        ({"server": 5}, "scope['server']"),
        ({"server": ("a",)}, "scope['server']"),
        ({"server": (b"a", 80)}, "scope['server']"),
        ({"server": ("a", "80")}, "scope['server']"),
        ({"server": None}, "scope"),
    ],
)
def test_asgi_request_url_names_the_bad_part_of_the_scope(scope: Any, parameter: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        webhooks.asgi_request_url(scope)
    assert caught.value.parameter == parameter


def test_asgi_request_url_reads_a_well_formed_scope() -> None:
    # The checks above refuse only what the ASGI specification does not allow.
    scope = {
        "scheme": "https",
        "server": ("::1", 8443),
        "headers": [[b"x-other", b"1"]],  # lists, as some servers give them
        "raw_path": bytearray(b"/cb%20x"),
        "query_string": b"a=1",
    }
    assert webhooks.asgi_request_url(scope) == "https://[::1]:8443/cb%20x?a=1"
    assert webhooks.asgi_request_url({"server": ("h", None), "path": "/a b"}) == "http://h/a%20b"


@settings(max_examples=150, deadline=None)
@given(
    scope=st.one_of(
        WRONG_TYPES,
        st.dictionaries(
            st.sampled_from(["headers", "query_string", "raw_path", "server", "path", "scheme"]),
            st.one_of(
                WRONG_TYPES,
                ODD_TEXT,
                st.lists(st.one_of(WRONG_TYPES, st.tuples(st.binary(), WRONG_TYPES)), max_size=2),
                st.tuples(ODD_TEXT, st.one_of(st.integers(), WRONG_TYPES)),
            ),
            max_size=4,
        ),
    ),
    public_url=st.one_of(st.none(), ODD_TEXT, WRONG_TYPES),
)
# Found by this test: a decoded path with a lone surrogate cannot be quoted back.
@example(scope={"headers": None, "server": ("", 0), "path": "\ud800"}, public_url=None)
def test_asgi_request_url_raises_only_typed_errors(scope: Any, public_url: Any) -> None:
    with contextlib.suppress(InvalidParameterError):
        webhooks.asgi_request_url(scope, public_url=public_url)


@pytest.mark.parametrize("request_", [None, {"headers": {}}, "https://a/cb"])
def test_verify_request_refuses_what_is_not_an_aiohttp_request(request_: Any) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        run(webhooks.verify_request(request_, AUTH_TOKEN))
    assert caught.value.parameter == "request"


@pytest.mark.parametrize("rate", [1e-300, 5e-324, 1 / 86_401])
def test_a_rate_below_a_request_a_day_is_refused(rate: float) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ProxyClient(ACCOUNT_SID, AUTH_TOKEN, requests_per_second=rate)
    assert caught.value.parameter == "requests_per_second"
    with pytest.raises(InvalidParameterError):
        AdaptiveRateLimiter(requests_per_second=rate)
    with pytest.raises(InvalidParameterError):
        AdaptiveRateLimiter(min_rate=rate)
    ProxyClient(ACCOUNT_SID, AUTH_TOKEN, requests_per_second=1 / 86_400)  # the slowest taken
