"""Benchmark 6, export at scale: the ``proxy-async export`` command over growing services.

The CLI (``python -m proxy_async export``, a child process of its own) exports every
session of a fake server (``proxy-async fake-server``, another process) with
no rate limit, the same ``--concurrency`` at every size. For each size (default 10,000,
100,000 and 1,000,000 sessions x 1 interaction) it reports:

* sessions/s over the whole export (the summary's ``elapsed_seconds``), and between
  10% and 30% and over the last 20% of the sessions, from the export's own progress
  lines (``--progress-interval`` on a pipe prints ``2026-11-30T08:01:25 sessions X/Y done ...``,
  timestamped here as read), to show whether the rate decays within a run;
* peak RSS of the exporting process (``ru_maxrss`` of ``os.wait4`` on that one child)
  and RSS once 20% of the sessions were done (``/proc/PID/status`` sampled every
  0.2 s): "late growth" is peak minus that;
* client CPU per session (user + system of the export process, from ``os.wait4``) and
  server CPU per request (``/proc/PID/stat`` of the server, before and after);
* state bytes written per page (``state_bytes_written / pages_this_run``);
* which side bounded the run: each process's CPU seconds over the wall time, and the
  seconds each spent runnable but waiting for a CPU (``/proc/PID/schedstat``).

Then an export of ``--kill-size`` sessions is killed with SIGKILL once its ``.part``
file passes half the bytes expected (bytes per session measured at the first size), and
rerun with ``--resume``; the output must hold every interaction exactly once and the
sessions file every session exactly once (SIDs streamed into ``sort -u``). Last, the
per-record figure: ``--per-record`` sessions x interactions (default 200 x 1,000),
records/s and client CPU per record.

Linux only (``/proc``, ``os.wait4``, ``sort``).

``python benchmarks/bench_export_scale.py [--sizes 10000,100000,1000000] [--kill-size N]
[--per-record 200x1000] [--concurrency 64] [--quick]``
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from _common import (
    ServerInfo,
    Target,
    base_parser,
    fake_server,
    fmt_rate,
    fmt_ratio,
    print_table,
    print_targets,
    progress,
)

MIB = 1024 * 1024
SAMPLE_EVERY = 0.2
"""Seconds between RSS samples of the export process (and checks of the kill point)."""

FALLBACK_BYTES_PER_SESSION = 1210
"""Output bytes per session x 1 interaction measured here, if no size ran before the kill."""

PROGRESS_LINE = re.compile(r"^\S+ sessions ([\d,]+)(?:/[\d,]+)? done")
"""A plain progress line (stderr is a pipe): a timestamp, then the sessions done."""


@dataclass
class ExportRun:
    """One run of the export command, as seen from outside."""

    command: list[str]
    summary: dict[str, Any]
    returncode: int
    wall: float
    cpu: float
    peak_rss: int
    server_cpu: float
    client_wait: float = 0.0
    """Seconds the export process was runnable but waiting for a CPU (``schedstat``)."""
    server_wait: float = 0.0
    """The same for the server process, over the export."""
    progress: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since start, sessions done) of each progress line."""
    rss: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since start, RSS bytes) every SAMPLE_EVERY seconds."""
    killed_at_bytes: int | None = None
    stderr_tail: str = ""

    @property
    def elapsed(self) -> float:
        """The export's own time (its summary), else the process's wall time."""
        return float(self.summary.get("elapsed_seconds", self.wall))

    def rate(self) -> float:
        """Sessions finished by this run per second of its export time (``records_this_run``
        for a resumed run: one interaction per session)."""
        done = int(self.summary.get("sessions_done", 0))
        if self.summary.get("resumed"):
            done = int(self.summary.get("records_this_run", 0))
        return done / self.elapsed if self.elapsed > 0 else 0.0

    def window_rate(self, start: float, end: float, total: int) -> float:
        """Sessions/s between the progress lines crossing ``start`` and ``end`` x total
        (``start`` 0: the process's start; ``end`` 1: the last progress line)."""
        if not self.progress:
            return float("nan")
        first = (0.0, 0) if start == 0 else _crossing(self.progress, start * total)
        last = _crossing(self.progress, end * total) if end < 1 else self.progress[-1]
        if first is None or last is None or last[0] <= first[0]:
            return float("nan")
        return (last[1] - first[1]) / (last[0] - first[0])

    def rss_at(self, share: float, total: int) -> int:
        """RSS sampled when ``share`` of the sessions were first seen done (0: unknown)."""
        crossing = _crossing(self.progress, share * total)
        if crossing is None:
            return 0
        for moment, value in self.rss:
            if moment >= crossing[0]:
                return value
        return 0


def _crossing(points: Sequence[tuple[float, int]], done: float) -> tuple[float, int] | None:
    for point in points:
        if point[1] >= done:
            return point
    return None


def export_command(
    server: ServerInfo,
    out: Path,
    concurrency: int,
    progress_interval: float,
    *,
    resume: bool = False,
) -> list[str]:
    """The CLI command (credentials go in the environment)."""
    command = [
        sys.executable,
        "-m",
        "proxy_async",
        "export",
        "--service",
        server.service_sid,
        "--out",
        str(out),
        "--base-url",
        server.url,
        "--rps",
        "0",
        "--concurrency",
        str(concurrency),
        "--json",
        "--progress-interval",
        f"{progress_interval:g}",
    ]
    if resume:
        command.append("--resume")
    return command


def _collect(stream: IO[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


def _progress_reader(
    stream: IO[str], started: float, points: list[tuple[float, int]], tail: list[str]
) -> None:
    for line in stream:
        matched = PROGRESS_LINE.match(line)
        if matched is not None:
            points.append((time.monotonic() - started, int(matched.group(1).replace(",", ""))))
        else:
            tail.append(line)
            del tail[:-20]


def _rss_now(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_wait(pid: int) -> float:
    """Seconds process ``pid`` has spent runnable, waiting for a CPU (0.0 if unreadable).

    The second field of ``/proc/PID/schedstat`` (nanoseconds on a run queue): on this
    shared 2-core machine it tells a process starved of CPU from one waiting on I/O.
    """
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as handle:
            return int(handle.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _peak_rss(pid: int) -> int:
    """VmHWM of a live process (bytes; 0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_export(
    server: ServerInfo,
    out: Path,
    concurrency: int,
    progress_interval: float,
    *,
    resume: bool = False,
    kill_at_bytes: int | None = None,
) -> ExportRun:
    """Run the export command to the end (or SIGKILL it once ``.part`` passes
    ``kill_at_bytes``), sampling its RSS, and read its CPU and peak RSS from wait4."""
    command = export_command(server, out, concurrency, progress_interval, resume=resume)
    env = dict(os.environ)
    env.update(TWILIO_ACCOUNT_SID=server.account_sid, TWILIO_AUTH_TOKEN=server.auth_token)
    partial = out.with_name(out.name + ".part")
    server_before = server.server_cpu()
    server_wait_before = _cpu_wait(server.pid)
    started = time.monotonic()
    # This interpreter, our own module and numbers: nothing untrusted.
    process = subprocess.Popen(  # noqa: S603
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stdout: list[str] = []
    points: list[tuple[float, int]] = []
    tail: list[str] = []
    readers = [
        threading.Thread(target=_collect, args=(process.stdout, stdout), daemon=True),
        threading.Thread(
            target=_progress_reader, args=(process.stderr, started, points, tail), daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    rss: list[tuple[float, int]] = []
    killed_at: int | None = None
    client_wait = 0.0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid != 0:
            break
        rss.append((time.monotonic() - started, _rss_now(process.pid)))
        client_wait = max(client_wait, _cpu_wait(process.pid))
        if kill_at_bytes is not None and killed_at is None:
            try:
                size = partial.stat().st_size
            except OSError:
                size = 0
            if size >= kill_at_bytes:
                os.kill(process.pid, signal.SIGKILL)
                killed_at = size
        time.sleep(SAMPLE_EVERY)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    for reader in readers:
        reader.join(timeout=10)
    server_cpu = server.server_cpu() - server_before
    server_wait = _cpu_wait(server.pid) - server_wait_before
    text = "".join(stdout).strip()
    summary: dict[str, Any] = {}
    if text and killed_at is None:
        loaded = orjson.loads(text.splitlines()[-1])
        summary = loaded if isinstance(loaded, dict) else {}
    return ExportRun(
        command=command,
        summary=summary,
        returncode=process.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss=usage.ru_maxrss * 1024,  # Linux: KiB, of this one child
        server_cpu=server_cpu,
        client_wait=client_wait,
        server_wait=server_wait,
        progress=points,
        rss=rss,
        killed_at_bytes=killed_at,
        stderr_tail="".join(tail),
    )


# -- checking the output ----------------------------------------------------------------------


@dataclass
class Census:
    """Lines of an NDJSON file, distinct values of some keys, lines that did not parse."""

    lines: int
    distinct: dict[str, int]
    malformed: int


def census(path: Path, keys: Sequence[str], scratch: Path) -> Census:
    """Stream ``path``; count its lines and, through ``sort -u``, the distinct values of
    each of ``keys`` (memory stays flat: the values go to a scratch file first)."""
    lines = 0
    malformed = 0
    values = {key: scratch / f"values-{key}.txt" for key in keys}
    sinks = {key: values[key].open("wb") for key in keys}
    try:
        with path.open("rb") as handle:
            for line in handle:
                lines += 1
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    malformed += 1
                    continue
                for key in keys:
                    value = record.get(key) if isinstance(record, dict) else None
                    if not isinstance(value, str):
                        malformed += 1
                        break
                    sinks[key].write(value.encode() + b"\n")
    finally:
        for sink in sinks.values():
            sink.close()
    distinct = {}
    for key, name in values.items():
        distinct[key] = _distinct_lines(name)
        name.unlink()
    return Census(lines=lines, distinct=distinct, malformed=malformed)


def _distinct_lines(path: Path) -> int:
    env = dict(os.environ, LC_ALL="C")
    command = ["sort", "-u", "-S", "64M", "-T", str(path.parent), str(path)]
    # A fixed coreutils command on our own scratch file.
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env) as process:  # noqa: S603
        output = process.stdout
        assert output is not None
        count = 0
        while chunk := output.read(1 << 20):
            count += chunk.count(b"\n")
    if process.returncode != 0:
        raise RuntimeError(f"sort failed on {path}: exit {process.returncode}")
    return count


# -- running the sizes ------------------------------------------------------------------------


@dataclass
class SizeResult:
    """One size's export with its server's figures."""

    sessions: int
    interactions: int
    run: ExportRun
    server_peak_rss: int
    output_bytes: int
    load: tuple[float, float]
    """Load average (1 min) before and after: other people's work shows here."""

    @property
    def records(self) -> int:
        return int(self.run.summary.get("records_this_run", 0))

    @property
    def requests(self) -> int:
        return int(self.run.summary.get("requests", 0))

    @property
    def pages(self) -> int:
        return int(self.run.summary.get("pages_this_run", 0))

    @property
    def state_per_page(self) -> float:
        state = int(self.run.summary.get("state_bytes_written", 0))
        return state / self.pages if self.pages else float("nan")

    @property
    def client_share(self) -> float:
        return self.run.cpu / self.run.wall

    @property
    def server_share(self) -> float:
        return self.run.server_cpu / self.run.wall

    def bound(self) -> str:
        """Which process bounded the run, from their CPU (and their waits for a CPU) over
        the wall time."""
        client, server = self.client_share, self.server_share
        side = "client" if client >= server else "server"
        if max(client, server) >= 0.85:
            return f"{side} (CPU-saturated)"
        if client + server >= 1.6:
            return f"{side} (both busy: the 2 cores)"
        if (self.run.client_wait + self.run.server_wait) / self.run.wall >= 0.2:
            return f"{side}, starved of CPU (run-queue waits)"
        return f"{side}-leaning, neither saturated"


def export_size(
    sessions: int,
    interactions: int,
    concurrency: int,
    progress_interval: float,
    workdir: Path,
    label: str,
) -> SizeResult:
    """Export ``sessions`` x ``interactions`` from a fresh fake server, then delete it."""
    out = workdir / f"{label}.ndjson"
    progress(f"{label}: {sessions:,} sessions x {interactions:,} interactions...")
    load_before = os.getloadavg()[0]
    with fake_server(sessions=sessions, interactions=interactions, list_sessions=False) as server:
        run = run_export(server, out, concurrency, progress_interval)
        server_peak = _peak_rss(server.pid)
    load_after = os.getloadavg()[0]
    if run.returncode != 0 or not run.summary.get("complete"):
        raise RuntimeError(f"{label}: export failed ({run.returncode}):\n{run.stderr_tail}")
    output_bytes = out.stat().st_size
    progress(
        f"{label}: {run.rate():,.0f} sessions/s, {run.elapsed:.1f} s, cpu {run.cpu:.1f} s, "
        f"server cpu {run.server_cpu:.1f} s, peak RSS {run.peak_rss / MIB:.1f} MiB"
    )
    _remove_export(out)
    return SizeResult(
        sessions, interactions, run, server_peak, output_bytes, (load_before, load_after)
    )


def _remove_export(out: Path) -> None:
    for suffix in ("", ".part", ".state.db", ".state.db-wal", ".state.db-shm"):
        out.with_name(out.name + suffix).unlink(missing_ok=True)
    sessions = out.with_name(out.stem + ".sessions" + out.suffix)
    for name in (sessions, sessions.with_name(sessions.name + ".part")):
        name.unlink(missing_ok=True)


@dataclass
class KillResult:
    """The killed run, the resumed run, and what the final files hold."""

    sessions: int
    target_bytes: int
    killed: ExportRun
    resumed: ExportRun
    output: Census
    sessions_file: Census

    @property
    def interactions_off(self) -> int:
        """Interactions missing plus duplicated in the final output (0 when exact)."""
        distinct = self.output.distinct["sid"]
        return (self.sessions - distinct) + (self.output.lines - distinct) + self.output.malformed

    @property
    def sessions_off(self) -> int:
        """Sessions missing plus duplicated in the sessions file (0 when exact)."""
        distinct = self.sessions_file.distinct["sid"]
        return (
            (self.sessions - distinct)
            + (self.sessions_file.lines - distinct)
            + self.sessions_file.malformed
        )


def kill_and_resume(
    sessions: int,
    bytes_per_session: float,
    concurrency: int,
    progress_interval: float,
    workdir: Path,
) -> KillResult:
    """SIGKILL an export half-way (by its ``.part`` size), resume it, check the files."""
    out = workdir / "killed.ndjson"
    target = int(sessions * bytes_per_session / 2)
    progress(f"kill+resume: {sessions:,} sessions, SIGKILL once the .part has {target:,} bytes")
    with fake_server(sessions=sessions, interactions=1, list_sessions=False) as server:
        killed = run_export(server, out, concurrency, progress_interval, kill_at_bytes=target)
        if killed.killed_at_bytes is None:
            raise RuntimeError(
                f"the export of {sessions:,} sessions ended before the kill point (the .part "
                f"grows at each commit, every 0.5 s): use a larger --kill-size\n"
                f"{killed.stderr_tail}"
            )
        done = killed.progress[-1][1] if killed.progress else 0
        progress(
            f"kill+resume: killed after {killed.wall:.0f} s at {killed.killed_at_bytes:,} bytes "
            f"(last progress line: {done:,} sessions done); resuming..."
        )
        resumed = run_export(server, out, concurrency, progress_interval, resume=True)
    if resumed.returncode != 0 or not resumed.summary.get("complete"):
        raise RuntimeError(f"resume failed ({resumed.returncode}):\n{resumed.stderr_tail}")
    progress("kill+resume: counting the final files...")
    output = census(out, ("sid", "session_sid"), workdir)
    sessions_path = out.with_name(out.stem + ".sessions" + out.suffix)
    sessions_file = census(sessions_path, ("sid",), workdir)
    _remove_export(out)
    return KillResult(sessions, target, killed, resumed, output, sessions_file)


# -- reporting --------------------------------------------------------------------------------


def _mib(value: int) -> str:
    return f"{value / MIB:.1f}"


def print_sizes(results: Sequence[SizeResult], concurrency: int) -> None:
    """The throughput and the resources tables, one row per size."""
    rows = []
    for result in results:
        run = result.run
        rate = run.rate()
        last = run.window_rate(0.8, 1.0, result.sessions)
        rows.append(
            [
                f"{result.sessions:,} x {result.interactions:,}",
                f"{run.elapsed:.1f}",
                fmt_rate(rate),
                fmt_rate(run.window_rate(0.1, 0.3, result.sessions)),
                fmt_rate(last),
                fmt_ratio(last / rate) if rate else "-",
                f"{run.cpu / result.sessions * 1e6:.0f}",
                f"{run.server_cpu / result.requests * 1e6:.0f}" if result.requests else "-",
                f"{result.requests:,}",
                f"{result.state_per_page:,.0f}",
            ]
        )
    print_table(
        f"Export at scale: the CLI, --concurrency {concurrency}, no rate limit, no latency",
        [
            "sessions x interactions",
            "export s",
            "sessions/s",
            "at 10-30%",
            "last 20%",
            "last / all",
            "client CPU us/session",
            "server CPU us/request",
            "requests",
            "state bytes/page",
        ],
        rows,
    )
    rows = []
    for result in results:
        run = result.run
        rows.append(
            [
                f"{result.sessions:,} x {result.interactions:,}",
                _mib(run.peak_rss),
                _mib(run.rss_at(0.2, result.sessions)),
                _mib(run.peak_rss - run.rss_at(0.2, result.sessions)),
                f"{run.wall:.1f}",
                f"{run.cpu:.1f} ({result.client_share:.0%})",
                f"{run.server_cpu:.1f} ({result.server_share:.0%})",
                f"{run.client_wait:.1f} / {run.server_wait:.1f}",
                result.bound(),
                _mib(result.server_peak_rss),
                f"{result.output_bytes / result.sessions:,.0f}",
                f"{result.load[0]:.2f} / {result.load[1]:.2f}",
            ]
        )
    print_table(
        "Export at scale: memory, CPU and what bounded each run",
        [
            "sessions x interactions",
            "peak RSS MiB",
            "RSS at 20% MiB",
            "late growth MiB",
            "process wall s",
            "client CPU s (of wall)",
            "server CPU s (of wall)",
            "waiting for a CPU s (client / server)",
            "bound by",
            "server peak RSS MiB",
            "output bytes/session",
            "load avg before/after",
        ],
        rows,
    )


def print_per_record(result: SizeResult) -> None:
    """Records/s and client CPU per record of the many-interactions export."""
    run = result.run
    records = result.records
    print_table(
        f"Per-record throughput: {result.sessions:,} sessions x {result.interactions:,} "
        "interactions, same flags",
        [
            "records",
            "export s",
            "records/s",
            "client CPU us/record",
            "server CPU us/request",
            "peak RSS MiB",
            "bound by",
        ],
        [
            [
                f"{records:,}",
                f"{run.elapsed:.2f}",
                fmt_rate(records / run.elapsed),
                f"{run.cpu / records * 1e6:.1f}",
                f"{run.server_cpu / result.requests * 1e6:.0f}" if result.requests else "-",
                _mib(run.peak_rss),
                f"{result.bound()}: client {result.client_share:.0%}, server "
                f"{result.server_share:.0%}",
            ]
        ],
    )


def print_kill(result: KillResult, clean: SizeResult | None) -> None:
    """The two runs of the killed export and the census of its files."""
    killed, resumed = result.killed, result.resumed
    done_at_kill = killed.progress[-1][1] if killed.progress else 0
    rows = [
        [
            "killed (SIGKILL)",
            f"{killed.wall:.1f}",
            f"{done_at_kill:,} (last progress line)",
            f"{killed.killed_at_bytes or 0:,} bytes in .part",
            f"{killed.cpu:.1f}",
            _mib(killed.peak_rss),
        ],
        [
            "resumed (--resume)",
            f"{resumed.wall:.1f}",
            f"{resumed.summary.get('sessions_done', 0):,} at the end",
            f"{resumed.summary.get('records_this_run', 0):,} records this run, "
            f"{fmt_rate(resumed.rate())} sessions/s",
            f"{resumed.cpu:.1f}",
            _mib(resumed.peak_rss),
        ],
    ]
    print_table(
        f"Kill and resume: {result.sessions:,} sessions x 1 interaction, SIGKILL at "
        f"{result.target_bytes:,} bytes of output (about half)",
        ["run", "process wall s", "sessions done", "progress", "client CPU s", "peak RSS MiB"],
        rows,
    )
    both = killed.wall + resumed.wall
    if clean is not None and clean.sessions == result.sessions:
        print(
            f"killed + resumed wall: {both:.1f} s, against {clean.run.wall:.1f} s for the "
            f"uninterrupted export ({both / clean.run.wall:.2f}x)"
        )
    out, sess = result.output, result.sessions_file
    print_table(
        "Kill and resume: what the final files hold",
        ["file", "lines", "distinct sid", "other", "malformed", "expected", "off by"],
        [
            [
                "output (interactions)",
                f"{out.lines:,}",
                f"{out.distinct['sid']:,}",
                f"{out.distinct['session_sid']:,} distinct session_sid",
                f"{out.malformed:,}",
                f"{result.sessions:,}",
                f"{result.interactions_off:,}",
            ],
            [
                "sessions file",
                f"{sess.lines:,}",
                f"{sess.distinct['sid']:,}",
                "-",
                f"{sess.malformed:,}",
                f"{result.sessions:,}",
                f"{result.sessions_off:,}",
            ],
        ],
    )


def targets_for(results: Sequence[SizeResult], kill: KillResult | None) -> list[Target]:
    """Largest size against smallest; the kill+resume census."""
    targets = []
    if len(results) >= 2:
        small, large = results[0], results[-1]
        at = f"{large.sessions:,} vs {small.sessions:,}"
        targets.append(
            Target(f"sessions/s at {at}", large.run.rate() / small.run.rate(), 0.8, True)
        )
        # The CPU each session costs the client does not depend on other people's load.
        cpu_ratio = (large.run.cpu / large.sessions) / (small.run.cpu / small.sessions)
        targets.append(Target(f"(info) client CPU/session, {at}", cpu_ratio, 1.25, False))
        growth = (large.run.peak_rss - small.run.peak_rss) / MIB
        targets.append(Target(f"peak RSS growth, {at}", growth, 100, False, " MiB"))
        ratio = large.state_per_page / small.state_per_page
        targets.append(
            Target(f"state bytes/page, {at} (either way)", max(ratio, 1 / ratio), 1.5, False)
        )
    if kill is not None:
        targets += [
            Target(
                "kill+resume: interactions missing + duplicated",
                kill.interactions_off,
                0,
                False,
                "",
            ),
            Target("kill+resume: sessions missing + duplicated", kill.sessions_off, 0, False, ""),
        ]
    return targets


def _parse_sizes(text: str) -> list[int]:
    sizes = (int(part.replace("_", "")) for part in text.split(",") if part.strip())
    return [size for size in sizes if size > 0]


def _parse_shape(text: str) -> tuple[int, int]:
    sessions, _, interactions = text.lower().partition("x")
    return int(sessions), int(interactions)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exports and print their tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--sizes",
        default=None,
        help="sessions per size, comma-separated, smallest first, 0 for none (default "
        "10000,100000,1000000; --quick 2000,20000)",
    )
    parser.add_argument(
        "--kill-size",
        type=int,
        default=None,
        help="sessions of the killed and resumed export, 0 to skip (default: the largest size)",
    )
    parser.add_argument(
        "--per-record",
        default="200x1000",
        help="SESSIONSxINTERACTIONS of the per-record run, or 0 to skip (default 200x1000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="export --concurrency (default 64)"
    )
    parser.add_argument(
        "--progress-interval", type=float, default=1.0, help="seconds between progress lines"
    )
    parser.add_argument(
        "--workdir", default=None, help="where the exports go (default: a temporary directory)"
    )
    args = parser.parse_args(argv)
    sizes = _parse_sizes(args.sizes or ("2000,20000" if args.quick else "10000,100000,1000000"))
    kill_size = (sizes[-1] if sizes else 0) if args.kill_size is None else args.kill_size
    started = time.monotonic()
    print(
        f"# bench_export_scale: sizes {', '.join(f'{size:,}' for size in sizes)} x 1 "
        f"interaction; kill+resume at {kill_size:,}; per-record {args.per_record}; "
        f"--concurrency {args.concurrency}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=args.workdir) as directory:
        workdir = Path(directory)
        per_record = None
        if args.per_record not in ("0", ""):
            shape = _parse_shape(args.per_record)
            per_record = export_size(
                *shape, args.concurrency, args.progress_interval, workdir, "per-record"
            )
        results = [
            export_size(size, 1, args.concurrency, args.progress_interval, workdir, f"s{size}")
            for size in sizes
        ]
        kill = None
        if kill_size:
            per_session = (
                results[0].output_bytes / results[0].sessions
                if results
                else FALLBACK_BYTES_PER_SESSION
            )
            kill = kill_and_resume(
                kill_size, per_session, args.concurrency, args.progress_interval, workdir
            )
    command = export_command(
        ServerInfo("$URL", "$AC", "$TOKEN", "$KS", (), 0),
        Path("$OUT"),
        args.concurrency,
        args.progress_interval,
    )
    print("\nEach export ran as (credentials in TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN):\n")
    print("    " + shlex.join(["python", *command[1:]]))
    print(
        "\nthe fake server as: python -m proxy_async.testing --port 0 --json --sessions N "
        "--interactions M --latency 0"
    )
    if results:
        print_sizes(results, args.concurrency)
    if per_record is not None:
        print_per_record(per_record)
    if kill is not None:
        clean = next((result for result in results if result.sessions == kill_size), None)
        print_kill(kill, clean)
    print_targets("Export at scale targets", targets_for(results, kill))
    print(f"(bench_export_scale: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
