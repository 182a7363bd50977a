"""``proxy-async workers enqueue | run | merge``: a bulk export on a pool of arq workers.

The work is :mod:`proxy_async.workers`' (which needs the ``arq`` extra, imported only
when one of these commands runs); this module is its command line. Redis and the
``PROXY_ASYNC_*`` variables are read as :class:`proxy_async.workers.WorkerConfig` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from ..bulk_export.formats import FORMATS, Format
from ..bulk_export.walk import DEFAULT_PAGE_SIZE
from ..errors import InvalidParameterError
from ..validation import check_redis_url
from ._command import Group, emit_json, say
from ._enqueue import enqueue
from ._failures import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_SIGNALLED,
    EXIT_USAGE,
    CommandFailure,
    Interrupted,
    outcome_of,
)
from ._options import (
    CONTEXT_SETTINGS,
    Number,
    Sid,
    page_size_option,
    reporting_options,
    verbose_option,
)
from ._redis import REDIS_VARIABLE, redis_failure
from ._request_log import configure_request_logging
from ._runner import run_until_signalled
from ._summary import plural


@click.group("workers", cls=Group, context_settings=CONTEXT_SETTINGS)
def workers_group() -> None:
    """A bulk export on a pool of arq workers sharing one rate limit through Redis:
    'enqueue' lists a Service into batches (one job each), 'run' starts a worker,
    'merge' joins the finished batches into one file. Needs the arq extra: from a
    checkout, pip install -e '.[arq]'."""


def _redis_option(function: Any) -> Any:
    return click.option(
        "--redis",
        metavar="URL",
        help=f"Redis holding the queue and the shared rate  [default: ${REDIS_VARIABLE}, "
        "else redis://127.0.0.1:6379/0]",
    )(function)


def _format_option(help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="ndjson", help=help_text
    )


@workers_group.command("enqueue")
@click.argument("service", metavar="KS…", type=Sid("KS"))
@click.option("--out", required=True, metavar="DIR", help="directory the batch files go to")
@click.option(
    "--batch-size",
    type=Number(1, integer=True),
    default=None,
    metavar="N",
    help="sessions per job and file  [default: 500]",
)
@_format_option("the batch files' format (one export per directory and format)")
@page_size_option(DEFAULT_PAGE_SIZE)
@click.option("--gzip", "gzip_files", is_flag=True, help="gzip the batch files")
@click.option("--wait", is_flag=True, help="wait for every job to finish")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="queue again the batches whose job failed for good (they resume)",
)
@_redis_option
@verbose_option
@reporting_options
def enqueue_command(redis: str | None, verbose: int, as_json: bool, **options: Any) -> int:
    """List the Service's sessions into batches and queue one job per batch. Run it again
    after a kill: the listing continues where it stopped and no job is queued twice."""
    workers = _workers()
    config = _worker_config()
    url = _redis_url(redis) or config.redis_url
    undo = configure_request_logging(verbose, None, sys.stderr)
    try:
        text, body, code = run_until_signalled(enqueue(workers, config, url, **options))
    except Interrupted as stopped:
        raise Interrupted(
            "Run the same command again to continue.", stopped.exit_code - EXIT_SIGNALLED
        ) from None
    finally:
        undo()
    _print_outcome(text, body, code, as_json)
    return code


@workers_group.command(
    "run",
    epilog="Exit codes: 0 stopped by Ctrl+C or SIGTERM (its normal end), or with --burst once "
    "the queue is empty; 1 some jobs failed for good; 2 bad options; 3 Redis cannot be "
    "reached; 128+N with --burst, stopped by signal N before the queue was empty (the "
    "cancelled jobs stay queued).",
)
@click.option(
    "--burst", is_flag=True, help="stop once the queue is empty instead of waiting for more"
)
@_redis_option
@verbose_option
@reporting_options
def run_command(burst: bool, redis: str | None, verbose: int, as_json: bool) -> int:
    """Start one worker: it exports the batches 'enqueue' queued, one client per worker,
    all workers within one rate (PROXY_ASYNC_RPS) shared through Redis. Stop it with
    Ctrl+C or SIGTERM (a batch it was exporting resumes on the next try), and stop every
    worker before Redis. The same as: arq proxy_async.workers.WorkerSettings"""
    from arq.worker import create_worker
    from redis.exceptions import RedisError

    workers = _workers()
    environ = None
    url = _redis_url(redis)
    if url is not None:
        environ = {**os.environ, REDIS_VARIABLE: url}
    # The environment is read once: the worker and this command's messages use that.
    config = _guarded(lambda: workers.WorkerConfig.from_env(environ))
    settings = workers.worker_settings(config=config)
    url = config.redis_url
    stopped_by: list[int] = []
    try:
        with _worker_logs(verbose):
            worker = create_worker(settings, burst=burst)
            worker.on_stop = stopped_by.append  # arq calls it with the signal it stopped on
            _run_to_the_end(worker)
    except (RedisError, OSError) as error:
        raise redis_failure(url, error) from None
    body = {
        "jobs_complete": worker.jobs_complete,
        "jobs_failed": worker.jobs_failed,
        "jobs_retried": worker.jobs_retried,
    }
    text = (
        f"worker stopped: {plural(worker.jobs_complete, 'job')} done, "
        f"{worker.jobs_failed:,} failed, {worker.jobs_retried:,} retried"
    )
    code = EXIT_PARTIAL if worker.jobs_failed else EXIT_OK
    if burst and stopped_by:
        # Asked to empty the queue, stopped before: the cancelled jobs are still queued.
        # Without --burst a signal is the worker's normal end (as for fake-server).
        code = EXIT_SIGNALLED + stopped_by[0]
        text += "; stopped by a signal before the queue was empty: run a worker again to finish"
    _print_outcome(text, body, code, as_json)
    return code


@contextlib.contextmanager
def _worker_logs(verbose: int) -> Iterator[None]:
    """The request log (``-v``) and arq's own log (a line per job, as its command line
    shows it) on stderr while a worker runs; both undone after."""
    undo = configure_request_logging(verbose, None, sys.stderr)
    jobs_log = logging.StreamHandler(sys.stderr)
    jobs_log.setFormatter(logging.Formatter("%(asctime)s: %(message)s", "%H:%M:%S"))
    arq_logger = logging.getLogger("arq")
    arq_logger.addHandler(jobs_log)
    level = arq_logger.level
    arq_logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        yield
    finally:
        arq_logger.removeHandler(jobs_log)
        arq_logger.setLevel(level)
        undo()


def _run_to_the_end(worker: Any) -> None:
    """``worker.run()``, closed even when a signal came as a job was starting.

    arq's ``Worker.close`` gathers the job tasks that its signal handler just cancelled:
    one cancelled before it caught that (still reading Redis) raises ``CancelledError``
    out of ``run``, a traceback with exit 1 that skipped closing the pool and the client.
    Those tasks are done (cancelled): dropped, the close is run again, as arq's own poll
    drops finished tasks.
    """
    try:
        worker.run()
    except asyncio.CancelledError:
        worker.tasks = {job: task for job, task in worker.tasks.items() if not task.done()}
        worker.loop.run_until_complete(worker.close())


@workers_group.command("merge")
@click.option("--out", required=True, metavar="DIR", help="the directory given to enqueue")
@click.option(
    "--to", required=True, metavar="FILE", help="the joined file (gzip if it ends in .gz)"
)
@_format_option("the format given to enqueue (and of FILE)")
@click.option("--force", is_flag=True, help="replace FILE if it exists")
@reporting_options
def merge_command(out: str, to: str, fmt: Format, force: bool, as_json: bool) -> int:
    """Join the batch files of a finished export into one file, atomically. Refused until
    the listing is done and every batch is complete, and when FILE exists (--force)."""
    workers = _workers()
    if not force and os.path.lexists(to):
        raise CommandFailure(f"{to} already exists; use --force to replace it", EXIT_USAGE)
    done = workers.merge_exports(out, to, fmt=fmt)
    missing = ""
    if done.missing:
        names = ", ".join(done.missing_sids)
        more = ", …" if done.missing > len(done.missing_sids) else ""
        missing = f" ({names}{more})"
    text = (
        f"{plural(done.sessions, 'session')} of {done.service_sid} "
        f"({plural(done.batches, 'batch')}), {plural(done.records, 'record')}, "
        f"{done.missing:,} missing{missing}: written to {done.output}"
    )
    body = {
        "output": str(done.output),
        "service_sid": done.service_sid,
        "batches": done.batches,
        "sessions": done.sessions,
        "records": done.records,
        "missing": done.missing,
        "missing_sids": list(done.missing_sids),
    }
    _print_outcome(text, body, EXIT_OK, as_json)
    return EXIT_OK


def _print_outcome(text: str, body: dict[str, Any], code: int, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": code == EXIT_OK, "exit_code": code, "outcome": outcome_of(code), **body})
    else:
        say(text, stream=sys.stdout)


def _worker_config() -> Any:
    workers = _workers()
    return _guarded(workers.WorkerConfig.from_env)


def _workers() -> Any:
    """:mod:`proxy_async.workers`, imported when a command needs it: arq is an extra."""
    try:
        from .. import workers
    except ImportError as error:
        raise CommandFailure(
            f"{error}; from a checkout: pip install -e '.[arq]'", EXIT_USAGE
        ) from error
    return workers


def _redis_url(redis: str | None) -> str | None:
    """``--redis``, checked as the variable is (a bad one is a usage failure naming
    ``--redis``, not ``$PROXY_ASYNC_REDIS_URL``, nor "is redis-server running?")."""
    _workers()  # arq is needed to read a Redis URL: say so first if it is missing
    if redis is not None:
        _guarded(lambda: check_redis_url(redis, "--redis"))
    return redis


def _guarded(read: Any) -> Any:
    """``read()``, with a bad ``PROXY_ASYNC_*`` variable as a usage failure (exit 2)."""
    try:
        return read()
    except InvalidParameterError as error:
        raise CommandFailure(str(error), EXIT_USAGE) from error
