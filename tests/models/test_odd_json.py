"""Odd but legal JSON (issue 11, section 4): read it, and never make a record unexportable.

Lone UTF-16 surrogate escapes, a UTF-8 byte order mark, duplicate keys, integers beyond
64 bits and deep nesting are read; what is not JSON (NaN, non-UTF-8 bytes, numbers
beyond a double) stays a typed :class:`InvalidResponseError`. The export writes every
record: NDJSON losslessly (the lone surrogate kept escaped), CSV with U+FFFD.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import load_fixture, set_fake_credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy_async import InvalidResponseError, ProxyClient
from proxy_async.bulk_export.formats import CSV_COLUMNS, encode_csv, encode_ndjson
from proxy_async.bulk_export.run import export
from proxy_async.cli import main
from proxy_async.models import MAX_JSON_DEPTH, Interaction, decode_json, encode_json, receive_page
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN

SERVICE = "KS" + "1" * 32
SESSION = "KC" + "2" * 32
WIDE = 123456789012345678901234567890  # beyond 64 bits: orjson would read a float
SEE_YOU = '{"body":"see you \ud83d"}'  # the data string as Python's json reads it
SEE_YOU_JSON = rb'"{\"body\":\"see you \ud83d\"}"'  # ...and as the server sends it


def meta(url: str, key: str, page_size: int) -> dict[str, Any]:
    fixture = load_fixture("sdk_interaction_read_empty_response")["meta"]
    return dict(fixture, url=url, first_page_url=url, key=key, page_size=page_size)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# -- decode_json ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"data": ' + SEE_YOU_JSON + b"}", {"data": SEE_YOU}),
        (b'["\\udc00", "a\\ud83d\\ude00b"]', ["\udc00", "a\U0001f600b"]),  # lone; a pair
        (b'\xef\xbb\xbf{"sid": "KI1"}', {"sid": "KI1"}),
        (b'{"a": 1, "a": 2}', {"a": 2}),  # last wins, as in json, orjson and JSON.parse
        (b'{"page_size": 123456789012345678901234567890}', {"page_size": WIDE}),
        (b"[-9223372036854775809, 18446744073709551616]", [-(2**63) - 1, 2**64]),
        (b"[9223372036854775807, -9223372036854775808]", [2**63 - 1, -(2**63)]),
        (b'{"sid": "KI1234567890123456789012"}', {"sid": "KI1234567890123456789012"}),
        (b'{"n": \n   12345678901234567890123}', {"n": 12345678901234567890123}),
        (b'{"a": 1e300}', {"a": 1e300}),
    ],
    ids=[
        "lone-surrogate-in-data",
        "lone-and-paired-surrogates",
        "bom",
        "duplicate-keys",
        "wide-int",
        "just-beyond-64-bits",
        "64-bit-limits",
        "digits-in-a-string",
        "wide-int-after-whitespace",
        "large-double",
    ],
)
def test_odd_but_legal_json_is_read_as_python_reads_it(body: bytes, expected: Any) -> None:
    value = decode_json(body)
    assert value == expected
    assert value == json.loads(body)  # the standard library is the reference
    assert type(value) is type(expected)


def test_a_wide_integer_keeps_every_digit_and_its_type() -> None:
    value = decode_json(b'{"n": 123456789012345678901234567890}')["n"]
    assert type(value) is int
    assert str(value) == "123456789012345678901234567890"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[NaN]", "NaN is not JSON"),
        (b'{"a": Infinity}', "Infinity is not JSON"),
        (b"[-Infinity]", "-Infinity is not JSON"),
        (b"[1e400]", "too large for a double"),
        (b'"\xff"', "not UTF-8 at byte 1"),
        (b'"\xed\xa0\xbd"', "not UTF-8"),  # a surrogate encoded raw is not UTF-8
        (b"[" + b"1" * 5000 + b"]", "4300 digits"),
        (nested(MAX_JSON_DEPTH + 1).replace(b"[]", b'["\\ud83d"]'), "nested deeper than 512"),
        (nested(2000), "nested deeper than 512"),
        (b'{"data": "\\ud83d"', "not valid JSON"),
    ],
    ids=[
        "nan",
        "infinity",
        "minus-infinity",
        "beyond-double",
        "not-utf8",
        "raw-surrogate",
        "too-many-digits",
        "deep-on-fallback",
        "deeper-than-orjson",
        "truncated-on-fallback",
    ],
)
def test_what_is_not_json_stays_a_typed_error(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidResponseError, match="not valid JSON") as caught:
        decode_json(body)
    assert reason in str(caught.value)
    assert len(str(caught.value)) < 400


def test_nesting_within_the_bound_is_read_on_either_path() -> None:
    assert decode_json(nested(MAX_JSON_DEPTH)) is not None  # orjson
    with_surrogate = nested(MAX_JSON_DEPTH).replace(b"[]", b'["\\ud83d"]')
    value = decode_json(with_surrogate)  # the fallback
    for _ in range(MAX_JSON_DEPTH - 1):
        value = value[0]
    assert value == ["\ud83d"]


def test_a_page_with_odd_values_is_received_and_built() -> None:
    record = dict(load_fixture("sdk_interaction_fetch_response"), extra={"n": WIDE})
    page_meta = meta("https://x/Interactions", "interactions", WIDE)
    body = json.dumps({"interactions": [record], "meta": page_meta}).encode()
    body = body.replace(b"some message", b"see you \\ud83d")
    page = receive_page(decode_json(body), Interaction, "interactions").structure()
    assert page.meta.page_size == WIDE
    assert page.items[0].data == SEE_YOU
    assert page.raw_items[0]["extra"] == {"n": WIDE}


# -- writing it back --------------------------------------------------------------------------


def test_ndjson_keeps_a_lone_surrogate_escaped_and_wide_integers_exact() -> None:
    records: list[dict[str, Any]] = [
        {"sid": "KI1", "data": SEE_YOU},
        {"sid": "KI2", "n": WIDE},
        {"sid": "KI3"},
    ]
    lines = encode_ndjson(records).splitlines()
    assert [json.loads(line) for line in lines] == records
    assert rb"see you \ud83d" in lines[0]
    assert b"123456789012345678901234567890" in lines[1]
    assert lines[2] == b'{"sid":"KI3"}'


def test_ndjson_writes_any_depth_the_parser_accepts() -> None:
    depth = 1000  # orjson writes 254 levels, json.dumps recurses: neither would do
    value: Any = "\ud83d"
    for _ in range(depth):
        value = [value]
    assert encode_json(value) == b"[" * depth + b'"\\ud83d"' + b"]" * depth


def test_csv_writes_a_lone_surrogate_as_the_replacement_character() -> None:
    rows = list(csv.reader(io.StringIO(encode_csv([{"sid": "KI1", "data": SEE_YOU}]).decode())))
    assert rows[0][CSV_COLUMNS.index("data")] == '{"body":"see you \ufffd"}'


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["\ud83d", "a\udc00b", "\ude00\ud83d", "\ufeff"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.just("\ud800"), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_what_pythons_json_writes_round_trips(value: Any, ensure_ascii: bool, indent: Any) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    # Without ensure_ascii a lone surrogate would be written raw, which UTF-8 cannot hold.
    body = text.encode("utf-8", "surrogatepass") if not ensure_ascii else text.encode()
    if not ensure_ascii and body != text.encode("utf-8", "replace"):
        return  # not UTF-8: refused, as tested above
    assert decode_json(body) == value
    assert decode_json(encode_json(value)) == value


# -- export, end to end -------------------------------------------------------------------------


class OddServer:
    """A server of one Service with one Session whose only page holds three records, one
    with a lone surrogate and one with a wide integer; ``failures`` first answers 500."""

    def __init__(self) -> None:
        self.failures = 0
        self.url = ""

    def interactions(self) -> bytes:
        base = load_fixture("sdk_interaction_fetch_response")
        records = [
            dict(base, sid="KI" + "a" * 32, session_sid=SESSION, data="@SEE_YOU@"),
            dict(base, sid="KI" + "b" * 32, session_sid=SESSION, extra=WIDE),
            dict(base, sid="KI" + "c" * 32, session_sid=SESSION),
        ]
        path = f"/v1/Services/{SERVICE}/Sessions/{SESSION}/Interactions"
        page_meta = meta(self.url + path, "interactions", WIDE)
        body = json.dumps({"interactions": records, "meta": page_meta})
        return body.encode().replace(b'"@SEE_YOU@"', SEE_YOU_JSON)

    async def handle(self, request: web.Request) -> web.Response:
        if request.path.endswith("/Interactions"):
            if self.failures:
                self.failures -= 1
                return web.json_response({"code": 20500, "message": "oops"}, status=500)
            body = self.interactions()
        else:
            page_meta = meta(self.url + request.path, "sessions", 50)
            page = {"sessions": [{"sid": SESSION}], "meta": page_meta}
            body = b"\xef\xbb\xbf" + json.dumps(page).encode()  # with a byte order mark
        return web.Response(body=body, content_type="application/json")

    def expected(self) -> list[dict[str, Any]]:
        return json.loads(self.interactions())["interactions"]  # type: ignore[no-any-return]


@pytest.fixture
async def odd() -> AsyncIterator[OddServer]:
    server = OddServer()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def client_of(odd: OddServer) -> ProxyClient:
    return ProxyClient(
        FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=odd.url, retry=0, requests_per_second=None
    )


def ndjson_records(path: Path) -> list[dict[str, Any]]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data.decode("utf-8")  # strict: the file is UTF-8
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize("name", ["out.ndjson", "out.ndjson.gz"])
async def test_the_issues_page_exports_all_three_records_losslessly(
    odd: OddServer, tmp_path: Path, name: str
) -> None:
    async with client_of(odd) as client:
        summary = await export(client, SERVICE, tmp_path / name)
    assert summary.complete
    assert not summary.failures
    assert summary.records == 3
    records = ndjson_records(tmp_path / name)
    assert records == odd.expected()
    assert records[0]["data"] == SEE_YOU
    assert records[1]["extra"] == WIDE


async def test_the_issues_page_exports_to_csv_with_a_replacement_character(
    odd: OddServer, tmp_path: Path
) -> None:
    async with client_of(odd) as client:
        summary = await export(client, SERVICE, tmp_path / "out.csv", fmt="csv")
    assert summary.complete
    assert summary.records == 3
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_bytes().decode("utf-8"))))
    assert [row["sid"] for row in rows] == [record["sid"] for record in odd.expected()]
    assert rows[0]["data"] == '{"body":"see you \ufffd"}'


async def test_a_session_that_failed_once_resumes_with_all_three_records(
    odd: OddServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_fake_credentials(monkeypatch)
    out = tmp_path / "out.ndjson.gz"
    argv = ["export", "--service", SERVICE, "--out", str(out), "--base-url", odd.url]
    odd.failures = 1
    async with client_of(odd) as client:  # no retries: the session fails
        summary = await export(client, SERVICE, out)
    assert not summary.complete
    assert len(summary.failures) == 1
    assert await asyncio.to_thread(main, [*argv, "--resume"]) == 0
    assert ndjson_records(out) == odd.expected()
