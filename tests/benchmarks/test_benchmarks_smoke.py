"""Smoke test: every benchmark script runs end to end at tiny sizes and prints its tables.

Nothing here looks at a time or a ratio: the machine is shared and noisy, and the
benchmarks report PASS/FAIL for information only. The twilio contender runs only
where twilio is installed (the bench virtualenv); elsewhere the scripts skip it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

TINY: dict[str, list[str]] = {
    "bench_adaptive.py": ["--seconds", "0.5", "--rounds", "1", "--cap", "4", "--latency", "0.01"],
    "bench_stream.py": ["--records", "1500", "--page-sizes", "50,1000", "--rounds", "1"],
    "bench_stream.py --mode client-bound": [
        "--mode",
        "client-bound",
        "--records",
        "1500",
        "--page-sizes",
        "1000",
        "--rounds",
        "2",
        "--contenders",
        "raw,proxy",
    ],
    "bench_fetch.py": ["--requests", "60", "--rounds", "1"],
    "bench_export.py": [
        "--cb-sessions",
        "2",
        "--cb-interactions",
        "300",
        "--cb-page-size",
        "100",
        "--sessions",
        "3",
        "--interactions",
        "100",
        "--latency",
        "0.002",
        "--rounds",
        "1",
    ],
    "bench_memory.py": ["--records", "2000", "--page-size", "500"],
    "bench_export_scale.py": [
        "--sizes",
        "300,1000",
        "--kill-size",
        "5000",
        "--per-record",
        "10x200",
    ],
    "profile_client.py": ["--records", "1000", "--requests", "40", "--repeat", "1", "--top", "3"],
    "run_all.py": ["--smoke", "--only", "fetch"],
}
"""Each script with sizes small enough to finish in a few seconds."""

EXPECTED: dict[str, list[str]] = {
    "bench_adaptive.py": ["### Adaptive vs fixed window", "| adaptive (start 8C)", "429 share"],
    "bench_stream.py": [
        "### Client-bound stream throughput: 1,500 interactions, page size 1000",
        "### Server-bound stream throughput: 1,500 interactions, page size 50",
        "### Server-bound stream throughput: 1,500 interactions, page size 1000",
        "| proxy-async stream()",
        "| raw aiohttp+orjson",
        "client-bound stream p1000: client CPU/record proxy-async / raw",
        "server-bound stream p1000: proxy-async / raw",
    ],
    "bench_stream.py --mode client-bound": [
        "### Client-bound stream throughput: 1,500 interactions, page size 1000",
        "| proxy-async stream()",
        "client-bound stream p1000: proxy-async / raw records/s",
        "Bound by (median CPU time / wall time",
    ],
    "bench_fetch.py": ["### Fetch overhead", "| proxy-async fetch()", "fetch: proxy-async CPU"],
    "bench_export.py": [
        "### Client-bound export: 2 sessions x 300 interactions (600 records)",
        "| proxy-async export() NDJSON",
        "| proxy-async export() CSV",
        "client-bound export NDJSON: client CPU/record / stream()'s",
        "client-bound export CSV: client CPU/record / stream()'s",
        "### Server-bound bulk export: 3 sessions",
        "| proxy-async stream() x sessions",
        "(stream() tasks): requests over the limit",
    ],
    "bench_memory.py": ["### Memory: stream 2,000 interactions", "memory: proxy-async RSS growth"],
    "bench_export_scale.py": [
        "### Export at scale: the CLI",
        "### Kill and resume: what the final files hold",
        "kill+resume: interactions missing + duplicated",
    ],
    "profile_client.py": [
        "stream() page 1000: self time by area",
        "fetch(): top functions by self time",
        "Micro: per-record costs",
        "client.request() over an instant transport",
    ],
    "run_all.py": ["### Fetch overhead", "(all benchmarks:"],
}


@pytest.mark.parametrize("case", sorted(TINY))
def test_benchmark_runs_and_prints_its_table(case: str) -> None:
    script = case.split()[0]
    command = [sys.executable, str(BENCHMARKS / script), *TINY[case]]
    done = subprocess.run(  # noqa: S603 (this interpreter, our own scripts)
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for text in EXPECTED[case]:
        assert text in done.stdout, f"{text!r} missing from:\n{done.stdout[-3000:]}"
    if script != "profile_client.py":
        assert "| target " in done.stdout
        assert "PASS" in done.stdout or "FAIL" in done.stdout


def test_every_benchmark_is_listed_and_run_by_run_all() -> None:
    scripts = sorted(path.name for path in BENCHMARKS.glob("bench_*.py"))
    run_all = (BENCHMARKS / "run_all.py").read_text(encoding="utf-8")
    readme = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    for script in scripts:
        module = script.removesuffix(".py")
        assert f"{module}.main" in run_all, f"run_all.py does not run {script}"
        assert f"| `{script}` |" in readme, f"benchmarks/README.md does not list {script}"
        assert script in TINY, f"no smoke test runs {script}"
