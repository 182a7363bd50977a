"""Bulk export of Interactions: many sessions at once, into a file, resumable after a crash.

Three levels, each built on the one before:

* :func:`stream_pages` yields :class:`SessionPage` (one page of one session) and
  :class:`SessionFailed` events. ``concurrency`` workers each walk one session at a
  time, page after page, and put the pages on a bounded queue; pages of one session
  arrive in server order, parallelism comes from walking many sessions. However many
  sessions or records there are, at most ``max_queued_pages + 2 * concurrency`` pages
  are in memory: the queue, plus per worker the page it waits to enqueue and the
  next one the client prefetches.
* :func:`stream_interactions` yields the same records one by one, each a
  :class:`TaggedInteraction` carrying its session SID.
* :func:`export` writes every record to a file (NDJSON or CSV) through ``OUT.part``
  and a checkpoint (see :mod:`proxy_async.checkpoint`), so that an export killed at
  any instant resumes with ``resume=True`` losing nothing and writing nothing twice.

One session failing (404, 5xx after the client's retries, a record that does not
match the spec) does not stop the others: it becomes a :class:`SessionFailed` event,
is marked failed in the checkpoint and retried by the next ``resume=True``. An
authentication failure (:class:`~proxy_async.errors.AuthError`) or a closed client
stops everything, since every other session would fail the same way.

Close the generators when stopping early (``async with contextlib.aclosing(...)``):
that cancels every worker at once instead of at garbage collection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import csv
import io
import os
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from .checkpoint import (
    Checkpoint,
    ExportError,
    ExportPaths,
    ExportStateError,
    SessionState,
    Status,
    sync_directory,
)
from .client import ProxyClient
from .errors import AuthError, ClientClosedError, InvalidParameterError, ProxyError
from .models import Interaction, Page
from .resources import ServiceContext
from .validation import MAX_PAGE_SIZE, check_sid

if sys.platform != "win32":
    import fcntl

Format = Literal["ndjson", "csv"]
"""Output formats: one JSON object per line, or CSV with a header row."""

FORMATS: tuple[Format, ...] = ("ndjson", "csv")

DEFAULT_CONCURRENCY = 16
"""Sessions walked at once. The client's rate limit, not this, is usually the bound."""

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
"""Records per request: the largest page Twilio serves, so the fewest requests."""

DEFAULT_CHECKPOINT_INTERVAL = 0.5
"""Seconds between checkpoints; a crash redoes at most about this much work."""

CSV_COLUMNS: tuple[str, ...] = tuple(field.name for field in attrs.fields(Interaction))
"""CSV header: the Interaction fields of the Proxy v1 spec, in spec order."""

FATAL_ERRORS: tuple[type[ProxyError], ...] = (AuthError, ClientClosedError)
"""Errors that stop a whole export instead of failing one session."""

_WRITE_BUFFER = 1 << 20


class SessionDiscoveryError(ExportError):
    """Listing the Service's Sessions failed, so the export cannot know what to read.

    ``cause`` is the underlying error (a 404 for an unknown Service, a 5xx...).
    """

    def __init__(self, service_sid: str, cause: ProxyError) -> None:
        self.service_sid = service_sid
        self.cause = cause
        super().__init__(f"cannot list the sessions of {service_sid}: {cause}")


class SessionsFailedError(ExportError):
    """Raised by :func:`stream_interactions` after every other session was streamed.

    ``failures`` maps each failed session's SID to its error.
    """

    def __init__(self, failures: Mapping[str, ProxyError]) -> None:
        self.failures = dict(failures)
        shown = "; ".join(f"{sid}: {error}" for sid, error in list(self.failures.items())[:3])
        more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        super().__init__(f"{len(self.failures)} session(s) failed: {shown}{more}")


