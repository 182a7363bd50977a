"""arq workers for the batched export: enqueue, run, merge (``proxy-async workers``)."""

from . import jobs
from .jobs import (
    CLIENT_KEY,
    CONFIG_KEY,
    DEFAULT_BATCH_SIZE,
    EXPORT_JOB,
    FUNCTIONS,
    Enqueued,
    MergeSummary,
    WorkerConfig,
    batch_output,
    enqueue_service,
    export_batch,
    job_id,
    main,
    manifest_path,
    merge_exports,
    shutdown,
    startup,
    wait_for_jobs,
    worker_settings,
)


def __getattr__(name: str) -> type:
    """``WorkerSettings`` for ``arq proxy_async.workers.WorkerSettings``, built from the
    environment on first use (PEP 562), so that importing this package reads none."""
    if name == "WorkerSettings":
        return jobs.WorkerSettings
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
