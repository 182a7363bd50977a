"""Bulk export on a pool of arq workers: one job per session, one client per worker.

With Redis running, start any number of workers (processes, on any machines that
share the output directory)::

    arq proxy_async.workers.WorkerSettings

then shard a Service into jobs, one per session, and join the results::

    python -m proxy_async.workers enqueue KS... --out exports/ --wait
    python -m proxy_async.workers merge --out exports/ --to interactions.ndjson

Each job exports one session to ``OUT/<session SID>.<format>`` with
:func:`proxy_async.export.export` and ``resume=True``: a job whose session failed part
way (or whose worker died) is retried by arq and continues from its checkpoint, so
nothing is fetched or written twice. Enqueuing is idempotent: a session already queued,
running or done for the same output is not queued again.

Every worker's single :class:`~proxy_async.client.ProxyClient` (made at worker startup,
closed at shutdown) goes through a :class:`~proxy_async.redis_limiter.RedisLimiter` on
the same Redis, so the pool as a whole stays within one request rate, and each worker
within its own in-flight cap (fixed, or adaptive with ``PROXY_ASYNC_ADAPTIVE=1``).

Configuration, from the environment (read when the settings are imported):

* ``TWILIO_ACCOUNT_SID`` with ``TWILIO_AUTH_TOKEN`` (or ``TWILIO_API_KEY`` and
  ``TWILIO_API_SECRET``), ``TWILIO_EDGE``, ``TWILIO_REGION``: the account;
* ``PROXY_ASYNC_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``): queue and limit;
* ``PROXY_ASYNC_RPS`` (default 30): requests per second for the whole pool;
* ``PROXY_ASYNC_MAX_CONCURRENCY`` (default 20): requests in flight per worker;
* ``PROXY_ASYNC_ADAPTIVE`` (``1``): learn each worker's window from 429s instead;
* ``PROXY_ASYNC_MAX_JOBS`` (default 10): sessions one worker exports at once;
* ``PROXY_ASYNC_RETRIES`` (default 4): retries of one request before its session
  fails; ``PROXY_ASYNC_RETRY_DELAY`` (default 5): seconds x try before arq runs a
  failed session's job again;
* ``PROXY_ASYNC_BASE_URL``: another API host (the fake server, a proxy).

Needs the optional extra: ``pip install 'proxy-async[arq]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

try:
    from arq.connections import ArqRedis, RedisSettings, create_pool
    from arq.constants import result_key_prefix
    from arq.jobs import Job, JobStatus
    from arq.worker import Function, Retry, func
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError("proxy_async.workers needs arq: pip install 'proxy-async[arq]'") from error

from .client import ProxyClient
from .errors import ExportStateError, InvalidParameterError, ProxyError
from .export import (
    DEFAULT_PAGE_SIZE,
    FORMATS,
    Format,
    check_format,
    check_page_size,
    discover_sessions,
    export,
    unique_session_sids,
)
from .export_files import ExportPaths, sync_directory, write_atomically
from .ratelimit import DEFAULT_MAX_CONCURRENCY, DEFAULT_REQUESTS_PER_SECOND, AdaptiveLimiter
from .redis_limiter import DEFAULT_KEY, RedisLimiter
from .retry import RetryPolicy
from .validation import check_sid

EXPORT_JOB = "export_session"
"""The arq function name of the one-session export job."""

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MAX_JOBS = 10
DEFAULT_JOB_TIMEOUT = 3600
"""Seconds one job may run. arq fails a job that runs longer, without a retry; its
checkpoint is saved, so enqueueing it again (once arq has dropped the failed result)
or ``proxy-async export --resume`` on its file continues where it stopped."""

DEFAULT_MAX_TRIES = 5
CONFIG_KEY = "proxy_async_config"
"""Where a :class:`WorkerConfig` may be put in the arq worker ``ctx`` (instead of env)."""

CLIENT_KEY = "proxy_client"
"""Where startup puts the worker's :class:`ProxyClient` in ``ctx``."""

_LIMITER_KEY = "proxy_async_limiter"
_COPY_CHUNK = 1 << 20