@attrs.frozen
class SessionPage:
    """One page of one session's Interactions (records typed in ``page.items``, as
    decoded in ``page.raw_items``)."""

    session_sid: str
    page: Page[Interaction]

    @property
    def next_page_url(self) -> str | None:
        """Where this session continues; None when this was its last page."""
        return self.page.meta.next_page_url

    @property
    def done(self) -> bool:
        """Whether this was the session's last page."""
        return self.page.meta.next_page_url is None


@attrs.frozen
class SessionFailed:
    """A session that could not be read to the end; its earlier pages were delivered."""

    session_sid: str
    error: ProxyError


SessionEvent = SessionPage | SessionFailed
"""What :func:`stream_pages` yields."""


@attrs.frozen
class TaggedInteraction:
    """One Interaction with the SID of the session it was listed under.

    ``raw`` is the record exactly as decoded from Twilio's JSON.
    """

    session_sid: str
    interaction: Interaction
    raw: dict[str, Any] = attrs.field(repr=False)


@attrs.frozen
class ExportProgress:
    """Where an export stands; passed to ``export(progress=...)`` after every page.

    ``records`` counts every record in the output, including those written by the
    runs this one resumes; ``records_this_run`` only this run's.
    """

    sessions_total: int
    sessions_done: int
    sessions_failed: int
    records: int
    records_this_run: int
    elapsed: float
    resumed: bool


@attrs.frozen
class SessionFailure:
    """A session that failed in this run, and why (the error's type and message)."""

    session_sid: str
    error: str


@attrs.frozen
class ExportSummary:
    """The outcome of :func:`export`.

    When ``complete``, ``output`` is the finished file and no checkpoint is left.
    Otherwise some sessions failed: ``output`` is the ``.part`` file, kept with
    ``checkpoint`` for a later ``resume=True``. ``already_complete`` means a resume
    found the output finished and did nothing: the counts are then zero, since the
    finished run's checkpoint (its only record of them) is gone with it.
    """

    output: Path
    checkpoint: Path | None
    format: Format
    complete: bool
    resumed: bool
    sessions_total: int
    sessions_done: int
    failures: tuple[SessionFailure, ...]
    records: int
    records_this_run: int
    elapsed: float
    already_complete: bool = False

    @property
    def records_per_second(self) -> float:
        """Records written by this run per second of its wall time."""
        return self.records_this_run / self.elapsed if self.elapsed > 0 else 0.0


# -- argument checks ----------------------------------------------------------------------


def unique_session_sids(sessions: Iterable[str]) -> list[str]:
    """Check that every item is a Session SID (``KC…``) and drop repeats, keeping order."""
    if isinstance(sessions, (str, bytes)):
        raise InvalidParameterError("sessions", "an iterable of KC SIDs, not a single string")
    return list(dict.fromkeys(check_sid(sid, "KC", "session_sid") for sid in sessions))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(name, "an integer >= 1", value)
    return value


def check_page_size(value: object) -> int:
    """An export's page size: an integer from 1 to 1000 (it is part of the checkpoint)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidParameterError("page_size", f"an integer from 1 to {MAX_PAGE_SIZE}", value)
    return value


def check_format(value: object) -> Format:
    """An export's output format, ``'ndjson'`` or ``'csv'``."""
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidParameterError("fmt", "'ndjson' or 'csv'", value)


# -- streaming ----------------------------------------------------------------------------


async def discover_sessions(
    client: ProxyClient, service_sid: str, *, page_size: int = MAX_PAGE_SIZE
) -> list[str]:
    """SIDs of every Session of the Service, in list order.

    Authentication errors propagate as they are; any other failure to list becomes
    :class:`SessionDiscoveryError`.
    """
    service = client.services(service_sid)
    try:
        sids = [session.sid async for session in service.sessions.stream(page_size=page_size)]
    except FATAL_ERRORS:
        raise
    except ProxyError as error:
        raise SessionDiscoveryError(service.sid, error) from error
    return list(dict.fromkeys(sid for sid in sids if sid is not None))


