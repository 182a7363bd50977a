"""Tests of proxy_async.testing.FakeProxyServer, driven over real HTTP with plain aiohttp."""

from __future__ import annotations

import asyncio
import base64
import calendar
import math
import re
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from proxy_async.cli import main as command_line
from proxy_async.testing import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FakeProxyServer,
    Fault,
    FaultKind,
    serve,
)


def main(args: list[str]) -> int:
    """``proxy-async fake-server *args`` in this process."""
    return command_line(["fake-server", *args])


SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
RESOURCE_STATUSES = {
    "accepted",
    "answered",
    "busy",
    "canceled",
    "completed",
    "deleted",
    "delivered",
    "delivery-unknown",
    "failed",
    "in-progress",
    "initiated",
    "no-answer",
    "queued",
    "received",
    "receiving",
    "ringing",
    "scheduled",
    "sending",
    "sent",
    "undelivered",
    "unknown",
}
INTERACTION_KEYS = {
    "sid",
    "session_sid",
    "service_sid",
    "account_sid",
    "data",
    "type",
    "inbound_participant_sid",
    "inbound_resource_sid",
    "inbound_resource_status",
    "inbound_resource_type",
    "inbound_resource_url",
    "outbound_participant_sid",
    "outbound_resource_sid",
    "outbound_resource_status",
    "outbound_resource_type",
    "outbound_resource_url",
    "date_created",
    "date_updated",
    "url",
}
MESSAGE_INTERACTION_KEYS = INTERACTION_KEYS | {"participant_sid"}
SESSION_KEYS = {
    "sid",
    "service_sid",
    "account_sid",
    "date_started",
    "date_ended",
    "date_last_interaction",
    "date_expiry",
    "unique_name",
    "status",
    "closed_reason",
    "ttl",
    "mode",
    "date_created",
    "date_updated",
    "url",
    "links",
}
PARTICIPANT_KEYS = {
    "sid",
    "session_sid",
    "service_sid",
    "account_sid",
    "friendly_name",
    "identifier",
    "proxy_identifier",
    "proxy_identifier_sid",
    "date_deleted",
    "date_created",
    "date_updated",
    "url",
    "links",
}
META_KEYS = {
    "key",
    "url",
    "page",
    "page_size",
    "first_page_url",
    "previous_page_url",
    "next_page_url",
}
ERROR_KEYS = {"code", "message", "more_info", "status"}


def basic(user: str, password: str) -> str:
    """An Authorization header value for HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = {"Authorization": basic(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN)}


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer() as srv:
        yield srv


@pytest.fixture
async def http(server: FakeProxyServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


def fresh_connections() -> aiohttp.ClientSession:
    """A client that never reuses connections (aiohttp silently retries idempotent
    requests that fail on a reused connection, which would hide a dropped one)."""
    return aiohttp.ClientSession(headers=AUTH, connector=aiohttp.TCPConnector(force_close=True))


def session_path(srv: FakeProxyServer, session: int = 0) -> tuple[str, str, str]:
    service = srv.service_sids[0]
    sid = srv.session_sids(service)[session]
    return service, sid, f"{srv.url}/v1/Services/{service}/Sessions/{sid}"


async def get(
    http: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with http.get(url, params=params) as resp:
        return resp.status, orjson.loads(await resp.read())


def assert_error(body: Any, status: int, code: int) -> None:
    assert set(body) == ERROR_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert isinstance(body["message"], str)
    assert body["message"]


async def walk(
    http: aiohttp.ClientSession, first_url: str, key: str = "interactions"
) -> list[dict[str, Any]]:
    """Follow next_page_url from ``first_url``, checking each page's meta block."""
    items: list[dict[str, Any]] = []
    url: str | None = first_url
    page = 0
    while url is not None:
        status, body = await get(http, url)
        assert status == 200, body
        meta = body["meta"]
        assert set(meta) == META_KEYS
        assert meta["key"] == key
        assert meta["page"] == page
        if page:
            assert meta["url"] == url
        else:
            assert meta["url"] == meta["first_page_url"]
        assert meta["first_page_url"].endswith(f"?PageSize={meta['page_size']}&Page=0")
        assert (meta["previous_page_url"] is None) == (page == 0)
        items.extend(body[key])
        if meta["next_page_url"] is not None:
            assert len(body[key]) == meta["page_size"]
        url = meta["next_page_url"]
        page += 1
        assert page < 2_000, "runaway pagination"
    return items


# -- pagination -----------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 7, 50, 119, 120, 1000])
async def test_walk_yields_every_interaction_once_in_order(
    server: FakeProxyServer, http: aiohttp.ClientSession, page_size: int
) -> None:
    service, session, url = session_path(server)
    items = await walk(http, f"{url}/Interactions?PageSize={page_size}&Page=0")
    sids = [item["sid"] for item in items]
    assert sids == server.interaction_sids(service, session)
    assert len(sids) == len(set(sids)) == 120
    pages = [r for r in server.requests if r.path.endswith("/Interactions")]
    assert len(pages) == math.ceil(120 / page_size)


async def test_default_page_size_and_first_page_meta(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server)
    status, body = await get(http, f"{url}/Interactions")
    assert status == 200
    assert list(body) == ["interactions", "meta"]
    meta = body["meta"]
    assert len(body["interactions"]) == 50
    assert meta["page_size"] == 50
    assert meta["url"] == f"{url}/Interactions?PageSize=50&Page=0"
    assert meta["first_page_url"] == meta["url"]
    assert meta["previous_page_url"] is None
    assert meta["next_page_url"].startswith(f"{url}/Interactions?PageSize=50&Page=1&PageToken=PT")


