"""Benchmark 3, bulk export: the client's CPU per record, then the server in-flight cap.

Two modes (``--mode``, default both, client-bound first as the headline):

**Client-bound** (``--cb-*`` options): the server pre-renders each page once and serves
its bytes, with no latency and no in-flight cap, so the client sets the pace. Over the
same sessions (default 20 x 1,000 interactions, page size 1000, 4 sessions at a time),
side by side in one run:

* ``proxy-async stream() x sessions``: the baseline, one task per session over
  ``stream()``, the client's ``max_concurrency`` at the concurrency;
* ``proxy-async export() NDJSON`` and ``... CSV``: the real exporter
  (:func:`proxy_async.bulk_export.export`, what ``proxy-async export`` runs) writing a file
  into a temporary directory, ``concurrency`` sessions at a time; the previous run's
  files are deleted before each run, outside the timing;
* ``raw aiohttp+orjson (reference)``: the same pages parsed into dicts.

Reported: records/s, client CPU per record, the export/stream CPU ratios (issue 12's
target <= 1.3x), server CPU, and who set the pace (CPU time / wall time per process).

**Server-bound** (the options without ``cb``): the fake server (its own process)
answers every request after ``--latency`` seconds and answers 429 to any request
arriving while more than ``--cap`` are in flight. The ideal wall time is ``total pages
x latency / cap``: the cap always full, no time lost between requests. Reported: wall
time against that ideal, and how many requests went over the limit (429s seen by the
client; should be zero).

Also reported, because the ideal ignores the server's own costs: the "floor", ``total
pages x (time of one request sent alone) / cap``, and the speed relative to a raw
aiohttp client doing the same export. One request alone takes a few ms more than the
latency, and the fake server is one asyncio process (requests that sleep together wake
together and are rendered one after another), so the ideal is out of any client's reach
here; see benchmarks/README.md.

Contenders, each with ``max_concurrency=cap`` and ``requests_per_second=None``:

* ``proxy-async export.stream_interactions()``: the library's bulk export generator
  (when :mod:`proxy_async.bulk_export` exists), ``concurrency=cap`` sessions at a time
  (``--export-workers`` to change it);
* ``proxy-async stream() x sessions``: one asyncio task per session over ``stream()``;
* ``raw aiohttp+orjson``: the same by hand (a semaphore of ``cap``, a task per session).

``python benchmarks/bench_export.py [--quick] [--mode both] [--cb-sessions N] [--sessions N]
[--cap N] [--page-size N]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from _common import (
    Contender,
    Run,
    Sample,
    ServerInfo,
    Target,
    add_mode_option,
    base_parser,
    bound_caption,
    client_bound_columns,
    client_bound_row,
    fake_server,
    fmt_rate,
    fmt_ratio,
    median_of,
    modes_of,
    optional_module,
    paired_ratio,
    print_table,
    print_targets,
    proxy_client,
    run_rounds,
)

from proxy_async import AttemptEvent, ProxyClient

PROXY = "proxy-async stream() x sessions"
EXPORT = "proxy-async export.stream_interactions()"
RAW = "raw aiohttp+orjson (reference)"
EXPORT_NDJSON = "proxy-async export() NDJSON"
EXPORT_CSV = "proxy-async export() CSV"


class StatusCounter:
    """Counts HTTP statuses of every attempt (``on_response`` hook); reset per run."""

    def __init__(self) -> None:
        self.statuses: Counter[int | None] = Counter()

    def __call__(self, event: AttemptEvent) -> None:
        self.statuses[event.status] += 1

    def take(self) -> dict[str, float]:
        """The counts of the run just finished, then start again."""
        over = float(self.statuses[429])
        total = float(sum(self.statuses.values()))
        self.statuses.clear()
        return {"over_limit": over, "attempts": total}


def client_for(server: ServerInfo, cap: int, counter: StatusCounter) -> ProxyClient:
    """A proxy-async client at the server's in-flight cap, counting answers, no rate limit."""
    return proxy_client(server, max_concurrency=cap, on_response=counter)


def proxy_export(
    server: ServerInfo, sessions: Sequence[str], page_size: int, cap: int, counter: StatusCounter
) -> Run:
    """One proxy-async client, one task per session streaming its Interactions."""

    async def run() -> int:
        async with client_for(server, cap, counter) as client:
            service = client.services(server.service_sid)

            async def export(session_sid: str) -> int:
                count = 0
                stream = service.sessions(session_sid).interactions.stream(page_size=page_size)
                async for _interaction in stream:
                    count += 1
                return count

            counts = await asyncio.gather(*(export(sid) for sid in sessions))
        return sum(counts)

    return run


