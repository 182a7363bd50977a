"""Merge: join the finished batch files of a batched export into one file, atomically.

:func:`merge_exports` refuses unless the listing is done and every batch's state says
complete, then joins the batch files in order into one file (a temporary file beside it,
fsynced and renamed over it).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

from ..bulk_export.files import GZIP_LEVEL, sync_directory
from ..bulk_export.formats import FORMATS, Format, check_format
from ..bulk_export.paths import Compression, ExportPaths, compression_of
from ..bulk_export.state import ExportState
from ..errors import BlankStateError, ExportStateError
from ..validation import check_file_path
from .layout import batch_output, is_export_file, legacy_manifest_path, manifest_path
from .manifest import Manifest
from .manifest_schema import Batch, ManifestParams

MISSING_SHOWN = 5
"""Missing session SIDs a merge summary names (it counts them all)."""

UNFINISHED_SHOWN = 3
"""Unfinished batches a refused merge names (it counts them all)."""

_COPY_CHUNK = 1 << 20


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


@attrs.define
class _Checked:
    """What the batches' states say: totals of the finished ones, the first unfinished."""

    sources: list[Path] = attrs.Factory(list)
    sessions: int = 0
    records: int = 0
    missing: int = 0
    missing_sids: list[str] = attrs.Factory(list)
    unfinished: int = 0
    shown: list[str] = attrs.Factory(list)

    def finished(self, output: Path, state: ExportState) -> None:
        """Count the finished batch written to ``output``, as its ``state`` says."""
        counters = state.counters
        self.sources.append(output)
        self.sessions += counters.sessions
        self.records += counters.records
        self.missing += counters.missing
        if counters.missing and len(self.missing_sids) < MISSING_SHOWN:
            rows = state.sessions_with("missing")[: MISSING_SHOWN - len(self.missing_sids)]
            self.missing_sids.extend(session.sid for session in rows)

    def not_finished(self, output: Path, reason: str) -> None:
        """Count a batch that is not finished, naming the first few."""
        self.unfinished += 1
        if len(self.shown) < UNFINISHED_SHOWN:
            self.shown.append(f"{output.name} ({reason})")


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
        _check_listing(directory, manifest)
        checked = _check_batches(directory, manifest)
        params, batches = manifest.params, manifest.batches
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
        params.service_sid,
        batches,
        checked.sessions,
        checked.records,
        checked.missing,
        tuple(checked.missing_sids),
    )


def _merge_target(directory: Path, dest: str | os.PathLike[str]) -> Path:
    """``dest`` as a file to write: refused before anything is read if it names a
    directory, or one of the export's own files (a batch, its state, the sessions file,
    the manifest), which the merge would overwrite while reading it."""
    target = ExportPaths.for_output(dest).output  # refuses a directory
    if not target.parent.is_dir():
        raise ExportStateError(f"the directory of {target} does not exist")
    inside = directory.is_dir() and target.parent.resolve() == directory.resolve()
    if inside and is_export_file(target.name):
        raise ExportStateError(
            f"--to {target} is one of the files of the export in {directory}; write the "
            "merged file under another name"
        )
    return target


def _open_manifest(directory: Path, fmt: Format) -> Manifest:
    """The manifest of the ``fmt`` export in ``directory``, to read; refused (saying what
    the directory holds instead) if there is none."""
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


def _check_listing(directory: Path, manifest: Manifest) -> None:
    """Refuse a listing that is not finished, found no session, or is not all batched."""
    service = manifest.params.service_sid
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


def _check_batches(directory: Path, manifest: Manifest) -> _Checked:
    """Open every batch's state (one at a time) and total what the finished ones hold."""
    params = manifest.params
    fmt = check_format(params.format)
    checked = _Checked()
    for row in manifest.all_batches():
        paths = ExportPaths.for_output(batch_output(directory, row.batch, fmt, params.compression))
        try:
            state = ExportState.open(paths.state, read_only=True)
        except BlankStateError:
            checked.not_finished(paths.output, "not started")
            continue
        except ExportStateError:
            unread = "not started" if not paths.state.exists() else "running, or unreadable"
            checked.not_finished(paths.output, unread)
            continue
        try:
            reason = _unfinished(state, row, params, paths.output)
            if reason is None:
                checked.finished(paths.output, state)
            else:
                checked.not_finished(paths.output, reason)
        finally:
            state.close()
    return checked


def _unfinished(state: ExportState, row: Batch, params: ManifestParams, output: Path) -> str | None:
    """Why the batch ``row`` (written to ``output``, its ``state`` open) is not finished, or
    None when it is complete and its file is as its state wrote it."""
    counters, saved = state.counters, state.params
    asked = (params.service_sid, params.format, params.compression)
    if (saved.service_sid, saved.format, saved.compression) != asked or (
        counters.sessions != row.sessions
    ):
        return "made by another export"
    if not counters.complete:
        left = counters.sessions - counters.done - counters.missing
        failed = f", {counters.failed} failed" if counters.failed else ""
        return f"{left} of {counters.sessions} sessions left{failed}"
    if not output.is_file():
        return f"{output.name} is gone"
    if (size := output.stat().st_size) != counters.data_bytes:
        return (
            f"{output.name} holds {size} bytes, its state says "
            f"{counters.data_bytes}: changed since it was written"
        )
    return None


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
    """Append one batch file to ``sink``: as it is when the compression matches and no
    header is skipped, else decoded and re-encoded."""
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
