"""The export's progress display (rich on a terminal, timestamped lines elsewhere) and
the request log that -v turns on, which never shows a credential."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import re

import pytest
from rich.console import Console

from proxy_async import AttemptEvent, InvalidParameterError, ProxyClient, RetryPolicy
from proxy_async.bulk_export.events import ExportProgress
from proxy_async.cli._progress import PLAIN_INTERVAL, TTY_INTERVAL, ProgressDisplay
from proxy_async.cli._request_log import configure_request_logging
from proxy_async.testing import FAKE_ACCOUNT_SID, FakeProxyServer, Fault

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ")
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DISTINCTIVE_TOKEN = "tok-progress-log-must-never-show-91c4e"


def snapshot(
    done: int,
    records: int,
    *,
    total: int = 10,
    failed: int = 1,
    missing: int = 0,
    listing_done: bool = True,
) -> ExportProgress:
    return ExportProgress(
        sessions_total=total,
        sessions_done=done,
        sessions_failed=failed,
        records=records,
        records_this_run=records,
        elapsed=1.0,
        resumed=False,
        sessions_missing=missing,
        listing_done=listing_done,
    )


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def count_attempts(display: ProgressDisplay) -> None:
    """One plain success, one 429, then its retry."""
    display.on_response(AttemptEvent("GET", "/x", 1, 200))
    display.on_response(AttemptEvent("GET", "/x", 1, 429))
    display.on_response(AttemptEvent("GET", "/x", 2, 200))


def plain_text(display: ProgressDisplay) -> str:
    """The live display's current renderable, as a 160-column terminal would show it."""
    console = Console(file=io.StringIO(), width=160, force_terminal=False)
    with console.capture() as capture:
        console.print(display.renderable())
    return capture.get()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A capable, wide terminal whatever the environment running the tests says."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "160")
    for name in ("NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


# -- plain lines (stderr is a file or a pipe) ------------------------------------------------


def test_plain_lines_are_timestamped_and_carry_every_fact() -> None:
    stream = io.StringIO()
    clock = Clock()
    display = ProgressDisplay(stream, tty=False, clock=clock, bytes_written=lambda: 1_234_567)
    assert display.interval == PLAIN_INTERVAL == 5.0
    count_attempts(display)
    display.draw()  # nothing before the export's first progress: the start line comes first
    display.update(snapshot(3, 5000))
    clock.now += 2
    display.draw()
    display.update(snapshot(4, 9000))
    clock.now += 1
    display.close()
    display.close()  # idempotent: no third line

    text = stream.getvalue()
    assert "\x1b" not in text
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 2
    assert all(TIMESTAMP.match(line) for line in lines), lines
    assert "sessions 3/10 done" in lines[0]
    last = lines[-1]
    assert "sessions 4/10 done (1 failed)" in last
    assert "records 9,000" in last
    assert "3,000 rec/s" in last  # 9,000 records in 3 s
    assert "1.2 MB written" in last
    assert "retries 1" in last
    assert "429s 1" in last
    assert "elapsed 0:00:03" in last


async def test_plain_lines_come_at_the_interval() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=False, interval=0.01)
    display.update(snapshot(3, 5000))
    ticker = asyncio.ensure_future(display.run())
    await asyncio.sleep(0.2)
    ticker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ticker
    lines = stream.getvalue().splitlines()
    # ~20 expected; a loaded machine sleeps longer, never shorter.
    assert 2 <= len(lines) <= 21
    assert all(TIMESTAMP.match(line) for line in lines)


def test_nothing_is_written_for_an_export_that_never_started() -> None:
    stream = io.StringIO()
    ProgressDisplay(stream, tty=False).close()
    assert stream.getvalue() == ""


# -- the live display (stderr is a terminal) -------------------------------------------------


