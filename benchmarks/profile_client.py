"""Where proxy-async's client time goes: profiles of stream() and fetch(), and micro-costs.

* ``stream``: one ``stream(page_size=1000)`` over ``--records`` interactions, profiled;
* ``fetch``: ``--requests`` concurrent ``fetch()`` calls, profiled;
* ``micro``: timeit costs of each step (orjson.loads vs cattrs structuring per record,
  datetime parsing, yarl URL building, Request/Timeouts/AttemptEvent creation, and the
  whole request pipeline over an instant in-memory transport, without aiohttp).

The profiler is cProfile (self time per function and per area, exact call counts; its
per-call overhead inflates small functions) or, with ``--profiler pyinstrument`` when it
is installed, pyinstrument's sampled call tree. The fake server runs in its own process.

``python benchmarks/profile_client.py [--what stream,fetch,micro] [--profiler cprofile]``
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
import timeit
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aiohttp
import attrs
import orjson
import yarl
from _common import ServerInfo, base_parser, fake_server, optional_module, print_table, proxy_client

from proxy_async import AttemptEvent, Interaction, ProxyClient, ResourceStatus
from proxy_async.client.hosts import Origin
from proxy_async.models import decode_json, parse_datetime, structure, structure_page
from proxy_async.models.converter import converter
from proxy_async.transports.base import Request, Response, Timeouts

AREAS: tuple[tuple[str, str], ...] = (
    ("cattrs generated", "cattrs generated hooks"),
    ("/cattrs/", "cattrs library"),
    ("proxy_async/models/", "proxy_async.models"),
    ("proxy_async/pagination", "proxy_async.pagination"),
    ("proxy_async/client", "proxy_async.client.proxy_client"),
    ("proxy_async/transport", "proxy_async.transports.default"),
    ("proxy_async/retry", "proxy_async.retry.policy"),
    ("proxy_async/limits", "proxy_async.limits"),
    ("proxy_async/resources", "proxy_async.resources"),
    ("proxy_async/", "proxy_async (other)"),
    ("attrs generated", "attrs generated __init__"),
    ("/attr/", "attrs library"),
    ("/aiohttp/", "aiohttp"),
    ("/yarl/", "yarl"),
    ("/multidict/", "multidict"),
    ("/asyncio/", "asyncio"),
    ("/enum.py", "enum"),
    ("/typing.py", "typing"),
)


IDLE = "'poll' of 'select.epoll'"
"""The profiler's name for the event loop waiting on sockets."""


def area_of(filename: str, function: str) -> str:
    """The package a profiled function belongs to (builtins by their own name)."""
    if filename == "~":
        return function.strip("<>").replace("built-in method ", "")
    for needle, area in AREAS:
        if needle in filename:
            return area
    return filename.rsplit("/", 1)[-1]


def print_profile(profile: cProfile.Profile, title: str, units: int, unit: str, top: int) -> None:
    """Self time by area and the top functions by self time, with shares of the total."""
    stats = pstats.Stats(profile)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    # Time blocked in epoll is the client waiting for the server, not client work.
    idle = sum(entry[2] for key, entry in raw.items() if IDLE in key[2])
    total = sum(entry[2] for entry in raw.values()) - idle
    by_area: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        if IDLE not in function:
            by_area[area_of(filename, function)] += tottime
    rows = [
        [area, f"{seconds / total:.1%}", f"{seconds / units * 1e6:.2f}"]
        for area, seconds in sorted(by_area.items(), key=lambda item: -item[1])[:top]
    ]
    print_table(
        f"{title}: self time by area (cProfile; busy {total:.2f} s, idle in epoll {idle:.2f} s)",
        ["area", "share", f"us/{unit}"],
        rows,
    )
    busy = [item for item in raw.items() if IDLE not in item[0][2]]
    functions = sorted(busy, key=lambda item: -item[1][2])[:top]
    rows = []
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in functions:
        where = f"{filename.rsplit('/', 2)[-1] if filename != '~' else ''}:{line}"
        rows.append(
            [
                f"{function} ({where})",
                f"{tottime / total:.1%}",
                f"{cumtime / total:.1%}",
                f"{calls:,}",
                f"{tottime / units * 1e6:.2f}",
            ]
        )
    print_table(
        f"{title}: top functions by self time",
        ["function", "self", "cumulative", "calls", f"self us/{unit}"],
        rows,
    )


