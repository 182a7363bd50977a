"""Opening an export's job: afresh, or resumed from its state, and the files that refuse one.

:func:`fresh_job` makes new files and a new state; :func:`resume_job` decides what a
``resume=True`` finds (no state, a blank one, a 0.x checkpoint, a finished export, one
killed during its renames) and reopens the files at their committed lengths;
:func:`refuse_existing` and :func:`refuse_claimed` keep an export off files that are
another's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import (
    FORCE_REMEDY,
    RESUME_REMEDY,
    BlankStateError,
    ExportStateError,
    ProxyError,
)
from .events import ExportSummary
from .files import ChunkedFile
from .job import ExportJob
from .legacy import import_legacy_checkpoint
from .paths import ExportPaths, outputs_naming, state_of
from .schema import ExportParams
from .state import ExportState
from .summary import summarize

logger = logging.getLogger("proxy_async")


def fresh_job(
    paths: ExportPaths | None, params: ExportParams, selected: list[str], started: float
) -> ExportJob:
    """A new export of the sessions ``selected`` (none yet when it lists the Service):
    a new state (in memory for stdout, ``paths`` None) and empty ``.part`` files."""
    state = ExportState.create(None if paths is None else paths.state, params)
    files: list[ChunkedFile] = []
    with _closed_on_error(state, files):
        state.add_sessions(selected)
        sessions_file = None
        if paths is None:
            data = _kept(files, ChunkedFile.stdout())
        else:
            if paths.legacy_checkpoint.exists():
                paths.legacy_checkpoint.unlink()  # --force discards a 0.x export too
            data = _emptied(files, paths.partial, params)
            if params.sessions_file:
                sessions_file = _emptied(files, paths.sessions_partial, params)
        job = ExportJob(state, data, sessions_file, paths, resumed=False, started=started)
        job.commit()
    return job


def resume_job(
    paths: ExportPaths, params: ExportParams, selected: list[str] | None, started: float
) -> ExportJob | ExportSummary | None:
    """Reopen an unfinished export, to be run.

    Returns instead its summary if it had finished (``already_complete``) or had only
    the renames left (done now), and None if there is no state but ``OUT`` exists.
    """
    if not paths.state.exists():
        if paths.legacy_checkpoint.exists():
            import_legacy_checkpoint(paths.legacy_checkpoint, paths.state)
        elif paths.output.exists():
            return None
        else:
            logger.info("no export state at %s: starting afresh", paths.state)
            return _afresh(paths, params, selected, started)
    try:
        state = ExportState.open(paths.state)
    except BlankStateError:
        logger.info("%s holds no export yet: starting afresh", paths.state)
        return _afresh(paths, params, selected, started)
    job = _reopened_job(state, paths, params, selected, started)
    if isinstance(job, ExportSummary) or not state.counters.finished:
        return job
    try:
        job.finish()  # killed after the last commit, before or during the renames
        return job.summary()
    finally:
        job.close()


def _afresh(
    paths: ExportPaths, params: ExportParams, selected: list[str] | None, started: float
) -> ExportJob:
    refuse_claimed(paths, writes_sessions=params.sessions_file)
    return fresh_job(paths, params, selected or [], started)


def _reopened_job(
    state: ExportState,
    paths: ExportPaths,
    params: ExportParams,
    selected: list[str] | None,
    started: float,
) -> ExportJob | ExportSummary:
    """The job of the export in ``state``, its files cut to their committed lengths and
    its failed sessions made to be retried; or its summary if it is complete. ``state``
    is closed on any error, and once the summary is made."""
    files: list[ChunkedFile] = []
    with _closed_on_error(state, files):
        check_same_export(state, paths, params, selected)
        if state.params.sessions_file:
            paths = paths.resuming(state.counters.sessions_bytes)
        if state.counters.complete:
            summary = summarize(
                state, paths, complete=True, resumed=True, started=started, already_complete=True
            )
            state.close()
            return summary
        counters = state.counters
        data = _kept(
            files,
            _reopen(paths.partial, paths.output, params, counters.data_bytes, counters.finished),
        )
        sessions_file = None
        if state.params.sessions_file:
            sessions_file = _kept(
                files,
                _reopen(
                    paths.sessions_partial,
                    paths.sessions,
                    params,
                    counters.sessions_bytes,
                    counters.finished,
                ),
            )
        state.retry_failed()
        return ExportJob(state, data, sessions_file, paths, resumed=True, started=started)


@contextlib.contextmanager
def _closed_on_error(state: ExportState, files: list[ChunkedFile]) -> Iterator[None]:
    """Close the ``files`` opened so far (the block adds them) and ``state`` if the block
    raises anything, a cancellation included."""
    try:
        yield
    except BaseException:
        for file in files:
            file.close()
        state.close()
        raise


def _kept(files: list[ChunkedFile], file: ChunkedFile) -> ChunkedFile:
    files.append(file)
    return file


def _emptied(files: list[ChunkedFile], path: Path, params: ExportParams) -> ChunkedFile:
    """``path`` opened (created if missing) and emptied, added to ``files``."""
    file = _kept(files, ChunkedFile.open(path, compression=params.compression, create=True))
    file.cut(0)
    return file


def _reopen(
    partial: Path, final: Path, params: ExportParams, length: int, finished: bool
) -> ChunkedFile:
    """A data file cut to its committed ``length``, to append to or to finish.

    That is the ``.part`` file; or the final file, if every session was finished and a
    kill came after its rename; or a new ``.part`` file if nothing was committed to it
    yet (killed right after the state was made). A final file is never touched
    otherwise: it may be an older export that ``--force`` will replace.
    """
    finished_file = finished and not partial.exists() and final.exists()
    path = final if finished_file else partial
    create = length == 0 and not finished_file
    file = ChunkedFile.open(path, compression=params.compression, create=create)
    try:
        file.cut(length)
    except BaseException:
        file.close()
        raise
    return file


def check_same_export(
    state: ExportState, paths: ExportPaths, params: ExportParams, selected: list[str] | None
) -> None:
    """Refuse to resume the export in ``state`` with other ``params`` or sessions than
    it was made with (:class:`~proxy_async.errors.ExportStateError` naming each)."""
    saved = state.params
    differences = []
    if saved.service_sid != params.service_sid:
        differences.append(f"service {saved.service_sid}, not {params.service_sid}")
    if saved.base_url != params.base_url:
        differences.append(f"base URL {saved.base_url}, not {params.base_url}")
    if saved.format != params.format:
        differences.append(f"format {saved.format}, not {params.format}")
    if saved.compression != params.compression:
        differences.append(f"compression {saved.compression}, not {params.compression}")
    if saved.page_size != params.page_size:
        differences.append(f"page size {saved.page_size}, not {params.page_size}")
    if selected is None and not saved.discovered:
        differences.append("an explicit session list, not every session of the service")
    elif selected is not None and saved.discovered:
        differences.append("every session of the service, not an explicit session list")
    elif selected is not None and set(selected) != set(state.all_sids()):
        differences.append("another session list")
    if differences:
        raise ExportStateError(
            f"{paths.state} was made with " + "; ".join(differences) + ". Resume with "
            f"the original options, or discard it with {FORCE_REMEDY}"
        )


def refuse_existing(paths: ExportPaths, params: ExportParams, *, overwrite: bool) -> None:
    """Refuse a fresh export whose files are in the way.

    Always when one of them is another export's (:func:`refuse_claimed`); without
    ``overwrite``, when an earlier export to ``out`` did not finish or any file this
    export would create or replace exists (a blank state, left by a kill while it was
    being made, holds nothing and does not count).
    """
    refuse_claimed(paths, writes_sessions=params.sessions_file)
    if overwrite:
        return
    unfinished = paths.legacy_checkpoint.exists()
    blank = False
    if paths.state.exists():
        try:
            state = ExportState.open(paths.state)  # "another export is writing" if locked
        except BlankStateError:
            blank = True  # killed while being made: nothing was written
        else:
            unfinished = not state.counters.complete
            state.close()
    if unfinished:
        raise ExportStateError(
            f"an earlier export to {paths.output} did not finish; continue it with "
            f"{RESUME_REMEDY}, or discard it with {FORCE_REMEDY}"
        )
    for path in paths.written(sessions_file=params.sessions_file):
        if path.exists() and not (blank and path == paths.state):
            raise ExportStateError(
                f"{path} already exists; use {FORCE_REMEDY} to replace it once the new export "
                "is complete"
            )


def refuse_claimed(paths: ExportPaths, *, writes_sessions: bool) -> None:
    """Refuse, even with ``overwrite``, an export one of whose files is also a file of
    another export that has a state: its output is another's ``.part``, state or
    sessions file, or its sessions file is another's output. Sessions file names never
    collide (:func:`~proxy_async.bulk_export.paths.sessions_name`), so these are the only
    ways two exports can share a file.
    """
    ours = set(paths.written(sessions_file=writes_sessions))
    others = set().union(*(outputs_naming(path) for path in ours))
    for other in sorted(others - {paths.output}):
        if not state_of(other).exists():
            continue
        try:
            shared = ours & ExportPaths.for_output(other).claimable()
        except ProxyError:
            continue  # not a file an export could write to
        if shared:
            raise ExportStateError(
                f"{min(shared)} is also a file of the export to {other} (its state is "
                f"{state_of(other)}); export to another name, or finish or delete that "
                "export first"
            )
