"""Benchmark 2, fetch overhead: client CPU time per request for concurrent single fetches.

N concurrent fetches of single Interactions (``asyncio.gather``), each contender with the
same connection cap (``--concurrency``, default 100, which is the pool size twilio's
``AsyncTwilioHttpClient`` gets from aiohttp). The figure of merit is the client
process's CPU time (``time.process_time()``) per request; the server runs in its own
process, so its work is not counted.

* ``raw aiohttp+orjson``: GET, read, ``orjson.loads``, nothing else;
* ``proxy-async fetch()``: ``interactions.fetch(sid)``, rate limit off;
* ``twilio fetch_async``: ``interactions(sid).fetch_async()`` (bench venv only);
* ``raw + proxy-async's timeouts/headers`` (only with ``--contenders``): raw aiohttp sending
  proxy-async's headers and per-request ``ClientTimeout``, which splits the gap into
  aiohttp features vs proxy-async's own code.

``python benchmarks/bench_fetch.py [--quick] [--requests N] [--concurrency C]``
"""

from __future__ import annotations

import asyncio
import sys
import urllib.request
from collections.abc import Callable, Sequence

import aiohttp
import orjson
from _common import (
    TWILIO_MISSING,
    Contender,
    Run,
    Sample,
    ServerInfo,
    Target,
    base_parser,
    fake_server,
    fmt_rate,
    fmt_ratio,
    median,
    median_of,
    optional_module,
    print_table,
    print_targets,
    progress,
    proxy_client,
    quiet_twilio_warnings,
    run_rounds,
    twilio_client,
)

from proxy_async import Timeouts
from proxy_async.client.proxy_client import USER_AGENT

RAW = "raw aiohttp+orjson"
PROXY = "proxy-async fetch()"
TWILIO = "twilio fetch_async"
RAW_LIKE_PROXY = "raw + proxy-async's timeouts/headers"
CHOICES = {"raw": RAW, "raw-like-proxy": RAW_LIKE_PROXY, "proxy": PROXY, "twilio": TWILIO}
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=30)
"""aiohttp's own default, passed explicitly so both raw variants take the same code path."""
SESSION_INTERACTIONS = 1000
WARMUP_REQUESTS = 200


def interaction_sids(server: ServerInfo, count: int) -> list[str]:
    """The first ``count`` (<= 1000) Interaction SIDs of the first session, via one GET."""
    url = f"{server.url}{server.interactions_path()}?PageSize={min(count, 1000)}"
    request = urllib.request.Request(url, headers={"Authorization": server.auth_header})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback only)
        page = orjson.loads(response.read())
    return [record["sid"] for record in page["interactions"]]


def targets_of(sids: Sequence[str], requests: int) -> list[str]:
    """``requests`` SIDs, cycling through ``sids``."""
    return [sids[index % len(sids)] for index in range(requests)]


def raw_fetch(
    server: ServerInfo, sids: Sequence[str], concurrency: int, *, like_proxy: bool = False
) -> Run:
    """aiohttp GET + orjson.loads for every SID, all at once.

    ``like_proxy`` sends proxy-async's headers and per-request ``ClientTimeout``
    (connect/read/total), to tell the cost of those aiohttp features from the
    library's own code.
    """
    base = f"{server.url}{server.interactions_path()}/"
    timeout = Timeouts().to_aiohttp() if like_proxy else None
    headers = {"Authorization": server.auth_header, "Accept": "application/json"}
    if like_proxy:
        headers["User-Agent"] = USER_AGENT

    async def run() -> int:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

            async def one(sid: str) -> None:
                async with session.get(base + sid, timeout=timeout or DEFAULT_TIMEOUT) as response:
                    body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                orjson.loads(body)

            await asyncio.gather(*(one(sid) for sid in sids))
        return len(sids)

    return run


def proxy_fetch(server: ServerInfo, sids: Sequence[str], concurrency: int) -> Run:
    """proxy-async ``fetch()`` for every SID, all at once."""

    async def run() -> int:
        async with proxy_client(server, max_concurrency=concurrency) as client:
            interactions = (
                client.services(server.service_sid).sessions(server.session_sids[0]).interactions
            )
            await asyncio.gather(*(interactions.fetch(sid) for sid in sids))
        return len(sids)

    return run


