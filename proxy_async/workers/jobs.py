"""Bulk export on a pool of arq workers: one job per batch of sessions, one client per worker.

With Redis running, start any number of workers (processes, on any machines that
share the output directory)::

    proxy-async workers run          # or: arq proxy_async.workers.WorkerSettings

then list a Service into batches of sessions, one arq job each, and join the results::

    proxy-async workers enqueue KS... --out exports/ --wait
    proxy-async workers merge --out exports/ --to interactions.ndjson

**Enqueue** pages through the Service's Sessions (1,000 a page) and records everything
in the manifest ``OUT/manifest.<format>.db`` (:mod:`proxy_async.workers.manifest`): the
parameters, the listing's cursor, every session with its batch, every batch with its
job. The Session records the listing returns go to ``OUT/sessions.ndjson``, at no extra
request. A batch is queued as soon as it is full (``batch_size`` sessions, default
:data:`DEFAULT_BATCH_SIZE`), the last partial one when the listing ends; memory stays
flat in the number of sessions. Killed or failed part way, enqueue is simply run again:
it continues the listing from the saved cursor, never writes a Session record twice, and
hands arq every batch again (a job ID already queued, running or kept is ignored).

**Each job** exports its batch to ``OUT/batch-000001.<format>[.gz]`` with
:func:`proxy_async.bulk_export.engine.export` and ``resume=True`` (state in ``….state.db``, kept
after completion as the batch's record). A session that answers 404 is *missing* in its
batch, which still completes; a batch left incomplete raises arq's ``Retry``, and the
next try resumes from the batch's state, so nothing is fetched or written twice.

**Merge** refuses unless the listing is done and every batch's state says complete,
then joins the batch files in order into one file, atomically.

Every worker's single :class:`~proxy_async.client.proxy_client.ProxyClient` (made at worker startup,
closed at shutdown) goes through a :class:`~proxy_async.limits.redis.RedisLimiter` on
the same Redis, so the pool as a whole stays within one request rate, and each worker
within its own in-flight cap (fixed, or adaptive with ``PROXY_ASYNC_ADAPTIVE=1``).

Configuration, from the environment, read when ``WorkerSettings`` is first looked up
(by ``arq proxy_async.workers.WorkerSettings``; importing this module reads nothing):

* ``TWILIO_ACCOUNT_SID`` with ``TWILIO_AUTH_TOKEN`` (or ``TWILIO_API_KEY`` and
  ``TWILIO_API_SECRET``), ``TWILIO_EDGE``, ``TWILIO_REGION``: the account;
* ``PROXY_ASYNC_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``): queue and limit;
* ``PROXY_ASYNC_RPS`` (default 30): requests per second for the whole pool;
* ``PROXY_ASYNC_MAX_CONCURRENCY`` (default 20): requests in flight per worker;
* ``PROXY_ASYNC_ADAPTIVE`` (``1``): learn each worker's window from 429s instead;
* ``PROXY_ASYNC_MAX_JOBS`` (default 4): batches one worker exports at once;
* ``PROXY_ASYNC_BATCH_CONCURRENCY`` (default 8): sessions one batch walks at once;
* ``PROXY_ASYNC_JOB_TIMEOUT`` (default 3600): seconds one try of a batch may run;
* ``PROXY_ASYNC_RETRIES`` (default 4): retries of one request before its session
  fails; ``PROXY_ASYNC_RETRY_DELAY`` (default 5): seconds x try before arq runs an
  incomplete batch's job again;
* ``PROXY_ASYNC_BASE_URL``: another API host (the fake server, a proxy), read as
  :meth:`ProxyClient.from_env <proxy_async.ProxyClient.from_env>` reads it;

Counts (``MAX_CONCURRENCY``, ``MAX_JOBS``, ``BATCH_CONCURRENCY``) are integers from 1 to
1000 (:data:`~proxy_async.limits.base.MAX_CONCURRENCY`), ``RETRIES`` from 0 to 100; rates
and seconds are finite numbers > 0, seconds at most a week; ``ADAPTIVE`` is 1/true/yes/on
or 0/false/no/off. Anything else raises :class:`~proxy_async.errors.InvalidParameterError`
naming the variable, so a worker refuses to start rather than run with a guess;
* ``PROXY_ASYNC_PROXY`` / ``PROXY_ASYNC_CA_BUNDLE``: a forward proxy URL and a CA
  bundle for the workers alone (the CLI's ``--proxy`` / ``--ca-bundle``); without them
  ``HTTPS_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``... apply as for any client
  (:mod:`proxy_async.transports.egress`).

Needs the optional extra: ``pip install 'proxy-async[arq]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import hashlib
import io
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs

try:
    from arq.connections import ArqRedis, RedisSettings
    from arq.constants import result_key_prefix
    from arq.jobs import Job, JobStatus
    from arq.worker import Function, Retry, func
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError("proxy_async.workers needs arq: pip install 'proxy-async[arq]'") from error

from ..bulk_export.engine import (
    DEFAULT_PAGE_SIZE,
    FORMATS,
    LISTING_PAGE_SIZE,
    Format,
    check_format,
    check_page_size,
    encode_ndjson,
    export,
    listed_session_sids,
    listing_pages,
    raw_records,
)
from ..bulk_export.files import (
    GZIP_LEVEL,
    ChunkedFile,
    Compression,
    ExportPaths,
    compression_of,
    sync_directory,
)
from ..bulk_export.state import ExportState
from ..client.auth import base_url_from_env
from ..client.proxy_client import ProxyClient
from ..errors import BlankStateError, ExportStateError, InvalidParameterError
from ..limits.adaptive import AdaptiveLimiter
from ..limits.base import DEFAULT_MAX_CONCURRENCY, DEFAULT_REQUESTS_PER_SECOND, MAX_CONCURRENCY
from ..limits.redis import DEFAULT_KEY, RedisLimiter
from ..retry.policy import RetryPolicy
from ..validation import check_file_path, check_redis_url, check_sid, env_flag, env_int, env_number
from .manifest import (
    Batch,
    Manifest,
    ManifestParams,
    batch_name,
    legacy_manifest_path,
    manifest_path,
    sessions_file_path,
)

__all__ = [
    "CLIENT_KEY",
    "CONFIG_KEY",
    "DEFAULT_BATCH_SIZE",
    "EXPORT_JOB",
    "FUNCTIONS",
    "Enqueued",
    "MergeSummary",
    "WorkerConfig",
    "batch_output",
    "enqueue_service",
    "export_batch",
    "job_id",
    "main",
    "manifest_path",
    "merge_exports",
    "shutdown",
    "startup",
    "wait_for_jobs",
    "worker_settings",
]

EXPORT_JOB = "export_batch"
"""The arq function name of the batch export job."""

DEFAULT_BATCH_SIZE = 500
"""Sessions per batch (per job, per file): 1,000,000 sessions make 2,000 jobs."""

MAX_BATCH_SIZE = 100_000
"""The largest batch accepted (its SIDs travel in the job's arguments: ~4 MB)."""

DEFAULT_BATCH_CONCURRENCY = 8
"""Sessions one batch walks at once; the worker's limiter is the real bound."""

MAX_WAIT = 7 * 86_400.0
"""The longest ``PROXY_ASYNC_JOB_TIMEOUT`` or ``PROXY_ASYNC_RETRY_DELAY`` accepted, in
seconds (a week): a longer one is surely a unit mistake, and arq turns these into
timers and timedeltas, which overflow for huge values."""

MAX_RETRIES = 100
"""The most ``PROXY_ASYNC_RETRIES`` accepted: with backoff, 100 retries of one request
already span hours; more is a typo that would keep a dead session busy for days."""

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MAX_JOBS = 4
DEFAULT_JOB_TIMEOUT = 3600
"""Seconds one try of a batch may run. arq fails a job that runs longer, without a
retry; the batch's state is saved, so ``enqueue --retry-failed`` (or a rerun once arq
has dropped the failed result) continues where it stopped."""

DEFAULT_MAX_TRIES = 5
CONFIG_KEY = "proxy_async_config"
"""Where a :class:`WorkerConfig` may be put in the arq worker ``ctx`` (instead of env)."""

CLIENT_KEY = "proxy_client"
"""Where startup puts the worker's :class:`ProxyClient` in ``ctx``."""

MISSING_SHOWN = 5
"""Missing session SIDs a merge summary names (it counts them all)."""

_LIMITER_KEY = "proxy_async_limiter"
_COPY_CHUNK = 1 << 20


@attrs.frozen
class WorkerConfig:
    """How a worker builds its client; :meth:`from_env` reads the ``PROXY_ASYNC_*`` variables.

    ``requests_per_second`` is shared by every worker on ``redis_url`` (under
    ``rate_key``); ``fallback_requests_per_second`` is each worker's own rate while
    Redis is unreachable (default: the shared rate / ``expected_workers``).
    ``retry_delay`` is the wait (seconds x try) before an incomplete batch runs again;
    ``batch_concurrency`` the sessions one batch walks at once; ``max_jobs`` the batches
    one worker runs at once; ``job_timeout`` the seconds one try may take.
    ``proxy`` (a forward proxy URL, its password hidden from repr) and ``ca_bundle``
    (a CA file or directory) go to the client; None leaves them to the standard
    variables. ``environ`` supplies the ``TWILIO_*`` credentials and those variables
    (None: the process environment).
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
    batch_concurrency: int = DEFAULT_BATCH_CONCURRENCY
    max_jobs: int = DEFAULT_MAX_JOBS
    job_timeout: float = DEFAULT_JOB_TIMEOUT
    proxy: str | None = attrs.field(default=None, repr=False)
    ca_bundle: str | None = None
    environ: Mapping[str, str] | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        """The configuration the ``PROXY_ASYNC_*`` environment variables describe.

        Raises :class:`~proxy_async.errors.InvalidParameterError` naming a variable
        that is not a valid number.
        """
        env = os.environ if environ is None else environ
        redis_url = env.get("PROXY_ASYNC_REDIS_URL") or DEFAULT_REDIS_URL
        check_redis_url(redis_url)
        return cls(
            redis_url=redis_url,
            requests_per_second=env_number(env, "PROXY_ASYNC_RPS", DEFAULT_REQUESTS_PER_SECOND),
            max_concurrency=env_int(
                env, "PROXY_ASYNC_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY
            ),
            adaptive=env_flag(env, "PROXY_ASYNC_ADAPTIVE"),
            base_url=base_url_from_env(env),
            retry=_env_retries(env),
            retry_delay=env_number(env, "PROXY_ASYNC_RETRY_DELAY", 5.0, MAX_WAIT),
            batch_concurrency=env_int(
                env, "PROXY_ASYNC_BATCH_CONCURRENCY", DEFAULT_BATCH_CONCURRENCY, MAX_CONCURRENCY
            ),
            max_jobs=env_int(env, "PROXY_ASYNC_MAX_JOBS", DEFAULT_MAX_JOBS, MAX_CONCURRENCY),
            job_timeout=env_number(env, "PROXY_ASYNC_JOB_TIMEOUT", DEFAULT_JOB_TIMEOUT, MAX_WAIT),
            proxy=env.get("PROXY_ASYNC_PROXY") or None,
            ca_bundle=env.get("PROXY_ASYNC_CA_BUNDLE") or None,
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
        return ProxyClient.from_env(
            self.environ, limiter=limiter, retry=self.retry, **self.client_options()
        )

    def client_options(self) -> dict[str, Any]:
        """The client options every client of the pool shares (host and egress)."""
        options: dict[str, Any] = {"proxy": self.proxy, "ca_bundle": self.ca_bundle}
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return options


def _env_retries(env: Mapping[str, str]) -> int | None:
    raw = env.get("PROXY_ASYNC_RETRIES")
    if not raw:
        return None
    return env_int(env, "PROXY_ASYNC_RETRIES", 0, MAX_RETRIES, low=0)


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


def batch_output(
    out_dir: str | os.PathLike[str], batch: int, fmt: Format, compression: Compression | None
) -> Path:
    """Where the job of batch number ``batch`` (from 1) writes: ``OUT/batch-000001.<fmt>[.gz]``."""
    return Path(out_dir) / batch_name(batch, fmt, compression)


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


def worker_settings(environ: Mapping[str, str] | None = None) -> type:
    """An arq settings class for the export worker, configured from ``environ``.

    ``environ`` None reads the process environment (see the module docstring), now.
    Its ``on_startup`` puts that :class:`WorkerConfig` in the worker's ``ctx`` (unless
    one is there already), so the worker uses exactly this configuration. Raises
    :class:`~proxy_async.errors.InvalidParameterError` for a malformed variable.
    """
    config = WorkerConfig.from_env(environ)

    async def on_startup(ctx: dict[Any, Any]) -> None:
        ctx.setdefault(CONFIG_KEY, config)
        await startup(ctx)

    return type(
        "WorkerSettings",
        (),
        {
            "__doc__": "``arq proxy_async.workers.WorkerSettings``: the batch export worker.",
            "__module__": __name__,
            "functions": FUNCTIONS,
            "on_startup": on_startup,
            "on_shutdown": shutdown,
            "redis_settings": RedisSettings.from_dsn(config.redis_url),
            "max_jobs": config.max_jobs,
            "job_timeout": config.job_timeout,
        },
    )


@functools.cache
def _environment_worker_settings() -> type:
    return worker_settings()


def __getattr__(name: str) -> type:
    """``WorkerSettings``, built from the environment on first use (PEP 562), so that
    importing this module reads no environment variable."""
    if name == "WorkerSettings":
        return _environment_worker_settings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- enqueueing ---------------------------------------------------------------------------


@attrs.frozen
class Enqueued:
    """What :func:`enqueue_service` did.

    ``sessions`` and ``batches`` count the whole export (this run and earlier ones);
    ``job_ids`` names every batch's job, in batch order; ``new_jobs`` were queued by
    this run (the others arq already knew: queued, running or finished), of which
    ``retried_jobs`` had failed for good before; ``listed_this_run`` counts the
    sessions this run's listing added (0 when an earlier run finished the listing).
    """

    service_sid: str
    sessions: int
    batches: int
    job_ids: tuple[str, ...]
    new_jobs: int
    retried_jobs: int = 0
    listed_this_run: int = 0


def job_id(service_sid: str, out_dir: str | os.PathLike[str], fmt: str, batch: int) -> str:
    """The arq job ID of batch ``batch`` of an export to ``out_dir``: the same enqueue is a
    no-op while arq knows that job."""
    where = hashlib.sha256(os.fsencode(Path(check_file_path(out_dir, "out_dir")).resolve()))
    where_hex = where.hexdigest()[:16]
    return f"proxy-async:export:{service_sid}:{fmt}:{where_hex}:batch-{batch:06d}"


def _check_batch_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH_SIZE:
        raise InvalidParameterError("batch_size", f"an integer from 1 to {MAX_BATCH_SIZE}", value)
    return value


def _refuse_other_exports(directory: Path, fmt: Format) -> None:
    """One export per directory, of the batched layout."""
    for other in FORMATS:
        legacy = legacy_manifest_path(directory, other)
        if legacy.exists():
            raise ExportStateError(
                f"{directory} holds an export of an older proxy-async ({legacy.name}: one job "
                "and one file per session); finish it with that version, or use another "
                "directory"
            )
        if other != fmt and manifest_path(directory, other).exists():
            raise ExportStateError(
                f"{directory} already holds the {other} export: use --format {other} to "
                "continue it, or another directory"
            )


class _Queue:
    """Hands the manifest's closed batches to arq, each once per enqueue run."""

    def __init__(
        self,
        redis: ArqRedis,
        manifest: Manifest,
        directory: Path,
        fmt: Format,
        retry_failed: bool,
    ) -> None:
        self.redis = redis
        self.manifest = manifest
        self.directory = directory
        self.fmt = fmt
        self.retry_failed = retry_failed
        self.submitted = 0
        self.job_ids: list[str] = []
        self.new = 0
        self.retried = 0

    async def submit_closed(self) -> None:
        """Queue every batch closed since the last call (all of them on the first)."""
        while rows := self.manifest.batch_rows(after=self.submitted):
            for row in rows:
                await self._submit(row)
                self.submitted = row.batch

    async def _submit(self, row: Batch) -> None:
        params = self.manifest.params
        ident = job_id(params.service_sid, self.directory, self.fmt, row.batch)
        if self.retry_failed:
            info = await Job(ident, self.redis).result_info()
            if info is not None and not info.success:
                await self.redis.delete(result_key_prefix + ident)
                self.retried += 1
        job = await self.redis.enqueue_job(
            EXPORT_JOB,
            params.service_sid,
            str(self.directory),
            row.batch,
            self.manifest.batch_sessions(row.batch),
            self.fmt,
            params.page_size,
            params.compression,
            _job_id=ident,
        )
        self.new += job is not None
        self.job_ids.append(ident)
        if not row.queued:
            self.manifest.batch_queued(row.batch, ident)