@pytest.mark.usefixtures("terminal")
def test_the_terminal_display_redraws_the_facts_and_ends_clean() -> None:
    stream = io.StringIO()
    clock = Clock()
    display = ProgressDisplay(stream, tty=True, clock=clock, bytes_written=lambda: 52_000_000)
    assert display.interval == TTY_INTERVAL == 0.2
    count_attempts(display)
    display.update(snapshot(3, 5000, missing=2))
    clock.now += 2
    display.draw()
    display.update(snapshot(4, 9000, missing=2))
    clock.now += 1
    display.close()

    raw = stream.getvalue()
    assert ESCAPE.search(raw) is not None  # drawn for a terminal, not as plain lines
    text = ESCAPE.sub("", raw)
    assert TIMESTAMP.search(text) is None
    assert text.endswith("\n")
    final = text.split("\r")[-1]  # each redraw returns to the start of the display
    assert "sessions 4/10 done (1 failed, 2 missing)" in final
    assert "70%" in final  # 4 done + 1 failed + 2 missing of 10
    assert "records 9,000" in final
    assert "3,000 rec/s" in final
    assert "52.0 MB written" in final
    assert "retries 1" in final
    assert "429s 1" in final
    assert "elapsed 0:00:03" in final
    assert display.requests == 3


@pytest.mark.usefixtures("terminal")
def test_log_lines_print_above_the_live_display() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)
    undo = configure_request_logging(1, display, stream)
    try:
        display.update(snapshot(1, 10))
        display.draw()
        logging.getLogger("proxy_async").debug("GET /v1/Services -> 200 (attempt 1, 3.2 ms)")
        display.update(snapshot(2, 20))
        display.draw()
    finally:
        undo()
    display.close()

    lines = ESCAPE.sub("", stream.getvalue()).replace("\r", "\n").splitlines()
    logged = [i for i, line in enumerate(lines) if "GET /v1/Services -> 200" in line]
    assert len(logged) == 1
    line = lines[logged[0]]
    assert "DEBUG" in line
    assert "sessions" not in line  # its own line, not glued to the display
    assert "━" not in line
    # The display is drawn again below the log line, with what came since.
    assert any("sessions 2/10 done" in below for below in lines[logged[0] + 1 :])


# -- totals, ETA and bytes ----------------------------------------------------------------


def test_the_total_and_eta_appear_only_once_the_listing_is_done() -> None:
    clock = Clock()
    display = ProgressDisplay(io.StringIO(), tty=False, clock=clock)
    display.update(snapshot(0, 0, total=100, failed=0))
    display.line()
    display.update(snapshot(9_500, 9_500, total=12_000, failed=0, missing=2, listing_done=False))
    clock.now += 10
    listing = display.line()
    assert "sessions 9,500 done (2 missing) of 12,000 listed so far" in listing
    assert "ETA" not in listing
    shown = plain_text(display)
    assert "listed so far" in shown
    assert "ETA" not in shown
    assert "%" not in shown

    display.update(snapshot(10_000, 10_000, total=12_000, failed=0, listing_done=True))
    clock.now += 10
    # 10,000 sessions settled in the last 20 s: 500/s, 2,000 left -> 4 s.
    done = display.line()
    assert "sessions 10,000/12,000 done" in done
    assert "ETA 0:00:04" in done
    shown = plain_text(display)
    assert "ETA 0:00:04" in shown
    assert "83%" in shown

    display.update(snapshot(12_000, 12_000, total=12_000, failed=0))
    clock.now += 1
    assert "ETA" not in display.line()  # nothing left


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes written"),
        (999, "999 bytes written"),
        (12_345_678, "12.3 MB written"),
        (3_000_000_000, "3.0 GB written"),
    ],
)
def test_bytes_written_are_shown_in_human_units(size: int, shown: str) -> None:
    display = ProgressDisplay(io.StringIO(), tty=False, bytes_written=lambda: size)
    display.update(snapshot(1, 1))
    assert shown in display.line()
    assert shown in plain_text(display)


def test_bytes_unknown_or_unreadable_are_left_out() -> None:
    def vanished() -> int | None:
        raise FileNotFoundError("interactions.ndjson.part")

    for source in (lambda: None, vanished, None):
        display = ProgressDisplay(io.StringIO(), tty=False, bytes_written=source)
        display.update(snapshot(1, 1))
        assert "written" not in display.line()


