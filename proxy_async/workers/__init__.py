"""Bulk export on a pool of arq workers: one job per batch of sessions, one client per worker.

With Redis running, start any number of workers, list a Service into batches (one arq
job each), and join the results::

    proxy-async workers run          # or: arq proxy_async.workers.WorkerSettings
    proxy-async workers enqueue KS... --out exports/ --wait
    proxy-async workers merge --out exports/ --to interactions.ndjson

The modules, in the order the work goes:

* :mod:`~proxy_async.workers.config`: :class:`WorkerConfig`, from the ``PROXY_ASYNC_*``
  variables (read when ``WorkerSettings`` is first looked up; importing this package
  reads none);
* :mod:`~proxy_async.workers.enqueue`: :func:`enqueue_service` lists the Service into
  batches and queues their jobs, resumably;
* :mod:`~proxy_async.workers.jobs`: the worker: :func:`export_batch`, its
  :func:`startup` and :func:`shutdown`, :func:`worker_settings`; and
  :func:`wait_for_jobs` (``enqueue --wait``);
* :mod:`~proxy_async.workers.merge`: :func:`merge_exports` joins the finished batches;
* :mod:`~proxy_async.workers.layout`, :mod:`~proxy_async.workers.manifest` and
  :mod:`~proxy_async.workers.manifest_schema`: the export directory's files and its
  SQLite manifest, shared by enqueue and merge.

Needs the optional extra: ``pip install 'proxy-async[arq]'``.
"""

try:
    import arq  # noqa: F401 - only to say which extra is missing
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError("proxy_async.workers needs arq: pip install 'proxy-async[arq]'") from error

from .config import WorkerConfig
from .enqueue import DEFAULT_BATCH_SIZE, Enqueued, enqueue_service, job_id
from .jobs import (
    CLIENT_KEY,
    CONFIG_KEY,
    EXPORT_JOB,
    FUNCTIONS,
    environment_worker_settings,
    export_batch,
    main,
    shutdown,
    startup,
    wait_for_jobs,
    worker_settings,
)
from .layout import batch_output, manifest_path
from .merge import MergeSummary, merge_exports


def __getattr__(name: str) -> type:
    """``WorkerSettings`` for ``arq proxy_async.workers.WorkerSettings``, built from the
    environment on first use (PEP 562), so that importing this package reads none."""
    if name == "WorkerSettings":
        return environment_worker_settings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
