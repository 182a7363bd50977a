"""Adaptive concurrency vs a fixed window set exactly to the server's in-flight cap.

The fake server (its own process) answers 429 to any request arriving while more than
``--cap`` are in flight, after ``--latency`` seconds. Each contender is a fresh client
whose ``--tasks`` tasks fetch one Session over and over for ``--seconds``, retrying
429s (the default policy's backoff, capped at 1 s):

* ``fixed window = C``: ``RateLimiter(max_concurrency=C)``, the best a fixed window can
  do, and only when C is known;
* ``adaptive (start 8C)``: ``AdaptiveLimiter`` starting far above the cap, so every run
  pays for finding it;
* ``fixed window = 4C``: a fixed window set too high, for contrast (``--contenders``).

Reported per contender (medians over alternating rounds): successful requests per
second, the ratio to the fixed window, the 429 share of all attempts over the whole
run and after the first second, and the window at the end.

``python benchmarks/bench_adaptive.py [--quick] [--cap C] [--latency S] [--seconds S]``
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from _common import (
    Contender,
    Run,
    Sample,
    ServerInfo,
    Target,
    base_parser,
    fake_server,
    fmt_ratio,
    median,
    median_of,
    print_table,
    print_targets,
    progress,
    run_rounds,
)

from proxy_async import ApiError, AttemptEvent, ProxyClient, RetryPolicy
from proxy_async.limits import AdaptiveLimiter, Limiter, RateLimiter

FIXED = "fixed window = C"
ADAPTIVE = "adaptive (start 8C)"
TOO_HIGH = "fixed window = 4C"
CHOICES = {"fixed": FIXED, "adaptive": ADAPTIVE, "fixed-4c": TOO_HIGH}
STEADY_AFTER = 1.0
"""Seconds into a run after which the 429 share counts as steady state."""


@dataclass
class Tally:
    """What one run saw, attempt by attempt."""

    attempts: int = 0
    throttled: int = 0
    steady_attempts: int = 0
    steady_throttled: int = 0
    final_window: int = 0

    def stats(self) -> dict[str, float]:
        """The run's figures for :class:`Sample.extra`."""
        return {
            "429_share": self.throttled / self.attempts if self.attempts else 0.0,
            "steady_429_share": (
                self.steady_throttled / self.steady_attempts if self.steady_attempts else 0.0
            ),
            "final_window": float(self.final_window),
        }


def window_of(limiter: Limiter) -> int:
    """The in-flight window a limiter ended with."""
    if isinstance(limiter, AdaptiveLimiter):
        return limiter.concurrency
    return limiter.max_concurrency


def hammer(
    server: ServerInfo,
    make_limiter: Callable[[], Limiter],
    tasks: int,
    seconds: float,
    last: list[Tally],
) -> Run:
    """A run: ``tasks`` tasks GET one Session until ``seconds`` pass; returns successes."""
    path = f"/v1/Services/{server.service_sid}/Sessions/{server.session_sids[0]}"

    async def run() -> int:
        tally = Tally()
        limiter = make_limiter()
        started = time.monotonic()

        def count(event: AttemptEvent) -> None:
            steady = time.monotonic() - started >= STEADY_AFTER
            tally.attempts += 1
            tally.steady_attempts += steady
            if event.status == 429:
                tally.throttled += 1
                tally.steady_throttled += steady

        successes = 0
        async with ProxyClient(
            server.account_sid,
            server.auth_token,
            base_url=server.url,
            limiter=limiter,
            retry=RetryPolicy(retries=20, max_backoff=1.0, deadline=None),
            on_response=count,
        ) as client:
            stop = started + seconds

            async def worker() -> None:
                nonlocal successes
                while time.monotonic() < stop:
                    try:
                        await client.request("GET", path)
                    except ApiError:
                        continue
                    successes += 1

            await asyncio.gather(*(worker() for _ in range(tasks)))
        tally.final_window = window_of(limiter)
        last[:] = [tally]
        return successes

    return run