def stream_pages(
    client: ProxyClient,
    service_sid: str,
    sessions: Iterable[str] | None = None,
    *,
    start_urls: Mapping[str, str | None] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_queued_pages: int | None = None,
) -> AsyncGenerator[SessionEvent, None]:
    """Yield the Interaction pages of many sessions, walked ``concurrency`` at a time.

    ``sessions`` None lists the Service's Sessions first (:func:`discover_sessions`).
    ``start_urls`` maps a session to a saved ``next_page_url`` to continue from.
    Each session ends with a :class:`SessionPage` whose ``done`` is true, or with a
    :class:`SessionFailed`. Errors in :data:`FATAL_ERRORS` end the whole stream.
    ``max_queued_pages`` (default: ``concurrency``) bounds the queue between the
    workers and the consumer. Arguments are checked now, before anything is sent.
    """
    service = client.services(service_sid)
    selected = None if sessions is None else unique_session_sids(sessions)
    workers = _positive_int("concurrency", concurrency)
    bound = (
        workers if max_queued_pages is None else _positive_int("max_queued_pages", max_queued_pages)
    )
    return _stream_pages(
        client,
        service,
        selected,
        dict(start_urls or {}),
        workers,
        check_page_size(page_size),
        bound,
    )


def stream_interactions(
    client: ProxyClient,
    service_sid: str,
    sessions: Iterable[str] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_queued_pages: int | None = None,
) -> AsyncGenerator[TaggedInteraction, None]:
    """Yield the Interactions of many sessions, each tagged with its session SID.

    Records of one session come in server order; sessions interleave. A failed
    session does not stop the others: once everything else was yielded,
    :class:`SessionsFailedError` names the failed ones. See :func:`stream_pages`.
    """
    events = stream_pages(
        client,
        service_sid,
        sessions,
        concurrency=concurrency,
        page_size=page_size,
        max_queued_pages=max_queued_pages,
    )
    return _interactions_of(events)


async def _interactions_of(
    events: AsyncGenerator[SessionEvent, None],
) -> AsyncGenerator[TaggedInteraction, None]:
    failures: dict[str, ProxyError] = {}
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, SessionFailed):
                failures[event.session_sid] = event.error
                continue
            page = event.page
            for item, raw in zip(page.items, _raw_records(page), strict=True):
                yield TaggedInteraction(event.session_sid, item, raw)
    if failures:
        raise SessionsFailedError(failures)


@attrs.frozen
class _WorkerExit:
    error: Exception | None


async def _stream_pages(
    client: ProxyClient,
    service: ServiceContext,
    sessions: list[str] | None,
    start_urls: dict[str, str | None],
    concurrency: int,
    page_size: int,
    max_queued_pages: int,
) -> AsyncGenerator[SessionEvent, None]:
    if sessions is None:
        sessions = await discover_sessions(client, service.sid)
    todo = deque(sessions)
    queue: asyncio.Queue[SessionEvent | _WorkerExit] = asyncio.Queue(max_queued_pages)
    workers = [
        asyncio.ensure_future(_worker(service, todo, start_urls, page_size, queue))
        for _ in range(min(concurrency, len(todo)))
    ]
    try:
        running = len(workers)
        while running:
            event = await queue.get()
            if isinstance(event, _WorkerExit):
                running -= 1
                if event.error is not None:
                    raise event.error
                continue
            yield event
    finally:
        await _cancel_all(workers)


async def _worker(
    service: ServiceContext,
    todo: deque[str],
    start_urls: Mapping[str, str | None],
    page_size: int,
    queue: asyncio.Queue[SessionEvent | _WorkerExit],
) -> None:
    """Walk sessions from ``todo`` one after another until none is left."""
    try:
        while todo:
            sid = todo.popleft()
            try:
                pages = service.sessions(sid).interactions.pages(
                    page_size=page_size, start_url=start_urls.get(sid)
                )
                async with contextlib.aclosing(pages):
                    async for page in pages:
                        # Blocks while the queue is full: this is the back-pressure.
                        await queue.put(SessionPage(sid, page))
            except FATAL_ERRORS:
                raise
            except ProxyError as error:
                await queue.put(SessionFailed(sid, error))
    except Exception as error:
        # Reported through the queue, which the consumer is reading anyway; it then
        # raises the error and cancels every other worker.
        await queue.put(_WorkerExit(error))
        return
    await queue.put(_WorkerExit(None))


