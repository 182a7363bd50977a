"""Shared benchmark machinery: the fake server in its own process, rounds, medians, tables.

Every benchmark follows the same shape: start ``python -m proxy_async.testing`` as a
separate process (its CPU never counts against the client), warm every contender up
once, then run the contenders in turn for several rounds, reversing the order on every
other round so drift on a noisy machine hits them all alike, and report medians and
ratios measured side by side in this one run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import gc
import importlib
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from proxy_async import ProxyClient

SERVER_START_TIMEOUT = 30.0
"""Seconds to wait for the fake server's ready line."""


@dataclass(frozen=True)
class ServerInfo:
    """Where the fake server listens and what it serves."""

    url: str
    account_sid: str
    auth_token: str
    service_sid: str
    session_sids: tuple[str, ...]
    pid: int

    @property
    def auth_header(self) -> str:
        """The ``Authorization`` header value for the fake's credentials."""
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def interactions_path(self, session: int = 0) -> str:
        """The Interactions list path of the ``session``-th session."""
        return f"/v1/Services/{self.service_sid}/Sessions/{self.session_sids[session]}/Interactions"

    def server_cpu(self) -> float:
        """CPU seconds the server process has used so far (0.0 where /proc is missing)."""
        return process_cpu(self.pid)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid``, read from /proc (0.0 if unavailable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def fake_server(
    *,
    sessions: int = 1,
    interactions: int = 1000,
    latency: float = 0.0,
    max_in_flight: int | None = None,
    list_sessions: bool = True,
    prerender: bool = False,
) -> Iterator[ServerInfo]:
    """Run the fake server (``python -m proxy_async.testing``, the same as ``proxy-async
    fake-server``) in its own process for the ``with`` block.

    ``prerender`` serves each GET answer as bytes rendered on its first request (the
    client-bound mode: the server's per-request work is then HTTP framing and a
    cache lookup). ``list_sessions`` False leaves ``session_sids`` empty instead of reading every
    session SID from the server (a million of them, for the export-at-scale benchmark).
    """
    command = [
        sys.executable,
        "-m",
        "proxy_async.testing",
        "--port",
        "0",
        "--sessions",
        str(sessions),
        "--interactions",
        str(interactions),
        "--latency",
        str(latency),
        "--json",
    ]
    if max_in_flight is not None:
        command += ["--max-in-flight", str(max_in_flight)]
    if prerender:
        command.append("--prerender")
    with tempfile.TemporaryFile() as errors:
        # The command is this interpreter and numbers: nothing untrusted.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
        try:
            info = _read_ready_line(process, errors)
            if list_sessions:
                info = dataclasses.replace(info, session_sids=_list_session_sids(info))
            yield info
        finally:
            _stop(process)


def _read_ready_line(process: subprocess.Popen[bytes], errors: Any) -> ServerInfo:
    assert process.stdout is not None
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(remaining, 0.0))
        chunk = os.read(process.stdout.fileno(), 65536) if ready else b""
        if not chunk:
            errors.seek(0)
            detail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"fake server did not start: {detail or 'timeout'}")
        line += chunk
    details = _loads(line)
    return ServerInfo(
        url=details["url"],
        account_sid=details["account_sid"],
        auth_token=details["auth_token"],
        service_sid=details["service_sids"][0],
        session_sids=(),
        pid=process.pid,
    )


def _list_session_sids(server: ServerInfo) -> tuple[str, ...]:
    """Every session SID of the server's first service, read from its Sessions list.

    The ready line carries only a sample (it stays one short line at any size).
    """
    sids: list[str] = []
    url: str | None = f"{server.url}/v1/Services/{server.service_sid}/Sessions?PageSize=1000"
    while url is not None:
        if not url.startswith(server.url + "/"):
            raise RuntimeError(f"unexpected next page: {url}")
        # Only ever the local fake server's own http URL (checked above).
        headers = {"Authorization": server.auth_header}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=SERVER_START_TIMEOUT) as response:  # noqa: S310
            page = _loads(response.read())
        sids.extend(session["sid"] for session in page["sessions"])
        url = page["meta"]["next_page_url"]
    return tuple(sids)


def _loads(data: bytes) -> dict[str, Any]:
    import orjson  # the package depends on it; imported late to keep this module light

    loaded = orjson.loads(data)
    if not isinstance(loaded, dict):
        raise RuntimeError(f"unexpected ready line: {data!r}")
    return loaded


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


# -- measuring ------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed run: wall and client CPU seconds, how many units it moved, server CPU."""

    wall: float
    cpu: float
    count: int
    server_cpu: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Units (records or requests) per wall second."""
        return self.count / self.wall if self.wall > 0 else float("inf")

    @property
    def cpu_per_unit(self) -> float:
        """Client CPU seconds per unit."""
        return self.cpu / self.count if self.count else float("nan")


Run = Callable[[], Coroutine[Any, Any, int]]
"""A contender's run: does the work and returns how many units (records, requests) it moved."""