def twilio_fetch(server: ServerInfo, sids: Sequence[str]) -> Run:
    """twilio-python ``fetch_async()`` for every SID, all at once (aiohttp's default pool)."""

    async def run() -> int:
        made = twilio_client(server)
        assert made is not None
        client, http_client = made
        try:
            interactions = (
                client.proxy.v1.services(server.service_sid)
                .sessions(server.session_sids[0])
                .interactions
            )
            await asyncio.gather(*(interactions(sid).fetch_async() for sid in sids))
        finally:
            await http_client.close()
        return len(sids)

    return run


def paired_cpu_ratio(samples: dict[str, list[Sample]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s CPU per request divided by ``baseline``'s."""
    pairs = zip(samples[name], samples[baseline], strict=True)
    return median([mine.cpu_per_unit / theirs.cpu_per_unit for mine, theirs in pairs])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fetch benchmark and print its table."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=None, help="fetches per run")
    parser.add_argument("--concurrency", type=int, default=100, help="connection cap")
    parser.add_argument(
        "--contenders",
        default="raw,proxy,twilio",
        help=f"comma-separated, from {','.join(CHOICES)}",
    )
    args = parser.parse_args(argv)
    requests = args.requests or (2_000 if args.quick else 5_000)
    rounds = args.rounds or (3 if args.quick else 5)
    names = [CHOICES[name.strip()] for name in args.contenders.split(",")]
    if RAW not in names:
        names.insert(0, RAW)
    twilio_skipped = TWILIO in names and optional_module("twilio.rest") is None
    if twilio_skipped:
        progress(f"skipping {TWILIO}: {TWILIO_MISSING}")
        names.remove(TWILIO)
    quiet_twilio_warnings()
    print(
        f"# bench_fetch: {requests:,} concurrent fetches, connection cap {args.concurrency}, "
        f"{rounds} rounds"
    )
    with fake_server(sessions=1, interactions=SESSION_INTERACTIONS) as server:
        sids = interaction_sids(server, SESSION_INTERACTIONS)
        work = targets_of(sids, requests)
        warm = targets_of(sids, min(WARMUP_REQUESTS, requests))
        makers: dict[str, Callable[[Sequence[str], int], Run]] = {
            RAW: lambda ids, cap: raw_fetch(server, ids, cap),
            RAW_LIKE_PROXY: lambda ids, cap: raw_fetch(server, ids, cap, like_proxy=True),
            PROXY: lambda ids, cap: proxy_fetch(server, ids, cap),
            TWILIO: lambda ids, cap: twilio_fetch(server, ids),
        }
        contenders = [
            Contender(name, makers[name](work, args.concurrency), makers[name](warm, 10))
            for name in names
        ]
        samples = run_rounds(contenders, rounds, server)
    rows = []
    for name, runs in samples.items():
        rows.append(
            [
                name,
                f"{median_of(runs, lambda s: s.cpu_per_unit) * 1e6:.0f}",
                fmt_ratio(paired_cpu_ratio(samples, name, RAW)),
                fmt_rate(median_of(runs, lambda s: s.rate)),
                f"{median_of(runs, lambda s: s.server_cpu / s.count) * 1e6:.0f}",
            ]
        )
    print_table(
        f"Fetch overhead: {requests:,} concurrent fetches (cap {args.concurrency})",
        [
            "contender",
            "client CPU us/request (median)",
            "vs raw",
            "requests/s (wall)",
            "server CPU us/request",
        ],
        rows,
    )
    if twilio_skipped:
        print(f"(twilio contender skipped: {TWILIO_MISSING})")
    if PROXY in samples:
        ratio = paired_cpu_ratio(samples, PROXY, RAW)
        targets = [Target("fetch: proxy-async CPU/request / raw", ratio, 1.1, at_least=False)]
        print_targets("Fetch targets (issue 12; issue 5 asked <= 1.5x)", targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
