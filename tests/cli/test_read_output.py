"""What the read commands print (proxy_async/cli/read_output.py, _read_pages.py,
_read_table.py), against the fake server: the export's bytes for NDJSON and CSV, one JSON
array, tables a page at a time, limits, 404s, closed pipes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import fake_client, pending_client_tasks

from proxy_async import InvalidParameterError, NotFoundError
from proxy_async.bulk_export.run import export
from proxy_async.cli._read_kinds import (
    INTERACTIONS,
    SESSION_CSV_COLUMNS,
    SESSIONS,
    ReadFormat,
    default_format,
)
from proxy_async.cli._read_pages import fetch_interaction, interaction_pages, session_pages
from proxy_async.cli.read_output import write_records
from proxy_async.models.raw_records import DecodedRecords, RawRecords
from proxy_async.testing import FakeProxyServer

INTERACTIONS_PER_SESSION = 23
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")
MISSING_INTERACTION = "KI" + "0" * 32


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(
        sessions_per_service=5, interactions_per_session=INTERACTIONS_PER_SESSION
    ) as fake:
        yield fake


def service_of(server: FakeProxyServer) -> str:
    return server.service_sids[0]


def session_of(server: FakeProxyServer) -> str:
    return server.session_sids(service_of(server))[0]


class Stdout(io.TextIOWrapper):
    """A stand-in for sys.stdout: text over a byte buffer, whose bytes are kept."""

    def __init__(self, *, tty: bool = False, raw_bytes: io.BytesIO | None = None) -> None:
        self.raw_bytes = io.BytesIO() if raw_bytes is None else raw_bytes
        super().__init__(self.raw_bytes, encoding="utf-8", newline="")
        self._tty = tty

    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._tty

    def output(self) -> bytes:
        self.flush()
        return self.raw_bytes.getvalue()


async def printed(pages: Any, kind: Any, fmt: ReadFormat, *, tty: bool = False) -> bytes:
    stdout = Stdout(tty=tty)
    count = await write_records(pages, kind, fmt, stdout)
    data = stdout.output()
    if fmt == "ndjson":
        assert count == len(data.splitlines())
    elif fmt == "json":
        assert count == len(data.splitlines()) - (2 if count else 1)  # "[" and "]", or "[]"
    return data


def interaction_requests(server: FakeProxyServer) -> int:
    return sum(1 for request in server.requests if request.path.endswith("/Interactions"))


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_interactions_are_the_exports_bytes(
    server: FakeProxyServer, tmp_path: Path, fmt: ReadFormat
) -> None:
    service, session = service_of(server), session_of(server)
    out = tmp_path / f"one.{fmt}"
    async with fake_client(server) as client:
        summary = await export(
            client, service, out, sessions=[session], fmt="csv" if fmt == "csv" else "ndjson"
        )
        assert summary.complete
        # Pages of 7, not the export's 1000: the bytes do not depend on the paging.
        data = await printed(
            interaction_pages(client, service, session, page_size=7), INTERACTIONS, fmt
        )
    assert data == out.read_bytes()
    lines = data.splitlines()
    assert len(lines) == INTERACTIONS_PER_SESSION + (fmt == "csv")


async def test_sessions_ndjson_is_the_exports_sessions_file(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    service = service_of(server)
    async with fake_client(server) as client:
        summary = await export(client, service, tmp_path / "all.ndjson")
        assert summary.sessions_file is not None
        data = await printed(session_pages(client, service, page_size=2), SESSIONS, "ndjson")
    assert data == summary.sessions_file.read_bytes()
    assert [json.loads(line)["sid"] for line in data.splitlines()] == server.session_sids(service)


async def test_sessions_csv_has_the_spec_fields_and_values_as_sent(
    server: FakeProxyServer,
) -> None:
    service = service_of(server)
    async with fake_client(server) as client:
        data = await printed(session_pages(client, service), SESSIONS, "csv")
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert tuple(rows[0]) == SESSION_CSV_COLUMNS
    assert SESSION_CSV_COLUMNS[0] == "sid"
    assert "links" in SESSION_CSV_COLUMNS
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [record["sid"] for record in records] == server.session_sids(service)
    first = records[0]
    assert first["ttl"] == "0"  # a number as its JSON text
    assert json.loads(first["links"])["interactions"].endswith("/Interactions")
    assert first["date_ended"] == ""  # null: an empty cell


async def test_json_is_one_array_of_the_ndjson_records(server: FakeProxyServer) -> None:
    service, session = service_of(server), session_of(server)
    async with fake_client(server) as client:
        ndjson = await printed(
            interaction_pages(client, service, session, page_size=5), INTERACTIONS, "ndjson"
        )
        array = await printed(
            interaction_pages(client, service, session, page_size=5), INTERACTIONS, "json"
        )
        sessions = await printed(session_pages(client, service, page_size=2), SESSIONS, "json")
    assert json.loads(array) == [json.loads(line) for line in ndjson.splitlines()]
    assert len(json.loads(array)) == INTERACTIONS_PER_SESSION
    assert [record["sid"] for record in json.loads(sessions)] == server.session_sids(service)


@pytest.mark.parametrize(
    "pages", [[], [DecodedRecords(())], [DecodedRecords(()), DecodedRecords(())]]
)
async def test_json_of_no_record_is_an_empty_array(pages: list[RawRecords]) -> None:
    assert await printed(pages, INTERACTIONS, "json") == b"[]\n"
    assert await printed(pages, INTERACTIONS, "ndjson") == b""
    header = await printed(pages, INTERACTIONS, "csv")
    assert header.startswith(b"sid,session_sid,")
    assert header.count(b"\r\n") == 1


async def test_json_skips_empty_pages_between_records() -> None:
    records = [{"sid": f"KI{index}", "data": "a\nb"} for index in range(3)]
    pages = [DecodedRecords(records[:1]), DecodedRecords(()), DecodedRecords(records[1:])]
    data = await printed(pages, INTERACTIONS, "json")
    assert json.loads(data) == records
    assert data.count(b"\n") == 5  # "[", a line a record, "]"


async def test_limit_is_honoured_across_page_boundaries(server: FakeProxyServer) -> None:
    service, session = service_of(server), session_of(server)
    async with fake_client(server) as client:
        server.reset_stats()
        data = await printed(
            interaction_pages(client, service, session, limit=8, page_size=3),
            INTERACTIONS,
            "ndjson",
        )
        # 3 + 3 + 2: the third page is cut and nothing after it is asked for.
        assert interaction_requests(server) == 3
        sessions = await printed(
            session_pages(client, service, limit=3, page_size=2), SESSIONS, "json"
        )
    sids = [json.loads(line)["sid"] for line in data.splitlines()]
    assert sids == server.interaction_sids(service, session)[:8]
    assert [record["sid"] for record in json.loads(sessions)] == server.session_sids(service)[:3]


async def test_a_limit_alone_asks_for_that_many_and_no_limit_for_the_largest_pages(
    server: FakeProxyServer,
) -> None:
    service, session = service_of(server), session_of(server)
    async with fake_client(server) as client:
        server.reset_stats()
        await printed(interaction_pages(client, service, session, limit=4), INTERACTIONS, "csv")
        await printed(interaction_pages(client, service, session), INTERACTIONS, "csv")
    sizes = [request.query.get("PageSize") for request in server.requests]
    assert sizes == [["4"], ["1000"]]


async def test_fetch_prints_one_record(server: FakeProxyServer) -> None:
    service, session = service_of(server), session_of(server)
    sid = server.interaction_sids(service, session)[4]
    async with fake_client(server) as client:
        line = await printed(
            fetch_interaction(client, service, session, sid), INTERACTIONS, "ndjson"
        )
        array = await printed(
            fetch_interaction(client, service, session, sid), INTERACTIONS, "json"
        )
    expected = server.interaction_json(service, session, sid)
    assert line == orjson.dumps(expected) + b"\n"
    assert json.loads(array) == [expected]


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
async def test_fetch_of_a_missing_interaction_raises_404_and_prints_nothing(
    server: FakeProxyServer, fmt: ReadFormat
) -> None:
    service, session = service_of(server), session_of(server)
    stdout = Stdout()
    async with fake_client(server) as client:
        with pytest.raises(NotFoundError) as caught:
            await write_records(
                fetch_interaction(client, service, session, MISSING_INTERACTION),
                INTERACTIONS,
                fmt,
                stdout,
            )
    assert caught.value.status == 404
    assert stdout.output() == b""  # not even "[" or a header


async def test_table_shows_every_sid_with_one_heading(server: FakeProxyServer) -> None:
    service, session = service_of(server), session_of(server)
    async with fake_client(server) as client:
        table = await printed(
            interaction_pages(client, service, session, page_size=5), INTERACTIONS, "table"
        )
        sessions = await printed(session_pages(client, service, page_size=2), SESSIONS, "table")
    text = table.decode()
    lines = text.splitlines()
    # A heading and its rule, then a line a record: the pages line up as one table.
    assert len(lines) == 2 + INTERACTIONS_PER_SESSION
    assert lines[0].split() == ["SID", "TYPE", "INBOUND", "OUTBOUND", "CREATED", "DATA"]
    for line, sid in zip(lines[2:], server.interaction_sids(service, session), strict=True):
        assert line.startswith(sid + " ")
    created = lines[0].index("CREATED")
    for line in lines[2:]:  # CREATED in one column on every page
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line[created : created + 20])
    session_lines = sessions.decode().splitlines()
    assert session_lines[0].split()[:3] == ["SID", "UNIQUE", "NAME"]
    assert [line.split()[0] for line in session_lines[2:]] == server.session_sids(service)


async def test_table_escapes_control_characters() -> None:
    record = {"sid": "KI" + "1" * 32, "type": "message", "data": "\x1b[2J\u202ehi\nthere"}
    text = (await printed([DecodedRecords([record])], INTERACTIONS, "table")).decode()
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\\x1b[2J\\u202ehi\\x0athere" in text


async def test_a_narrow_terminal_leaves_columns_out_not_sids(
    server: FakeProxyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    service, session = service_of(server), session_of(server)
    async with fake_client(server) as client:
        data = await printed(
            interaction_pages(client, service, session, limit=3), INTERACTIONS, "table", tty=True
        )
    lines = ANSI_STYLE.sub("", data.decode()).splitlines()
    heading = next(line for line in lines if "SID" in line)
    assert "INBOUND" not in heading
    assert "DATA" in heading
    for sid in server.interaction_sids(service, session)[:3]:
        assert any(sid in line for line in lines)
    assert max(map(len, lines)) <= 80


def test_default_format_is_a_table_only_on_a_terminal() -> None:
    assert default_format(Stdout(tty=True)) == "table"
    assert default_format(Stdout()) == "ndjson"
    closed = Stdout(tty=True)
    closed.close()
    assert default_format(closed) == "ndjson"


async def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="'table', 'ndjson', 'csv' or 'json'"):
        await write_records([], INTERACTIONS, "yaml", Stdout())  # type: ignore[arg-type]


class ClosedPipe(io.RawIOBase):
    """A pipe whose reader went away after ``room`` bytes (``| head``)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.written = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if len(self.written) + len(data) > self.room:
            raise BrokenPipeError(32, "Broken pipe")
        self.written += data
        return len(data)


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "json", "table"])
async def test_a_closed_pipe_raises_broken_pipe_and_stops_the_walk(
    server: FakeProxyServer, fmt: ReadFormat
) -> None:
    service, session = service_of(server), session_of(server)
    pipe = ClosedPipe(room=3000)
    stdout = io.TextIOWrapper(io.BufferedWriter(pipe, buffer_size=64), encoding="utf-8")
    async with fake_client(server) as client:
        server.reset_stats()
        pages = interaction_pages(client, service, session, page_size=2)
        with pytest.raises(BrokenPipeError):
            await write_records(pages, INTERACTIONS, fmt, stdout)
        for _ in range(5):
            await asyncio.sleep(0)
        assert pending_client_tasks() == []  # the prefetch was cancelled, not leaked
        assert interaction_requests(server) < INTERACTIONS_PER_SESSION // 2
    written = bytes(pipe.written)
    assert 0 < len(written) <= 3000
    assert not written.endswith(b"]\n")  # nothing written after the pipe closed
    # What the CLI does next (stdout pointed at /dev/null), so closing flushes quietly.
    pipe.room = sys.maxsize
    stdout.close()


