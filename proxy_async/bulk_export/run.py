"""The bulk export's entry point, :func:`export`: check the arguments, open the job, run it.

:func:`export` is longer than 50 lines only by its signature and its docstring (the
reference of the public entry point, which the README points to); its body is the named
steps below.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable

from ..client.proxy_client import ProxyClient
from ..errors import (
    ApiUnavailableError,
    ClientClosedError,
    ExportError,
    ExportStateError,
    InvalidParameterError,
    SessionDiscoveryError,
)
from ..limits.base import MAX_CONCURRENCY
from ..models.records import Page, Session
from ..resources import ServiceContext
from ..validation import check_file_path, check_int, check_sid, is_number
from .events import ExportProgress, ExportSummary
from .formats import Format, check_format
from .job import ExportJob
from .paths import STDOUT, ExportPaths
from .resume import fresh_job, refuse_existing, resume_job
from .schema import ExportParams
from .streams import DEFAULT_CONCURRENCY
from .summary import done_summary
from .walk import DEFAULT_PAGE_SIZE, check_page_size, listing_pages, unique_session_sids

DEFAULT_CHECKPOINT_INTERVAL = 0.5
"""Seconds between commits of the state; a crash redoes at most about this much work."""


async def export(
    client: ProxyClient,
    service_sid: str,
    out: str | os.PathLike[str],
    *,
    sessions: Iterable[str] | None = None,
    fmt: Format = "ndjson",
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = DEFAULT_PAGE_SIZE,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[ExportProgress], None] | None = None,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    max_queued_pages: int | None = None,
) -> ExportSummary:
    """Export the Interactions of a Service's sessions to the file ``out``.

    ``sessions`` None exports every Session of the Service, listed page by page while
    the export runs; the Session records of that listing go to the sessions file beside
    the output (see :class:`~proxy_async.bulk_export.paths.ExportPaths`). Otherwise the given
    SIDs. ``fmt`` is ``"ndjson"`` (records exactly as Twilio sent them, one per line)
    or ``"csv"`` (header of the spec's Interaction fields, values as sent, null as
    empty). A name ending in ``.gz`` is written gzip-compressed, in independent members
    per commit, so it stays resumable. ``out`` ``"-"`` writes to standard output: no
    state file, no resume.

    Records go to ``out + ".part"`` with the state in ``out + ".state.db"``; when every
    session is done or missing the ``.part`` files are renamed into place and the state
    is marked complete (and kept, as the record of what was exported).

    If sessions failed, the summary says so (``complete`` False) and the files stay:
    ``resume=True`` continues every unfinished or failed session where it stopped,
    continues the listing where it stopped, and keeps the rest; it refuses a state made
    with another service, base URL, format, page size or session selection, and
    imports a 0.x JSON checkpoint (``out + ".checkpoint.json"``). Without ``resume``, an
    existing export is refused unless ``overwrite=True`` (an old output is replaced only
    when the new one is complete). ``resume=True`` with no state starts afresh, or, if
    ``out`` exists, returns at once with ``already_complete``.

    ``progress`` is called with an :class:`ExportProgress` after every page. Raises
    :class:`~proxy_async.errors.AuthError` (credentials refused),
    :class:`SessionDiscoveryError`, :class:`ApiUnavailableError`,
    :class:`~proxy_async.errors.ExportStateError` (files in the way, a directory, an
    unusable state, another export writing) or :class:`InvalidParameterError`; after
    any of them, or a cancellation, the state is left resumable.
    """
    started = time.monotonic()
    service_sid = check_sid(service_sid, "KS", "service_sid")
    selected = None if sessions is None else unique_session_sids(sessions)
    fmt = check_format(fmt)
    page_size = check_page_size(page_size)
    concurrency = check_int(concurrency, "concurrency", 1, MAX_CONCURRENCY)
    _check_run_options(max_queued_pages, checkpoint_interval, progress, resume, overwrite)
    if client.closed:
        raise ClientClosedError()
    paths = _paths_for(out, resume=resume)
    params = ExportParams(
        service_sid=service_sid,
        base_url=client.base_url,
        format=fmt,
        compression=None if paths is None else paths.compression,
        page_size=page_size,
        discovered=selected is None,
        sessions_file=selected is None and paths is not None,
    )
    opened = await _open_job(client, paths, params, selected, started, resume, overwrite)
    if isinstance(opened, ExportSummary):
        return opened
    job, first_listing = opened
    try:
        await job.run(
            client,
            concurrency=concurrency,
            max_queued_pages=max_queued_pages,
            progress=progress,
            checkpoint_interval=checkpoint_interval,
            first_listing=first_listing,
        )
        return job.summary()
    finally:
        job.close()


def _check_run_options(
    max_queued_pages: object,
    checkpoint_interval: object,
    progress: object,
    resume: bool,
    overwrite: bool,
) -> None:
    """The checks of :func:`export`'s options that shape the run, not the export."""
    if max_queued_pages is not None:
        check_int(max_queued_pages, "max_queued_pages", 1)
    # inf is allowed: commit only every MAX_CHUNK_BYTES and at the end.
    if not is_number(checkpoint_interval) or not checkpoint_interval >= 0:
        raise InvalidParameterError("checkpoint_interval", "a number of seconds >= 0")
    if resume and overwrite:
        raise InvalidParameterError("overwrite", "False when resume is True")
    if progress is not None and not callable(progress):
        raise InvalidParameterError("progress", "a callable taking an ExportProgress, or None")


def _paths_for(out: str | os.PathLike[str], *, resume: bool) -> ExportPaths | None:
    """The files of an export to ``out``; None for stdout (``-``), which cannot resume."""
    to_stdout = os.fspath(check_file_path(out, "out")) == STDOUT
    if to_stdout and resume:
        raise InvalidParameterError("resume", "False when writing to stdout ('-')")
    paths = None if to_stdout else ExportPaths.for_output(out)
    if paths is not None and not paths.output.parent.is_dir():
        raise ExportStateError(
            f"the directory of {paths.output} does not exist: create it first, or export to "
            "an existing one"
        )
    return paths


async def _open_job(
    client: ProxyClient,
    paths: ExportPaths | None,
    params: ExportParams,
    selected: list[str] | None,
    started: float,
    resume: bool,
    overwrite: bool,
) -> tuple[ExportJob, Page[Session] | None] | ExportSummary:
    """The job to run, with the first Sessions page of a fresh listing; or the summary
    of a resume that has nothing left to run."""
    if paths is not None and resume:
        opened = resume_job(paths, params, selected, started)
        if opened is None:
            return done_summary(paths, check_format(params.format), started)
        if isinstance(opened, ExportSummary):
            return opened
        return opened, None
    if paths is not None:
        refuse_existing(paths, params, overwrite=overwrite)
    first_listing = None
    if selected is None:
        # The first Sessions page before any file: wrong credentials or an unknown
        # Service leave nothing behind.
        first_listing = await _first_listing_page(client.services(params.service_sid))
    return fresh_job(paths, params, selected or [], started), first_listing


async def _first_listing_page(service: ServiceContext) -> Page[Session]:
    try:
        async with contextlib.aclosing(listing_pages(service, None)) as pages:
            async for page in pages:
                return page
    except SessionDiscoveryError as error:
        raise ApiUnavailableError.unless_listing_error(error) from error.cause
    raise SessionDiscoveryError(service.sid, ExportError("the Sessions list had no page"))
