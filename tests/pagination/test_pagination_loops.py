"""Pagination that does not advance (issue 11, section 6) is a PaginationLoopError.

What counts as a loop is defined in :mod:`proxy_async.pagination`: a next_page_url
already fetched, a non-empty page whose next_page_url repeats a PageToken already
requested, a non-empty page whose records all were on the last non-empty page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import assert_no_secret, list_body, set_fake_credentials

from proxy_async import (
    InvalidParameterError,
    InvalidResponseError,
    PaginationLoopError,
    ProxyClient,
    RetryPolicy,
)
from proxy_async.bulk_export.run import export
from proxy_async.bulk_export.streams import stream_interactions
from proxy_async.cli import main
from proxy_async.errors import SessionsFailedError
from proxy_async.models import Interaction, ReceivedPage, receive_page
from proxy_async.models.raw_records import DecodedRecords
from proxy_async.pagination import SeenRecords, page_token, walk_items, walk_pages
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault

PAGE_SIZE = 2
LIST = "/v1/Services/KS{0}/Sessions/KC{0}/Interactions".format("1" * 32)


# -- walk_pages on pages in memory ------------------------------------------------------------


def in_memory(pages: dict[str | None, tuple[list[str], str | None]]) -> Any:
    """A fetch over ``{url: (record sids, next_page_url)}`` (None: the first page)."""

    async def fetch(url: str | None) -> ReceivedPage[Interaction]:
        sids, next_url = pages[url]
        own = url or f"https://proxy.twilio.com{LIST}?PageSize=2&Page=0"
        body = list_body([{"sid": sid} for sid in sids], next_url, own)
        return receive_page(body, Interaction, "interactions", LIST)

    return fetch


def url(page: int, token: str | None = None) -> str:
    tail = "" if token is None else f"&PageToken={token}"
    return f"https://proxy.twilio.com{LIST}?PageSize=2&Page={page}{tail}"


async def walked(fetch: Any, **options: Any) -> tuple[list[str], BaseException | None]:
    sids: list[str] = []
    try:
        async with contextlib.aclosing(walk_items(fetch, **options)) as items:
            async for item in items:
                sids.append(item.sid)
    except PaginationLoopError as error:
        return sids, error
    return sids, None


@pytest.mark.parametrize("prefetch", [True, False])
async def test_a_page_token_that_does_not_advance_is_a_loop(prefetch: bool) -> None:
    fetch = in_memory(
        {
            None: (["KI1", "KI2"], url(1, "PAX")),
            url(1, "PAX"): (["KI3", "KI4"], url(2, "PAX")),  # Page counts up, token stays
            url(2, "PAX"): (["KI3", "KI4"], url(3, "PAX")),
        }
    )
    sids, error = await walked(fetch, prefetch=prefetch)
    assert sids == ["KI1", "KI2"]  # the page pointing back at itself is not yielded
    assert isinstance(error, PaginationLoopError)
    assert error.token == "PAX"
    assert error.path == LIST
    assert error.url == url(2, "PAX")
    assert "PageToken 'PAX'" in str(error)
    assert LIST in str(error)


async def test_a_walk_restarted_at_the_looping_page_yields_nothing_again() -> None:
    pages: dict[str | None, tuple[list[str], str | None]] = {
        url(1, "PAX"): (["KI3", "KI4"], url(2, "PAX"))
    }
    sids, error = await walked(in_memory(pages), start_url=url(1, "PAX"))
    assert sids == []
    assert isinstance(error, PaginationLoopError)


async def test_records_that_repeat_the_previous_page_are_a_loop_even_with_fresh_tokens() -> None:
    fetch = in_memory(
        {
            None: (["KI1", "KI2"], url(1, "PA1")),
            url(1, "PA1"): (["KI3", "KI4", "KI5", "KI6", "KI7", "KI8"], url(2, "PA2")),
            url(2, "PA2"): (["KI8", "KI7", "KI6", "KI5", "KI4", "KI3"], url(3, "PA3")),
            url(3, "PA3"): (["KI9"], None),
        }
    )
    sids, error = await walked(fetch)
    assert sids == ["KI1", "KI2", "KI3", "KI4", "KI5", "KI6", "KI7", "KI8"]
    assert isinstance(error, PaginationLoopError)
    assert error.sids == ("KI8", "KI7", "KI6", "KI5", "KI4", "KI3")
    assert "KI8, KI7, KI6, KI5, KI4 and 1 more" in str(error)
    assert error.url == url(2, "PA2")
    assert error.path == LIST


async def test_overlapping_pages_and_empty_pages_in_between_are_compared_right() -> None:
    fetch = in_memory(
        {
            None: (["KI1", "KI2"], url(1, "PA1")),
            url(1, "PA1"): (["KI2", "KI3"], url(2, "PA2")),  # overlaps: not every record
            url(2, "PA2"): ([], url(3, "PA2")),  # empty, back at its own token: allowed
            url(3, "PA2"): (["KI3", "KI2"], url(4, "PA4")),  # repeats the last non-empty
        }
    )
    sids, error = await walked(fetch)
    assert sids == ["KI1", "KI2", "KI2", "KI3"]
    assert isinstance(error, PaginationLoopError)
    assert error.sids == ("KI3", "KI2")


async def test_a_limit_reached_on_a_looping_page_still_stops_before_it() -> None:
    fetch = in_memory(
        {None: (["KI1", "KI2"], url(1, "PA1")), url(1, "PA1"): (["KI1", "KI2"], url(2, "PA1"))}
    )
    sids, error = await walked(fetch, limit=3)
    assert sids == ["KI1", "KI2"]
    assert isinstance(error, PaginationLoopError)
    sids, error = await walked(fetch, limit=2)  # nothing followed: nothing to detect
    assert sids == ["KI1", "KI2"]
    assert error is None


@pytest.mark.parametrize(
    ("page_url", "token"),
    [
        (url(3, "PAX"), "PAX"),
        (url(3), None),
        (url(3, "") + "&X=1", None),
        ("http://127.0.0.1:1:1/v1/x?PageToken=PA%2Fb#frag", "PA/b"),
        ("http://[bad/v1/x?PageToken=PAT", "PAT"),  # never raises on a malformed URL
    ],
)
def test_page_token_reads_the_query_of_any_url(page_url: str, token: str | None) -> None:
    assert page_token(page_url) == token


async def test_pages_of_records_without_sids_are_not_compared() -> None:
    async def fetch(url_: str | None) -> ReceivedPage[Interaction]:
        body = list_body([{"other": 1}], None if url_ else url(1, "PA1"), url_ or url(0))
        return receive_page(body, Interaction, "interactions", LIST)

    async def walk() -> None:
        async with contextlib.aclosing(walk_pages(fetch)) as pages:
            async for _ in pages:
                pass

    with pytest.raises(InvalidResponseError, match="sid"):  # building the record names it
        await walk()


# -- the fake server ---------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=3, interactions_per_session=52) as fake:
        yield fake


def client_for(server: FakeProxyServer, **options: Any) -> ProxyClient:
    options.setdefault("retry", RetryPolicy(retries=1, initial_backoff=0.01, max_backoff=0.02))
    return ProxyClient(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, requests_per_second=None, **options
    )


def looping_session(server: FakeProxyServer) -> tuple[str, str]:
    service = server.service_sids[0]
    return service, server.session_sids(service)[0]


def with_token(request: web.Request) -> bool:
    return "PageToken" in request.query


def without_token(request: web.Request) -> bool:
    return "PageToken" not in request.query


async def test_the_issues_server_is_stopped_after_its_first_repeat(
    server: FakeProxyServer,
) -> None:
    """Every page of the session repeats the same PageToken while Page counts up: the
    stream used to return 52 records, 2 distinct, and never stop on its own."""
    service, session = looping_session(server)
    server.add_fault(Fault.repeat_page_token(), times=None, path_contains=session)
    async with client_for(server) as client:
        interactions = client.services(service).sessions(session).interactions
        stream = interactions.stream(page_size=PAGE_SIZE)
        sids, error = await walked_stream(stream)
    assert sids == server.interaction_sids(service, session)[:PAGE_SIZE]
    assert isinstance(error, PaginationLoopError)
    assert error.token is not None
    assert f"PageToken {error.token!r}" in str(error)
    assert session in str(error)
    assert_no_secret(str(error), "PaginationLoopError")
    assert len(server.requests) == 2  # the first page and its repeat, nothing more


async def walked_stream(stream: Any) -> tuple[list[str], BaseException | None]:
    sids: list[str] = []
    try:
        async with contextlib.aclosing(stream):
            async for item in stream:
                sids.append(item.sid)
    except PaginationLoopError as error:
        return sids, error
    return sids, None


async def test_a_repeated_token_after_good_pages_keeps_the_good_pages(
    server: FakeProxyServer,
) -> None:
    service, session = looping_session(server)
    server.add_fault(Fault.repeat_page_token(), times=None, path_contains=session, when=with_token)
    async with client_for(server) as client:
        stream = client.services(service).sessions(session).interactions.stream(page_size=2)
        sids, error = await walked_stream(stream)
    assert sids == server.interaction_sids(service, session)[:2]
    assert isinstance(error, PaginationLoopError)
    assert error.sids == ()


async def test_loop_detection_survives_a_429_restart(server: FakeProxyServer) -> None:
    """The first page points at its own start under a new token; the request for it is
    throttled, so the exporter starts a new walk there, which by itself could not tell
    that its first page repeats the page before the 429."""
    service, session = looping_session(server)
    server.add_fault(Fault.repeat_page_token(), path_contains=session, when=without_token)
    server.add_fault(Fault.status(429, retry_after="0"), path_contains=session, when=with_token)
    async with client_for(server, retry=0) as client:
        stream = stream_interactions(client, service, [session], page_size=PAGE_SIZE)
        sids: list[str] = []

        async def consume() -> None:
            async with contextlib.aclosing(stream):
                async for tagged in stream:
                    sids.append(str(tagged.interaction.sid))

        with pytest.raises(SessionsFailedError) as caught:
            await consume()
    assert sids == server.interaction_sids(service, session)[:PAGE_SIZE]
    error = caught.value.failures[session]
    assert isinstance(error, PaginationLoopError)
    assert set(error.sids) == set(sids)
    # The restarted walk may have asked for its second page (prefetch) before the
    # comparison failed; it is cancelled, and nothing from it is yielded.
    statuses = [request.status for request in server.requests]
    assert statuses[:3] == [200, 429, 200]
    assert len(statuses) <= 4


async def test_an_export_fails_only_the_looping_session_and_writes_nothing_twice(
    server: FakeProxyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, session = looping_session(server)
    server.add_fault(Fault.repeat_page_token(), times=None, path_contains=session)
    out = tmp_path / "out.ndjson"
    async with client_for(server) as client:
        summary = await export(client, service, out, page_size=PAGE_SIZE)
    assert not summary.complete
    [failure] = summary.failures
    assert failure.session_sid == session
    assert failure.records == PAGE_SIZE
    assert failure.error.startswith("PaginationLoopError: pagination loop in ")
    first_page = server.interaction_sids(service, session)[:PAGE_SIZE]
    expected = sorted(
        [
            *first_page,
            *server.interaction_sids(service, server.session_sids(service)[1]),
            *server.interaction_sids(service, server.session_sids(service)[2]),
        ]
    )

    def written() -> list[str]:
        lines = out.with_name(out.name + ".part").read_bytes().splitlines()
        return sorted(json.loads(line)["sid"] for line in lines)

    assert written() == expected
    # The CLI: the server still loops, so the resume fails that session again (exit 1)
    # and writes none of its records twice.
    set_fake_credentials(monkeypatch)
    argv = ["export", "--service", service, "--out", str(out), "--base-url", server.url]
    argv += ["--page-size", str(PAGE_SIZE), "--resume", "--quiet"]
    assert await asyncio.to_thread(main, argv) == 1
    assert written() == expected


# -- cycles of any length, with fresh tokens (rule 3 over the whole walk) --------------------


def cycle(period: int, lead: int = 0, size: int = 2) -> Any:
    """A fetch whose page k has a fresh PageToken; after ``lead`` pages of distinct
    records, its records repeat every ``period`` pages."""

    def sids(k: int) -> list[str]:
        n = k if k < lead else lead + (k - lead) % period
        return [f"KI{n:030d}{i:02d}" for i in range(size)]

    async def fetch(url_: str | None) -> ReceivedPage[Interaction]:
        k = 0 if url_ is None else int(url_.rpartition("&Page=")[2].partition("&")[0])
        fetch.requests += 1  # type: ignore[attr-defined]
        body = list_body([{"sid": s} for s in sids(k)], url(k + 1, f"PT{k + 1}"), url_ or url(0))
        return receive_page(body, Interaction, "interactions", LIST)

    fetch.requests = 0  # type: ignore[attr-defined]
    return fetch, sids


@pytest.mark.parametrize("period", [2, 3, 40])
async def test_a_cycle_of_pages_with_fresh_tokens_is_a_loop(period: int) -> None:
    """The tester's server: a new PageToken each time, records cycling through
    ``period`` sets. It used to stream forever (14,000 records, 4 distinct, in 3 s)."""
    fetch, sids = cycle(period, lead=3)
    walked_sids, error = await walked(fetch)
    expected = [sid for k in range(3 + period) for sid in sids(k)]
    assert walked_sids == expected  # every record once, the repeating page not yielded
    assert isinstance(error, PaginationLoopError)
    assert error.sids == tuple(sids(3))
    assert error.url == url(3 + period, f"PT{3 + period}")
    assert "already on an earlier page of this walk" in str(error)
    assert fetch.requests <= 3 + period + 2  # the looping page and at most one prefetch


async def test_a_cycle_longer_than_the_memory_is_missed_and_a_shorter_one_caught() -> None:
    """Beyond ``max_seen_sids`` the oldest pages are forgotten: memory stays bounded, a
    cycle that fits in what is remembered is still caught after a long walk."""
    fetch, _ = cycle(period=30, lead=500)
    walked_sids, error = await walked(fetch, max_seen_sids=100)  # 50 pages remembered
    assert isinstance(error, PaginationLoopError)
    assert len(walked_sids) == 2 * 530 == len(set(walked_sids))
    fetch, _ = cycle(period=60, lead=0)  # 120 records a cycle: longer than remembered
    walked_sids, error = await walked(fetch, limit=1000, max_seen_sids=100)
    assert error is None
    assert len(walked_sids) == 1000


def test_seen_records_memory_is_bounded_and_whole_pages_are_forgotten() -> None:
    seen = SeenRecords(max_sids=10)
    for k in range(100):
        assert seen.admit([{"sid": f"KI{k}-{i}"} for i in range(4)], url(k)) == ()
    assert len(seen) == 8  # the two newest pages of four, kept whole
    assert seen.admit([{"sid": "KI0-0"}], url(100)) == ()  # forgotten long ago
    with pytest.raises(PaginationLoopError):
        seen.admit([{"sid": "KI99-3"}, {"sid": "KI98-0"}], url(101))
    assert len(seen) <= 9
    tiny = SeenRecords(max_sids=1)  # still compares with the page before
    tiny.admit([{"sid": "KIa"}, {"sid": "KIb"}], url(0))
    with pytest.raises(PaginationLoopError):
        tiny.admit([{"sid": "KIb"}, {"sid": "KIa"}], url(1))


def test_partial_repeats_are_reported_by_position_and_remembered_once() -> None:
    seen = SeenRecords()
    assert seen.admit([{"sid": "KI1"}, {"sid": "KI2"}], url(0)) == ()
    assert seen.admit([{"sid": "KI2"}, {"sid": "KI3"}, {"sid": "KI3"}], url(1)) == (0, 2)
    assert seen.admit([{"sid": "KI4"}, {"sid": "KI4"}], url(2)) == (1,)
    assert len(seen) == 4
    with pytest.raises(PaginationLoopError) as caught:
        seen.admit([{"sid": "KI4"}, {"sid": "KI1"}, {"sid": "KI1"}], url(3))
    assert caught.value.sids == ("KI4", "KI1", "KI1")
    assert seen.admit([{"other": 1}], url(4)) == ()  # no sid: not compared


async def test_a_long_walk_of_distinct_records_is_never_a_loop() -> None:
    """200 pages of 1,000 distinct SIDs: nothing fails a legitimate
    walk (and pages of one record, the weakest case, over a long walk too)."""
    fetch, _ = cycle(period=1, lead=10**9, size=1000)
    walked_sids, error = await walked(fetch, limit=200_000)
    assert error is None
    assert len(set(walked_sids)) == 200_000
    fetch, _ = cycle(period=1, lead=10**9, size=1)
    walked_sids, error = await walked(fetch, limit=3000, prefetch=False)
    assert error is None
    assert len(set(walked_sids)) == 3000


SERVICE = "KS" + "a" * 32
CYCLING, STEADY = "KC" + "b" * 32, "KC" + "c" * 32


@pytest.fixture
async def cycling_server() -> AsyncIterator[str]:
    """A service of two sessions: STEADY has one page of two records; CYCLING hands out
    a fresh PageToken every time while its records alternate between two pairs, and
    repeats one record of the first pair on its second page (a partial repeat)."""

    async def sessions(request: web.Request) -> web.Response:
        body = list_body([{"sid": CYCLING}, {"sid": STEADY}], None, str(request.url))
        body["sessions"] = body.pop("interactions")
        return web.json_response(body)

    async def interactions(request: web.Request) -> web.Response:
        session, k = request.match_info["session"], int(request.query.get("Page", "0"))
        if session == STEADY:
            records = [{"sid": f"KI{'d' * 31}{i}"} for i in range(2)]
            return web.json_response(list_body(records, None, str(request.url)))
        pairs = [["KI" + "1" * 32, "KI" + "2" * 32], ["KI" + "3" * 32, "KI" + "1" * 32]]
        base = str(request.url.with_query(None))
        next_url = f"{base}?PageSize=2&Page={k + 1}&PageToken=PT{k + 1}"
        records = [{"sid": sid} for sid in pairs[k % 2]]
        return web.json_response(list_body(records, next_url, str(request.url)))

    app = web.Application()
    app.router.add_get(f"/v1/Services/{SERVICE}/Sessions", sessions)
    app.router.add_get(f"/v1/Services/{SERVICE}/Sessions/{{session}}/Interactions", interactions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_the_testers_cycle_stops_the_stream_and_fails_only_its_session_in_an_export(
    cycling_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with ProxyClient(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=cycling_server, requests_per_second=None
    ) as client:
        stream = client.services(SERVICE).sessions(CYCLING).interactions.stream(page_size=2)
        sids, error = await asyncio.wait_for(walked_stream(stream), 5)
        assert sids == ["KI" + "1" * 32, "KI" + "2" * 32, "KI" + "3" * 32, "KI" + "1" * 32]
        assert isinstance(error, PaginationLoopError)
        out = tmp_path / "out.ndjson"
        summary = await asyncio.wait_for(export(client, SERVICE, out, page_size=2), 5)
    assert not summary.complete
    [failure] = summary.failures
    assert failure.session_sid == CYCLING
    assert failure.error.startswith("PaginationLoopError: pagination loop in ")
    lines = out.with_name(out.name + ".part").read_bytes().splitlines()
    written = sorted(json.loads(line)["sid"] for line in lines)
    assert written == sorted({*sids, "KI" + "d" * 31 + "0", "KI" + "d" * 31 + "1"})  # once each
    assert f"Sessions/{CYCLING}/Interactions: left out 1 record(s) already on an earlier page" in (
        caplog.text
    )


def test_the_walks_fingerprint_guard_names_the_real_sids() -> None:
    """A walk keeps 64-bit fingerprints, yet its error names the SIDs themselves."""
    seen = SeenRecords(fingerprints=True)
    first = DecodedRecords([{"sid": "KI" + "a" * 32}, {"sid": "KI" + "b" * 32}])
    assert seen.admit(first, "u0") == ()
    assert seen.admit(
        DecodedRecords([{"sid": "KI" + "c" * 32}, {"sid": "KI" + "a" * 32}]), "u1"
    ) == (1,)
    with pytest.raises(PaginationLoopError) as caught:
        seen.admit(DecodedRecords([{"sid": "KI" + "b" * 32}, {"sid": "KI" + "c" * 32}]), "u2")
    assert caught.value.sids == ("KI" + "b" * 32, "KI" + "c" * 32)
    assert len(seen) == 3


async def test_pages_given_seen_records_leave_out_what_an_earlier_walk_yielded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A walk resumed at a page that overlaps what an earlier walk yielded: given the
    earlier walk's SeenRecords, every record comes exactly once; a walk that could only
    repeat is a loop."""
    async with FakeProxyServer(sessions_per_service=1, interactions_per_session=20) as server:
        service_sid = server.service_sids[0]
        session_sid = server.session_sids(service_sid)[0]
        async with ProxyClient(
            server.account_sid, server.auth_token, base_url=server.url, requests_per_second=None
        ) as client:
            interactions = client.services(service_sid).sessions(session_sid).interactions
            everything = [record.sid async for record in interactions.stream(page_size=20)]
            seen = SeenRecords()
            first = interactions.pages(page_size=7, seen_records=seen)
            async with contextlib.aclosing(first):
                page = await anext(first)  # records 0 to 6; the prefetched page is not seen
            assert len(seen) == 7
            # Records 5 to 9: 5 and 6 were yielded already.
            overlapping = f"{server.url}{interactions.path}?PageSize=5&Page=1"
            rest = [
                record.sid
                async for later in interactions.pages(start_url=overlapping, seen_records=seen)
                for record in later.items
            ]
            assert [record.sid for record in page.items] + rest == everything
            assert "left out 2 record(s) already on an earlier page of this list" in caplog.text
            with pytest.raises(PaginationLoopError):
                async for _ in interactions.pages(page_size=7, seen_records=seen):
                    pass


async def test_seen_records_are_checked_where_they_enter() -> None:
    """Not a SeenRecords, one keeping fingerprints, or with a limit (a truncated page is
    remembered whole): refused before anything is sent."""
    async with ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN) as client:
        interactions = client.services(SERVICE).sessions(CYCLING).interactions
        with pytest.raises(InvalidParameterError, match="seen_records"):
            interactions.pages(seen_records=set())  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="seen_records"):
            interactions.pages(limit=3, seen_records=SeenRecords())
        # Records are left out on a match: a fingerprint collision must never drop one.
        with pytest.raises(InvalidParameterError, match="exact SIDs"):
            interactions.pages(seen_records=SeenRecords(fingerprints=True))
