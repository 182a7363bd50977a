"""Run every benchmark in turn and print all their tables (``nox -s bench`` runs this).

``python benchmarks/run_all.py [--quick] [--rounds N] [--only NAME,...]``, the names being
``stream``, ``fetch``, ``export``, ``memory``, ``scale`` and ``adaptive``.

``stream`` and ``export`` run both their modes, client-bound (pre-rendered pages: the
client sets the pace) first, then server-bound. ``scale`` (bench_export_scale.py) runs
here at 10,000 and 100,000 sessions, killed and resumed at 100,000; run the script
itself for the 1,000,000-session figures. ``adaptive`` (bench_adaptive.py) runs the
adaptive limiter against fixed windows. ``profile_client.py`` is a profiler, not a
benchmark: it reports where the time goes, not a ratio, so it is not run here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import bench_adaptive
import bench_export
import bench_export_scale
import bench_fetch
import bench_memory
import bench_stream
from _common import base_parser

SMOKE: dict[str, list[str]] = {
    "stream": ["--records", "2000", "--page-sizes", "50,1000", "--rounds", "1"],
    "fetch": ["--requests", "100", "--rounds", "1"],
    "export": [
        *["--cb-sessions", "2", "--cb-interactions", "300", "--cb-page-size", "100"],
        *["--sessions", "4", "--interactions", "100", "--latency", "0.005", "--rounds", "1"],
    ],
    "memory": ["--records", "3000", "--page-size", "500"],
    "scale": ["--sizes", "300,1000", "--kill-size", "5000", "--per-record", "10x200"],
    "adaptive": ["--seconds", "0.5", "--rounds", "1", "--cap", "4", "--latency", "0.01"],
}
"""Tiny sizes that only prove each benchmark runs end to end (``--smoke``; the tests use it)."""

REDUCED: dict[str, list[str]] = {
    "scale": ["--sizes", "10000,100000", "--kill-size", "100000"],
}
"""Default options of benchmarks whose own defaults take too long for run_all (not --quick)."""

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "stream": bench_stream.main,
    "fetch": bench_fetch.main,
    "export": bench_export.main,
    "memory": bench_memory.main,
    "scale": bench_export_scale.main,
    "adaptive": bench_adaptive.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks with the shared options."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves it runs, no more")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    rounds = ["--rounds", str(args.rounds)] if args.rounds else []
    started = time.perf_counter()
    status = 0
    for name in args.only.split(","):
        name = name.strip()
        # Memory runs once per contender by default (RSS is not noisy; 1M records is slow);
        # so does scale (its exports take minutes; it has no rounds).
        once = name in ("memory", "scale")
        options = quick + ([] if once else rounds) + ([] if args.quick else REDUCED.get(name, []))
        if args.smoke:
            options = SMOKE[name]
        status |= BENCHMARKS[name](options)
    print(
        f"\n(all benchmarks: {time.perf_counter() - started:.0f} s; command: "
        f"python benchmarks/run_all.py {' '.join(argv if argv is not None else sys.argv[1:])})"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