def library_export(
    server: ServerInfo,
    sessions: Sequence[str],
    page_size: int,
    cap: int,
    counter: StatusCounter,
    module: Any,
    workers: int,
) -> Run:
    """``bulk_export.stream_interactions`` over one client, ``workers`` sessions at once."""

    async def run() -> int:
        count = 0
        async with client_for(server, cap, counter) as client:
            records = module.stream_interactions(
                client, server.service_sid, sessions, concurrency=workers, page_size=page_size
            )
            async with contextlib.aclosing(records):
                async for _tagged in records:
                    count += 1
        return count

    return run


def raw_export(
    server: ServerInfo, sessions: Sequence[str], page_size: int, cap: int, counter: StatusCounter
) -> Run:
    """The same export with aiohttp + orjson and a semaphore; a 429 is counted and retried."""

    async def run() -> int:
        headers = {"Authorization": server.auth_header, "Accept": "application/json"}
        slots = asyncio.Semaphore(cap)
        connector = aiohttp.TCPConnector(limit=cap, limit_per_host=cap)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as http:

            async def export(session_sid: str) -> int:
                path = server.interactions_path(server.session_sids.index(session_sid))
                url: str | None = f"{server.url}{path}?PageSize={page_size}"
                count = 0
                while url is not None:
                    async with slots, http.get(url) as response:
                        body = await response.read()
                    counter.statuses[response.status] += 1
                    if response.status == 429:
                        continue
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}")
                    page = orjson.loads(body)
                    for _record in page["interactions"]:
                        count += 1
                    url = page["meta"]["next_page_url"]
                return count

            counts = await asyncio.gather(*(export(sid) for sid in sessions))
        return sum(counts)

    return run


def vs_raw(samples: dict[str, list[Sample]], name: str) -> float:
    """Median over rounds of the raw reference's wall time divided by ``name``'s."""
    pairs = zip(samples[name], samples[RAW], strict=True)
    return statistics.median(theirs.wall / mine.wall for mine, theirs in pairs)


def single_request_floor(server: ServerInfo, page_size: int, samples: int = 30) -> float:
    """Median seconds of one page request, sent one at a time by raw aiohttp.

    With the server's latency this is the best any client can do per slot on this
    machine: latency plus the server's own timer and rendering overhead.
    """

    async def run() -> float:
        headers = {"Authorization": server.auth_header}
        url = f"{server.url}{server.interactions_path()}?PageSize={page_size}"
        times = []
        async with aiohttp.ClientSession(headers=headers) as http:
            for _ in range(samples):
                started = time.perf_counter()
                async with http.get(url) as response:
                    await response.read()
                times.append(time.perf_counter() - started)
        return statistics.median(times)

    return asyncio.run(run())


def file_export(
    server: ServerInfo,
    sessions: Sequence[str],
    page_size: int,
    concurrency: int,
    fmt: str,
    out: Path,
    module: Any,
) -> Run:
    """``proxy_async.bulk_export.export`` writing ``out`` (format ``fmt``), as the CLI does.

    Raises RuntimeError when the export is not complete or wrote another number of
    records than it reports, so a broken run never yields a figure.
    """

    async def run() -> int:
        async with proxy_client(server, max_concurrency=concurrency) as client:
            summary = await module.export(
                client,
                server.service_sid,
                out,
                sessions=sessions,
                fmt=fmt,
                concurrency=concurrency,
                page_size=page_size,
            )
        if not summary.complete or summary.records_this_run != summary.records:
            raise RuntimeError(f"export incomplete: {summary}")
        return int(summary.records_this_run)

    return run


def emptied(directory: Path) -> Callable[[], None]:
    """A ``prepare`` step: delete ``directory`` (the previous run's files) and recreate it."""

    def prepare() -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)

    return prepare