async def _cancel_all(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Cancel ``tasks`` and wait until each has finished, even if we are cancelled meanwhile."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    interrupted = False
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            interrupted = True  # finish cleaning up first, then honour it
        pending = [task for task in pending if not task.done()]
    for task in tasks:
        if not task.cancelled():
            task.exception()  # mark retrieved; workers report their errors via the queue
    if interrupted:
        raise asyncio.CancelledError


def _raw_records(page: Page[Interaction]) -> tuple[dict[str, Any], ...]:
    if len(page.raw_items) != len(page.items):
        # Only a hand-built Page can lack them; writing nothing would lose records silently.
        raise ExportError("a page came without its raw records (Page.raw_items)")
    return page.raw_items


# -- encoding -----------------------------------------------------------------------------


def encode_ndjson(records: Sequence[Mapping[str, Any]]) -> bytes:
    """One JSON object per line, each record serialised exactly as decoded."""
    return b"".join([orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE) for record in records])


def encode_csv(records: Sequence[Mapping[str, Any]]) -> bytes:
    """CSV rows in :data:`CSV_COLUMNS` order: values as sent, null as an empty cell."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [[_cell(record.get(column)) for column in CSV_COLUMNS] for record in records]
    )
    return buffer.getvalue().encode()


def csv_header() -> bytes:
    """The CSV header row."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(CSV_COLUMNS)
    return buffer.getvalue().encode()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # The typed model admits only strings here; should that change, keep the JSON.
    return orjson.dumps(value).decode()


_ENCODERS: dict[Format, Callable[[Sequence[Mapping[str, Any]]], bytes]] = {
    "ndjson": encode_ndjson,
    "csv": encode_csv,
}
_HEADERS: dict[Format, Callable[[], bytes]] = {"ndjson": lambda: b"", "csv": csv_header}


# -- the data file --------------------------------------------------------------------------


class _DataFile:
    """``OUT.part``, locked against a second export, appended to in whole pages."""

    def __init__(self, fd: int, path: Path) -> None:
        self._file = os.fdopen(fd, "r+b", buffering=_WRITE_BUFFER)
        self.path = path
        self.size = 0

    @classmethod
    def open(cls, path: Path, *, create: bool) -> _DataFile:
        """Open (or create) ``path`` and lock it; ExportStateError if another export has it."""
        try:
            fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o666)
        except FileNotFoundError:
            raise ExportStateError(
                f"{path} is missing although its checkpoint exists; "
                "start over with --force (overwrite=True)"
            ) from None
        try:
            _lock(fd, path)
            return cls(fd, path)
        except BaseException:
            os.close(fd)
            raise

    def cut(self, length: int) -> None:
        """Truncate to ``length`` bytes and append from there.

        Whatever follows a checkpointed length was written after that checkpoint: those
        pages are fetched and written again.
        """
        size = os.fstat(self._file.fileno()).st_size
        if size < length:
            raise ExportStateError(
                f"{self.path} holds {size} bytes but its checkpoint covers {length}: it was "
                "changed by something else; start over with --force (overwrite=True)"
            )
        self._file.seek(length)
        self._file.truncate()
        self.size = length

    def append(self, data: bytes) -> None:
        """Append bytes (buffered)."""
        self._file.write(data)
        self.size += len(data)

    def sync(self) -> None:
        """Flush and fsync: everything appended so far is on disk."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file, releasing the lock."""
        self._file.close()


if sys.platform != "win32":

    def _lock(fd: int, path: Path) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportStateError(f"another export is writing {path}") from None

