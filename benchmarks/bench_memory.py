"""Benchmark 4, memory: peak RSS growth while streaming a very long session.

The fake server (its own process) generates the session's interactions on the fly. Each
contender streams them in a child process of its own that does nothing else, so the
figure is not blurred by other benchmarks' garbage:

* baseline: the child's RSS (``/proc/self/statm``) right before the stream starts,
  after imports and client construction;
* peak: the highest of RSS sampled after every page and ``ru_maxrss`` at the end
  (``ru_maxrss`` counts only when streaming raised it above its pre-stream value);
* growth = peak - baseline; "late growth" = RSS at the end - RSS after 10% of the
  records, which stays near zero when memory is constant.

``python benchmarks/bench_memory.py [--quick] [--records N] [--page-size N]``
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson
from _common import (
    ServerInfo,
    Target,
    base_parser,
    fake_server,
    fmt_rate,
    median,
    print_table,
    print_targets,
    progress,
)

from proxy_async import ProxyClient

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
CONTENDERS = {"proxy": "proxy-async stream()", "raw": "raw aiohttp+orjson (reference)"}


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


def max_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Recorder:
    """Samples RSS every ``every`` records."""

    def __init__(self, expected: int, every: int) -> None:
        self.expected = expected
        self.every = every
        self.baseline = rss_bytes()
        self.max_rss_before = max_rss_bytes()
        self.peak = self.baseline
        self.at_tenth: int | None = None
        self.count = 0

    def record(self) -> None:
        """Count one record; sample RSS on page boundaries."""
        self.count += 1
        if self.count % self.every == 0:
            rss = rss_bytes()
            self.peak = max(self.peak, rss)
            if self.at_tenth is None and self.count >= self.expected // 10:
                self.at_tenth = rss

    def result(self, wall: float) -> dict[str, Any]:
        """What the parent reports."""
        end = rss_bytes()
        max_after = max_rss_bytes()
        peak = max(self.peak, end, max_after if max_after > self.max_rss_before else 0)
        return {
            "records": self.count,
            "wall": wall,
            "baseline": self.baseline,
            "peak": peak,
            "growth": peak - self.baseline,
            "late_growth": end - (self.at_tenth if self.at_tenth is not None else self.baseline),
        }


async def stream_proxy(server: dict[str, Any], page_size: int, recorder: Recorder) -> None:
    """proxy-async ``stream()``, rate limit off."""
    async with ProxyClient(
        server["account_sid"],
        server["auth_token"],
        base_url=server["url"],
        requests_per_second=None,
    ) as client:
        session = client.services(server["service_sid"]).sessions(server["session_sid"])
        recorder.baseline = rss_bytes()
        async for _interaction in session.interactions.stream(page_size=page_size):
            recorder.record()


async def stream_raw(server: dict[str, Any], page_size: int, recorder: Recorder) -> None:
    """aiohttp + orjson following next_page_url."""
    headers = {"Authorization": server["auth_header"]}
    async with aiohttp.ClientSession(headers=headers) as http:
        url: str | None = (
            f"{server['url']}/v1/Services/{server['service_sid']}/Sessions/"
            f"{server['session_sid']}/Interactions?PageSize={page_size}"
        )
        recorder.baseline = rss_bytes()
        while url is not None:
            async with http.get(url) as response:
                body = await response.read()
            page = orjson.loads(body)
            for _record in page["interactions"]:
                recorder.record()
            url = page["meta"]["next_page_url"]


def child(spec: str) -> int:
    """Child mode: stream once, print one JSON line with the measurements."""
    options = orjson.loads(spec)
    recorder = Recorder(options["records"], options["page_size"])
    started = time.perf_counter()
    stream = stream_proxy if options["contender"] == "proxy" else stream_raw
    asyncio.run(stream(options["server"], options["page_size"], recorder))
    print(orjson.dumps(recorder.result(time.perf_counter() - started)).decode(), flush=True)
    return 0


def run_child(server: ServerInfo, contender: str, records: int, page_size: int) -> dict[str, Any]:
    """Run one contender in a fresh interpreter and return its measurements."""
    spec = {
        "contender": contender,
        "records": records,
        "page_size": page_size,
        "server": {
            "url": server.url,
            "account_sid": server.account_sid,
            "auth_token": server.auth_token,
            "auth_header": server.auth_header,
            "service_sid": server.service_sid,
            "session_sid": server.session_sids[0],
        },
    }
    command = [sys.executable, os.path.abspath(__file__), "--child", orjson.dumps(spec).decode()]
    # The command is this interpreter, this file and our own JSON: nothing untrusted.
    done = subprocess.run(command, capture_output=True, check=True, timeout=3600)  # noqa: S603
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the memory benchmark (or, with ``--child``, one measured stream)."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        return child(argv[1])
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--records", type=int, default=None, help="interactions to stream")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--no-raw", action="store_true", help="skip the raw reference")
    args = parser.parse_args(argv)
    records = args.records or (200_000 if args.quick else 1_000_000)
    rounds = args.rounds or 1
    names = ["proxy"] if args.no_raw else ["proxy", "raw"]
    print(
        f"# bench_memory: {records:,} interactions, page size {args.page_size}, "
        f"{rounds} round(s), each in its own child process"
    )
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with fake_server(sessions=1, interactions=records) as server:
        for number in range(rounds):
            order = names if number % 2 == 0 else list(reversed(names))
            for name in order:
                result = run_child(server, name, records, args.page_size)
                results[name].append(result)
                progress(
                    f"round {number + 1}/{rounds} {CONTENDERS[name]}: {result['records']} "
                    f"records, growth {result['growth'] / MIB:.1f} MiB"
                )
    rows = []
    for name, runs in results.items():
        rows.append(
            [
                CONTENDERS[name],
                f"{runs[0]['records']:,}",
                f"{median([r['baseline'] for r in runs]) / MIB:.1f}",
                f"{median([r['peak'] for r in runs]) / MIB:.1f}",
                f"{median([r['growth'] for r in runs]) / MIB:.1f}",
                f"{median([r['late_growth'] for r in runs]) / MIB:.1f}",
                fmt_rate(median([r["records"] / r["wall"] for r in runs])),
            ]
        )
    print_table(
        f"Memory: stream {records:,} interactions, page size {args.page_size}",
        [
            "contender",
            "records",
            "baseline RSS MiB",
            "peak RSS MiB",
            "growth MiB",
            "late growth MiB",
            "records/s",
        ],
        rows,
    )
    growth = median([r["growth"] for r in results["proxy"]]) / MIB
    print_targets(
        "Memory targets (issue 5)",
        [Target(f"memory: proxy-async RSS growth, {records:,} records", growth, 50, False, " MiB")],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