def profiled(
    job: Callable[[], Coroutine[Any, Any, int]], profiler: str, title: str, unit: str, top: int
) -> None:
    """Run ``job`` once plain (timing) and once under the profiler."""
    asyncio.run(job())  # warm-up: imports, caches, connections
    wall, cpu = time.perf_counter(), time.process_time()
    units = asyncio.run(job())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"\n{title}, unprofiled: {units:,} {unit}s in {wall:.2f} s wall, {cpu:.2f} s CPU "
        f"({cpu / units * 1e6:.1f} us CPU/{unit}, {units / wall:,.0f} {unit}s/s)"
    )
    if profiler == "pyinstrument":
        module = optional_module("pyinstrument")
        if module is None:
            print("pyinstrument is not installed; falling back to cProfile")
        else:
            sampler = module.Profiler(interval=0.0005)
            sampler.start()
            asyncio.run(job())
            sampler.stop()
            print(f"\n### {title}: pyinstrument\n\n```")
            print(sampler.output_text(unicode=False, color=False, show_all=False))
            print("```")
            return
    profile = cProfile.Profile()
    profile.enable()
    units = asyncio.run(job())
    profile.disable()
    print_profile(profile, title, units, unit, top)


def stream_job(server: ServerInfo, page_size: int) -> Callable[[], Coroutine[Any, Any, int]]:
    """Stream the whole session once."""

    async def job() -> int:
        count = 0
        async with proxy_client(server) as client:
            session = client.services(server.service_sid).sessions(server.session_sids[0])
            async for _interaction in session.interactions.stream(page_size=page_size):
                count += 1
        return count

    return job


def fetch_job(server: ServerInfo, sids: Sequence[str]) -> Callable[[], Coroutine[Any, Any, int]]:
    """Fetch every SID concurrently (connection cap 100)."""

    async def job() -> int:
        async with proxy_client(server, max_concurrency=100) as client:
            interactions = (
                client.services(server.service_sid).sessions(server.session_sids[0]).interactions
            )
            await asyncio.gather(*(interactions.fetch(sid) for sid in sids))
        return len(sids)

    return job


