"""The retry rules as pure functions: no client, no HTTP, one decision per case."""

from __future__ import annotations

import pytest
import yarl

from proxy_async import (
    ApiError,
    CertificateVerifyError,
    ConnectError,
    ConnectionLostError,
    EgressProxyRefusedError,
    InvalidResponseError,
    ProxyError,
    RequestTimeoutError,
)
from proxy_async.errors import api_error_class
from proxy_async.retry import (
    DEFAULT_RULES,
    Attempt,
    Decision,
    Rule,
    at_most_once,
    decide,
    done_when_already_gone,
    give_up_when_settings_refused,
    may_have_applied,
    retry_never_sent,
    retry_rate_limited,
    retry_transient,
)
from proxy_async.transports.base import Request

FIRST = Attempt(1)
AFTER_MAYBE_APPLIED = Attempt(2, earlier_may_have_applied=True)

RETRY, GIVE_UP, UNKNOWN, DONE = (
    Decision.RETRY,
    Decision.GIVE_UP,
    Decision.OUTCOME_UNKNOWN,
    Decision.DONE,
)


def request(method: str) -> Request:
    return Request(method, yarl.URL("https://proxy.twilio.com/v1/Services/KS1/Sessions"), {})


def status(code: int) -> ApiError:
    return api_error_class(code)(code)


ERRORS: dict[str, ProxyError] = {
    "400": status(400),
    "404": status(404),
    "409": status(409),
    "429": status(429),
    "500": status(500),
    "501": status(501),
    "502": status(502),
    "503": status(503),
    "504": status(504),
    "refused": ConnectError("connection refused"),
    "connect timeout": RequestTimeoutError("timed out", phase="connect"),
    "read timeout": RequestTimeoutError("timed out", phase="read"),
    "reset": ConnectionLostError("connection reset"),
    "untrusted certificate": CertificateVerifyError("h:443", "self-signed"),
    "proxy refused": EgressProxyRefusedError("407", proxy="http://proxy:3128", status=407),
    "invalid 2xx body": InvalidResponseError("not JSON"),
}


# -- the request's own properties ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "idempotent"),
    [
        ("GET", True),
        ("HEAD", True),
        ("OPTIONS", True),
        ("TRACE", True),
        ("PUT", True),
        ("DELETE", True),
        ("POST", False),
        ("PATCH", False),
    ],
)
def test_idempotent_follows_rfc_9110(method: str, idempotent: bool) -> None:
    assert request(method).idempotent is idempotent


@pytest.mark.parametrize(("method", "done"), [("DELETE", True), ("GET", False), ("POST", False)])
def test_only_a_delete_is_done_by_a_404_on_retry(method: str, done: bool) -> None:
    assert request(method).not_found_on_retry_is_done is done


# -- each rule alone: an opinion, or None -------------------------------------------------


def test_done_when_already_gone() -> None:
    rule = done_when_already_gone
    assert rule(request("DELETE"), ERRORS["404"], AFTER_MAYBE_APPLIED) is DONE
    assert rule(request("DELETE"), ERRORS["404"], FIRST) is None  # a first 404 is an answer
    assert rule(request("DELETE"), ERRORS["404"], Attempt(3)) is None  # earlier ones failed cleanly
    assert rule(request("GET"), ERRORS["404"], AFTER_MAYBE_APPLIED) is None
    assert rule(request("DELETE"), ERRORS["500"], AFTER_MAYBE_APPLIED) is None


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_retry_rate_limited_for_every_method(method: str) -> None:
    assert retry_rate_limited(request(method), ERRORS["429"], FIRST) is RETRY
    assert retry_rate_limited(request(method), ERRORS["503"], FIRST) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("refused", RETRY),
        ("connect timeout", RETRY),
        ("untrusted certificate", GIVE_UP),
        ("proxy refused", GIVE_UP),
        ("read timeout", None),
        ("reset", None),
        ("503", None),
    ],
)
def test_retry_never_sent(name: str, expected: Decision | None) -> None:
    assert retry_never_sent(request("POST"), ERRORS[name], FIRST) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("500", UNKNOWN),
        ("503", UNKNOWN),
        ("read timeout", UNKNOWN),
        ("reset", UNKNOWN),
        ("400", GIVE_UP),
        ("404", GIVE_UP),
        ("invalid 2xx body", GIVE_UP),
    ],
)
def test_at_most_once_for_a_create(name: str, expected: Decision) -> None:
    assert at_most_once(request("POST"), ERRORS[name], FIRST) is expected
    assert at_most_once(request("GET"), ERRORS[name], FIRST) is None