class WriteLog(io.BytesIO):
    """Bytes that note, at each write, how many Interaction pages were requested so far."""

    def __init__(self, server: FakeProxyServer) -> None:
        super().__init__()
        self.server = server
        self.requests_at_output: list[int] = []

    def write(self, data: Any) -> int:
        self.requests_at_output.append(interaction_requests(self.server))
        return super().write(data)


@pytest.mark.parametrize("fmt", ["ndjson", "json", "table"])
async def test_each_page_is_printed_before_the_next_but_one_is_asked_for(
    server: FakeProxyServer, fmt: ReadFormat
) -> None:
    service, session = service_of(server), session_of(server)
    log = WriteLog(server)
    stdout = Stdout(raw_bytes=log)
    async with fake_client(server) as client:
        server.reset_stats()
        pages = interaction_pages(client, service, session, page_size=4)
        assert await write_records(pages, INTERACTIONS, fmt, stdout) == INTERACTIONS_PER_SESSION
    pages_total = -(-INTERACTIONS_PER_SESSION // 4)
    stdout.flush()
    output = log.requests_at_output
    # Page n is out when at most n + 1 pages were asked for (itself and one prefetched):
    # nothing waits for the whole list.
    assert len(output) >= pages_total
    assert all(requests <= page + 2 for page, requests in enumerate(output[:pages_total]))