async def test_page_index_without_token_matches_the_walk(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    sids = server.interaction_sids(service, session)
    for page in range(4):
        status, body = await get(http, f"{url}/Interactions", {"PageSize": "40", "Page": str(page)})
        assert status == 200
        assert [i["sid"] for i in body["interactions"]] == sids[page * 40 : page * 40 + 40]
        assert body["meta"]["page"] == page
        assert (body["meta"]["next_page_url"] is None) == (page >= 2)


async def test_previous_page_url_walks_back(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    status, body = await get(http, f"{url}/Interactions", {"PageSize": "30", "Page": "3"})
    assert status == 200
    backwards: list[str] = []
    while True:
        backwards[:0] = [i["sid"] for i in body["interactions"]]
        previous = body["meta"]["previous_page_url"]
        if previous is None:
            break
        status, body = await get(http, previous)
    assert backwards == server.interaction_sids(service, session)


async def test_page_size_1000_is_the_maximum() -> None:
    async with (
        FakeProxyServer(interactions_per_session=1_500) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        _, _, url = session_path(srv)
        status, body = await get(http, f"{url}/Interactions", {"PageSize": "1000"})
        assert status == 200
        assert len(body["interactions"]) == 1000
        status, body = await get(http, body["meta"]["next_page_url"])
        assert len(body["interactions"]) == 500
        assert body["meta"]["next_page_url"] is None
        status, body = await get(http, f"{url}/Interactions", {"PageSize": "1001"})
        assert status == 400
        assert_error(body, 400, 20001)


@pytest.mark.parametrize(
    "params",
    [
        {"PageSize": "0"},
        {"PageSize": "1001"},
        {"PageSize": "abc"},
        {"PageSize": "-5"},
        {"PageSize": "2.5"},
        {"PageSize": ""},
        {"Page": "-1"},
        {"Page": "x"},
        {"PageToken": "garbage"},
        {"PageToken": "PT"},
        {"PageToken": "PT000000000000ff"},
    ],
)
async def test_bad_paging_parameters_are_400(
    server: FakeProxyServer, http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    _, _, url = session_path(server)
    status, body = await get(http, f"{url}/Interactions", params)
    assert status == 400
    assert_error(body, 400, 20001)


async def test_page_token_is_bound_to_its_list(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server, 0)
    _, _, other = session_path(server, 1)
    _, body = await get(http, f"{url}/Interactions", {"PageSize": "10"})
    token = body["meta"]["next_page_url"].rpartition("PageToken=")[2]
    status, body = await get(http, f"{other}/Interactions", {"PageToken": token})
    assert status == 400
    assert_error(body, 400, 20001)


async def test_deletes_during_a_token_walk_neither_skip_nor_repeat(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    original = server.interaction_sids(service, session)
    status, body = await get(http, f"{url}/Interactions", {"PageSize": "10"})
    assert status == 200
    seen = [i["sid"] for i in body["interactions"]]
    doomed = original[2:7] + original[40:43]
    for sid in doomed:
        async with http.delete(f"{url}/Interactions/{sid}") as resp:
            assert resp.status == 204
    rest = await walk_from(http, body["meta"]["next_page_url"])
    assert seen + rest == original[:10] + [s for s in original[10:] if s not in doomed]


async def walk_from(
    http: aiohttp.ClientSession, url: str | None, key: str = "interactions"
) -> list[str]:
    sids: list[str] = []
    while url is not None:
        status, body = await get(http, url)
        assert status == 200
        sids.extend(i["sid"] for i in body[key])
        url = body["meta"]["next_page_url"]
    return sids


async def test_sessions_and_participants(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server, 1)
    sessions = await walk(
        http, f"{server.url}/v1/Services/{service}/Sessions?PageSize=2", key="sessions"
    )
    assert [s["sid"] for s in sessions] == server.session_sids(service)
    assert all(set(s) == SESSION_KEYS for s in sessions)
    status, fetched = await get(http, url)
    assert status == 200
    assert fetched == sessions[1]
    assert fetched["url"] == url
    assert fetched["links"]["interactions"] == f"{url}/Interactions"
    participants = await walk(http, f"{url}/Participants", key="participants")
    assert [p["sid"] for p in participants] == server.participant_sids(service, session)
    assert all(set(p) == PARTICIPANT_KEYS for p in participants)
    status, one = await get(http, participants[1]["url"])
    assert status == 200
    assert one == participants[1]


# -- records --------------------------------------------------------------------------


async def test_generated_interactions_look_real(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    items = await walk(http, f"{url}/Interactions?PageSize=120")
    participants = set(server.participant_sids(service, session))
    types = [item["type"] for item in items]
    assert 90 < types.count("message") < 120
    assert types.count("voice") > 5
    previous_created = ""
    for item in items:
        assert set(item) == INTERACTION_KEYS
        assert item["account_sid"] == FAKE_ACCOUNT_SID
        assert (item["service_sid"], item["session_sid"]) == (service, session)
        assert SID.fullmatch(item["sid"])
        assert item["sid"].startswith("KI")
        assert {item["inbound_participant_sid"], item["outbound_participant_sid"]} <= participants
        prefix, resource_type, field = (
            ("SM", "Message", "body") if item["type"] == "message" else ("CA", "Call", "duration")
        )
        for side in ("inbound", "outbound"):
            assert item[f"{side}_resource_sid"].startswith(prefix)
            assert SID.fullmatch(item[f"{side}_resource_sid"])
            assert item[f"{side}_resource_type"] == resource_type
            assert item[f"{side}_resource_status"] in RESOURCE_STATUSES
            assert item[f"{side}_resource_url"].endswith(item[f"{side}_resource_sid"] + ".json")
        assert isinstance(orjson.loads(item["data"])[field], str)
        assert ISO.fullmatch(item["date_created"])
        assert ISO.fullmatch(item["date_updated"])
        assert item["date_created"] > previous_created
        assert item["date_updated"] >= item["date_created"]
        previous_created = item["date_created"]
        assert item["url"] == f"{url}/Interactions/{item['sid']}"
    assert items[0]["date_created"] == "2024-01-01T00:00:00Z"
    for item in items[::17]:
        status, fetched = await get(http, item["url"])
        assert status == 200
        assert fetched == item == server.interaction_json(service, session, item["sid"])


async def test_data_is_deterministic_per_seed() -> None:
    first, second, other = FakeProxyServer(), FakeProxyServer(), FakeProxyServer(seed=7)
    service = first.service_sids[0]
    session = first.session_sids(service)[0]
    assert second.service_sids == first.service_sids
    assert second.interaction_sids(service, session) == first.interaction_sids(service, session)
    assert other.service_sids != first.service_sids
    with pytest.raises(KeyError):
        other.session_sids(service)


async def test_message_interactions_list_and_fetch(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    first, second = server.participant_sids(service, session)
    items = await walk(http, f"{url}/Participants/{first}/MessageInteractions?PageSize=9")
    assert items == server.message_interactions(service, session, first)
    assert 40 < len(items) < 60
    for item in items:
        assert set(item) == MESSAGE_INTERACTION_KEYS
        assert item["type"] == "message"
        assert item["participant_sid"] == item["outbound_participant_sid"] == first
    status, fetched = await get(http, items[3]["url"])
    assert status == 200
    assert fetched == items[3]
    other_url = f"{url}/Participants/{second}/MessageInteractions/{items[3]['sid']}"
    status, body = await get(http, other_url)
    assert status == 404
    assert_error(body, 404, 20404)
    voice = next(
        sid
        for sid in server.interaction_sids(service, session)
        if server.interaction_json(service, session, sid)["type"] == "voice"
    )
    status, body = await get(http, f"{url}/Participants/{first}/MessageInteractions/{voice}")
    assert status == 404


# -- create and delete ----------------------------------------------------------------


async def test_create_then_list_shows_it(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[1]
    target = f"{url}/Participants/{participant}/MessageInteractions"
    form = [("Body", "hello there"), ("MediaUrl", "https://a.example/1"), ("MediaUrl", "https://b")]
    async with http.post(target, data=form) as resp:
        assert resp.status == 201
        created = orjson.loads(await resp.read())
    assert set(created) == MESSAGE_INTERACTION_KEYS
    assert created["participant_sid"] == created["outbound_participant_sid"] == participant
    assert created["type"] == "message"
    assert orjson.loads(created["data"]) == {
        "body": "hello there",
        "media_urls": ["https://a.example/1", "https://b"],
    }
    assert created["inbound_participant_sid"] is None
    assert created["outbound_resource_sid"].startswith("SM")
    assert created["url"] == f"{target}/{created['sid']}"
    assert server.requests[-1].form == form

    sids = server.interaction_sids(service, session)
    assert sids[-1] == created["sid"]
    assert len(sids) == 121
    listed = await walk(http, f"{url}/Interactions?PageSize=50")
    assert [i["sid"] for i in listed] == sids
    assert listed[-1]["date_created"] > listed[-2]["date_created"]
    status, fetched = await get(http, created["url"])
    assert (status, fetched) == (200, created)
    status, plain = await get(http, f"{url}/Interactions/{created['sid']}")
    assert status == 200
    assert plain == server.interaction_json(service, session, created["sid"])
    assert "participant_sid" not in plain
    assert server.message_interactions(service, session, participant)[-1] == created
    assert server.created_message_interactions(service, session) == [created]
    assert server.created_message_interactions(service, session, participant) == [created]


@pytest.mark.parametrize("form", [[], [("Body", "")], [("Other", "x")]])
async def test_create_needs_body_or_media(
    server: FakeProxyServer, http: aiohttp.ClientSession, form: list[tuple[str, str]]
) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[0]
    async with http.post(f"{url}/Participants/{participant}/MessageInteractions", data=form) as r:
        assert r.status == 400
        body = orjson.loads(await r.read())
    assert body["status"] == 400
    assert set(body) == ERROR_KEYS
    assert server.created_message_interactions(service, session) == []


async def test_create_with_media_only_and_configured_status() -> None:
    async with (
        FakeProxyServer(create_status=200) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        service, session, url = session_path(srv)
        participant = srv.participant_sids(service, session)[0]
        target = f"{url}/Participants/{participant}/MessageInteractions"
        async with http.post(target, data={"MediaUrl": "https://m.example/x.png"}) as resp:
            assert resp.status == 200
            created = orjson.loads(await resp.read())
        assert orjson.loads(created["data"]) == {"media_urls": ["https://m.example/x.png"]}


async def test_delete_then_fetch_is_404(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[0]
    victim = server.message_interactions(service, session, participant)[0]["sid"]
    async with http.delete(f"{url}/Interactions/{victim}") as resp:
        assert resp.status == 204
        assert await resp.read() == b""
    status, body = await get(http, f"{url}/Interactions/{victim}")
    assert status == 404
    assert_error(body, 404, 20404)
    async with http.delete(f"{url}/Interactions/{victim}") as resp:
        assert resp.status == 404
    assert victim not in server.interaction_sids(service, session)
    assert len(server.interaction_sids(service, session)) == 119
    listed = await walk(http, f"{url}/Participants/{participant}/MessageInteractions")
    assert victim not in [i["sid"] for i in listed]
    assert listed == server.message_interactions(service, session, participant)
    with pytest.raises(KeyError):
        server.interaction_json(service, session, victim)


async def test_deleting_a_created_interaction(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[0]
    target = f"{url}/Participants/{participant}/MessageInteractions"
    async with http.post(target, data={"Body": "bye"}) as resp:
        sid = orjson.loads(await resp.read())["sid"]
    async with http.delete(f"{url}/Interactions/{sid}") as resp:
        assert resp.status == 204
    assert server.created_message_interactions(service, session) == []
    status, _ = await get(http, f"{target}/{sid}")
    assert status == 404


# -- sessions that are gone -----------------------------------------------------------


def session_urls(srv: FakeProxyServer, service: str, session: str) -> list[str]:
    """Every path under a session (fetch, lists and single records), while it is live."""
    participant = srv.participant_sids(service, session)[0]
    interaction = srv.interaction_sids(service, session)[0]
    url = f"{srv.url}/v1/Services/{service}/Sessions/{session}"
    return [
        url,
        f"{url}/Participants",
        f"{url}/Participants/{participant}",
        f"{url}/Participants/{participant}/MessageInteractions",
        f"{url}/Interactions",
        f"{url}/Interactions/{interaction}",
    ]


async def assert_all_404(http: aiohttp.ClientSession, urls: list[str]) -> None:
    for target in urls:
        status, body = await get(http, target)
        assert status == 404, target
        assert_error(body, 404, 20404)
        assert target.split("127.0.0.1", 1)[1].split("/", 1)[1] in body["message"]


async def test_delete_session_leaves_the_list_and_answers_404() -> None:
    async with (
        FakeProxyServer(sessions_per_service=5, interactions_per_session=3) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        service = srv.service_sids[0]
        before = srv.session_sids(service)
        sessions_url = f"{srv.url}/v1/Services/{service}/Sessions"
        victim = before[2]
        gone = session_urls(srv, service, victim)
        for target in gone:
            assert (await get(http, target))[0] == 200, target
        srv.delete_session(service, victim)
        assert srv.session_sids(service) == before[:2] + before[3:]
        listed = await walk(http, f"{sessions_url}?PageSize=2", key="sessions")
        assert [s["sid"] for s in listed] == before[:2] + before[3:]
        status, page = await get(http, sessions_url, {"PageSize": "2", "Page": "1"})
        assert status == 200
        assert [s["sid"] for s in page["sessions"]] == before[3:5]
        await assert_all_404(http, gone)
        for other in before[:2] + before[3:]:
            assert (await get(http, f"{sessions_url}/{other}/Interactions"))[0] == 200
        with pytest.raises(KeyError):
            srv.delete_session(service, victim)
        with pytest.raises(KeyError):
            srv.interaction_sids(service, victim)


async def test_session_token_walk_across_deletes_neither_skips_nor_repeats() -> None:
    async with (
        FakeProxyServer(sessions_per_service=10, interactions_per_session=1) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        service = srv.service_sids[0]
        before = srv.session_sids(service)
        status, body = await get(
            http, f"{srv.url}/v1/Services/{service}/Sessions", {"PageSize": "3"}
        )
        assert status == 200
        seen = [s["sid"] for s in body["sessions"]]
        assert seen == before[:3]
        srv.delete_session(service, before[1])  # already seen
        srv.delete_session(service, before[3])  # first of the next page
        status, body = await get(http, body["meta"]["next_page_url"])
        assert status == 200
        seen += [s["sid"] for s in body["sessions"]]
        srv.delete_session(service, before[8])  # ahead of the walk
        seen += await walk_from(http, body["meta"]["next_page_url"], key="sessions")
        assert seen == [sid for sid in before if sid not in (before[3], before[8])]
        assert srv.session_sids(service) == [
            sid for i, sid in enumerate(before) if i not in (1, 3, 8)
        ]


async def test_vanishing_sessions_are_listed_then_404() -> None:
    async with (
        FakeProxyServer(
            sessions_per_service=10, interactions_per_session=2, vanishing_sessions=3
        ) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        service = srv.service_sids[0]
        listed = srv.session_sids(service)
        vanishing = srv.vanishing_session_sids(service)
        assert vanishing == [listed[2], listed[5], listed[8]]
        walked = await walk(
            http, f"{srv.url}/v1/Services/{service}/Sessions?PageSize=4", key="sessions"
        )
        assert [s["sid"] for s in walked] == listed
        url = f"{srv.url}/v1/Services/{service}/Sessions"
        for sid in vanishing:
            await assert_all_404(
                http, [f"{url}/{sid}", f"{url}/{sid}/Interactions", f"{url}/{sid}/Participants"]
            )
        for sid in set(listed) - set(vanishing):
            assert (await get(http, f"{url}/{sid}/Interactions"))[0] == 200
        with pytest.raises(KeyError):
            srv.participant_sids(service, vanishing[0])
        srv.delete_session(service, vanishing[0])
        assert vanishing[0] not in srv.session_sids(service)
        assert srv.vanishing_session_sids(service) == vanishing[1:]


def test_vanishing_sessions_spread_and_validation() -> None:
    everything = FakeProxyServer(sessions_per_service=4, vanishing_sessions=4)
    service = everything.service_sids[0]
    assert everything.vanishing_session_sids(service) == everything.session_sids(service)
    uneven = FakeProxyServer(sessions_per_service=7, vanishing_sessions=2)
    listed = uneven.session_sids(service)
    assert uneven.vanishing_session_sids(service) == [listed[2], listed[5]]
    assert uneven.session_sids(service, limit=3) == listed[:3]
    assert FakeProxyServer().vanishing_session_sids(service) == []
    with pytest.raises(ValueError, match="vanishing_sessions"):
        FakeProxyServer(sessions_per_service=3, vanishing_sessions=4)
    with pytest.raises(ValueError, match="vanishing_sessions"):
        FakeProxyServer(vanishing_sessions=-1)


# -- auth, 404, 405 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        basic(FAKE_ACCOUNT_SID, "wrong"),
        basic("AC" + "1" * 32, FAKE_AUTH_TOKEN),
        basic(FAKE_ACCOUNT_SID, ""),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer " + FAKE_AUTH_TOKEN,
    ],
)
async def test_bad_credentials_are_401(server: FakeProxyServer, header: str | None) -> None:
    _, _, url = session_path(server)
    headers = {} if header is None else {"Authorization": header}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(f"{url}/Interactions") as resp,
    ):
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
        body = orjson.loads(await resp.read())
    assert_error(body, 401, 20003)
    assert body["message"] == "Authenticate"


async def test_api_key_credentials_are_accepted() -> None:
    key, secret = "SK" + "ab" * 16, "key-secret"
    async with FakeProxyServer(api_keys={key: secret}) as srv:
        _, _, url = session_path(srv)
        for header, expected in [(basic(key, secret), 200), (basic(key, "nope"), 401)]:
            async with (
                aiohttp.ClientSession(headers={"Authorization": header}) as http,
                http.get(url) as resp,
            ):
                assert resp.status == expected
        assert srv.auth_header == AUTH["Authorization"]


async def test_unknown_resources_are_404(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    other = FakeProxyServer(seed=99)
    other_service = other.service_sids[0]
    other_session = other.session_sids(other_service)[0]
    participant = server.participant_sids(service, session)[0]
    missing = [
        f"{server.url}/v1/Services/{other_service}/Sessions",
        f"{server.url}/v1/Services/{service}/Sessions/{other_session}",
        f"{server.url}/v1/Services/{service}/Sessions/{other_session}/Interactions",
        f"{url}/Interactions/KI{'0' * 32}",
        f"{url}/Interactions/KI{'A' * 32}",
        f"{url}/Interactions/not-a-sid",
        f"{url}/Participants/KP{'1' * 32}",
        f"{url}/Participants/KP{'1' * 32}/MessageInteractions",
        f"{url}/Participants/{participant}/MessageInteractions/KI{'2' * 32}",
        f"{url}/Interactions/",
        f"{url}/Bogus",
        f"{server.url}/v1/Services",
        f"{server.url}/v2/Services/{service}/Sessions",
        f"{server.url}/",
    ]
    for target in missing:
        status, body = await get(http, target)
        assert status == 404, target
        assert_error(body, 404, 20404)


async def test_wrong_method_is_405(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    service, session, url = session_path(server)
    sid = server.interaction_sids(service, session)[0]
    participant = server.participant_sids(service, session)[0]
    cases = [
        ("POST", f"{url}/Interactions"),
        ("PUT", f"{url}/Interactions/{sid}"),
        ("DELETE", f"{url}/Participants/{participant}/MessageInteractions/{sid}"),
        ("DELETE", url),
        ("PATCH", f"{url}/Participants/{participant}/MessageInteractions"),
    ]
    for method, target in cases:
        async with http.request(method, target) as resp:
            assert resp.status == 405, (method, target)
            assert "GET" in resp.headers["Allow"]
            assert_error(orjson.loads(await resp.read()), 405, 20004)


# -- faults ---------------------------------------------------------------------------


async def test_fault_status_with_retry_after(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server)
    http_date = formatdate(time.time() + 30, usegmt=True)
    server.add_fault(Fault.status(429, retry_after="2"))
    server.add_fault(Fault.status(503, retry_after=http_date))
    server.add_fault(Fault.status(500, code=12345, message="boom"))
    async with http.get(url) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"
        assert_error(orjson.loads(await resp.read()), 429, 20429)
    async with http.get(url) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == http_date
        assert_error(orjson.loads(await resp.read()), 503, 20503)
    status, body = await get(http, url)
    assert (status, body["code"], body["message"]) == (500, 12345, "boom")
    status, _ = await get(http, url)
    assert status == 200
    assert [r.fault for r in server.requests] == [FaultKind.STATUS] * 3 + [None]
    assert [r.status for r in server.requests] == [429, 503, 500, 200]


async def test_fault_html(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    _, _, url = session_path(server)
    server.add_fault(Fault.html())
    server.add_fault(Fault.html(503))
    for expected in (502, 503):
        async with http.get(url) as resp:
            assert resp.status == expected
            assert resp.content_type == "text/html"
            assert (await resp.text()).startswith("<html>")


async def test_fault_not_json(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    _, _, url = session_path(server)
    server.add_fault(Fault.not_json())
    async with http.get(url) as resp:
        assert resp.status == 200
        body = await resp.read()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)


async def test_fault_truncated_json(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    _, _, url = session_path(server)
    async with http.get(f"{url}/Interactions") as resp:
        whole = await resp.read()
    server.add_fault(Fault.truncated_json())
    async with http.get(f"{url}/Interactions") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        body = await resp.read()
        assert int(resp.headers["Content-Length"]) == len(body)
    assert body == whole[: len(whole) // 2]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)


async def test_fault_wrong_types(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    service, session, url = session_path(server)
    sid = server.interaction_sids(service, session)[4]
    server.add_fault(Fault.wrong_types(), times=2)
    status, page = await get(http, f"{url}/Interactions")
    assert status == 200
    assert page["interactions"][0]["date_created"] == 12
    assert isinstance(page["interactions"][1]["date_created"], str)
    status, one = await get(http, f"{url}/Interactions/{sid}")
    assert one["date_created"] == 12
    assert {k: v for k, v in one.items() if k != "date_created"} == {
        k: v
        for k, v in server.interaction_json(service, session, sid).items()
        if k != "date_created"
    }


async def test_fault_drop_meta_and_list_key(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server)
    server.add_fault(Fault.drop_meta())
    server.add_fault(Fault.drop_list_key())
    _, body = await get(http, f"{url}/Interactions")
    assert list(body) == ["interactions"]
    _, body = await get(http, f"{url}/Interactions")
    assert list(body) == ["meta"]
    _, body = await get(http, f"{url}/Participants")
    assert list(body) == ["participants", "meta"]


async def test_fault_foreign_and_loop_next_page(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server)
    evil = "https://evil.example/v1/steal?PageSize=50&Page=1"
    server.add_fault(Fault.foreign_next_page(evil), times=2)
    server.add_fault(Fault.loop_next_page())
    _, body = await get(http, f"{url}/Interactions")
    assert body["meta"]["next_page_url"] == evil
    assert len(body["interactions"]) == 50
    _, body = await get(http, f"{url}/Interactions", {"PageSize": "1000"})
    assert body["meta"]["next_page_url"] == evil
    _, body = await get(http, f"{url}/Interactions", {"PageSize": "20", "Page": "2"})
    assert body["meta"]["next_page_url"] == body["meta"]["url"]


async def test_fault_empty_pages_never_loop_and_lose_nothing(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    _, body = await get(http, f"{url}/Interactions", {"PageSize": "25"})
    collected = [i["sid"] for i in body["interactions"]]
    server.add_fault(Fault.empty_page(), times=3)
    next_url: str | None = body["meta"]["next_page_url"]
    seen_urls: set[str] = set()
    empty = 0
    while next_url is not None:
        assert next_url not in seen_urls
        seen_urls.add(next_url)
        _, body = await get(http, next_url)
        if not body["interactions"]:
            empty += 1
        collected.extend(i["sid"] for i in body["interactions"])
        next_url = body["meta"]["next_page_url"]
    assert empty == 3
    assert collected == server.interaction_sids(service, session)


async def test_fault_reset_mid_body(server: FakeProxyServer) -> None:
    _, _, url = session_path(server)
    server.add_fault(Fault.reset())
    async with fresh_connections() as http, http.get(f"{url}/Interactions") as resp:
        assert resp.status == 200
        declared = int(resp.headers["Content-Length"])
        assert declared > 1000
        with pytest.raises(aiohttp.ClientError):
            await resp.read()
    assert server.requests[-1].fault is FaultKind.RESET
    assert server.requests[-1].status == 200


async def test_fault_drop_connection(server: FakeProxyServer) -> None:
    _, _, url = session_path(server)
    # aiohttp retries an idempotent request once when the connection drops: arm two.
    server.add_fault(Fault.drop_connection(), times=2)
    async with fresh_connections() as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.get(url)
        server.clear_faults()
        status, _ = await get(http, url)
        assert status == 200
    dropped, answered = server.requests[:-1], server.requests[-1]
    assert 1 <= len(dropped) <= 2
    assert all(r.status is None and r.fault is FaultKind.DROP_CONNECTION for r in dropped)
    assert answered.status == 200


@pytest.mark.parametrize("size", [0, 10, 5_000_003])
async def test_fault_huge_body(
    server: FakeProxyServer, http: aiohttp.ClientSession, size: int
) -> None:
    _, _, url = session_path(server)
    server.add_fault(Fault.huge_body(size))
    async with http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in resp.headers
        received = 0
        async for chunk in resp.content.iter_chunked(1 << 16):
            received += len(chunk)
    assert received == size


async def test_fault_huge_body_is_valid_json_and_survives_client_abort(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server)
    server.add_fault(Fault.huge_body(100_000))
    server.add_fault(Fault.huge_body(50_000_000))
    _, body = await get(http, url)
    assert set(body) == {"padding"}
    async with http.get(url) as resp:
        await resp.content.readexactly(1000)
        resp.close()
    status, _ = await get(http, url)
    assert status == 200


async def test_fault_stall_and_delay_then_answer(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    _, _, url = session_path(server)
    for fault in (Fault.stall(0.2), Fault.delay(0.2)):
        server.add_fault(fault)
        started = time.monotonic()
        status, body = await get(http, url)
        assert time.monotonic() - started >= 0.19
        assert status == 200
        assert set(body) == SESSION_KEYS


async def test_stop_with_a_stalled_request_is_prompt_and_clean() -> None:
    srv = FakeProxyServer()
    await srv.start()
    _, _, url = session_path(srv)
    arrived = asyncio.Event()

    def note_arrival(request: web.Request) -> bool:
        arrived.set()
        return True

    srv.add_fault(Fault.stall(), when=note_arrival)
    async with aiohttp.ClientSession(headers=AUTH) as http:
        request = asyncio.ensure_future(get(http, url))
        await asyncio.wait_for(arrived.wait(), timeout=5)
        assert srv.in_flight == 1
        started = time.monotonic()
        await srv.stop()
        assert time.monotonic() - started < 1.0
        try:
            status, body = await request
        except aiohttp.ClientError:
            pass
        else:
            assert status == 503
            assert_error(body, 503, 20503)
    assert srv.in_flight == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    await srv.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(url):
            pass


async def test_after_processing_decides_whether_the_create_happens(
    server: FakeProxyServer,
) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[0]
    target = f"{url}/Participants/{participant}/MessageInteractions"

    def created() -> int:
        return len(server.created_message_interactions(service, session))

    async with fresh_connections() as http:
        server.add_fault(Fault.status(500), method="POST")
        async with http.post(target, data={"Body": "a"}) as resp:
            assert resp.status == 500
        assert created() == 0

        server.add_fault(Fault.status(500, after_processing=True), method="POST")
        async with http.post(target, data={"Body": "b"}) as resp:
            assert resp.status == 500
            assert_error(orjson.loads(await resp.read()), 500, 20500)
        assert created() == 1

        server.add_fault(Fault.drop_connection(), method="POST")
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.post(target, data={"Body": "c"})
        assert created() == 1

        server.add_fault(Fault.reset(after_processing=True), method="POST")
        with pytest.raises(aiohttp.ClientError):
            async with http.post(target, data={"Body": "d"}) as resp:
                await resp.read()
        assert created() == 2

        server.add_fault(Fault.reset(), method="POST")
        with pytest.raises(aiohttp.ClientError):
            async with http.post(target, data={"Body": "e"}) as resp:
                await resp.read()
        assert created() == 2

        server.add_fault(Fault.stall(0.05, after_processing=True), method="POST")
        async with http.post(target, data={"Body": "f"}) as resp:
            assert resp.status == 201
        assert created() == 3
    bodies = [
        orjson.loads(m["data"])["body"]
        for m in server.created_message_interactions(service, session)
    ]
    assert bodies == ["b", "d", "f"]


async def test_after_processing_on_delete(
    server: FakeProxyServer, http: aiohttp.ClientSession
) -> None:
    service, session, url = session_path(server)
    first, second = server.interaction_sids(service, session)[:2]
    server.add_fault(Fault.status(503), method="DELETE")
    server.add_fault(Fault.status(503, after_processing=True), method="DELETE")
    for sid in (first, second):
        async with http.delete(f"{url}/Interactions/{sid}") as resp:
            assert resp.status == 503
    remaining = server.interaction_sids(service, session)
    assert first in remaining
    assert second not in remaining


async def test_fault_matching_rules(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[0]

    def page_two(request: web.Request) -> bool:
        return request.query.get("Page") == "2"

    server.add_fault(Fault.status(502), times=2, path_contains="/Participants")
    server.add_fault(Fault.status(504), method="delete")
    server.add_fault(Fault.status(429), when=page_two)
    assert (await get(http, url))[0] == 200
    assert (await get(http, f"{url}/Interactions", {"Page": "1"}))[0] == 200
    assert (await get(http, f"{url}/Interactions", {"Page": "2"}))[0] == 429
    assert (await get(http, f"{url}/Interactions", {"Page": "2"}))[0] == 200
    assert (await get(http, f"{url}/Participants"))[0] == 502
    assert (await get(http, f"{url}/Participants/{participant}"))[0] == 502
    assert (await get(http, f"{url}/Participants"))[0] == 200
    sid = server.interaction_sids(service, session)[0]
    async with http.delete(f"{url}/Interactions/{sid}") as resp:
        assert resp.status == 504
    assert [r.fault for r in server.requests].count(FaultKind.STATUS) == 4

    server.add_fault(Fault.status(500), times=None, path_contains="/Interactions")
    for _ in range(3):
        assert (await get(http, f"{url}/Interactions"))[0] == 500
    server.clear_faults()
    assert (await get(http, f"{url}/Interactions"))[0] == 200
    with pytest.raises(ValueError, match="times"):
        server.add_fault(Fault.not_json(), times=0)


def test_fault_constructors_validate_and_describe() -> None:
    with pytest.raises(ValueError, match="status"):
        Fault.status(200)
    with pytest.raises(ValueError, match="status"):
        Fault.html(600)
    with pytest.raises(ValueError, match="size_bytes"):
        Fault.huge_body(-1)
    with pytest.raises(ValueError, match="seconds"):
        Fault.delay(-0.5)
    assert Fault.status(429, retry_after="2").retry_after == "2"
    assert Fault.stall().seconds is None
    assert Fault.truncated_json().processes_first
    assert not Fault.status(500).processes_first
    assert Fault.status(500, after_processing=True).processes_first
    assert Fault.empty_page() == Fault.empty_page()


# -- limits, observation, scale -------------------------------------------------------


async def test_in_flight_cap_answers_429() -> None:
    async with (
        FakeProxyServer(max_in_flight=2, latency=0.3, concurrency_header=True) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        _, _, url = session_path(srv)

        async def one() -> tuple[int, Any, str]:
            async with http.get(url) as resp:
                header = resp.headers["Twilio-Concurrent-Requests"]
                return resp.status, orjson.loads(await resp.read()), header

        results = await asyncio.gather(*(one() for _ in range(5)))
        statuses = sorted(status for status, _, _ in results)
        assert statuses == [200, 200, 429, 429, 429]
        for status, body, header in results:
            assert int(header) >= 1
            if status == 429:
                assert_error(body, 429, 20429)
        assert srv.max_in_flight_seen == 5
        assert srv.in_flight == 0
        srv.reset_stats()
        assert srv.requests == []
        assert srv.max_in_flight_seen == 0
        assert (await one())[0] == 200


async def test_requests_per_second_cap() -> None:
    async with (
        FakeProxyServer(max_requests_per_second=3) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        _, _, url = session_path(srv)
        statuses = [(await get(http, url))[0] for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        await asyncio.sleep(1.05)
        assert (await get(http, url))[0] == 200


async def test_requests_are_recorded(server: FakeProxyServer, http: aiohttp.ClientSession) -> None:
    service, session, url = session_path(server)
    participant = server.participant_sids(service, session)[0]
    before = time.monotonic()
    await get(http, f"{url}/Interactions", {"PageSize": "5"})
    async with http.post(
        f"{url}/Participants/{participant}/MessageInteractions",
        data=[("Body", "x"), ("MediaUrl", "u1"), ("MediaUrl", "u2")],
        params=[("Tag", "a"), ("Tag", "b")],
    ) as resp:
        assert resp.status == 201
    first, second = server.requests
    assert before <= first.time <= second.time <= time.monotonic()
    assert (first.method, first.status) == ("GET", 200)
    assert first.path == f"/v1/Services/{service}/Sessions/{session}/Interactions"
    assert first.query == {"PageSize": ["5"]}
    assert first.headers["Authorization"] == AUTH["Authorization"]
    assert first.form == []
    assert (second.method, second.status) == ("POST", 201)
    assert second.query == {"Tag": ["a", "b"]}
    assert second.form == [("Body", "x"), ("MediaUrl", "u1"), ("MediaUrl", "u2")]
    assert first.fault is None


async def test_a_million_interactions_page_lazily() -> None:
    started = time.monotonic()
    async with (
        FakeProxyServer(interactions_per_session=1_000_000) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        assert time.monotonic() - started < 1.0
        service, session, url = session_path(srv)
        for size in ("50", "1000"):
            begun = time.monotonic()
            status, body = await get(http, f"{url}/Interactions", {"PageSize": size, "Page": "499"})
            assert time.monotonic() - begun < 1.0
            assert status == 200
            first = body["interactions"][0]
            index = 499 * int(size)
            expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_704_067_200 + index * 60))
            assert first["date_created"] == expected
            assert first == srv.interaction_json(service, session, first["sid"])
            assert body["meta"]["next_page_url"] is not None
        tracemalloc.start()
        try:
            status, body = await get(
                http, f"{url}/Interactions", {"PageSize": "50", "Page": "19999"}
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 5_000_000, "a page must not materialise the session"
        assert len(body["interactions"]) == 50
        assert body["meta"]["next_page_url"] is None
        last = body["interactions"][-1]
        assert calendar.timegm(time.strptime(last["date_created"], "%Y-%m-%dT%H:%M:%SZ")) == (
            1_704_067_200 + 999_999 * 60
        )
        status, fetched = await get(http, last["url"])
        assert (status, fetched) == (200, last)


async def test_a_million_sessions_list_first_and_last_pages() -> None:
    async with (
        FakeProxyServer(
            sessions_per_service=1_000_000, interactions_per_session=1, record_requests=False
        ) as srv,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        service = srv.service_sids[0]
        url = f"{srv.url}/v1/Services/{service}/Sessions"
        status, first = await get(http, url, {"PageSize": "1000"})
        assert status == 200
        assert [s["sid"] for s in first["sessions"][:3]] == srv.session_sids(service, limit=3)
        tracemalloc.start()
        try:
            status, last = await get(http, url, {"PageSize": "1000", "Page": "999"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert status == 200
        assert peak < 20_000_000, "a page must not materialise the service's sessions"
        sessions = last["sessions"]
        assert len(sessions) == 1000
        assert last["meta"]["next_page_url"] is None
        assert [s["unique_name"] for s in sessions] == [
            f"Order #{1001 + index}" for index in range(999_000, 1_000_000)
        ]
        assert len({s["sid"] for s in sessions + first["sessions"]}) == 2000
        status, fetched = await get(http, sessions[-1]["url"])
        assert (status, fetched) == (200, sessions[-1])
        status, previous = await get(http, last["meta"]["previous_page_url"])
        assert status == 200
        assert previous["sessions"][-1]["unique_name"] == "Order #1000000"


# -- lifecycle and entry points -------------------------------------------------------


async def test_lifecycle_guards() -> None:
    srv = FakeProxyServer()
    with pytest.raises(RuntimeError):
        _ = srv.url
    await srv.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", srv.url)
        assert srv.port > 0
        with pytest.raises(RuntimeError):
            await srv.start()
    finally:
        await srv.stop()
    await srv.stop()
    port = srv.port
    service, session, url = session_path(srv)
    participant = srv.participant_sids(service, session)[0]
    async with srv, aiohttp.ClientSession(headers=AUTH) as http:
        assert srv.port == port
        target = f"{url}/Participants/{participant}/MessageInteractions"
        async with http.post(target, data={"Body": "kept"}) as resp:
            assert resp.status == 201
        srv.auth_token = "rotated"
        assert (await get(http, url))[0] == 401
    assert len(srv.created_message_interactions(service, session)) == 1
    with pytest.raises(ValueError, match="default_page_size"):
        FakeProxyServer(default_page_size=0)
    with pytest.raises(ValueError, match="interactions_per_session"):
        FakeProxyServer(interactions_per_session=-1)


async def test_serve_runs_until_cancelled() -> None:
    ready: asyncio.Future[FakeProxyServer] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        serve(port=0, on_ready=ready.set_result, interactions_per_session=7)
    )
    srv = await ready
    _, _, url = session_path(srv)
    async with aiohttp.ClientSession(headers=AUTH) as http:
        status, body = await get(http, f"{url}/Interactions")
        assert (status, len(body["interactions"])) == (200, 7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(url):
            pass


async def test_module_entry_point_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_async.testing",
        "--port",
        "0",
        "--json",
        "--interactions",
        "12",
        "--sessions",
        "2",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=10)
        details = orjson.loads(line)
        assert details["account_sid"] == FAKE_ACCOUNT_SID
        assert details["auth_token"] == FAKE_AUTH_TOKEN
        assert details["sessions_per_service"] == 2
        assert len(details["session_sids_sample"]) == 2
        url = (
            f"{details['url']}/v1/Services/{details['service_sids'][0]}"
            f"/Sessions/{details['session_sids_sample'][1]}/Interactions"
        )
        async with aiohttp.ClientSession(headers=AUTH) as http:
            status, body = await get(http, url)
        assert (status, len(body["interactions"])) == (200, 12)
    finally:
        if process.returncode is None:
            process.terminate()
        code = await asyncio.wait_for(process.wait(), timeout=10)
    assert code == 0


BANNER_KEYS = {
    "url",
    "account_sid",
    "auth_token",
    "service_sids",
    "sessions_per_service",
    "interactions_per_session",
    "participants_per_session",
    "vanishing_sessions",
    "environment",
    "export_command",
    "session_sids_sample",
    "participant_sid_sample",
}


def run_fake_server(*args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """``python -m proxy_async.testing *args`` to completion (it must exit by itself)."""
    return subprocess.run(  # noqa: S603 (this interpreter and fixed arguments)
        [sys.executable, "-m", "proxy_async.testing", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_json_banner_gives_counts_and_a_few_sids_at_a_million_sessions() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_async.testing",
        *("--port", "0", "--json", "--sessions", "1000000", "--interactions", "1"),
        *("--services", "2", "--participants", "3", "--vanishing-sessions", "5"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=10)
    finally:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), timeout=10)
    assert code == 0
    assert len(line) < 1_000, "the banner must not grow with the sessions"
    details = orjson.loads(line)
    assert set(details) == BANNER_KEYS
    local = FakeProxyServer(services=2, sessions_per_service=1_000_000, participants_per_session=3)
    service = local.service_sids[0]
    first = local.session_sids(service, limit=3)
    assert details["service_sids"] == local.service_sids
    assert details["session_sids_sample"] == first
    assert details["participant_sid_sample"] == local.participant_sids(service, first[0])[0]
    assert (
        details["sessions_per_service"],
        details["interactions_per_session"],
        details["participants_per_session"],
        details["vanishing_sessions"],
    ) == (1_000_000, 1, 3, 5)


async def test_plain_banner_names_counts_not_sessions() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy_async.testing",
        *("--port", "0", "--sessions", "1000000", "--vanishing-sessions", "7"),
        stdout=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not lines or lines[-1] != "Press Ctrl+C to stop.":
            raw = await asyncio.wait_for(process.stdout.readline(), timeout=10)
            assert raw, "the server exited before its banner ended"
            lines.append(raw.decode().rstrip("\n"))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
    text = "\n".join(lines)
    assert len(lines) < 15
    assert "1,000,000 sessions" in text
    assert "7 sessions per service" in text
    assert FAKE_AUTH_TOKEN in text
    assert text.count("KC") == 1  # the sample session, once
    # A ready-to-paste export of the first service, with the variables that reach it.
    assert "export TWILIO_ACCOUNT_SID=" in text
    assert "PROXY_ASYNC_BASE_URL=http://127.0.0.1:" in text
    assert "proxy-async export --service KS" in text
    assert "participant : KP" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "-1"], "--port"),
        (["--port", "http"], "--port"),
        (["--sessions", "-1"], "--sessions"),
        (["--services", "-2"], "--services"),
        (["--participants", "-1"], "--participants"),
        (["--interactions", "-5"], "--interactions"),
        (["--latency", "-0.5"], "--latency"),
        (["--latency", "nan"], "--latency"),
        (["--page-size", "0"], "--page-size"),
        (["--page-size", "1001"], "--page-size"),
        (["--max-rps", "0"], "--max-rps"),
        (["--max-in-flight", "-1"], "--max-in-flight"),
        (["--vanishing-sessions", "-1"], "--vanishing-sessions"),
        (["--sessions", "2", "--vanishing-sessions", "3"], "--vanishing-sessions"),
        (["--no-such-option"], "--no-such-option"),
    ],
)
def test_cli_rejects_bad_numbers_in_one_line(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("proxy-async fake-server: error: ")
    assert needle in line


def test_cli_bad_numbers_exit_2_without_a_traceback_in_a_process() -> None:
    for args in (["--port", "99999"], ["--sessions", "-1"], ["--latency", "-1"]):
        result = run_fake_server(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith("proxy-async fake-server: error: Invalid value for '--")


def test_cli_port_in_use_is_one_line_naming_the_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_fake_server("--port", str(port))
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("proxy-async fake-server: error: ")
    assert f"port {port}" in line
    assert "in use" in line


def test_cli_help_shows_every_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [
        ("--port", "8080"),
        ("--sessions", "3"),
        ("--interactions", "120"),
        ("--participants", "2"),
        ("--vanishing-sessions", "0"),
        ("--latency", "0.0"),
        ("--page-size", "50"),
        ("--max-rps", "no cap"),
        ("--max-in-flight", "no cap"),
    ]:
        assert option in text
        assert re.search(rf"{option} \S+ .*?\[default: {re.escape(default)}\]", text), option
    assert "Exit codes" in text


# -- pre-rendered answers (client-bound benchmarks) ---------------------------------------

SAME_HOST = {"Host": "fake.example:8443"}
"""Sent to both servers so their absolute URLs (taken from Host) are the same."""


async def raw_body(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with http.get(url, headers=SAME_HOST) as resp:
        return resp.status, await resp.read()


def on_server(srv: FakeProxyServer, url: str) -> str:
    """``url`` (from a body, on SAME_HOST) pointed back at ``srv``."""
    return url.replace("http://fake.example:8443", srv.url)


async def test_prerendered_bodies_are_byte_identical_to_built_ones() -> None:
    async with (
        FakeProxyServer(interactions_per_session=25) as plain,
        FakeProxyServer(interactions_per_session=25, prerender=True) as cached,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        assert plain.prerendered is None
        assert cached.prerendered is not None
        path = session_path(plain)[2].removeprefix(plain.url) + "/Interactions?PageSize=10"
        first_plain = await raw_body(http, plain.url + path)
        first_cached = await raw_body(http, cached.url + path)
        first_again = await raw_body(http, cached.url + path)
        assert first_plain[0] == first_cached[0] == first_again[0] == 200
        assert first_plain[1] == first_cached[1] == first_again[1]
        next_url = orjson.loads(first_plain[1])["meta"]["next_page_url"]
        assert "PageToken=" in next_url
        second_plain = await raw_body(http, on_server(plain, next_url))
        second_cached = await raw_body(http, on_server(cached, next_url))
        second_again = await raw_body(http, on_server(cached, next_url))
        assert second_plain[1] == second_cached[1] == second_again[1]
        assert second_plain[1] != first_plain[1]
        assert (cached.prerendered.hits, cached.prerendered.misses) == (2, 2)
        assert len(cached.prerendered) == 2
        assert cached.prerendered.size == len(first_plain[1]) + len(second_plain[1])


async def test_prerendered_answers_still_check_credentials_and_carry_fresh_headers() -> None:
    async with FakeProxyServer(prerender=True) as srv, aiohttp.ClientSession() as http:
        url = session_path(srv)[2] + "/Interactions"
        ids = []
        for _ in range(2):
            async with http.get(url, headers=AUTH) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
                ids.append(resp.headers["Twilio-Request-Id"])
        assert ids[0] != ids[1]
        bad = {"Authorization": basic(FAKE_ACCOUNT_SID, "wrong")}
        async with http.get(url, headers=bad) as resp:
            assert resp.status == 401
            assert_error(orjson.loads(await resp.read()), 401, 20003)


async def test_prerender_caches_only_successes_and_faults_still_apply(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeProxyServer(prerender=True) as srv:
        cache = srv.prerendered
        assert cache is not None
        _, _, url = session_path(srv)
        status, body = await get(http, f"{url}/Interactions/KI{'0' * 32}")
        assert status == 404
        status, body = await get(http, f"{url}/Interactions", {"PageSize": "0"})
        assert status == 400
        assert len(cache) == 0
        status, body = await get(http, f"{url}/Interactions")
        assert status == 200
        srv.add_fault(Fault.empty_page())
        status, faulted = await get(http, f"{url}/Interactions")
        assert status == 200
        assert faulted["interactions"] == []
        status, again = await get(http, f"{url}/Interactions")
        assert again == body
        assert cache.hits == 1


async def test_prerendered_answers_follow_deletes_and_creates() -> None:
    seen: dict[str, list[bytes]] = {}
    async with aiohttp.ClientSession(headers=AUTH) as http:
        for name, prerender in (("cached", True), ("plain", False)):
            async with FakeProxyServer(prerender=prerender) as srv:
                service, sid, url = session_path(srv)
                participant = srv.participant_sids(service, sid)[0]
                listing = f"{url}/Interactions?PageSize=50"
                messages = f"{url}/Participants/{participant}/MessageInteractions"
                bodies = [(await raw_body(http, listing))[1], (await raw_body(http, messages))[1]]
                first = orjson.loads(bodies[0])["interactions"][0]["sid"]
                async with http.delete(f"{url}/Interactions/{first}") as resp:
                    assert resp.status == 204
                bodies.append((await raw_body(http, listing))[1])
                async with http.post(messages, data={"Body": "hello"}) as resp:
                    assert resp.status == 201
                bodies.append((await raw_body(http, messages))[1])
                srv.delete_session(service, sid)
                status, _ = await get(http, listing)
                assert status == 404
                seen[name] = bodies
    assert seen["cached"] == seen["plain"]
    cached = seen["cached"]
    assert cached[0] != cached[2], "the delete must show in the list"
    assert cached[1] != cached[3], "the create must show in the list"


def test_page_cache_stays_within_its_byte_bound() -> None:
    from proxy_async.testing._prerender import CacheKey, PageCache, Rendered

    cache = PageCache(max_bytes=25)

    def key(name: str) -> CacheKey:
        return CacheKey(f"/{name}", "", "http://h", 50)

    cache.put(key("a"), Rendered(b"a" * 10, ()))
    cache.put(key("b"), Rendered(b"b" * 10, ()))
    assert cache.get(key("a")) is not None  # now "b" is the least recently used
    cache.put(key("c"), Rendered(b"c" * 10, ()))
    assert cache.get(key("b")) is None
    assert cache.get(key("a")) is not None
    assert cache.get(key("c")) is not None
    assert cache.size == 20
    cache.put(key("huge"), Rendered(b"h" * 26, ()))
    assert cache.get(key("huge")) is None
    assert cache.size == 20
    cache.put(key("a"), Rendered(b"A" * 5, ()))
    assert cache.size == 15
    cache.clear()
    assert (len(cache), cache.size) == (0, 0)
    with pytest.raises(ValueError, match="max_bytes"):
        PageCache(max_bytes=-1)