else:

    def _lock(fd: int, path: Path) -> None:
        """No advisory locks here: run one export per output file."""


# -- export -------------------------------------------------------------------------------


class _Job:
    """One run of an export: the checkpoint in memory mirrors what was appended."""

    def __init__(
        self,
        paths: ExportPaths,
        checkpoint: Checkpoint,
        data: _DataFile,
        *,
        resumed: bool,
        started: float,
    ) -> None:
        self.paths = paths
        self.checkpoint = checkpoint
        self.data = data
        self.resumed = resumed
        self.started = started
        self.format = check_format(checkpoint.format)
        self.encode = _ENCODERS[self.format]
        self.records_this_run = 0
        self.failures: dict[str, str] = {}
        self.complete = False
        # Kept up to date as events arrive: recounting per page would cost O(sessions).
        states = checkpoint.sessions.values()
        self.records = sum(state.records for state in states)
        self.counts = collections.Counter(state.status for state in states)

    def save(self) -> None:
        """Make the appended records durable, then record them in the checkpoint."""
        self.data.sync()
        self.checkpoint.data_bytes = self.data.size
        self.checkpoint.save(self.paths.checkpoint)

    def apply(self, event: SessionEvent) -> None:
        """Append a page's records and note the session's progress (in memory)."""
        state = self.checkpoint.sessions[event.session_sid]
        if isinstance(event, SessionFailed):
            self._set_status(state, "failed")
            state.error = f"{type(event.error).__name__}: {event.error}"
            self.failures[event.session_sid] = state.error
            return
        records = _raw_records(event.page)
        if records:
            self.data.append(self.encode(records))
        state.records += len(records)
        self.records += len(records)
        self.records_this_run += len(records)
        state.next_page_url = event.next_page_url
        self._set_status(state, "done" if event.done else "running")
        state.error = None

    def _set_status(self, state: SessionState, status: Status) -> None:
        self.counts[state.status] -= 1
        self.counts[status] += 1
        state.status = status

    def progress(self) -> ExportProgress:
        """A snapshot for the progress callback."""
        return ExportProgress(
            sessions_total=len(self.checkpoint.sessions),
            sessions_done=self.counts["done"],
            sessions_failed=self.counts["failed"],
            records=self.records,
            records_this_run=self.records_this_run,
            elapsed=time.monotonic() - self.started,
            resumed=self.resumed,
        )

    async def run(
        self,
        client: ProxyClient,
        *,
        concurrency: int,
        max_queued_pages: int | None,
        progress: Callable[[ExportProgress], None] | None,
        checkpoint_interval: float,
    ) -> None:
        """Export every session not done yet; checkpoint on the way and on any exit."""
        sessions = self.checkpoint.sessions
        todo = [sid for sid, state in sessions.items() if state.status != "done"]
        events = stream_pages(
            client,
            self.checkpoint.service_sid,
            todo,
            start_urls={sid: sessions[sid].next_page_url for sid in todo},
            concurrency=concurrency,
            page_size=self.checkpoint.page_size,
            max_queued_pages=max_queued_pages,
        )
        if progress is not None:
            progress(self.progress())
        last_save = time.monotonic()
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    self.apply(event)
                    now = time.monotonic()
                    if now - last_save >= checkpoint_interval:
                        self.save()
                        last_save = now
                    if progress is not None:
                        progress(self.progress())
        except BaseException:
            # Fatal error, cancellation, Ctrl-C: keep what was written resumable. If
            # even this fails (disk full), the previous checkpoint is still valid.
            with contextlib.suppress(OSError):
                self.save()
            raise
        self.save()
        if self.counts["done"] == len(sessions):
            self._finish()

    def _finish(self) -> None:
        # Rename first: a crash between the two steps leaves the finished file and a
        # checkpoint saying "all done", which a resume recognises.
        if sys.platform == "win32":
            self.data.close()  # Windows cannot rename an open file
        os.replace(self.paths.partial, self.paths.output)
        sync_directory(self.paths.output.parent)
        self.paths.checkpoint.unlink()
        sync_directory(self.paths.output.parent)
        self.complete = True

    def summary(self) -> ExportSummary:
        """What this run did."""
        now = self.progress()
        return ExportSummary(
            output=self.paths.output if self.complete else self.paths.partial,
            checkpoint=None if self.complete else self.paths.checkpoint,
            format=self.format,
            complete=self.complete,
            resumed=self.resumed,
            sessions_total=now.sessions_total,
            sessions_done=now.sessions_done,
            failures=tuple(SessionFailure(sid, error) for sid, error in self.failures.items()),
            records=now.records,
            records_this_run=now.records_this_run,
            elapsed=now.elapsed,
        )


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

    ``sessions`` None exports every Session of the Service (listed first); otherwise
    the given SIDs. ``fmt`` is ``"ndjson"`` (records exactly as Twilio sent them, one
    per line) or ``"csv"`` (header of the spec's Interaction fields, values as sent,
    null as empty). Records go to ``out + ".part"`` with a checkpoint in
    ``out + ".checkpoint.json"``; when every session is done the ``.part`` file is
    atomically renamed to ``out`` and the checkpoint removed.

    If sessions failed, the summary says so (``complete`` False) and both files stay:
    ``resume=True`` continues every unfinished or failed session where it stopped
    and keeps the rest; it refuses a checkpoint made with another service, base URL,
    format, page size or session selection. Without ``resume``, an existing
    checkpoint or output is refused unless ``overwrite=True`` (the old output is
    replaced only when the new one is complete). ``resume=True`` with no checkpoint
    starts afresh, or, if ``out`` exists, returns at once with ``already_complete``.

    ``progress`` is called with an :class:`ExportProgress` after every page.
    Raises :class:`~proxy_async.errors.AuthError` (credentials refused),
    :class:`SessionDiscoveryError`, :class:`~proxy_async.checkpoint.ExportStateError`
    (files in the way, or an unusable checkpoint) or :class:`InvalidParameterError`;
    after a fatal error or a cancellation the checkpoint is left resumable.
    """
    started = time.monotonic()
    service_sid = check_sid(service_sid, "KS", "service_sid")
    selected = None if sessions is None else unique_session_sids(sessions)
    fmt = check_format(fmt)
    page_size = check_page_size(page_size)
    concurrency = _positive_int("concurrency", concurrency)
    if max_queued_pages is not None:
        _positive_int("max_queued_pages", max_queued_pages)
    if (
        isinstance(checkpoint_interval, bool)
        or not isinstance(checkpoint_interval, (int, float))
        or not checkpoint_interval >= 0
    ):
        raise InvalidParameterError("checkpoint_interval", "a number of seconds >= 0")
    if resume and overwrite:
        raise InvalidParameterError("overwrite", "False when resume is True")
    if client.closed:
        raise ClientClosedError()
    paths = ExportPaths.for_output(out)
    if not paths.output.parent.is_dir():
        raise ExportStateError(f"the directory of {paths.output} does not exist")

    if resume and paths.checkpoint.exists():
        job = _resume_job(paths, client.base_url, service_sid, fmt, page_size, selected, started)
        if job is None:
            return _done_summary(paths, fmt, started)
    elif resume and paths.output.exists():
        return _done_summary(paths, fmt, started)
    else:
        if not overwrite:
            _refuse_existing(paths)
        if selected is None:
            selected_sids, discovered = await discover_sessions(client, service_sid), True
        else:
            selected_sids, discovered = selected, False
        checkpoint = Checkpoint(
            service_sid=service_sid,
            base_url=client.base_url,
            format=fmt,
            page_size=page_size,
            discovered=discovered,
            sessions={sid: SessionState() for sid in selected_sids},
        )
        job = _fresh_job(paths, checkpoint, started)
    try:
        await job.run(
            client,
            concurrency=concurrency,
            max_queued_pages=max_queued_pages,
            progress=progress,
            checkpoint_interval=checkpoint_interval,
        )
    finally:
        job.data.close()
    return job.summary()


def _refuse_existing(paths: ExportPaths) -> None:
    if paths.checkpoint.exists():
        raise ExportStateError(
            f"{paths.checkpoint} exists: an earlier export to {paths.output} did not finish. "
            "Resume it with --resume (resume=True), or discard it with --force (overwrite=True)"
        )
    if paths.output.exists():
        raise ExportStateError(
            f"{paths.output} already exists; use --force (overwrite=True) to replace it "
            "once the new export is complete"
        )


def _fresh_job(paths: ExportPaths, checkpoint: Checkpoint, started: float) -> _Job:
    data = _DataFile.open(paths.partial, create=True)
    try:
        data.cut(0)
        job = _Job(paths, checkpoint, data, resumed=False, started=started)
        data.append(_HEADERS[job.format]())
        # The first checkpoint replaces any discarded one before a record is written.
        job.save()
    except BaseException:
        data.close()
        raise
    return job


def _resume_job(
    paths: ExportPaths,
    base_url: str,
    service_sid: str,
    fmt: Format,
    page_size: int,
    selected: list[str] | None,
    started: float,
) -> _Job | None:
    """Reopen an unfinished export; None if it had in fact finished (rename done)."""
    if not paths.partial.exists() and paths.output.exists():
        checkpoint = Checkpoint.load(paths.checkpoint)
        if all(state.status == "done" for state in checkpoint.sessions.values()):
            # Killed between the final rename and the checkpoint's removal.
            paths.checkpoint.unlink()
            sync_directory(paths.checkpoint.parent)
            return None
    # Lock first, so that the files of an export still running are never read or cut.
    data = _DataFile.open(paths.partial, create=False)
    try:
        checkpoint = Checkpoint.load(paths.checkpoint)
        _check_same_export(checkpoint, paths, base_url, service_sid, fmt, page_size, selected)
        data.cut(checkpoint.data_bytes)
        for state in checkpoint.sessions.values():
            if state.status == "failed":
                state.status = "pending" if state.next_page_url is None else "running"
                state.error = None
        return _Job(paths, checkpoint, data, resumed=True, started=started)
    except BaseException:
        data.close()
        raise


def _check_same_export(
    checkpoint: Checkpoint,
    paths: ExportPaths,
    base_url: str,
    service_sid: str,
    fmt: Format,
    page_size: int,
    selected: list[str] | None,
) -> None:
    differences = []
    if checkpoint.service_sid != service_sid:
        differences.append(f"service {checkpoint.service_sid}, not {service_sid}")
    if checkpoint.base_url != base_url:
        differences.append(f"base URL {checkpoint.base_url}, not {base_url}")
    if checkpoint.format != fmt:
        differences.append(f"format {checkpoint.format}, not {fmt}")
    if checkpoint.page_size != page_size:
        differences.append(f"page size {checkpoint.page_size}, not {page_size}")
    if selected is None and not checkpoint.discovered:
        differences.append("an explicit session list, not every session of the service")
    elif selected is not None and checkpoint.discovered:
        differences.append("every session of the service, not an explicit session list")
    elif selected is not None and set(selected) != set(checkpoint.sessions):
        differences.append("another session list")
    if differences:
        raise ExportStateError(
            f"{paths.checkpoint} was made with " + "; ".join(differences) + ". Resume with "
            "the original options, or discard it with --force (overwrite=True)"
        )


def _done_summary(paths: ExportPaths, fmt: Format, started: float) -> ExportSummary:
    return ExportSummary(
        output=paths.output,
        checkpoint=None,
        format=fmt,
        complete=True,
        resumed=True,
        sessions_total=0,
        sessions_done=0,
        failures=(),
        records=0,
        records_this_run=0,
        elapsed=time.monotonic() - started,
        already_complete=True,
    )
