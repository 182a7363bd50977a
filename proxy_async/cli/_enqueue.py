"""The work of ``proxy-async workers enqueue``: list a Service into batches on Redis, one
arq job each, optionally wait for them, and say what was queued.

:func:`enqueue` returns the outcome (text, ``--json`` body, exit code); the command in
:mod:`.workers` prints it. ``workers`` is :mod:`proxy_async.workers` (arq is an extra,
imported by the command) and ``config`` its ``WorkerConfig``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from ..client.proxy_client import ProxyClient
from ..errors import SessionDiscoveryError
from ._failures import EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, CommandFailure
from ._redis import redis_failure
from ._summary import plural

Outcome = tuple[str, dict[str, Any], int]
"""What a command prints: its text, its ``--json`` body and its exit code."""


async def enqueue(
    workers: Any,
    config: Any,
    url: str,
    *,
    wait: bool,
    **options: Any,
) -> Outcome:
    """Queue the batches of ``options["service"]`` on the Redis at ``url`` (see
    ``workers.enqueue_service``); with ``wait``, wait for every job too.

    Raises :class:`CommandFailure`: exit 3 when Redis cannot be used or the listing
    failed (the listing so far is saved).
    """
    from redis.exceptions import RedisError

    pool = await _pool(url)
    try:
        done = await _queued(workers, config, pool, **options)
        text, body = _queued_outcome(done)
        code = EXIT_OK
        if wait:
            text, code = await _waited(workers, pool, done, text, body)
        return text, body, code
    except RedisError as error:
        raise redis_failure(url, error) from None
    finally:
        with contextlib.suppress(RedisError, OSError):
            await pool.aclose()


async def _pool(url: str) -> Any:
    """An arq pool on ``url``, without connection retries: fail at once, in one line
    (arq would log each retry)."""
    from arq.connections import RedisSettings, create_pool
    from redis.exceptions import RedisError

    try:
        settings = dataclasses.replace(RedisSettings.from_dsn(url), conn_retries=0)
        return await create_pool(settings)
    except (RedisError, OSError, ValueError) as error:
        raise redis_failure(url, error) from None


async def _queued(
    workers: Any,
    config: Any,
    pool: Any,
    *,
    service: str,
    out: str,
    batch_size: int | None,
    fmt: str,
    page_size: int,
    gzip_files: bool,
    retry_failed: bool,
) -> Any:
    """List the Service into batches and queue their jobs; the listing's outcome."""
    # Listing needs no shared rate: one client, at the pool's rate, for this process.
    client = ProxyClient.from_config(
        config.client_config(requests_per_second=config.requests_per_second)
    )
    async with client:
        try:
            return await workers.enqueue_service(
                pool,
                client,
                service,
                out,
                fmt=fmt,
                page_size=page_size,
                batch_size=batch_size or workers.DEFAULT_BATCH_SIZE,
                compression="gzip" if gzip_files else None,
                retry_failed=retry_failed,
            )
        except SessionDiscoveryError as error:
            raise CommandFailure(
                f"{error}: the listing so far is saved, run enqueue again", EXIT_FATAL
            ) from error


def _queued_outcome(done: Any) -> tuple[str, dict[str, Any]]:
    """What was queued: ``N sessions of KS… in M batches: J jobs queued, K already known``."""
    known = len(done.job_ids) - done.new_jobs
    body: dict[str, Any] = {
        "service_sid": done.service_sid,
        "sessions": done.sessions,
        "batches": done.batches,
        "new_jobs": done.new_jobs,
        "retried_jobs": done.retried_jobs,
        "known_jobs": known,
    }
    retried = f" ({done.retried_jobs} failed ones again)" if done.retried_jobs else ""
    text = (
        f"{plural(done.sessions, 'session')} of {done.service_sid} in "
        f"{plural(done.batches, 'batch')}: {plural(done.new_jobs, 'job')} queued{retried}, "
        f"{known:,} already known"
    )
    return text, body


async def _waited(
    workers: Any, pool: Any, done: Any, text: str, body: dict[str, Any]
) -> tuple[str, int]:
    """Wait for every job of ``done``; add how they ended to ``body`` and ``text``; the
    text and the exit code (1 if a job failed for good)."""
    from arq.jobs import Job

    await workers.wait_for_jobs(pool, done.job_ids, poll_delay=1.0)
    failed = [
        ident
        for ident in done.job_ids
        if (info := await Job(ident, pool).result_info()) is not None and not info.success
    ]
    body.update(jobs_done=len(done.job_ids) - len(failed), jobs_failed=len(failed))
    text += f"\n{plural(len(done.job_ids) - len(failed), 'job')} done, {len(failed):,} failed"
    if not failed:
        return text, EXIT_OK
    return text + " (queue them again with --retry-failed)", EXIT_PARTIAL
