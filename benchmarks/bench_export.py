"""Benchmark 3, bulk export: many sessions streamed concurrently under a server in-flight cap.

The fake server (its own process) answers every request after ``--latency`` seconds and
answers 429 to any request arriving while more than ``--cap`` are in flight. The ideal
wall time is ``total pages x latency / cap``: the cap always full, no time lost between
requests. Reported: wall time against that ideal, and how many requests went over the
limit (429s seen by the client; should be zero).

Also reported, because the ideal ignores the server's own costs: the "floor", ``total
pages x (time of one request sent alone) / cap``, and the speed relative to a raw
aiohttp client doing the same export. One request alone takes a few ms more than the
latency, and the fake server is one asyncio process (requests that sleep together wake
together and are rendered one after another), so the ideal is out of any client's reach
here; see benchmarks/README.md.

Contenders, each with ``max_concurrency=cap`` and ``requests_per_second=None``:

* ``proxy-async export.stream_interactions()``: the library's bulk export generator
  (when :mod:`proxy_async.export` exists), ``concurrency=cap`` sessions at a time
  (``--export-workers`` to change it);
* ``proxy-async stream() x sessions``: one asyncio task per session over ``stream()``;
* ``raw aiohttp+orjson``: the same by hand (a semaphore of ``cap``, a task per session).

``python benchmarks/bench_export.py [--quick] [--sessions N] [--cap N] [--page-size N]``
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson
from _common import (
    Contender,
    Run,
    Sample,
    ServerInfo,
    Target,
    base_parser,
    fake_server,
    fmt_rate,
    fmt_ratio,
    median_of,
    optional_module,
    print_table,
    print_targets,
    run_rounds,
)

from proxy_async import AttemptEvent, ProxyClient

PROXY = "proxy-async stream() x sessions"
EXPORT = "proxy-async export.stream_interactions()"
RAW = "raw aiohttp+orjson (reference)"


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
    return ProxyClient(
        server.account_sid,
        server.auth_token,
        base_url=server.url,
        max_concurrency=cap,
        requests_per_second=None,
        on_response=counter,
    )


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
    """``proxy_async.export.stream_interactions`` over one client, ``workers`` sessions at once."""

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bulk export benchmark and print its table."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sessions", type=int, default=None, help="sessions to export")
    parser.add_argument("--interactions", type=int, default=1000, help="per session")
    parser.add_argument("--latency", type=float, default=0.02, help="server latency, seconds")
    parser.add_argument("--cap", type=int, default=10, help="server in-flight cap = client's")
    parser.add_argument("--page-size", type=int, default=50, help="PageSize (50: the default)")
    parser.add_argument(
        "--export-workers", type=int, default=None, help="export API concurrency (default: cap)"
    )
    parser.add_argument("--no-raw", action="store_true", help="skip the raw reference")
    args = parser.parse_args(argv)
    workers = args.export_workers or args.cap
    sessions_count = args.sessions or (50 if args.quick else 200)
    rounds = args.rounds or 3
    module = optional_module("proxy_async.export")
    if module is not None and not hasattr(module, "stream_interactions"):
        module = None
    pages = sessions_count * max(1, math.ceil(args.interactions / args.page_size))
    ideal = pages * args.latency / args.cap
    print(
        f"# bench_export: {sessions_count} sessions x {args.interactions:,} interactions, "
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
        samples = run_rounds(contenders, rounds, server)
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
        f"Bulk export: {sessions_count} sessions x {args.interactions:,} interactions, "
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
        print("(proxy_async.export not found: only the stream() tasks contender ran)")
    print_targets("Bulk export targets (issue 5)", targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
