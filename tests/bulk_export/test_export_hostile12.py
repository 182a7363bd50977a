"""Hostile review of issue 12 (fast path, records as sent, column CSV, writev).

One fault it found (the exporter's repeat window shrank with the loop guard's to 100,000
SIDs, so a record repeated from further back was written twice) is fixed: the exporter
keeps its own 250,000 (``export.EXPORT_MAX_SEEN_SIDS``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy_async import ProxyClient
from proxy_async.bulk_export.formats import CSV_COLUMNS
from proxy_async.bulk_export.run import export
from proxy_async.bulk_export.walk import EXPORT_MAX_SEEN_SIDS
from proxy_async.errors import ForeignPageUrlError
from proxy_async.models.json_codec import decode_json
from proxy_async.models.pages import receive_body
from proxy_async.models.raw_records import DecodedRecords, MirroredRecords
from proxy_async.models.records import Interaction
from proxy_async.pagination import SeenRecords
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer

SERVICE = "KS" + "b" * 32
SESSION = "KC" + "c" * 32
Body = Callable[[dict[str, Any]], bytes]


def _page(records: list[bytes], *, pretty: bool = False, sep: bytes = b",") -> Body:
    def make(meta: dict[str, Any]) -> bytes:
        meta_bytes = json.dumps(meta, indent=2 if pretty else None).encode()
        return b'{"interactions":[' + sep.join(records) + b'],"meta":' + meta_bytes + b"}"

    return make


class _Server:
    def __init__(self, pages: list[Body]) -> None:
        self.pages, self.url = pages, ""

    def meta(self, path: str, index: int) -> dict[str, Any]:
        url = f"{self.url}{path}?PageSize=50&Page={index}&PageToken=PT{index}"
        more = index + 1 < len(self.pages)
        following = f"{self.url}{path}?PageSize=50&Page={index + 1}&PageToken=PT{index + 1}"
        return {
            "key": "interactions", "page": index, "page_size": 50, "url": url,
            "first_page_url": url, "next_page_url": following if more else None,
            "previous_page_url": None,
        }  # fmt: skip

    async def handle(self, request: web.Request) -> web.Response:
        index = int(request.query.get("Page", "0"))
        body = self.pages[index](self.meta(request.path, index))
        return web.Response(body=body, content_type="application/json")


async def _export(pages: list[Body], out: Path, fmt: str, server: _Server | None = None) -> Any:
    """Export one session whose pages are ``pages``, served by ``server`` (default: a
    ``_Server`` of them)."""
    server = server or _Server(pages)
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with ProxyClient(
            FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url, retry=0,
            requests_per_second=None,
        ) as client:  # fmt: skip
            return await export(client, SERVICE, out, fmt=fmt, sessions=[SESSION])  # type: ignore[arg-type]
    finally:
        await runner.cleanup()


def _reference(pages: list[Body]) -> list[dict[str, Any]]:
    """Each record once (first occurrence), as the reference reader decodes it."""
    seen: set[Any] = set()
    out = []
    for index, make in enumerate(pages):
        meta = {"url": "u", "next_page_url": None, "index": index}
        for record in decode_json(make(meta))["interactions"]:
            if record["sid"] not in seen:
                seen.add(record["sid"])
                out.append(record)
    return out


def _csv_writer_bytes(records: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([["" if r.get(c) is None else r[c] for c in CSV_COLUMNS] for r in records])
    return buffer.getvalue().encode()


def _r(sid: str, **fields: Any) -> bytes:
    record = {"sid": sid, "data": '{"b":"x"}', "type": "message",
              "date_created": "2015-07-30T20:00:00Z", **fields}  # fmt: skip
    return json.dumps(record, ensure_ascii=False).encode()


SCENARIOS: dict[str, list[Body]] = {
    "repeats_compact": [
        _page([_r("KI1"), _r("KI2")]),
        _page([_r("KI2"), _r("KI3")]),
        _page([_r("KI3"), _r("KI1"), _r("KI4")]),
    ],
    "repeats_pretty": [_page([_r("KI1"), _r("KI2")], pretty=True), _page([_r("KI2"), _r("KI3")])],
    "repeats_cr": [_page([_r("KI1"), _r("KI2")], sep=b",\r"), _page([_r("KI2"), _r("KI3")])],
    "escapes": [
        _page(
            [
                b'{"sid":"KI1","data":"\\u00e9\\/\\u2028 \xe2\x80\xa8 \xc2\x85 \\u0000 '
                b'a,b \\"q\\"","type":"message"}',
                _r("KI2", data="a\u2028b\u2029\x85\x0b"),
            ]
        ),
        _page([b'{"sid":"KI1","data":"dup"}', _r("KI3")]),
    ],
    "duplicate_keys": [
        _page([b'{"sid":"KI1","data":"a","sid":"KI9"}', b'{"sid":"KI2","data":"1","data":"2"}']),
        _page([b'{"sid":"KI9"}', _r("KI3")]),
    ],
    "tabs_and_spaces": [
        _page([b'{ "sid" :\t"KI1" , "data" : "x" }', _r("KI2")], sep=b" ,\t "),
        _page([_r("KI2"), b'\t{"sid":"KI3"}  ']),
    ],
}


# PASSES today.
@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("out", ["o.ndjson", "o.ndjson.gz", "o.csv", "o.csv.gz"])
async def test_repeated_and_odd_records_are_written_once_as_the_reference_reads_them(
    tmp_path: Path, name: str, out: str
) -> None:
    pages = SCENARIOS[name]
    fmt = "csv" if ".csv" in out else "ndjson"
    summary = await _export(pages, tmp_path / out, fmt)
    assert summary.complete
    data = (tmp_path / out).read_bytes()
    if out.endswith(".gz"):
        data = gzip.decompress(data)
    expected = _reference(pages)
    if fmt == "csv":
        assert data == _csv_writer_bytes(expected)
        return
    text = data.decode("utf-8")
    # Read back as `for line in open(...)` does: only \n ends a line.
    assert [json.loads(line) for line in io.StringIO(text, newline="\n")] == expected


# PASSES today: records as sent keep an escaped U+2028 escaped, where orjson (the
# previous writer) wrote it raw, which str.splitlines() splits on. Not worse.
def test_an_escaped_line_separator_stays_escaped_in_ndjson() -> None:
    body = (
        b'{"interactions":[{"sid":"KI1","data":"a\\u2028b"}],"meta":{"key":"interactions",'
        b'"page":0,"page_size":50,"url":"u","first_page_url":"u","next_page_url":null}}'
    )
    received = receive_body(body, Interaction, "interactions")
    assert isinstance(received.records, MirroredRecords)
    line = received.records.ndjson()
    assert len(line.decode().splitlines()) == 1
    assert json.loads(line) == decode_json(body)["interactions"][0]
    assert len(DecodedRecords(received.records.dicts()).ndjson().decode().splitlines()) == 2


# PASSES today: skipping the re-check of an arrived next_page_url is per pages() call;
# another list's arrived URL passed as start_url is still refused.
async def test_an_arrived_url_of_another_list_is_refused_as_start_url() -> None:
    async with FakeProxyServer(sessions_per_service=2, interactions_per_session=30) as fake:
        service = fake.service_sids[0]
        first, second = fake.session_sids(service)
        async with ProxyClient(
            FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=fake.url, requests_per_second=None
        ) as client:
            ctx = client.services(service)
            listing = ctx.sessions(first).interactions
            async for page in listing.pages(page_size=10):
                arrived = page.meta.next_page_url
                break
            assert arrived is not None
            other = ctx.sessions(second).interactions
            with pytest.raises(ForeignPageUrlError):
                async for _ in other.pages(start_url=arrived):
                    pass


# FAILS today: DEFAULT_MAX_SEEN_SIDS went 250k -> 100k, so a list that repeats records
# from more than 100,000 records back has them written twice; at e9523b4 they were
# skipped (end to end: 101 pages of 1,000 then 500 new + 500 of page 0 -> 102,000
# lines, 500 duplicated; e9523b4 wrote 101,500).
def test_repeats_from_150k_records_back_are_still_caught() -> None:
    """The exporter's window (not the stream loop guard's 100,000) keeps 250,000 SIDs."""
    seen = SeenRecords(EXPORT_MAX_SEEN_SIDS)
    for page in range(150):
        sids = [f"KI{page * 1000 + i:032d}" for i in range(1000)]
        assert seen.admit(DecodedRecords([{"sid": s} for s in sids]), f"u{page}") == ()
    fresh = [{"sid": f"KI{150_000 + i:032d}"} for i in range(500)]
    old = [{"sid": f"KI{i:032d}"} for i in range(500)]
    assert seen.admit(DecodedRecords(fresh + old), "u-last") == tuple(range(500, 1000))


def test_records_without_a_sid_are_never_taken_for_repeats() -> None:
    """Two records whose sid is null are two records: neither may be left out."""
    seen = SeenRecords(EXPORT_MAX_SEEN_SIDS)
    assert seen.admit(DecodedRecords([{"sid": None}, {"sid": None}]), "u0") == ()
    assert seen.admit(DecodedRecords([{"sid": None}, {"sid": "KI1"}]), "u1") == ()