@attrs.frozen
class WorkerConfig:
    """How a worker builds its client; :meth:`from_env` reads the ``PROXY_ASYNC_*`` variables.

    ``requests_per_second`` is shared by every worker on ``redis_url`` (under
    ``rate_key``); ``fallback_requests_per_second`` is each worker's own rate while
    Redis is unreachable (default: the shared rate / ``expected_workers``).
    ``retry_delay`` is the wait before a job whose session failed is run again.
    ``environ`` supplies the ``TWILIO_*`` credentials (None: the process environment).
    """

    redis_url: str = DEFAULT_REDIS_URL
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    adaptive: bool = False
    base_url: str | None = None
    rate_key: str = DEFAULT_KEY
    expected_workers: int = 4
    fallback_requests_per_second: float | None = None
    retry: RetryPolicy | int | None = None
    retry_delay: float = 5.0
    environ: Mapping[str, str] | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        """The configuration the ``PROXY_ASYNC_*`` environment variables describe."""
        env = os.environ if environ is None else environ
        return cls(
            redis_url=env.get("PROXY_ASYNC_REDIS_URL") or DEFAULT_REDIS_URL,
            requests_per_second=_env_number(env, "PROXY_ASYNC_RPS", DEFAULT_REQUESTS_PER_SECOND),
            max_concurrency=int(
                _env_number(env, "PROXY_ASYNC_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY)
            ),
            adaptive=env.get("PROXY_ASYNC_ADAPTIVE", "").lower() in ("1", "true", "yes"),
            base_url=env.get("PROXY_ASYNC_BASE_URL") or None,
            retry=_env_retries(env),
            retry_delay=_env_number(env, "PROXY_ASYNC_RETRY_DELAY", 5.0),
            environ=environ,
        )

    def make_limiter(self) -> RedisLimiter:
        """The shared-rate limiter of one worker (its local part fixed or adaptive)."""
        local = None
        if self.adaptive:
            local = AdaptiveLimiter(
                initial_concurrency=self.max_concurrency,
                max_concurrency=max(self.max_concurrency, 100),
                requests_per_second=None,
            )
        fallback = self.fallback_requests_per_second
        if fallback is None:
            fallback = self.requests_per_second / max(1, self.expected_workers)
        return RedisLimiter(
            self.redis_url,
            requests_per_second=self.requests_per_second,
            key=self.rate_key,
            max_concurrency=self.max_concurrency,
            local=local,
            fallback_requests_per_second=fallback,
        )

    def make_client(self, limiter: RedisLimiter) -> ProxyClient:
        """A client for the ``TWILIO_*`` account through ``limiter``."""
        options: dict[str, Any] = {"limiter": limiter, "retry": self.retry}
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return ProxyClient.from_env(self.environ, **options)


def _env_retries(env: Mapping[str, str]) -> int | None:
    raw = env.get("PROXY_ASYNC_RETRIES")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameterError("PROXY_ASYNC_RETRIES", "an integer >= 0", raw) from None
    if value < 0:
        raise InvalidParameterError("PROXY_ASYNC_RETRIES", "an integer >= 0", raw)
    return value


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterError(name, "a number", raw) from None
    if not value > 0:
        raise InvalidParameterError(name, "a number > 0", raw)
    return value


# -- the worker ---------------------------------------------------------------------------


async def startup(ctx: dict[Any, Any]) -> None:
    """arq ``on_startup``: make this worker's limiter and its one client."""
    config = ctx.get(CONFIG_KEY)
    if not isinstance(config, WorkerConfig):
        config = ctx[CONFIG_KEY] = WorkerConfig.from_env()
    limiter = config.make_limiter()
    try:
        ctx[CLIENT_KEY] = config.make_client(limiter)
    except BaseException:
        await limiter.aclose()
        raise
    ctx[_LIMITER_KEY] = limiter


async def shutdown(ctx: dict[Any, Any]) -> None:
    """arq ``on_shutdown``: close the client, then the limiter's Redis connection."""
    client = ctx.pop(CLIENT_KEY, None)
    limiter = ctx.pop(_LIMITER_KEY, None)
    try:
        if isinstance(client, ProxyClient):
            await client.aclose()
    finally:
        if isinstance(limiter, RedisLimiter):
            await limiter.aclose()


def session_output(out_dir: str | os.PathLike[str], session_sid: str, fmt: Format) -> Path:
    """Where the job of ``session_sid`` writes: ``OUT/<session SID>.<format>``."""
    return Path(out_dir) / f"{session_sid}.{fmt}"


async def export_session(
    ctx: dict[Any, Any],
    service_sid: str,
    session_sid: str,
    out_dir: str,
    fmt: Format = "ndjson",
    page_size: int = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The job: export one session to its own file, resuming whatever a try left.

    If the session fails part way, arq runs the job again (up to its ``max_tries``),
    and the export resumes from the checkpoint. Returns a summary dict.
    """
    client: ProxyClient = ctx[CLIENT_KEY]
    out = session_output(out_dir, session_sid, fmt)
    summary = await export(
        client,
        service_sid,
        out,
        sessions=[session_sid],
        fmt=fmt,
        page_size=page_size,
        concurrency=1,
        resume=True,
    )
    if not summary.complete:
        config = ctx.get(CONFIG_KEY)
        delay = config.retry_delay if isinstance(config, WorkerConfig) else 5.0
        raise Retry(defer=delay * ctx.get("job_try", 1))
    return {
        "session_sid": session_sid,
        "output": str(summary.output),
        "records": summary.records,
        "records_this_run": summary.records_this_run,
        "resumed": summary.resumed,
    }


FUNCTIONS: list[Function] = [func(export_session, name=EXPORT_JOB, max_tries=DEFAULT_MAX_TRIES)]
"""The job functions a proxy-async worker runs."""


class WorkerSettings:
    """``arq proxy_async.workers.WorkerSettings``: the export worker, set up from env."""

    functions = FUNCTIONS
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(
        os.environ.get("PROXY_ASYNC_REDIS_URL") or DEFAULT_REDIS_URL
    )
    max_jobs = int(_env_number(os.environ, "PROXY_ASYNC_MAX_JOBS", DEFAULT_MAX_JOBS))
    job_timeout = DEFAULT_JOB_TIMEOUT


# -- enqueueing and merging ---------------------------------------------------------------


@attrs.frozen
class Enqueued:
    """What :func:`enqueue_service` did: every session's job ID, and how many were new."""

    service_sid: str
    session_sids: tuple[str, ...]
    job_ids: tuple[str, ...]
    new_jobs: int
    retried_jobs: int = 0


def job_id(service_sid: str, session_sid: str, out_dir: str | os.PathLike[str], fmt: str) -> str:
    """The job ID of one session's export to ``out_dir``: the same enqueue is a no-op."""
    where = hashlib.sha256(os.fsencode(Path(out_dir).resolve())).hexdigest()[:16]
    return f"proxy-async:export:{service_sid}:{session_sid}:{fmt}:{where}"


def manifest_path(out_dir: str | os.PathLike[str], fmt: Format) -> Path:
    """``OUT/manifest.<format>.json``: the Service and every session enqueued to ``OUT``."""
    return Path(out_dir) / f"manifest.{fmt}.json"


def read_manifest(out_dir: str | os.PathLike[str], fmt: Format) -> tuple[str, list[str]] | None:
    """The Service SID and session SIDs enqueued to ``out_dir``, or None if none were."""
    path = manifest_path(out_dir, fmt)
    try:
        body = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        raise ExportStateError(f"{path} cannot be read: {error}") from None
    service, sessions = body.get("service_sid"), body.get("sessions")
    if not isinstance(service, str) or not isinstance(sessions, list):
        raise ExportStateError(f"{path} is not a proxy-async manifest")
    return service, [check_sid(sid, "KC", "session_sid") for sid in sessions]


def _record_manifest(directory: Path, fmt: Format, service_sid: str, sids: list[str]) -> None:
    """Add ``sids`` to the directory's manifest, written before any job is queued."""
    known = read_manifest(directory, fmt)
    if known is not None and known[0] != service_sid:
        raise ExportStateError(
            f"{directory} already holds the {fmt} export of {known[0]}: use another --out "
            f"for {service_sid}"
        )
    sessions = list(dict.fromkeys([*(known[1] if known else []), *sids]))
    body = {"service_sid": service_sid, "sessions": sessions}
    write_atomically(manifest_path(directory, fmt), orjson.dumps(body, option=orjson.OPT_INDENT_2))


async def enqueue_service(
    redis: ArqRedis,
    client: ProxyClient,
    service_sid: str,
    out_dir: str | os.PathLike[str],
    *,
    sessions: Iterable[str] | None = None,
    fmt: Format = "ndjson",
    page_size: int = DEFAULT_PAGE_SIZE,
    retry_failed: bool = False,
) -> Enqueued:
    """Shard a Service into one export job per session (all its sessions unless given).

    ``out_dir`` (made if missing) must be reachable at the same path by every worker;
    it holds one Service's export per format, and its manifest lists every session
    enqueued there, so that :func:`merge_exports` can tell a finished export from a
    partial one. A session whose job already ran is not queued again (arq keeps the
    result for an hour), unless ``retry_failed`` and that job failed: its result is
    dropped and the job queued afresh, resuming from the session's checkpoint.
    """
    service_sid = check_sid(service_sid, "KS", "service_sid")
    fmt = check_format(fmt)
    page_size = check_page_size(page_size)  # here, not in every job that would fail on it
    if sessions is None:
        sids = await discover_sessions(client, service_sid)
    else:
        sids = unique_session_sids(sessions)
    directory = _output_directory(out_dir)
    _record_manifest(directory, fmt, service_sid, sids)
    ids = []
    new = retried = 0
    for sid in sids:
        ident = job_id(service_sid, sid, directory, fmt)
        if retry_failed:
            info = await Job(ident, redis).result_info()
            if info is not None and not info.success:
                await redis.delete(result_key_prefix + ident)
                retried += 1
        job = await redis.enqueue_job(
            EXPORT_JOB, service_sid, sid, str(directory), fmt, page_size, _job_id=ident
        )
        new += job is not None
        ids.append(ident)
    return Enqueued(service_sid, tuple(sids), tuple(ids), new, retried)


def _output_directory(out_dir: str | os.PathLike[str]) -> Path:
    directory = Path(out_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


async def wait_for_jobs(
    redis: ArqRedis, job_ids: Sequence[str], *, poll_delay: float = 0.5
) -> dict[str, JobStatus]:
    """Wait until no job is queued or running; returns each job's final status.

    A job that failed for good stays ``complete``; read ``Job(id, redis).result_info()``.
    """
    jobs = [Job(ident, redis) for ident in job_ids]
    while True:
        statuses = [await job.status() for job in jobs]
        if all(status in (JobStatus.complete, JobStatus.not_found) for status in statuses):
            return dict(zip(job_ids, statuses, strict=True))
        await asyncio.sleep(poll_delay)


def _finished(directory: Path, session_sid: str, fmt: Format) -> bool:
    """Whether the session's file is complete: present, with no checkpoint left."""
    paths = ExportPaths.for_output(session_output(directory, session_sid, fmt))
    return paths.output.exists() and not paths.partial.exists()


def merge_exports(
    out_dir: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    sessions: Sequence[str] | None = None,
    fmt: Format = "ndjson",
) -> int:
    """Join the per-session files of ``out_dir`` into ``dest`` (atomically); returns how
    many were joined.

    ``sessions`` gives the order. None means every session of the directory's manifest
    (what :func:`enqueue_service` queued there), by SID; without a manifest, every
    ``KC….<format>`` file. Every one must be finished: a merge never silently leaves
    a session out. Raises :class:`~proxy_async.checkpoint.ExportStateError` naming
    the sessions that are missing or unfinished. A CSV header is written once.
    """
    fmt = check_format(fmt)
    directory = Path(out_dir)
    if sessions is not None:
        names = list(sessions)
    elif (manifest := read_manifest(directory, fmt)) is not None:
        names = sorted(manifest[1])
    else:
        names = sorted(
            {
                path.name.split(".", 1)[0]
                for path in directory.glob(f"KC*.{fmt}*")
                if path.name.split(".", 1)[1] in (fmt, f"{fmt}.part", f"{fmt}.checkpoint.json")
            }
        )
    unfinished = [sid for sid in names if not _finished(directory, sid, fmt)]
    if unfinished:
        shown = ", ".join(unfinished[:3]) + (
            f" and {len(unfinished) - 3} more" if len(unfinished) > 3 else ""
        )
        raise ExportStateError(
            f"{len(unfinished)} of {len(names)} session(s) not exported yet in {directory}: "
            f"{shown}; wait for their jobs (enqueue --wait) or retry them (enqueue --retry-failed)"
        )
    sources = [session_output(directory, sid, fmt) for sid in names]
    target = Path(dest)
    temporary = target.with_name(target.name + ".tmp")
    with temporary.open("wb") as sink:
        for index, source in enumerate(sources):
            with source.open("rb") as part:
                if fmt == "csv" and index > 0:
                    part.readline()  # the header, written once (it has no line breaks)
                shutil.copyfileobj(part, sink, _COPY_CHUNK)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, target)
    sync_directory(target.parent)
    return len(names)


# -- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m proxy_async.workers",
        description="Shard a Proxy Service's export into arq jobs, and join the results. "
        "Run workers with: arq proxy_async.workers.WorkerSettings",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    enqueue = commands.add_parser("enqueue", help="queue one export job per session")
    enqueue.add_argument("service", metavar="SERVICE_SID")
    enqueue.add_argument("--out", required=True, metavar="DIR", help="per-session files go here")
    enqueue.add_argument("--session", action="append", metavar="SID", help="only these")
    enqueue.add_argument("--wait", action="store_true", help="wait for every job to finish")
    enqueue.add_argument(
        "--retry-failed",
        action="store_true",
        help="queue again the sessions whose job failed for good (they resume)",
    )
    merge = commands.add_parser("merge", help="join the per-session files into one")
    merge.add_argument("--out", required=True, metavar="DIR", help="as given to enqueue")
    merge.add_argument("--to", required=True, metavar="FILE", help="the joined file")
    for command in (enqueue, merge):
        command.add_argument("--format", choices=FORMATS, default="ndjson")
    enqueue.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, metavar="N")
    enqueue.add_argument(
        "--redis", default=None, metavar="URL", help="default: $PROXY_ASYNC_REDIS_URL"
    )
    return parser


async def _enqueue(args: argparse.Namespace) -> int:
    config = WorkerConfig.from_env()
    redis = await create_pool(RedisSettings.from_dsn(args.redis or config.redis_url))
    try:
        options: dict[str, Any] = {"requests_per_second": config.requests_per_second}
        if config.base_url is not None:
            options["base_url"] = config.base_url
        async with ProxyClient.from_env(**options) as client:
            done = await enqueue_service(
                redis,
                client,
                args.service,
                args.out,
                sessions=args.session,
                fmt=args.format,
                page_size=args.page_size,
                retry_failed=args.retry_failed,
            )
        retried = f" ({done.retried_jobs} failed ones again)" if done.retried_jobs else ""
        print(
            f"{len(done.session_sids)} sessions of {done.service_sid}: "
            f"{done.new_jobs} jobs queued{retried}, "
            f"{len(done.job_ids) - done.new_jobs} already known"
        )
        if not args.wait:
            return 0
        await wait_for_jobs(redis, done.job_ids)
        failed = [
            ident
            for ident in done.job_ids
            if (info := await Job(ident, redis).result_info()) is not None and not info.success
        ]
        print(f"{len(done.job_ids) - len(failed)} jobs done, {len(failed)} failed")
        return 1 if failed else 0
    finally:
        await redis.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m proxy_async.workers``: enqueue a Service, or merge its files."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "merge":
            count = merge_exports(args.out, args.to, fmt=args.format)
            print(f"{count} sessions joined into {args.to}")
            return 0
        return asyncio.run(_enqueue(args))
    except (ProxyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