def get(server: ServerInfo, target: str) -> bytes:
    """One GET against the fake server (setup only, never timed)."""
    request = urllib.request.Request(  # noqa: S310 (the loopback fake server)
        server.url + target, headers={"Authorization": server.auth_header}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: bytes = response.read()
    return body


class InstantTransport:
    """A transport that answers every request at once with one canned body."""

    def __init__(self, body: bytes) -> None:
        self.response = Response(200, {"Content-Type": "application/json"}, body)

    async def send(self, request: Request) -> Response:
        """The canned response."""
        return self.response

    async def aclose(self) -> None:
        """Nothing to release."""


REPEAT = 5
"""Timing repeats per micro-measurement (``--repeat``; 1 makes them quick and rough)."""


def per_call(statement: Callable[[], object], per: int = 1, repeat: int | None = None) -> float:
    """Best-of-``repeat`` microseconds per call of ``statement``, divided by ``per``."""
    repeat = repeat or REPEAT
    timer = timeit.Timer(statement)
    number = timer.autorange()[0] if repeat > 1 else 20
    best = min(timer.repeat(repeat=repeat, number=number)) / number
    return best / per * 1e6


def async_per_call(
    make: Callable[[], Coroutine[Any, Any, object]], calls: int = 20_000, repeat: int | None = None
) -> float:
    """Best-of-``repeat`` microseconds per awaited call, ``calls`` in a row in one loop."""
    repeat = repeat or REPEAT
    calls = calls if repeat > 1 else 200

    async def run() -> float:
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(calls):
                await make()
            best = min(best, time.perf_counter() - started)
        return best / calls * 1e6

    return asyncio.run(run())


def micro(server: ServerInfo) -> None:
    """Costs of each step of the stream and fetch paths, measured in isolation."""
    path = server.interactions_path()
    page_body = get(server, f"{path}?PageSize=1000")
    page = orjson.loads(page_body)
    records = page["interactions"]
    record = records[0]
    one_body = get(server, f"{path}/{record['sid']}")
    count = len(records)
    hook = converter.get_structure_hook(Interaction)
    status_hook = converter.get_structure_hook(ResourceStatus)
    stamp = record["date_created"]
    timeouts = Timeouts()
    base = yarl.URL(server.url)
    page_url = page["meta"]["url"]  # the same shape as a next_page_url
    headers = {"Authorization": server.auth_header}
    plain = dict(record)

    stream_rows = [
        ("orjson.loads(page body)", per_call(lambda: orjson.loads(page_body), count)),
        (
            "structure_page(decoded page)",
            per_call(lambda: structure_page(page, Interaction, "interactions"), count),
        ),
        ("cattrs hook(record, Interaction)", per_call(lambda: hook(record, Interaction))),
        ("  Interaction(**record) (attrs __init__ alone)", per_call(lambda: Interaction(**plain))),
        ("  parse_datetime(ts) (x2 per record)", per_call(lambda: parse_datetime(stamp))),
        (
            "  datetime.fromisoformat(ts) (inside it)",
            per_call(lambda: parse_datetime.__globals__["datetime"].fromisoformat(stamp)),
        ),
        (
            "  ResourceStatus hook (x2 per record)",
            per_call(lambda: status_hook("delivered", ResourceStatus)),
        ),
        (
            "decode + structure (one fetched body)",
            per_call(lambda: structure(decode_json(one_body), Interaction)),
        ),
    ]
    print_table(
        f"Micro: per-record costs (page of {count} records)",
        ["step", "us per record/call"],
        [[name, f"{value:.2f}"] for name, value in stream_rows],
    )

    async def build_request() -> None:
        url = yarl.URL(f"{base}{path}/{record['sid']}", encoded=True)
        Request("GET", url, headers, None, Timeouts.coerce(None, timeouts))

    instant = ProxyClient(
        server.account_sid,
        server.auth_token,
        base_url=server.url,
        requests_per_second=None,
        transport=InstantTransport(one_body),
    )
    interactions = (
        instant.services(server.service_sid).sessions(server.session_sids[0]).interactions
    )
    sid = record["sid"]

    async def request_only() -> object:
        return await instant.request("GET", f"{path}/{sid}")

    async def fetch_only() -> object:
        return await interactions.fetch(sid)

    request_rows = [
        (
            "yarl.URL(base + path, encoded=True)",
            per_call(lambda: yarl.URL(f"{base}{path}", encoded=True)),
        ),
        (
            "yarl.URL(next_page_url) + Origin.of",
            per_call(lambda: Origin.of(yarl.URL(page_url, encoded=True))),
        ),
        (
            "URL.update_query({'PageSize': ...})",
            per_call(lambda: base.update_query({"PageSize": "1000"})),
        ),
        (
            "Request(...) (attrs frozen)",
            per_call(lambda: Request("GET", base, headers, None, timeouts)),
        ),
        ("Timeouts.coerce(None, default)", per_call(lambda: Timeouts.coerce(None, timeouts))),
        ("Timeouts.to_aiohttp()", per_call(timeouts.to_aiohttp)),
        ("AttemptEvent(...) (attrs frozen)", per_call(lambda: AttemptEvent("GET", path, 1))),
        (
            "attrs.evolve(event, ...)",
            per_call(lambda: attrs.evolve(AttemptEvent("GET", path, 1), status=200)),
        ),
        ("URL + Request + Timeouts, as in request()", async_per_call(build_request)),
        ("client.request() over an instant transport", async_per_call(request_only)),
        ("interactions.fetch() over an instant transport", async_per_call(fetch_only)),
    ]
    print_table(
        "Micro: per-request costs (no network: proxy-async's own overhead)",
        ["step", "us per call"],
        [[name, f"{value:.2f}"] for name, value in request_rows],
    )

    calls = 2000 if REPEAT > 1 else 50

    async def aiohttp_get() -> int:
        async with aiohttp.ClientSession(headers=headers) as http:
            started = time.process_time()
            for _ in range(calls):
                async with http.get(f"{server.url}{path}/{sid}") as response:
                    await response.read()
            return int((time.process_time() - started) / calls * 1e9)

    asyncio.run(aiohttp_get())
    print(
        f"For scale: one sequential aiohttp GET + read on this machine costs "
        f"{asyncio.run(aiohttp_get()) / 1000:.0f} us of client CPU."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Profile what ``--what`` asks for."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--what", default="stream,fetch,micro")
    parser.add_argument("--records", type=int, default=None, help="interactions to stream")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=None, help="concurrent fetches")
    parser.add_argument("--profiler", choices=("cprofile", "pyinstrument"), default="cprofile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5, help="micro timing repeats")
    parser.add_argument(
        "--prerender",
        action="store_true",
        help="client-bound: the server serves pre-rendered pages (the warm-up run fills "
        "its cache), so the profile is not shaped by waiting for page builds",
    )
    args = parser.parse_args(argv)
    global REPEAT
    REPEAT = max(1, args.repeat)
    records = args.records or (20_000 if args.quick else 100_000)
    requests = args.requests or (1_000 if args.quick else 5_000)
    what = {part.strip() for part in args.what.split(",")}
    served = "pre-rendered pages" if args.prerender else "pages built per request"
    print(
        f"# profile_client: {records:,} records at page {args.page_size}, {requests:,} "
        f"fetches, {served}"
    )
    with fake_server(
        sessions=1, interactions=max(records, 1000), prerender=args.prerender
    ) as server:
        if "stream" in what:
            profiled(
                stream_job(server, args.page_size),
                args.profiler,
                f"stream() page {args.page_size}",
                "record",
                args.top,
            )
        if "fetch" in what:
            page = orjson.loads(get(server, f"{server.interactions_path()}?PageSize=1000"))
            sids = [item["sid"] for item in page["interactions"]]
            work = [sids[index % len(sids)] for index in range(requests)]
            profiled(fetch_job(server, work), args.profiler, "fetch()", "request", args.top)
        if "micro" in what:
            micro(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
