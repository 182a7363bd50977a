"""The fake server's admission pieces without HTTP: Basic credentials, the rate window, the log."""

from __future__ import annotations

import base64

from aiohttp.test_utils import make_mocked_request

from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, Fault, FaultKind
from proxy_async.testing._admission import RateWindow, authorized
from proxy_async.testing._recording import RequestLog

KEY_SID = "SK" + "1" * 32


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _accepts(header: str | None) -> bool:
    return authorized(header, FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, {KEY_SID: "key-secret"})


def test_account_and_api_key_credentials_are_accepted() -> None:
    assert _accepts(_basic(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN))
    assert _accepts(_basic(KEY_SID, "key-secret"))
    assert _accepts("basic " + _basic(KEY_SID, "key-secret").partition(" ")[2])


def test_anything_else_is_refused() -> None:
    assert not _accepts(None)
    assert not _accepts("")
    assert not _accepts(_basic(FAKE_ACCOUNT_SID, "wrong"))
    assert not _accepts(_basic(KEY_SID, FAKE_AUTH_TOKEN))  # a key's secret only
    assert not _accepts(_basic("SK" + "2" * 32, "key-secret"))
    assert not _accepts("Bearer " + FAKE_AUTH_TOKEN)
    assert not _accepts("Basic not-base64!")
    assert not _accepts("Basic " + base64.b64encode(b"no-separator").decode())
    assert not _accepts("Basic " + base64.b64encode(b"\xff\xfe:x").decode())


def test_rate_window_counts_the_last_second() -> None:
    window = RateWindow()
    assert [window.full(10.0 + i / 10, 3) for i in range(4)] == [False, False, False, True]
    # The refused request is not counted: at 11.0 the first one (10.0) has left.
    assert not window.full(11.0, 3)
    assert window.full(11.05, 3)
    assert not window.full(11.15, 3)


def test_request_log_drops_a_status_from_before_clear() -> None:
    log = RequestLog()
    request = make_mocked_request("POST", "/v1/x?a=1&a=2&b=3", headers={"X-Test": "1"})
    slot = log.record(request, 5.0, [("Body", "hi")], Fault.status(503))
    (entry,) = log.requests
    assert (entry.method, entry.path, entry.time) == ("POST", "/v1/x", 5.0)
    assert entry.query == {"a": ["1", "2"], "b": ["3"]}
    assert entry.headers["X-Test"] == "1"
    assert (entry.form, entry.fault, entry.status) == ([("Body", "hi")], FaultKind.STATUS, None)
    log.finish(slot, 503)
    assert log.requests[0].status == 503
    late = log.record(request, 6.0, [], None)
    same_list = log.requests
    log.clear()
    assert log.requests is same_list
    assert same_list == []
    log.record(request, 7.0, [], None)
    log.finish(late, 200)  # answered after clear(): its old index is someone else's
    assert log.requests[0].status is None
    log.finish(None, 200)  # not recorded (record_requests=False): nothing to do