async def enqueue_service(
    redis: ArqRedis,
    client: ProxyClient,
    service_sid: str,
    out_dir: str | os.PathLike[str],
    *,
    fmt: Format = "ndjson",
    page_size: int = DEFAULT_PAGE_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    compression: Compression | None = None,
    retry_failed: bool = False,
    listing_page_size: int = LISTING_PAGE_SIZE,
) -> Enqueued:
    """List a Service's sessions into batches of ``batch_size`` and queue one export job
    per batch, as the listing goes; resumable and idempotent.

    ``out_dir`` (made if missing) must be reachable at the same path by every worker; it
    holds one export (one Service, one format). Its manifest (see
    :mod:`proxy_async.workers.manifest`) records the listing's cursor, every session's
    batch and every batch's job, and ``OUT/sessions.ndjson`` (``.gz`` with
    ``compression="gzip"``, which also gzips the batch files) the listed Session
    records. Run again, it continues the listing where it stopped and hands arq every
    batch again: arq ignores a job it already has queued, running or finished (it
    keeps a result for an hour). With ``retry_failed``, a batch whose job failed for
    good has that result dropped and is queued afresh, resuming from its state.

    ``page_size`` is the Interactions page size of the batches' exports;
    ``listing_page_size`` the Sessions page size of the listing. Memory is one listing
    page plus one batch's SIDs at a time. Raises
    :class:`~proxy_async.errors.InvalidParameterError` (before anything is written or
    requested), :class:`~proxy_async.errors.ExportStateError` (the directory holds
    another export, or an enqueue is running on it),
    :class:`~proxy_async.bulk_export.engine.SessionDiscoveryError` (the listing failed: run again to
    continue), :class:`~proxy_async.errors.AuthError`, and Redis's errors.
    """
    service_sid = check_sid(service_sid, "KS", "service_sid")
    fmt = check_format(fmt)
    page_size = check_page_size(page_size)  # here, not in every job that would fail on it
    listing_page_size = check_page_size(listing_page_size)
    batch_size = _check_batch_size(batch_size)
    if compression not in (None, "gzip"):
        raise InvalidParameterError("compression", "None or 'gzip'", compression)
    directory = _output_directory(out_dir, fmt)
    params = ManifestParams(service_sid, client.base_url, fmt, compression, page_size, batch_size)
    manifest = Manifest.open_for_enqueue(manifest_path(directory, fmt), params)
    try:
        queue = _Queue(redis, manifest, directory, fmt, retry_failed)
        listed = 0
        if not manifest.listing_done:
            listed = await _list_into(manifest, client, queue, listing_page_size)
        await queue.submit_closed()
        manifest.commit(sessions_bytes=manifest.sessions_bytes)  # the batches' job IDs
        return Enqueued(
            service_sid,
            manifest.sessions,
            manifest.batches,
            tuple(queue.job_ids),
            queue.new,
            queue.retried,
            listed,
        )
    finally:
        manifest.close()


