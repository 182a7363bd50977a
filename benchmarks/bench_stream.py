"""Benchmark 1, stream throughput: one session's Interactions, records per second.

Contenders, alternated over several rounds against a fake server in its own process:

* ``raw aiohttp+orjson``: follow ``meta.next_page_url``, parse each page with orjson and
  iterate its records, nothing else (the wire limit; one request at a time);
* ``proxy-async stream()``: default client settings except ``requests_per_second=None``;
* ``twilio stream_async``: the official SDK through ``AsyncTwilioHttpClient`` (bench venv);
* ``proxy-async no prefetch`` (only with ``--contenders``): shows what prefetch buys.

``python benchmarks/bench_stream.py [--quick] [--records N] [--page-sizes 50,1000]``
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

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
    quiet_twilio_warnings,
    run_rounds,
    twilio_client,
)

from proxy_async import ProxyClient

RAW = "raw aiohttp+orjson"
PROXY = "proxy-async stream()"
PROXY_NO_PREFETCH = "proxy-async no prefetch"
TWILIO = "twilio stream_async"
CHOICES = {"raw": RAW, "proxy": PROXY, "proxy-no-prefetch": PROXY_NO_PREFETCH, "twilio": TWILIO}
WARMUP_RECORDS = 2000


def raw_stream(server: ServerInfo, page_size: int, limit: int | None) -> Run:
    """aiohttp + orjson: fetch, parse, iterate, follow next_page_url."""

    async def run() -> int:
        headers = {"Authorization": server.auth_header, "Accept": "application/json"}
        count = 0
        async with aiohttp.ClientSession(headers=headers) as session:
            url: str | None = f"{server.url}{server.interactions_path()}?PageSize={page_size}"
            while url is not None:
                async with session.get(url) as response:
                    body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                page = orjson.loads(body)
                for _record in page["interactions"]:
                    count += 1
                    if count == limit:
                        return count
                url = page["meta"]["next_page_url"]
        return count

    return run


def proxy_stream(server: ServerInfo, page_size: int, limit: int | None, prefetch: bool) -> Run:
    """proxy-async's ``stream()``, rate limit off, everything else default."""

    async def run() -> int:
        count = 0
        async with ProxyClient(
            server.account_sid,
            server.auth_token,
            base_url=server.url,
            requests_per_second=None,
            prefetch=prefetch,
        ) as client:
            session = client.services(server.service_sid).sessions(server.session_sids[0])
            async for _interaction in session.interactions.stream(page_size=page_size, limit=limit):
                count += 1
        return count

    return run


def twilio_stream(server: ServerInfo, page_size: int, limit: int | None) -> Run:
    """twilio-python's ``stream_async`` on ``AsyncTwilioHttpClient``, pointed at the fake."""

    async def run() -> int:
        made = twilio_client(server)
        assert made is not None
        client, http_client = made
        count = 0
        try:
            interactions = (
                client.proxy.v1.services(server.service_sid)
                .sessions(server.session_sids[0])
                .interactions
            )
            async for _instance in await interactions.stream_async(
                limit=limit, page_size=page_size
            ):
                count += 1
        finally:
            await http_client.close()
        return count

    return run


def contenders_for(server: ServerInfo, page_size: int, names: Sequence[str]) -> list[Contender]:
    """The contenders chosen on the command line, at one page size."""
    warm = min(WARMUP_RECORDS, page_size * 2)
    made: list[Contender] = []
    for name in names:
        if name == RAW:
            made.append(
                Contender(
                    RAW, raw_stream(server, page_size, None), raw_stream(server, page_size, warm)
                )
            )
        elif name in (PROXY, PROXY_NO_PREFETCH):
            prefetch = name == PROXY
            made.append(
                Contender(
                    name,
                    proxy_stream(server, page_size, None, prefetch),
                    proxy_stream(server, page_size, warm, prefetch),
                )
            )
        elif name == TWILIO:
            made.append(
                Contender(
                    TWILIO,
                    twilio_stream(server, page_size, None),
                    twilio_stream(server, page_size, warm),
                )
            )
    return made


def paired_ratio(samples: dict[str, list[Sample]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s records/s divided by ``baseline``'s, same round."""
    pairs = zip(samples[name], samples[baseline], strict=True)
    return median([mine.rate / theirs.rate for mine, theirs in pairs])


def report(page_size: int, records: int, samples: dict[str, list[Sample]]) -> list[Target]:
    """Print the table of one page size; return the targets it decides."""
    rows = []
    for name, runs in samples.items():
        rates = [sample.rate for sample in runs]
        vs_raw = fmt_ratio(paired_ratio(samples, name, RAW)) if RAW in samples else "-"
        rows.append(
            [
                name,
                fmt_rate(median(rates)),
                f"{fmt_rate(min(rates))}-{fmt_rate(max(rates))}",
                vs_raw,
                f"{median_of(runs, lambda s: s.cpu_per_unit) * 1e6:.1f}",
                f"{median_of(runs, lambda s: s.server_cpu):.2f}",
                f"{median_of(runs, lambda s: s.wall):.2f}",
            ]
        )
    print_table(
        f"Stream throughput: {records:,} interactions, page size {page_size}",
        [
            "contender",
            "records/s (median)",
            "min-max",
            "vs raw",
            "client CPU us/record",
            "server CPU s",
            "wall s",
        ],
        rows,
    )
    targets: list[Target] = []
    if page_size == 1000 and PROXY in samples:
        if RAW in samples:
            targets.append(
                Target(
                    "stream p1000: proxy-async / raw",
                    paired_ratio(samples, PROXY, RAW),
                    0.8,
                    at_least=True,
                )
            )
        if TWILIO in samples:
            targets.append(
                Target(
                    "stream p1000: proxy-async / twilio",
                    paired_ratio(samples, PROXY, TWILIO),
                    3.0,
                    at_least=True,
                )
            )
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stream benchmark and print its tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--records", type=int, default=None, help="interactions in the session")
    parser.add_argument("--page-sizes", default="50,1000", help="comma-separated page sizes")
    parser.add_argument(
        "--contenders",
        default="raw,proxy,twilio",
        help=f"comma-separated, from {','.join(CHOICES)}",
    )
    args = parser.parse_args(argv)
    records = args.records or (20_000 if args.quick else 100_000)
    rounds = args.rounds or (3 if args.quick else 5)
    page_sizes = [int(size) for size in args.page_sizes.split(",")]
    names = [CHOICES[name.strip()] for name in args.contenders.split(",")]
    twilio_skipped = TWILIO in names and optional_module("twilio.rest") is None
    if twilio_skipped:
        progress(f"skipping {TWILIO}: {TWILIO_MISSING}")
        names.remove(TWILIO)
    quiet_twilio_warnings()
    targets: list[Target] = []
    print(f"# bench_stream: {records:,} records, {rounds} rounds, page sizes {page_sizes}")
    with fake_server(sessions=1, interactions=records) as server:
        for page_size in page_sizes:
            contenders = contenders_for(server, page_size, names)
            samples = run_rounds(contenders, rounds, server, label=f"p{page_size} ")
            targets += report(page_size, records, samples)
    if twilio_skipped:
        print(f"(twilio contender skipped: {TWILIO_MISSING})")
    if targets:
        print_targets("Stream targets (issue 5)", targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