# -- off, and bad intervals ----------------------------------------------------------------


@pytest.mark.parametrize("tty", [True, False])
async def test_disabled_draws_nothing_but_still_counts(tty: bool) -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=tty, interval=0.01, enabled=False)
    count_attempts(display)
    display.update(snapshot(4, 9000))
    ticker = asyncio.ensure_future(display.run())
    await asyncio.sleep(0.05)
    ticker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ticker
    display.draw()
    display.close()
    assert stream.getvalue() == ""
    assert (display.requests, display.retries, display.rate_limited) == (3, 1, 1)


@pytest.mark.parametrize("interval", [0, 0.0, -1, math.nan, math.inf, True])
def test_an_interval_that_is_not_a_positive_number_is_refused(interval: float) -> None:
    with pytest.raises(InvalidParameterError, match="interval") as caught:
        ProgressDisplay(io.StringIO(), interval=interval)
    assert isinstance(caught.value, ValueError)


# -- request logging -----------------------------------------------------------------------


def test_verbose_logs_each_attempt_and_undo_removes_the_handler() -> None:
    logger = logging.getLogger("proxy_async")
    before = (list(logger.handlers), logger.level)
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=False)

    undo = configure_request_logging(0, display, stream)
    logger.debug("GET /quiet -> 200 (attempt 1, 1.0 ms)")
    logger.warning("a warning is shown without -v")
    undo()
    assert (list(logger.handlers), logger.level) == before

    undo = configure_request_logging(1, display, stream)
    logger.debug("GET /loud -> 200 (attempt 1, 1.0 ms)")
    undo()
    assert (list(logger.handlers), logger.level) == before
    logger.warning("after undo")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(TIMESTAMP.match(line) for line in lines)
    assert "WARNING a warning is shown without -v" in lines[0]
    assert "DEBUG GET /loud -> 200 (attempt 1, 1.0 ms)" in lines[1]


def test_verbose_lowers_the_logger_level_and_undo_restores_it() -> None:
    logger = logging.getLogger("proxy_async")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        undo = configure_request_logging(1, None, io.StringIO())
        assert logger.level == logging.DEBUG
        undo()
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(previous)


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.usefixtures("terminal")
async def test_the_request_log_never_shows_a_credential(
    tty: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # no wrapped line: a secret would show whole
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=tty, enabled=False)
    undo = configure_request_logging(1, display, stream)
    try:
        async with FakeProxyServer(
            auth_token=DISTINCTIVE_TOKEN, interactions_per_session=5
        ) as server:
            service = server.service_sids[0]
            session = server.session_sids(service)[0]
            sid = server.interaction_sids(service, session)[0]
            server.add_fault(Fault.status(429, retry_after="0"), path_contains="/Interactions")
            async with ProxyClient(
                FAKE_ACCOUNT_SID,
                DISTINCTIVE_TOKEN,
                base_url=server.url,
                requests_per_second=None,
                retry=RetryPolicy(retries=2, initial_backoff=0.01, max_backoff=0.02),
                on_response=display.on_response,
            ) as client:
                await client.services(service).sessions(session).interactions.fetch(sid)
    finally:
        undo()

    text = ESCAPE.sub("", stream.getvalue())
    path = f"/v1/Services/{service}/Sessions/{session}/Interactions/{sid}"
    assert f"GET {path} -> 429 (attempt 1," in text
    assert f"GET {path} -> 200 (attempt 2," in text
    assert (display.retries, display.rate_limited) == (1, 1)
    pair = base64.b64encode(f"{FAKE_ACCOUNT_SID}:{DISTINCTIVE_TOKEN}".encode()).decode()
    for secret in (DISTINCTIVE_TOKEN, pair, DISTINCTIVE_TOKEN[:12], "Basic "):
        assert secret not in text


@pytest.mark.usefixtures("terminal")
def test_a_refused_export_shows_no_display_on_a_terminal() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)
    display.draw()
    display.close()
    assert stream.getvalue() == ""
