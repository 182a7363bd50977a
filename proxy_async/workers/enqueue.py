"""Enqueue: list a Service's sessions into batches and queue one arq job per batch.

:func:`enqueue_service` pages through the Service's Sessions (1,000 a page) and records
everything in the manifest ``OUT/manifest.<format>.db``
(:mod:`proxy_async.workers.manifest`): the parameters, the listing's cursor, every
session with its batch, every batch with its job. The Session records the listing
returns go to ``OUT/sessions.ndjson``, at no extra request. A batch is queued as soon as
it is full, the last partial one when the listing ends; memory stays flat in the number
of sessions. Killed or failed part way, enqueue is simply run again: it continues the
listing from the saved cursor, never writes a Session record twice, and hands arq every
batch again (a job ID already queued, running or kept is ignored).
:func:`~proxy_async.workers.jobs.wait_for_jobs` then waits for the jobs (``enqueue --wait``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import attrs
from arq.connections import ArqRedis
from arq.constants import result_key_prefix
from arq.jobs import Job

from ..bulk_export.files import ChunkedFile
from ..bulk_export.formats import FORMATS, Format, check_format, encode_ndjson, raw_records
from ..bulk_export.paths import Compression
from ..bulk_export.walk import (
    DEFAULT_PAGE_SIZE,
    LISTING_PAGE_SIZE,
    check_page_size,
    listed_session_sids,
    listing_pages,
)
from ..client.proxy_client import ProxyClient
from ..errors import ExportStateError, InvalidParameterError
from ..validation import check_file_path, check_int, check_sid
from .jobs import EXPORT_JOB
from .layout import legacy_manifest_path, manifest_path, sessions_file_path
from .manifest import Manifest
from .manifest_schema import Batch, ManifestParams

DEFAULT_BATCH_SIZE = 500
"""Sessions per batch (per job, per file): 1,000,000 sessions make 2,000 jobs."""

MAX_BATCH_SIZE = 100_000
"""The largest batch accepted (its SIDs travel in the job's arguments: ~4 MB)."""


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
    :class:`~proxy_async.errors.SessionDiscoveryError` (the listing failed: run again to
    continue), :class:`~proxy_async.errors.AuthError`, and Redis's errors.
    """
    params = _manifest_params(
        client, service_sid, fmt, page_size, listing_page_size, batch_size, compression
    )
    directory = _output_directory(out_dir, params.format)
    manifest = Manifest.open_for_enqueue(manifest_path(directory, params.format), params)
    try:
        queue = _Queue(redis, manifest, directory, check_format(params.format), retry_failed)
        listed = 0
        if not manifest.listing_done:
            listed = await _list_into(manifest, client, queue, listing_page_size)
        await queue.submit_closed()
        manifest.commit(sessions_bytes=manifest.sessions_bytes)  # the batches' job IDs
        return queue.summary(listed)
    finally:
        manifest.close()


def _manifest_params(
    client: ProxyClient,
    service_sid: str,
    fmt: Format,
    page_size: int,
    listing_page_size: int,
    batch_size: int,
    compression: Compression | None,
) -> ManifestParams:
    """The export asked for, checked (with ``listing_page_size``) before anything is
    written or requested."""
    service_sid = check_sid(service_sid, "KS", "service_sid")
    fmt = check_format(fmt)
    page_size = check_page_size(page_size)  # here, not in every job that would fail on it
    check_page_size(listing_page_size)
    batch_size = check_int(batch_size, "batch_size", 1, MAX_BATCH_SIZE)
    if compression not in (None, "gzip"):
        raise InvalidParameterError("compression", "None or 'gzip'", compression)
    return ManifestParams(service_sid, client.base_url, fmt, compression, page_size, batch_size)


def _output_directory(out_dir: str | os.PathLike[str], fmt: str) -> Path:
    """``out_dir``, absolute, made if missing; refused if it holds another export."""
    directory = Path(check_file_path(out_dir, "out_dir")).resolve()
    if directory.exists() and not directory.is_dir():
        raise ExportStateError(f"{directory} is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    _refuse_other_exports(directory, fmt)
    return directory


def _refuse_other_exports(directory: Path, fmt: str) -> None:
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

    def summary(self, listed: int) -> Enqueued:
        """What this run did, ``listed`` being the sessions its listing added."""
        manifest = self.manifest
        return Enqueued(
            manifest.params.service_sid,
            manifest.sessions,
            manifest.batches,
            tuple(self.job_ids),
            self.new,
            self.retried,
            listed,
        )

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
