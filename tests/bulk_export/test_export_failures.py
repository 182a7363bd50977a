"""What the export makes of a failed session, as pure decisions (no HTTP, no files)."""

from __future__ import annotations

import pytest

import proxy_async
from proxy_async.bulk_export import SessionFailed, SessionFailedEvent
from proxy_async.bulk_export.failures import (
    OUTAGE_5XX_SESSIONS,
    OUTAGE_SESSIONS,
    OutageWatch,
    ended_status,
)
from proxy_async.errors import (
    ApiUnavailableError,
    BadRequestError,
    ConnectError,
    NotFoundError,
    ProxyError,
    ServerError,
)

SAVED_PAGE = "https://proxy.twilio.com/v1/Services/KS/Sessions/KC/Interactions?Page=3"


def failed(
    error: ProxyError, *, pages: int = 0, start_url: str | None = None
) -> SessionFailedEvent:
    return SessionFailedEvent("KC" + "a" * 32, error, pages, start_url)


@pytest.mark.parametrize(
    ("event", "not_found", "expected"),
    [
        # 404 on the first page: gone before the walk began.
        (failed(NotFoundError(404)), 0, ("missing", 0)),
        # 404 on the saved page: once is "late", twice in a row is "deleted mid-walk".
        (failed(NotFoundError(404), start_url=SAVED_PAGE), 0, ("failed", 1)),
        (failed(NotFoundError(404), start_url=SAVED_PAGE), 1, ("missing", 2)),
        # 404 after pages arrived: failed, and its saved page counts one 404.
        (failed(NotFoundError(404), pages=2), 0, ("failed", 1)),
        (failed(NotFoundError(404), pages=2, start_url=SAVED_PAGE), 1, ("failed", 1)),
        # Anything else fails the session and leaves the count alone.
        (failed(ServerError(500), start_url=SAVED_PAGE), 1, ("failed", 1)),
        (failed(BadRequestError(400)), 0, ("failed", 0)),
    ],
)
def test_a_failed_walk_leaves_its_session_failed_or_missing(
    event: SessionFailedEvent, not_found: int, expected: tuple[str, int]
) -> None:
    assert ended_status(event, not_found) == expected


def unreachable(sid: str) -> SessionFailedEvent:
    return SessionFailedEvent(sid, ConnectError("cannot connect to h:1"))


def test_sessions_unreachable_in_a_row_are_an_outage() -> None:
    watch = OutageWatch()
    sids = [f"KC{index:032d}" for index in range(OUTAGE_SESSIONS)]
    for sid in sids[:-1]:
        watch.check(unreachable(sid))
    watch.check(unreachable(sids[0]))  # the same session again is not one more
    with pytest.raises(ApiUnavailableError) as caught:
        watch.check(unreachable(sids[-1]))
    assert isinstance(caught.value.cause, ConnectError)


def test_a_page_between_failures_starts_the_count_again() -> None:
    watch = OutageWatch()
    for index in range(OUTAGE_SESSIONS - 1):
        watch.check(unreachable(f"KC{index:032d}"))
    watch.page_arrived()
    for index in range(100, 100 + OUTAGE_SESSIONS - 1):
        watch.check(unreachable(f"KC{index:032d}"))  # no outage yet: counted from the page
    with pytest.raises(ApiUnavailableError) as caught:
        watch.check(unreachable("KC" + "e" * 32))
    assert len(caught.value.sessions) == OUTAGE_SESSIONS


def test_5xx_sessions_take_more_to_be_an_outage_and_a_400_never_counts() -> None:
    watch = OutageWatch()
    for index in range(OUTAGE_5XX_SESSIONS - 1):
        watch.check(SessionFailedEvent(f"KC{index:032d}", ServerError(503)))
        watch.check(SessionFailedEvent(f"KC{index + 100:032d}", BadRequestError(400)))
    with pytest.raises(ApiUnavailableError) as caught:
        watch.check(SessionFailedEvent("KC" + "f" * 32, ServerError(502)))
    assert len(caught.value.sessions) == OUTAGE_5XX_SESSIONS


def test_the_old_event_name_is_the_same_class() -> None:
    assert SessionFailed is SessionFailedEvent
    assert proxy_async.SessionFailed is proxy_async.SessionFailedEvent is SessionFailedEvent
    assert {"SessionFailed", "SessionFailedEvent", "SessionFailure"} <= set(proxy_async.__all__)