def client_bound(args: argparse.Namespace) -> list[Target]:
    """The client-bound export comparison: print its table, return its targets."""
    sessions_count = args.cb_sessions or (10 if args.quick else 20)
    interactions, page_size = args.cb_interactions, args.cb_page_size
    concurrency = args.cb_concurrency
    rounds = args.rounds or (3 if args.quick else 5)
    module = optional_module("proxy_async.bulk_export")
    print(
        f"# bench_export client-bound: {sessions_count} sessions x {interactions:,} "
        f"interactions, page size {page_size}, {concurrency} sessions at a time, pre-rendered "
        f"pages, no latency, no cap, {rounds} rounds"
    )
    with (
        fake_server(sessions=sessions_count, interactions=interactions, prerender=True) as server,
        tempfile.TemporaryDirectory(prefix="bench-export-") as scratch,
    ):
        sessions = server.session_sids[:sessions_count]
        counter = StatusCounter()
        contenders = [
            Contender(
                PROXY,
                proxy_export(server, sessions, page_size, concurrency, counter),
                proxy_export(server, sessions, page_size, concurrency, counter),
            )
        ]
        if module is not None and hasattr(module, "export"):
            for name, fmt in ((EXPORT_NDJSON, "ndjson"), (EXPORT_CSV, "csv")):
                directory = Path(scratch) / fmt
                run = file_export(
                    server, sessions, page_size, concurrency, fmt, directory / f"out.{fmt}", module
                )
                contenders.append(Contender(name, run, run, prepare=emptied(directory)))
        else:
            print("(proxy_async.bulk_export.export not found: only stream() and raw ran)")
        contenders.append(
            Contender(
                RAW,
                raw_export(server, sessions, page_size, concurrency, counter),
                raw_export(server, sessions, page_size, concurrency, counter),
            )
        )
        samples = run_rounds(contenders, rounds, server, label="client-bound ")
    rows = [
        client_bound_row(
            name,
            runs,
            [],
            [fmt_ratio(cpu_vs(samples, name, PROXY)), fmt_ratio(cpu_vs(samples, name, RAW))],
        )
        for name, runs in samples.items()
    ]
    total = sessions_count * interactions
    print_table(
        f"Client-bound export: {sessions_count} sessions x {interactions:,} interactions "
        f"({total:,} records), page size {page_size}, {concurrency} at a time "
        "(pre-rendered pages, no latency)",
        client_bound_columns([], ["CPU vs stream()", "CPU vs raw"]),
        rows,
    )
    print(bound_caption(samples))
    targets = [
        Target(f"client-bound export {label}: client CPU/record / stream()'s", ratio, 1.3, False)
        for label, ratio in (
            (label, cpu_vs(samples, name, PROXY))
            for label, name in (("NDJSON", EXPORT_NDJSON), ("CSV", EXPORT_CSV))
            if name in samples
        )
    ]
    targets.append(
        Target(
            "(info) client-bound stream() x sessions: client CPU/record / raw",
            cpu_vs(samples, PROXY, RAW),
            1.5,
            False,
        )
    )
    return targets


