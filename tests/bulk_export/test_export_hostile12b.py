"""Hostile checks of issue 12's performance changes (second round): where they must
behave exactly as the code before them did."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from conftest import list_body
from test_export_hostile12 import _csv_writer_bytes, _export, _page, _r, _reference, _Server

from proxy_async import InvalidResponseError
from proxy_async.models import Interaction, ReceivedPage, receive_body
from proxy_async.pagination import SeenRecords, walk_pages

LIST = "/v1/Services/KS{0}/Sessions/KC{0}/Interactions".format("1" * 32)
NEXT = f"https://proxy.twilio.com{LIST}?PageSize=3&Page=1&PageToken=PA1"


def two_pages(second: list[dict[str, Any]]) -> Any:
    """A fetch of two pages: KI1 and KI2, then ``second`` (through the fast path if it can)."""
    bodies = {
        None: list_body([{"sid": "KI1"}, {"sid": "KI2"}], NEXT, NEXT.replace("1&", "0&")),
        NEXT: list_body(second, None, NEXT),
    }

    async def fetch(url: str | None) -> ReceivedPage[Interaction]:
        return receive_body(orjson.dumps(bodies[url]), Interaction, "interactions", LIST)

    return fetch


async def read_all(fetch: Any, **options: Any) -> None:
    async with contextlib.aclosing(walk_pages(fetch, **options)) as pages:
        async for page in pages:
            assert len(page.items) == len(page.raw_items)


async def walk_error(fetch: Any, **options: Any) -> InvalidResponseError:
    with pytest.raises(InvalidResponseError) as caught:
        await read_all(fetch, **options)
    return caught.value


@pytest.mark.parametrize(
    "second",
    [
        # The bad record is itself a repeat: left out, it must still fail the page.
        [{"sid": "KI2", "date_created": "not a time"}, {"sid": "KI3"}],
        # A repeat before the bad record: the error names its place on the page as sent.
        [{"sid": "KI1"}, {"sid": "KI3"}, {"sid": "KI4", "date_created": "not a time"}],
    ],
)
async def test_records_left_out_as_repeats_are_still_checked(second: list[dict[str, Any]]) -> None:
    """A walk given seen_records answers a bad page as a walk without it does: the same
    InvalidResponseError, naming the same record of the page the server sent (before
    issue 12, the exporter left repeats out of pages already built)."""
    expected = await walk_error(two_pages(second))
    got = await walk_error(two_pages(second), seen_records=SeenRecords())
    assert str(got) == str(expected)


class _ThrottledOnce(_Server):
    """The pages of ``_Server``; the first request for page 1 is answered 429."""

    throttled = False

    async def handle(self, request: web.Request) -> web.Response:
        if request.query.get("Page") == "1" and not self.throttled:
            self.throttled = True
            return web.json_response(
                {"code": 20429, "message": "Too many requests", "status": 429},
                status=429,
                headers={"Retry-After": "0"},
            )
        return await super().handle(request)


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_a_record_repeated_across_a_429_restart_is_written_once(
    tmp_path: Path, fmt: str
) -> None:
    """The walk taken up again after a 429 gets the first walk's SIDs: the repeat is left
    out, the new record on the same page is written."""
    pages = [_page([_r("KI1"), _r("KI2")]), _page([_r("KI2", data="again"), _r("KI3")])]
    server = _ThrottledOnce(pages)
    out = tmp_path / f"o.{fmt}"
    summary = await _export(pages, out, fmt, server)
    assert server.throttled
    assert summary.complete
    expected = _reference(pages)
    assert [record["sid"] for record in expected] == ["KI1", "KI2", "KI3"]
    if fmt == "csv":
        assert out.read_bytes() == _csv_writer_bytes(expected)
    else:
        assert [json.loads(line) for line in out.read_bytes().splitlines()] == expected