def _output_directory(out_dir: str | os.PathLike[str], fmt: Format) -> Path:
    """``out_dir``, absolute, made if missing; refused if it holds another export."""
    directory = Path(check_file_path(out_dir, "out_dir")).resolve()
    if directory.exists() and not directory.is_dir():
        raise ExportStateError(f"{directory} is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    _refuse_other_exports(directory, fmt)
    return directory


async def _list_into(manifest: Manifest, client: ProxyClient, queue: _Queue, page_size: int) -> int:
    """Continue the listing into the manifest and the sessions file, queueing each batch
    as it closes; returns how many sessions were new."""
    params = manifest.params
    path = sessions_file_path(manifest.path.parent, params.compression)
    sessions_file = ChunkedFile.open(path, compression=params.compression, create=True)
    listed = 0
    try:
        if sessions_file.size < manifest.sessions_bytes:
            raise ExportStateError(
                f"{path} holds {sessions_file.size} bytes but the manifest records "
                f"{manifest.sessions_bytes}: it was changed by something else; enqueue into "
                "a new directory"
            )
        sessions_file.cut(manifest.sessions_bytes)  # what a killed run wrote past its commit
        await queue.submit_closed()  # batches a killed run closed but did not queue
        service = client.services(params.service_sid)
        async with contextlib.aclosing(
            listing_pages(service, manifest.listing_url, page_size)
        ) as pages:
            async for page in pages:
                sids = listed_session_sids(params.service_sid, page)
                added = manifest.add_listing_page(sids, page.meta.next_page_url)
                records = raw_records(page)
                sessions_file.append(
                    encode_ndjson(
                        [record for record, new in zip(records, added, strict=True) if new]
                    )
                )
                # The records first, durably; then the manifest that counts them.
                manifest.commit(sessions_bytes=sessions_file.commit())
                listed += sum(added)
                await queue.submit_closed()
    finally:
        sessions_file.close()
    return listed


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


# -- merging ------------------------------------------------------------------------------


@attrs.frozen
class MergeSummary:
    """What :func:`merge_exports` joined into ``output``.

    ``missing`` counts the sessions that answered 404 (deleted or expired: they have no
    records); ``missing_sids`` names the first :data:`MISSING_SHOWN` of them.
    """

    output: Path
    service_sid: str
    batches: int
    sessions: int
    records: int
    missing: int
    missing_sids: tuple[str, ...]


@attrs.frozen
class _Checked:
    """What the batches' states say: totals of the finished ones, the first unfinished."""

    sources: tuple[Path, ...]
    sessions: int
    records: int
    missing: int
    missing_sids: tuple[str, ...]
    unfinished: int
    shown: tuple[str, ...]


def merge_exports(
    out_dir: str | os.PathLike[str], dest: str | os.PathLike[str], *, fmt: Format = "ndjson"
) -> MergeSummary:
    """Join the batch files of the export in ``out_dir`` into ``dest``, atomically.

    Reads the manifest and every batch's state first, and refuses (raising
    :class:`~proxy_async.errors.ExportStateError`, with nothing written) when the
    directory or its manifest for ``fmt`` does not exist, it holds another format or
    an older layout, the listing is not done, the Service has no sessions, or a batch
    is not finished (naming up to three of them and the count). Otherwise the batch
    files are joined in batch order (a CSV header once) into a temporary file beside
    ``dest``, fsynced and renamed over it. ``dest`` is gzip if its name ends in
    ``.gz``, whatever the batches are: gzip batches are copied as they are into a gzip
    ``dest`` (gzip members concatenate), and decompressed (and recompressed, for CSV
    without the later headers) otherwise, streaming.
    """
    fmt = check_format(fmt)
    directory = Path(check_file_path(out_dir, "out_dir"))
    target = _merge_target(directory, check_file_path(dest, "dest"))
    manifest = _open_manifest(directory, fmt)
    try:
        params = manifest.params
        service = params.service_sid
        if not manifest.listing_done:
            raise ExportStateError(
                f"the listing of {service}'s sessions in {directory} is not finished "
                f"({manifest.sessions} listed so far): run enqueue again to continue it"
            )
        if manifest.sessions == 0:
            raise ExportStateError(
                f"{service} had no sessions when it was listed into {directory}: nothing "
                "to merge, no file written"
            )
        batched = manifest.batched_sessions()
        if batched != manifest.sessions:
            raise ExportStateError(
                f"the manifest in {directory} puts {batched} of its {manifest.sessions} "
                "sessions in batches: run enqueue again"
            )
        checked = _check_batches(directory, manifest)
        batches = manifest.batches
    finally:
        manifest.close()
    if checked.unfinished:
        more = checked.unfinished - len(checked.shown)
        shown = ", ".join(checked.shown) + (f" and {more} more" if more else "")
        raise ExportStateError(
            f"{checked.unfinished} of {batches} batches in {directory} are not finished: "
            f"{shown}; wait for their jobs (enqueue --wait) or requeue the failed ones "
            "(enqueue --retry-failed)"
        )
    _join(checked.sources, target, fmt, params.compression)
    return MergeSummary(
        target,
        service,
        batches,
        checked.sessions,
        checked.records,
        checked.missing,
        checked.missing_sids,
    )


_EXPORT_FILE = re.compile(r"(batch-\d+\.|sessions\.ndjson|manifest\.)")
"""Names of the files an export directory holds (see :mod:`proxy_async.workers.manifest`)."""


def _merge_target(directory: Path, dest: str | os.PathLike[str]) -> Path:
    """``dest`` as a file to write: refused before anything is read if it names a
    directory, or one of the export's own files (a batch, its state, the sessions file,
    the manifest), which the merge would overwrite while reading it."""
    target = ExportPaths.for_output(dest).output  # refuses a directory
    if not target.parent.is_dir():
        raise ExportStateError(f"the directory of {target} does not exist")
    inside = directory.is_dir() and target.parent.resolve() == directory.resolve()
    if inside and _EXPORT_FILE.match(target.name):
        raise ExportStateError(
            f"--to {target} is one of the files of the export in {directory}; write the "
            "merged file under another name"
        )
    return target


def _open_manifest(directory: Path, fmt: Format) -> Manifest:
    if not directory.is_dir():
        raise ExportStateError(
            f"no export of {fmt} in {directory}: no such directory (run enqueue first)"
        )
    path = manifest_path(directory, fmt)
    if not path.exists():
        for other in FORMATS:
            if legacy_manifest_path(directory, other).exists():
                raise ExportStateError(
                    f"{directory} holds an export of an older proxy-async (one file per "
                    "session): merge it with that version"
                )
            if manifest_path(directory, other).exists():
                raise ExportStateError(
                    f"no export of {fmt} in {directory}: it holds the {other} export (merge "
                    f"it with --format {other})"
                )
        raise ExportStateError(
            f"no export of {fmt} in {directory} (no {path.name}): run enqueue first"
        )
    manifest = Manifest.open_for_merge(path)
    if manifest.params.format != fmt:
        manifest.close()
        raise ExportStateError(f"{path} holds an export of {manifest.params.format}, not {fmt}")
    return manifest


def _check_batches(directory: Path, manifest: Manifest) -> _Checked:
    """Open every batch's state (one at a time) and total what the finished ones hold."""
    params = manifest.params
    fmt = check_format(params.format)
    sources: list[Path] = []
    sessions = records = missing = unfinished = 0
    missing_sids: list[str] = []
    shown: list[str] = []
    for row in manifest.all_batches():
        paths = ExportPaths.for_output(batch_output(directory, row.batch, fmt, params.compression))
        reason = None
        try:
            state = ExportState.open(paths.state, read_only=True)
        except BlankStateError:
            reason = "not started"
        except ExportStateError:
            reason = "not started" if not paths.state.exists() else "running, or unreadable"
        else:
            try:
                counters, saved = state.counters, state.params
                if (saved.service_sid, saved.format, saved.compression) != (
                    params.service_sid,
                    params.format,
                    params.compression,
                ) or counters.sessions != row.sessions:
                    reason = "made by another export"
                elif not counters.complete:
                    left = counters.sessions - counters.done - counters.missing
                    reason = f"{left} of {counters.sessions} sessions left"
                    if counters.failed:
                        reason += f", {counters.failed} failed"
                elif not paths.output.is_file():
                    reason = f"{paths.output.name} is gone"
                elif (size := paths.output.stat().st_size) != counters.data_bytes:
                    reason = (
                        f"{paths.output.name} holds {size} bytes, its state says "
                        f"{counters.data_bytes}: changed since it was written"
                    )
                else:
                    sessions += counters.sessions
                    records += counters.records
                    missing += counters.missing
                    if counters.missing and len(missing_sids) < MISSING_SHOWN:
                        rows = state.sessions_with("missing")[: MISSING_SHOWN - len(missing_sids)]
                        missing_sids.extend(session.sid for session in rows)
            finally:
                state.close()
        if reason is None:
            sources.append(paths.output)
        else:
            unfinished += 1
            if len(shown) < 3:
                shown.append(f"{paths.output.name} ({reason})")
    return _Checked(
        tuple(sources), sessions, records, missing, tuple(missing_sids), unfinished, tuple(shown)
    )


def _join(
    sources: Sequence[Path], target: Path, fmt: Format, compression: Compression | None
) -> None:
    """Write ``sources`` one after the other into ``target`` (temporary file, fsync,
    rename, fsync of the directory); CSV headers after the first are left out."""
    gzip_out = compression_of(target.name) == "gzip"
    temporary = target.with_name(target.name + ".tmp")
    try:
        with temporary.open("wb") as sink:
            for index, source in enumerate(sources):
                _copy_batch(
                    source, sink, compression == "gzip", gzip_out, fmt == "csv" and index > 0
                )
            if gzip_out and sink.tell() == 0:
                sink.write(gzip.compress(b"", mtime=0))  # a valid, empty gzip file
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    sync_directory(target.parent)


def _copy_batch(
    source: Path, sink: BinaryIO, gzip_in: bool, gzip_out: bool, skip_header: bool
) -> None:
    if gzip_in == gzip_out and not skip_header:
        with source.open("rb") as part:
            shutil.copyfileobj(part, sink, _COPY_CHUNK)  # gzip members concatenate
    elif gzip_in:
        with gzip.open(source, "rb") as reader:
            _recode(reader, sink, gzip_out, skip_header)
    else:
        with source.open("rb") as reader:
            _recode(reader, sink, gzip_out, skip_header)


def _recode(reader: io.BufferedIOBase, sink: BinaryIO, gzip_out: bool, skip_header: bool) -> None:
    """Copy decoded bytes from ``reader``, gzip-compressed into one member if ``gzip_out``."""
    if skip_header:
        reader.readline()  # the CSV header (it has no line break inside)
    if gzip_out:
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as writer:
            shutil.copyfileobj(reader, writer, _COPY_CHUNK)
    else:
        shutil.copyfileobj(reader, sink, _COPY_CHUNK)


# -- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m proxy_async.workers``: the same as ``proxy-async workers`` (see
    :mod:`proxy_async.cli.workers`); returns the exit status."""
    from ..cli import main as command_line

    return command_line(["workers", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
