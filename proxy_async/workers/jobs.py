"""The arq jobs: the job function, its worker's startup, shutdown and settings class, and
:func:`wait_for_jobs` for the side that queued them.

With Redis running, start any number of workers (processes, on any machines that
share the output directory)::

    proxy-async workers run          # or: arq proxy_async.workers.WorkerSettings

**Each job** (:func:`export_batch`) exports its batch to
``OUT/batch-000001.<format>[.gz]`` with :func:`proxy_async.bulk_export.run.export`
and ``resume=True`` (state in ``….state.db``, kept after completion as the batch's
record). A session that answers 404 is *missing* in its batch, which still completes; a
batch left incomplete raises arq's ``Retry``, and the next try resumes from the batch's
state, so nothing is fetched or written twice.

Every worker's single :class:`~proxy_async.client.proxy_client.ProxyClient` (made at
worker startup, closed at shutdown) goes through a
:class:`~proxy_async.limits.redis.RedisLimiter` on the same Redis, so the pool as a whole
stays within one request rate, and each worker within its own in-flight cap (fixed, or
adaptive with ``PROXY_ASYNC_ADAPTIVE=1``); see :mod:`proxy_async.workers.config`.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job, JobStatus
from arq.worker import Function, Retry, func

from ..bulk_export.formats import Format
from ..bulk_export.paths import Compression
from ..bulk_export.run import export
from ..bulk_export.walk import DEFAULT_PAGE_SIZE
from ..client.proxy_client import ProxyClient
from ..limits.redis import RedisLimiter
from .config import WorkerConfig
from .layout import batch_output

EXPORT_JOB = "export_batch"
"""The arq function name of the batch export job."""

DEFAULT_MAX_TRIES = 5

CONFIG_KEY = "proxy_async_config"
"""Where a :class:`WorkerConfig` may be put in the arq worker ``ctx`` (instead of env)."""

CLIENT_KEY = "proxy_client"
"""Where startup puts the worker's :class:`ProxyClient` in ``ctx``."""

_LIMITER_KEY = "proxy_async_limiter"


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


async def export_batch(
    ctx: dict[Any, Any],
    service_sid: str,
    out_dir: str,
    batch: int,
    sessions: list[str],
    fmt: Format = "ndjson",
    page_size: int = DEFAULT_PAGE_SIZE,
    compression: Compression | None = None,
) -> dict[str, Any]:
    """The job: export one batch of sessions to its own file, resuming whatever a try left.

    Walks ``batch_concurrency`` sessions at once. A session that answers 404 is missing
    and the batch still completes; if other sessions fail, raises arq's ``Retry``
    (after ``retry_delay`` x try seconds) and the next try resumes from the batch's
    state. Returns ``{"batch", "output", "sessions", "records", "records_this_run",
    "resumed", "missing"}`` (``missing``: the SIDs of the missing sessions).
    """
    client: ProxyClient = ctx[CLIENT_KEY]
    config = ctx.get(CONFIG_KEY)
    if not isinstance(config, WorkerConfig):
        config = WorkerConfig()
    summary = await export(
        client,
        service_sid,
        batch_output(out_dir, batch, fmt, compression),
        sessions=sessions,
        fmt=fmt,
        page_size=page_size,
        concurrency=config.batch_concurrency,
        resume=True,
    )
    if not summary.complete:
        raise Retry(defer=config.retry_delay * ctx.get("job_try", 1))
    return {
        "batch": batch,
        "output": str(summary.output),
        "sessions": summary.sessions_total,
        "records": summary.records,
        "records_this_run": summary.records_this_run,
        "resumed": summary.resumed,
        "missing": [failure.session_sid for failure in summary.missing],
    }


FUNCTIONS: list[Function] = [func(export_batch, name=EXPORT_JOB, max_tries=DEFAULT_MAX_TRIES)]
"""The job functions a proxy-async worker runs."""


def worker_settings(
    environ: Mapping[str, str] | None = None, *, config: WorkerConfig | None = None
) -> type:
    """An arq settings class for the export worker, configured by ``config`` or, without
    one, from ``environ`` (None: the process environment, read now; see
    :mod:`proxy_async.workers.config`).

    Its ``on_startup`` puts that :class:`WorkerConfig` in the worker's ``ctx`` (unless
    one is there already), so the worker uses exactly this configuration. Raises
    :class:`~proxy_async.errors.InvalidParameterError` for a malformed variable, and
    ``TypeError`` if given both ``environ`` and ``config``.
    """
    if config is None:
        config = WorkerConfig.from_env(environ)
    elif environ is not None:
        raise TypeError("worker_settings() takes environ or config, not both")
    chosen = config

    async def on_startup(ctx: dict[Any, Any]) -> None:
        ctx.setdefault(CONFIG_KEY, chosen)
        await startup(ctx)

    return type(
        "WorkerSettings",
        (),
        {
            "__doc__": "``arq proxy_async.workers.WorkerSettings``: the batch export worker.",
            "__module__": "proxy_async.workers",
            "functions": FUNCTIONS,
            "on_startup": on_startup,
            "on_shutdown": shutdown,
            "redis_settings": RedisSettings.from_dsn(config.redis_url),
            "max_jobs": config.max_jobs,
            "job_timeout": config.job_timeout,
        },
    )


async def wait_for_jobs(
    redis: ArqRedis, job_ids: Sequence[str], *, poll_delay: float = 0.5
) -> dict[str, JobStatus]:
    """Wait until none of ``job_ids`` is queued or running; returns each job's final status.

    Polls only the jobs not finished yet, every ``poll_delay`` seconds. A job that
    failed for good stays ``complete``; read ``Job(id, redis).result_info()``.
    """
    final: dict[str, JobStatus] = {}
    waiting = list(job_ids)
    while True:
        still = []
        for ident in waiting:
            status = await Job(ident, redis).status()
            if status in (JobStatus.complete, JobStatus.not_found):
                final[ident] = status
            else:
                still.append(ident)
        waiting = still
        if not waiting:
            return {ident: final[ident] for ident in job_ids}
        await asyncio.sleep(poll_delay)


@functools.cache
def environment_worker_settings() -> type:
    """The settings class the process environment describes, built on the first call
    (``proxy_async.workers.WorkerSettings`` is this)."""
    return worker_settings()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m proxy_async.workers``: the same as ``proxy-async workers`` (see
    :mod:`proxy_async.cli.workers`); returns the exit status."""
    from ..cli import main as command_line

    return command_line(["workers", *(sys.argv[1:] if argv is None else argv)])