def cpu_vs(samples: dict[str, list[Sample]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s client CPU per record over ``baseline``'s."""
    return paired_ratio(samples, name, baseline, lambda sample: sample.cpu_per_unit)


def server_bound(args: argparse.Namespace) -> list[Target]:
    """The in-flight-cap export benchmark: print its table, return its targets."""
    workers = args.export_workers or args.cap
    sessions_count = args.sessions or (50 if args.quick else 200)
    rounds = args.rounds or 3
    module = optional_module("proxy_async.bulk_export")
    if module is not None and not hasattr(module, "stream_interactions"):
        module = None
    pages = sessions_count * max(1, math.ceil(args.interactions / args.page_size))
    ideal = pages * args.latency / args.cap
    print(
        f"# bench_export server-bound: {sessions_count} sessions x {args.interactions:,} "
        "interactions, "
        f"page size {args.page_size}, latency {args.latency * 1000:g} ms, cap {args.cap}, "
        f"{rounds} rounds"
    )
    with fake_server(
        sessions=sessions_count,
        interactions=args.interactions,
        latency=args.latency,
        max_in_flight=args.cap,
    ) as server:
        sessions = server.session_sids[:sessions_count]
        warm = sessions[: min(len(sessions), args.cap)]
        contenders = []
        if module is not None:
            counter = StatusCounter()
            contenders.append(
                Contender(
                    EXPORT,
                    library_export(
                        server, sessions, args.page_size, args.cap, counter, module, workers
                    ),
                    library_export(
                        server, warm, args.page_size, args.cap, counter, module, workers
                    ),
                    extra=counter.take,
                )
            )
        counter = StatusCounter()
        contenders.append(
            Contender(
                PROXY,
                proxy_export(server, sessions, args.page_size, args.cap, counter),
                proxy_export(server, warm, args.page_size, args.cap, counter),
                extra=counter.take,
            )
        )
        if not args.no_raw:
            counter = StatusCounter()
            contenders.append(
                Contender(
                    RAW,
                    raw_export(server, sessions, args.page_size, args.cap, counter),
                    raw_export(server, warm, args.page_size, args.cap, counter),
                    extra=counter.take,
                )
            )
        floor = single_request_floor(server, args.page_size)
        samples = run_rounds(contenders, rounds, server, label="server-bound ")
    floor_ideal = pages * floor / args.cap
    rows = []
    for name, runs in samples.items():
        wall = median_of(runs, lambda s: s.wall)
        rows.append(
            [
                name,
                f"{wall:.2f}",
                f"{ideal / wall:.0%}",
                f"{floor_ideal / wall:.0%}",
                fmt_ratio(vs_raw(samples, name)) if RAW in samples else "-",
                fmt_rate(median_of(runs, lambda s: s.rate)),
                f"{median_of(runs, lambda s: s.extra['attempts']):.0f}",
                f"{sum(s.extra['over_limit'] for s in runs):.0f}",
                f"{median_of(runs, lambda s: s.cpu):.2f}",
                f"{median_of(runs, lambda s: s.server_cpu):.2f}",
            ]
        )
    print_table(
        f"Server-bound bulk export: {sessions_count} sessions x {args.interactions:,} "
        "interactions, "
        f"{pages:,} pages, latency {args.latency * 1000:g} ms, cap {args.cap}; "
        f"ideal {ideal:.2f} s, floor {floor_ideal:.2f} s",
        [
            "contender",
            "wall s (median)",
            "of ideal",
            "of floor",
            "speed vs raw",
            "records/s",
            "requests/run",
            "429s (all rounds)",
            "client CPU s",
            "server CPU s",
        ],
        rows,
    )
    print(
        f"ideal = pages x latency / cap = {pages} x {args.latency:g} / {args.cap} = {ideal:.2f} s; "
        f"floor = pages x {floor * 1000:.2f} ms / cap = {floor_ideal:.2f} s, where "
        f"{floor * 1000:.2f} ms is the median time of one page request sent alone (the "
        "server's latency plus its own timer and rendering overhead on this machine)."
    )
    targets: list[Target] = []
    for name in (EXPORT, PROXY):
        if name not in samples:
            continue
        chosen: list[Sample] = samples[name]
        label = "export API" if name == EXPORT else "stream() tasks"
        wall = median_of(chosen, lambda s: s.wall)
        over = sum(s.extra["over_limit"] for s in chosen)
        targets += [
            Target(f"export ({label}): share of ideal", ideal / wall * 100, 90, True, "%"),
            Target(f"export ({label}): requests over the limit", over, 0, False, unit=""),
            Target(
                f"(info) export ({label}): share of floor", floor_ideal / wall * 100, 90, True, "%"
            ),
        ]
        if RAW in samples:
            targets.append(
                Target(f"(info) export ({label}): speed / raw", vs_raw(samples, name), 0.9, True)
            )
    if module is None:
        print("(proxy_async.bulk_export not found: only the stream() tasks contender ran)")
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bulk export benchmark and print its tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    add_mode_option(parser)
    parser.add_argument(
        "--cb-sessions", type=int, default=None, help="client-bound: sessions (20; --quick 10)"
    )
    parser.add_argument(
        "--cb-interactions", type=int, default=1000, help="client-bound: per session"
    )
    parser.add_argument("--cb-page-size", type=int, default=1000, help="client-bound: PageSize")
    parser.add_argument(
        "--cb-concurrency", type=int, default=4, help="client-bound: sessions at a time"
    )
    parser.add_argument("--sessions", type=int, default=None, help="server-bound: sessions")
    parser.add_argument("--interactions", type=int, default=1000, help="server-bound: per session")
    parser.add_argument("--latency", type=float, default=0.02, help="server latency, seconds")
    parser.add_argument("--cap", type=int, default=10, help="server in-flight cap = client's")
    parser.add_argument(
        "--page-size", type=int, default=50, help="server-bound PageSize (50: the default)"
    )
    parser.add_argument(
        "--export-workers", type=int, default=None, help="export API concurrency (default: cap)"
    )
    parser.add_argument("--no-raw", action="store_true", help="server-bound: skip raw reference")
    args = parser.parse_args(argv)
    targets: list[Target] = []
    for mode in modes_of(args.mode):
        targets += client_bound(args) if mode == "client-bound" else server_bound(args)
    print_targets("Bulk export targets (issues 5 and 12)", targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