def test_give_up_when_settings_refused() -> None:
    rule = give_up_when_settings_refused
    assert rule(request("GET"), ERRORS["untrusted certificate"], FIRST) is GIVE_UP
    assert rule(request("GET"), ERRORS["proxy refused"], FIRST) is GIVE_UP
    assert rule(request("GET"), ERRORS["reset"], FIRST) is None
    assert rule(request("GET"), ERRORS["503"], FIRST) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("429", RETRY),
        ("500", RETRY),
        ("502", RETRY),
        ("503", RETRY),
        ("504", RETRY),
        ("reset", RETRY),
        ("read timeout", RETRY),
        ("refused", RETRY),
        ("501", None),
        ("400", None),
        ("409", None),
        ("invalid 2xx body", None),
    ],
)
def test_retry_transient(name: str, expected: Decision | None) -> None:
    assert retry_transient(request("GET"), ERRORS[name], FIRST) is expected


@pytest.mark.parametrize(
    ("name", "applied"),
    [
        ("500", True),
        ("504", True),
        ("reset", True),
        ("read timeout", True),
        ("refused", False),
        ("connect timeout", False),
        ("429", False),
        ("404", False),
        ("invalid 2xx body", False),
    ],
)
def test_may_have_applied(name: str, applied: bool) -> None:
    assert may_have_applied(ERRORS[name]) is applied


# -- the chain: the whole table of what is retried ----------------------------------------

TABLE = [
    # (error, GET, DELETE, POST)
    ("400", GIVE_UP, GIVE_UP, GIVE_UP),
    ("404", GIVE_UP, GIVE_UP, GIVE_UP),
    ("409", GIVE_UP, GIVE_UP, GIVE_UP),
    ("429", RETRY, RETRY, RETRY),
    ("500", RETRY, RETRY, UNKNOWN),
    ("501", GIVE_UP, GIVE_UP, UNKNOWN),
    ("502", RETRY, RETRY, UNKNOWN),
    ("503", RETRY, RETRY, UNKNOWN),
    ("504", RETRY, RETRY, UNKNOWN),
    ("refused", RETRY, RETRY, RETRY),
    ("connect timeout", RETRY, RETRY, RETRY),
    ("read timeout", RETRY, RETRY, UNKNOWN),
    ("reset", RETRY, RETRY, UNKNOWN),
    ("untrusted certificate", GIVE_UP, GIVE_UP, GIVE_UP),
    ("proxy refused", GIVE_UP, GIVE_UP, GIVE_UP),
    ("invalid 2xx body", GIVE_UP, GIVE_UP, GIVE_UP),
]


@pytest.mark.parametrize(("name", "get", "delete", "post"), TABLE)
def test_default_chain_decides_the_documented_table(
    name: str, get: Decision, delete: Decision, post: Decision
) -> None:
    error = ERRORS[name]
    assert decide(request("GET"), error, FIRST) is get
    assert decide(request("DELETE"), error, FIRST) is delete
    assert decide(request("POST"), error, FIRST) is post


def test_a_404_after_a_maybe_applied_delete_is_done_and_only_then() -> None:
    assert decide(request("DELETE"), ERRORS["404"], AFTER_MAYBE_APPLIED) is DONE
    assert decide(request("GET"), ERRORS["404"], AFTER_MAYBE_APPLIED) is GIVE_UP
    assert decide(request("POST"), ERRORS["404"], AFTER_MAYBE_APPLIED) is GIVE_UP


def test_first_rule_with_an_opinion_wins() -> None:
    asked: list[str] = []

    def silent(req: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
        asked.append("silent")
        return None

    def retry(req: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
        asked.append("retry")
        return RETRY

    def never(req: Request, error: ProxyError, attempt: Attempt) -> Decision | None:
        raise AssertionError("asked after an opinion")

    rules: list[Rule] = [silent, retry, never]
    assert decide(request("GET"), ERRORS["400"], FIRST, rules) is RETRY
    assert asked == ["silent", "retry"]


def test_no_opinion_at_all_gives_up() -> None:
    assert decide(request("GET"), ERRORS["503"], FIRST, ()) is GIVE_UP


def test_default_rules_order_puts_done_first() -> None:
    # A DELETE's 404 must be judged "done" before any rule calls a 404 final.
    assert DEFAULT_RULES[0] is done_when_already_gone
    assert DEFAULT_RULES.index(retry_never_sent) < DEFAULT_RULES.index(at_most_once)
