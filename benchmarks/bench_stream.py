"""Benchmark 1, stream throughput: one session's Interactions, records per second.

Two modes (``--mode``, default both, client-bound first as the headline):

* ``client-bound``: the server pre-renders each page once (``--prerender``) and then
  serves its bytes, with no latency and no in-flight cap, so the client sets the pace
  and its CPU per record is what is compared. Default: one session of 50,000
  interactions at page size 1000 (issue 12's reference setup). Each contender's
  warm-up is one full untimed run, which also fills the server's cache.
* ``server-bound``: the server builds every page per request (its CPU is comparable to
  the client's, so prefetching hides much of the client's cost). Default: 100,000
  interactions at page sizes 50 and 1000.

Contenders, alternated over several rounds against a fake server in its own process:

* ``raw aiohttp+orjson``: follow ``meta.next_page_url``, parse each page with orjson and
  iterate its records, nothing else (the wire limit; one request at a time);
* ``proxy-async stream()``: default client settings except ``requests_per_second=None``;
* ``twilio stream_async``: the official SDK through ``AsyncTwilioHttpClient`` (bench venv);
* ``proxy-async no prefetch`` (only with ``--contenders``): shows what prefetch buys.

``python benchmarks/bench_stream.py [--quick] [--mode both] [--records N] [--page-sizes 50,1000]``
(``--records`` and ``--page-sizes``, when given, apply to both modes).
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
    add_mode_option,
    base_parser,
    bound_by,
    bound_caption,
    client_bound_columns,
    client_bound_row,
    fake_server,
    fmt_rate,
    fmt_ratio,
    median,
    median_of,
    modes_of,
    optional_module,
    paired_ratio,
    print_table,
    print_targets,
    progress,
    proxy_client,
    quiet_twilio_warnings,
    run_rounds,
    twilio_client,
)

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
        async with proxy_client(server, prefetch=prefetch) as client:
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


def contenders_for(
    server: ServerInfo, page_size: int, names: Sequence[str], *, full_warmup: bool = False
) -> list[Contender]:
    """The contenders chosen on the command line, at one page size.

    ``full_warmup`` makes each warm-up a whole untimed run (client-bound mode: it
    fills the pre-rendering server's cache with every page that contender asks for);
    otherwise it streams a couple of pages.
    """
    warm = None if full_warmup else min(WARMUP_RECORDS, page_size * 2)
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


def rate_ratio(samples: dict[str, list[Sample]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s records/s divided by ``baseline``'s, same round."""
    return paired_ratio(samples, name, baseline, lambda sample: sample.rate)


def cpu_ratio(samples: dict[str, list[Sample]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s client CPU per record over ``baseline``'s, same round."""
    return paired_ratio(samples, name, baseline, lambda sample: sample.cpu_per_unit)


def report_server_bound(
    page_size: int, records: int, samples: dict[str, list[Sample]]
) -> list[Target]:
    """Print the server-bound table of one page size; return the targets it decides."""
    rows = []
    for name, runs in samples.items():
        rates = [sample.rate for sample in runs]
        vs_raw = fmt_ratio(rate_ratio(samples, name, RAW)) if RAW in samples else "-"
        rows.append(
            [
                name,
                fmt_rate(median(rates)),
                f"{fmt_rate(min(rates))}-{fmt_rate(max(rates))}",
                vs_raw,
                f"{median_of(runs, lambda s: s.cpu_per_unit) * 1e6:.1f}",
                f"{median_of(runs, lambda s: s.server_cpu):.2f}",
                f"{median_of(runs, lambda s: s.wall):.2f}",
                bound_by(runs)[2],
            ]
        )
    print_table(
        f"Server-bound stream throughput: {records:,} interactions, page size {page_size} "
        "(pages built per request)",
        [
            "contender",
            "records/s (median)",
            "min-max",
            "vs raw",
            "client CPU us/record",
            "server CPU s",
            "wall s",
            "bound by",
        ],
        rows,
    )
    print(bound_caption(samples))
    if page_size != 1000:
        return []
    return rate_targets(
        samples, "server-bound stream p1000: proxy-async / {}", {RAW: 0.8, TWILIO: 3.0}
    )


def rate_targets(
    samples: dict[str, list[Sample]], label: str, wanted: dict[str, float]
) -> list[Target]:
    """proxy-async's records/s over each contender's in ``wanted`` that ran, at least as given;
    ``label`` names the contender with ``{}`` (raw, twilio)."""
    return [
        Target(
            label.format("raw" if other == RAW else "twilio"),
            rate_ratio(samples, PROXY, other),
            least,
            at_least=True,
        )
        for other, least in wanted.items()
        if PROXY in samples and other in samples
    ]


def report_client_bound(
    page_size: int, records: int, samples: dict[str, list[Sample]]
) -> list[Target]:
    """Print the client-bound table of one page size; return the targets it decides."""
    with_raw = RAW in samples
    rows = [
        client_bound_row(
            name,
            runs,
            [fmt_ratio(rate_ratio(samples, name, RAW)) if with_raw else "-"],
            [fmt_ratio(cpu_ratio(samples, name, RAW)) if with_raw else "-"],
        )
        for name, runs in samples.items()
    ]
    print_table(
        f"Client-bound stream throughput: {records:,} interactions, page size {page_size} "
        "(pre-rendered pages, no latency)",
        client_bound_columns(["vs raw"], ["CPU vs raw"]),
        rows,
    )
    print(bound_caption(samples))
    if page_size != 1000 or PROXY not in samples:
        return []
    targets = rate_targets(
        samples, "client-bound stream p1000: proxy-async / {} records/s", {RAW: 0.8, TWILIO: 4.0}
    )
    if RAW in samples:
        ratio = cpu_ratio(samples, PROXY, RAW)
        targets += [
            Target(
                "client-bound stream p1000: client CPU/record proxy-async / raw", ratio, 1.5, False
            ),
            Target(
                "(info, moonshot) client CPU/record proxy-async / raw", ratio, 1.0, at_least=False
            ),
        ]
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stream benchmark and print its tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    add_mode_option(parser)
    parser.add_argument(
        "--records",
        type=int,
        default=None,
        help="interactions in the session (default: client-bound 50,000, server-bound "
        "100,000; --quick 20,000)",
    )
    parser.add_argument(
        "--page-sizes",
        default=None,
        help="comma-separated page sizes (default: client-bound 1000, server-bound 50,1000)",
    )
    parser.add_argument(
        "--contenders",
        default="raw,proxy,twilio",
        help=f"comma-separated, from {','.join(CHOICES)}",
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    names = [CHOICES[name.strip()] for name in args.contenders.split(",")]
    twilio_skipped = TWILIO in names and optional_module("twilio.rest") is None
    if twilio_skipped:
        progress(f"skipping {TWILIO}: {TWILIO_MISSING}")
        names.remove(TWILIO)
    quiet_twilio_warnings()
    targets: list[Target] = []
    for mode in modes_of(args.mode):
        client_bound = mode == "client-bound"
        default_records = 50_000 if client_bound else 100_000
        records = args.records or (20_000 if args.quick else default_records)
        sizes_text = args.page_sizes or ("1000" if client_bound else "50,1000")
        page_sizes = [int(size) for size in sizes_text.split(",")]
        print(
            f"# bench_stream {mode}: {records:,} records, {rounds} rounds, page sizes {page_sizes}"
        )
        with fake_server(sessions=1, interactions=records, prerender=client_bound) as server:
            for page_size in page_sizes:
                contenders = contenders_for(server, page_size, names, full_warmup=client_bound)
                samples = run_rounds(contenders, rounds, server, label=f"{mode} p{page_size} ")
                if client_bound:
                    targets += report_client_bound(page_size, records, samples)
                else:
                    targets += report_server_bound(page_size, records, samples)
    if twilio_skipped:
        print(f"(twilio contender skipped: {TWILIO_MISSING})")
    if targets:
        print_targets("Stream targets (issues 5 and 12)", targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