@dataclass(frozen=True)
class Contender:
    """A named way of doing the benchmark's work.

    ``prepare`` runs before each run (the warm-up too), outside the timing: e.g.
    deleting the previous run's output files.
    """

    name: str
    run: Run
    warmup: Run | None = None
    extra: Callable[[], dict[str, float]] | None = None
    prepare: Callable[[], None] | None = None


def measure(run: Run, server: ServerInfo | None = None) -> Sample:
    """Run one contender in a fresh event loop, timing wall and this process's CPU."""
    gc.collect()
    server_before = server.server_cpu() if server is not None else 0.0
    wall_before = time.perf_counter()
    cpu_before = time.process_time()
    count = asyncio.run(run())
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    server_cpu = (server.server_cpu() - server_before) if server is not None else 0.0
    return Sample(wall=wall, cpu=cpu, count=count, server_cpu=server_cpu)


def run_rounds(
    contenders: Sequence[Contender],
    rounds: int,
    server: ServerInfo | None = None,
    *,
    label: str = "",
) -> dict[str, list[Sample]]:
    """Warm each contender up, then run them all ``rounds`` times, alternating the order."""
    for contender in contenders:
        if contender.warmup is not None:
            if contender.prepare is not None:
                contender.prepare()
            measure(contender.warmup, server)
        if contender.extra is not None:
            contender.extra()  # forget what the warm-up counted
    samples: dict[str, list[Sample]] = {contender.name: [] for contender in contenders}
    for number in range(rounds):
        order = list(contenders) if number % 2 == 0 else list(reversed(contenders))
        for contender in order:
            if contender.prepare is not None:
                contender.prepare()
            sample = measure(contender.run, server)
            if contender.extra is not None:
                sample.extra.update(contender.extra())
            samples[contender.name].append(sample)
            progress(
                f"{label}round {number + 1}/{rounds} {contender.name}: "
                f"{sample.count} in {sample.wall:.2f} s wall, {sample.cpu:.2f} s cpu"
            )
    return samples


def paired_ratio(
    samples: dict[str, list[Sample]], name: str, baseline: str, key: Callable[[Sample], float]
) -> float:
    """Median over rounds of ``key(name's run) / key(baseline's run)`` of the same round."""
    pairs = zip(samples[name], samples[baseline], strict=True)
    return statistics.median(key(mine) / key(theirs) for mine, theirs in pairs)


CLIENT_BOUND_SHARE = 0.8
"""A run is client-bound when the client's CPU time is at least this share of its wall time."""


def bound_by(runs: Sequence[Sample]) -> tuple[float, float, str]:
    """``(client CPU / wall, server CPU / wall, verdict)``, medians over ``runs``.

    The verdict is "client-bound" when the client process was busy at least
    :data:`CLIENT_BOUND_SHARE` of the wall time (it set the pace), "server-bound" when
    the server process was, else "neither" (waiting: latency, a cap, the scheduler).
    Computed from the measurement, never assumed from the mode.
    """
    client = median_of(runs, lambda s: s.cpu / s.wall if s.wall > 0 else 0.0)
    server = median_of(runs, lambda s: s.server_cpu / s.wall if s.wall > 0 else 0.0)
    if client >= CLIENT_BOUND_SHARE and client >= server:
        verdict = "client-bound"
    elif server >= CLIENT_BOUND_SHARE:
        verdict = "server-bound"
    else:
        verdict = "neither"
    return client, server, verdict


def bound_caption(samples: dict[str, list[Sample]]) -> str:
    """One line naming, per contender, who set the pace and the CPU shares behind it."""
    parts = []
    for name, runs in samples.items():
        client, server, verdict = bound_by(runs)
        parts.append(f"{name}: {verdict} (client CPU {client:.0%}, server {server:.0%})")
    return (
        "Ratio columns are medians of per-round ratios (each round's contenders ran back "
        "to back), so they need not equal the ratio of the median columns.\n\n"
        "Bound by (median CPU time / wall time of each process; client-bound at >= "
        f"{CLIENT_BOUND_SHARE:.0%} client): " + "; ".join(parts)
    )


MODES = ("client-bound", "server-bound")
"""Benchmark modes, in the order they run and are reported: client-bound is the headline."""


def add_mode_option(parser: argparse.ArgumentParser) -> None:
    """``--mode client-bound|server-bound|both`` (default both)."""
    parser.add_argument(
        "--mode",
        choices=(*MODES, "both"),
        default="both",
        help="client-bound: pre-rendered pages, no latency, the client sets the pace; "
        "server-bound: pages built per request (and latency, for export); both: "
        "client-bound first",
    )


def modes_of(choice: str) -> list[str]:
    """The modes ``--mode`` selects, client-bound first."""
    return list(MODES) if choice == "both" else [choice]


def median(values: Sequence[float]) -> float:
    """The median (of one value: that value)."""
    return statistics.median(values)


def median_of(samples: Sequence[Sample], key: Callable[[Sample], float]) -> float:
    """The median of ``key`` over ``samples``."""
    return statistics.median(key(sample) for sample in samples)