def contender(
    name: str,
    server: ServerInfo,
    make_limiter: Callable[[], Limiter],
    tasks: int,
    seconds: float,
) -> Contender:
    """A named limiter setup, with a short warm-up and its per-run figures."""
    last: list[Tally] = []
    return Contender(
        name,
        hammer(server, make_limiter, tasks, seconds, last),
        warmup=hammer(server, make_limiter, tasks, min(1.0, seconds), last),
        extra=lambda: last[0].stats() if last else {},
    )


def paired_ratio(samples: dict[str, list[Sample]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s throughput divided by ``baseline``'s, same round."""
    pairs = zip(samples[name], samples[baseline], strict=True)
    return median([mine.rate / theirs.rate for mine, theirs in pairs])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the adaptive-concurrency benchmark and print its table."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--cap", type=int, default=8, help="the server's in-flight cap C")
    parser.add_argument("--latency", type=float, default=0.03, help="server seconds/request")
    parser.add_argument("--seconds", type=float, default=None, help="length of each run")
    parser.add_argument("--tasks", type=int, default=None, help="client tasks (default 8C)")
    parser.add_argument(
        "--contenders",
        default="fixed,adaptive,fixed-4c",
        help=f"comma-separated, from {','.join(CHOICES)}",
    )
    args = parser.parse_args(argv)
    cap: int = args.cap
    seconds: float = args.seconds or (3.0 if args.quick else 6.0)
    rounds: int = args.rounds or (3 if args.quick else 5)
    tasks: int = args.tasks or 8 * cap
    names = [CHOICES[name.strip()] for name in args.contenders.split(",")]
    if FIXED not in names:
        names.insert(0, FIXED)
    makers: dict[str, Callable[[], Limiter]] = {
        FIXED: lambda: RateLimiter(max_concurrency=cap, requests_per_second=None),
        ADAPTIVE: lambda: AdaptiveLimiter(
            initial_concurrency=8 * cap, max_concurrency=16 * cap, requests_per_second=None
        ),
        TOO_HIGH: lambda: RateLimiter(max_concurrency=4 * cap, requests_per_second=None),
    }
    print(
        f"# bench_adaptive: server cap C={cap} in flight, {args.latency * 1000:g} ms latency, "
        f"{tasks} client tasks, {seconds:g} s runs, {rounds} rounds"
    )
    with fake_server(sessions=1, interactions=10, latency=args.latency, max_in_flight=cap) as srv:
        contenders = [contender(name, srv, makers[name], tasks, seconds) for name in names]
        samples = run_rounds(contenders, rounds, srv)
    ideal = cap / args.latency
    rows = []
    for name, runs in samples.items():
        rows.append(
            [
                name,
                f"{median_of(runs, lambda s: s.rate):,.0f}",
                fmt_ratio(paired_ratio(samples, name, FIXED)),
                f"{median_of(runs, lambda s: s.extra['429_share']):.2%}",
                f"{median_of(runs, lambda s: s.extra['steady_429_share']):.2%}",
                f"{median_of(runs, lambda s: s.extra['final_window']):g}",
            ]
        )
    print_table(
        f"Adaptive vs fixed window: cap {cap}, {args.latency * 1000:g} ms "
        f"(ideal {ideal:,.0f} requests/s)",
        [
            "contender",
            "ok requests/s",
            "vs fixed C",
            "429 share",
            f"429 share after {STEADY_AFTER:g} s",
            "final window",
        ],
        rows,
    )
    if ADAPTIVE in samples:
        adaptive = samples[ADAPTIVE]
        print_targets(
            "Adaptive concurrency targets (issue 6)",
            [
                Target(
                    f"429 share after {STEADY_AFTER:g} s",
                    100 * median_of(adaptive, lambda s: s.extra["steady_429_share"]),
                    2.0,
                    at_least=False,
                    unit="%",
                ),
                Target(
                    "throughput vs fixed window = C",
                    paired_ratio(samples, ADAPTIVE, FIXED),
                    0.9,
                    at_least=True,
                ),
            ],
        )
    progress("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