def progress(message: str) -> None:
    """A progress line on stderr (tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


# -- reporting ------------------------------------------------------------------------


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table (pastes straight into benchmarks/README.md)."""
    widths = [len(column) for column in columns]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            + " |"
        )

    print(f"\n### {title}\n")
    print(line(columns))
    print("| " + " | ".join("-" * width for width in widths) + " |")
    for row in rows:
        print(line(row))
    print(flush=True)


@dataclass(frozen=True)
class Target:
    """A target of issue 5: ``measured`` must be ``>=`` (or ``<=``) ``threshold``."""

    name: str
    measured: float
    threshold: float
    at_least: bool
    unit: str = "x"

    @property
    def passed(self) -> bool:
        """Whether the measured value meets the target."""
        if self.at_least:
            return self.measured >= self.threshold
        return self.measured <= self.threshold

    def row(self) -> list[str]:
        """Cells for :func:`print_targets`."""
        sign = ">=" if self.at_least else "<="
        return [
            self.name,
            f"{self.measured:.2f}{self.unit}",
            f"{sign} {self.threshold:g}{self.unit}",
            "PASS" if self.passed else "FAIL",
        ]


def print_targets(title: str, targets: Sequence[Target]) -> None:
    """Print PASS/FAIL against each target (informational: nothing is asserted)."""
    print_table(title, ["target", "measured", "wanted", "result"], [t.row() for t in targets])


def fmt_rate(value: float) -> str:
    """A rate with thousands separators."""
    return f"{value:,.0f}"


def fmt_ratio(value: float) -> str:
    """A ratio such as ``0.83x``."""
    return f"{value:.2f}x"


# -- contenders that need optional packages ---------------------------------------------


def optional_module(name: str) -> Any | None:
    """Import ``name`` if installed (the bench venv has twilio); None otherwise.

    Imported dynamically, as ``Any``: twilio ships no type information, and it must
    never be a dependency of proxy_async.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except ImportError:
        return None


def twilio_client(server: ServerInfo) -> tuple[Any, Any] | None:
    """A twilio ``Client`` on an ``AsyncTwilioHttpClient``, its Proxy domain on the fake.

    Call inside the running loop (the HTTP client opens an aiohttp session). Returns
    ``(client, http_client)``, or None when twilio is not installed.
    """
    rest = optional_module("twilio.rest")
    http = optional_module("twilio.http.async_http_client")
    if rest is None or http is None:
        return None
    http_client = http.AsyncTwilioHttpClient()
    client = rest.Client(server.account_sid, server.auth_token, http_client=http_client)
    # Every Proxy request URL is built from this Domain attribute (Domain.absolute_url);
    # next_page_url values come from the server and already point at it.
    client.proxy.base_url = server.url
    return client, http_client


TWILIO_MISSING = "twilio not installed: run in the bench venv (see benchmarks/README.md)"


def quiet_twilio_warnings() -> None:
    """Hide aiohttp's BasicAuth DeprecationWarning that twilio triggers on every request."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"twilio\..*")
    warnings.filterwarnings("ignore", message=r"BasicAuth is deprecated", category=Warning)


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="moderate sizes and 3 rounds (see each script)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per contender")
    return parser


def client_bound_columns(rate_ratios: Sequence[str], cpu_ratios: Sequence[str]) -> list[str]:
    """The column titles of a client-bound table, with its ratio columns where they go."""
    return [
        "contender",
        "records/s (median)",
        "min-max",
        *rate_ratios,
        "client CPU us/record",
        *cpu_ratios,
        "server CPU s",
        "server CPU us/record",
        "wall s",
        "CPU/wall client / server",
        "bound by",
    ]


def client_bound_row(
    name: str, runs: Sequence[Sample], rate_ratios: Sequence[str], cpu_ratios: Sequence[str]
) -> list[str]:
    """One contender's cells of a client-bound table (see :func:`client_bound_columns`),
    its ratio cells given already formatted."""
    rates = [sample.rate for sample in runs]
    client_share, server_share, verdict = bound_by(runs)
    return [
        name,
        fmt_rate(median(rates)),
        f"{fmt_rate(min(rates))}-{fmt_rate(max(rates))}",
        *rate_ratios,
        f"{median_of(runs, lambda s: s.cpu_per_unit) * 1e6:.1f}",
        *cpu_ratios,
        f"{median_of(runs, lambda s: s.server_cpu):.2f}",
        f"{median_of(runs, lambda s: s.server_cpu / s.count) * 1e6:.1f}",
        f"{median_of(runs, lambda s: s.wall):.2f}",
        f"{client_share:.0%} / {server_share:.0%}",
        verdict,
    ]


def proxy_client(server: ServerInfo, **options: Any) -> ProxyClient:
    """A proxy-async client on the fake server, rate limit off, with ``options``."""
    return ProxyClient(
        server.account_sid,
        server.auth_token,
        base_url=server.url,
        requests_per_second=None,
        **options,
    )
