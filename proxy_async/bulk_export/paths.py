"""The names of an export's files, and the checks on the output's name.

An export to ``OUT`` (see :class:`ExportPaths`) writes:

* ``OUT.part``: the records, renamed to ``OUT`` once every session is done or missing;
* ``OUT.state.db``: the export's state (:mod:`proxy_async.bulk_export.state`), kept after
  completion as the record of what was exported;
* ``OUT``'s *sessions file* (``interactions.ndjson`` -> ``interactions.sessions.ndjson``,
  ``dump.csv`` -> ``dump.csv-sessions.ndjson``; see :func:`sessions_name`), written as
  ``.part`` too: the Session records the listing returned, when the export listed the
  Service itself.

How the data files are written is :mod:`proxy_async.bulk_export.files`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

import attrs

from ..errors import ExportStateError
from ..validation import check_file_path

Compression = Literal["gzip"]
"""Compression of the output, chosen by its name: ``.gz`` is gzip."""

STDOUT = "-"
"""The ``out`` that writes records to standard output (no state file, no resume)."""


PART_SUFFIX = ".part"
"""What a data file is named while it is written: ``OUT.part``."""

STATE_SUFFIX = ".state.db"
"""What an export's state is named: ``OUT.state.db``."""

STATE_SIDE_SUFFIXES = tuple(STATE_SUFFIX + side for side in ("-wal", "-shm", "-journal"))
"""The files SQLite keeps beside the state while it is open (or after a kill)."""

_LEGACY_FORMAT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")

_NDJSON = ".ndjson"
_SESSIONS = "sessions.ndjson"


def compression_of(name: str) -> Compression | None:
    """The compression a file name asks for: ``'gzip'`` for ``.gz``, else None."""
    return "gzip" if name.lower().endswith(".gz") else None


def sessions_name(name: str) -> str:
    """The name of the sessions file of an export to the file named ``name``.

    ``X.ndjson`` -> ``X.sessions.ndjson`` and ``X.ndjson.gz`` -> ``X.sessions.ndjson.gz``
    (``.ndjson`` exactly as written, ``X`` not empty); any other name ``N`` ->
    ``N-sessions.ndjson``, or ``M-sessions.ndjson.gz`` for ``N`` = ``M.gz`` (the ``.gz``
    kept as written): ``dump`` -> ``dump-sessions.ndjson``, ``dump.csv.gz`` ->
    ``dump.csv-sessions.ndjson.gz``.

    The map is injective, so two outputs never share a sessions file: each rule appends
    or swaps a fixed suffix, and the rules' results differ in the character before
    ``sessions.ndjson`` (``.`` or ``-``) and in whether they end in a ``.gz``. Appending
    ``.sessions.ndjson`` to the whole name instead would not do: ``dump.csv`` and
    ``dump.csv.ndjson`` would share ``dump.csv.sessions.ndjson``.
    """
    gz = name[-3:] if compression_of(name) else ""
    stem = name[: len(name) - len(gz)]
    if stem.endswith(_NDJSON) and len(stem) > len(_NDJSON):
        return stem[: -len(_NDJSON)] + "." + _SESSIONS + gz
    return stem + "-" + _SESSIONS + gz


def legacy_sessions_name(name: str) -> str:
    """The sessions file name proxy-async gave before :func:`sessions_name`: ``name``
    without ``.gz`` and one format suffix (any case), plus ``.sessions.ndjson`` and
    ``.gz`` if compressed. Not injective (``dump``, ``dump.ndjson`` and ``dump.csv`` all
    gave ``dump.sessions.ndjson``); kept to resume an export started under it."""
    compression = compression_of(name)
    stem = name[: -len(".gz")] if compression else name
    for suffix in _LEGACY_FORMAT_SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem + "." + _SESSIONS + (".gz" if compression else "")


def is_sessions_name(name: str) -> bool:
    """Whether ``name`` may be some export's sessions file, under either naming (every
    such name ends in ``sessions.ndjson``, or that and ``.gz``)."""
    stem = name[:-3] if compression_of(name) else name
    return stem.endswith(_SESSIONS)


@attrs.frozen
class ExportPaths:
    """Every file of an export to ``output``.

    ``partial`` is ``OUT.part``, ``state`` is ``OUT.state.db``; ``sessions`` is the
    sessions file (:func:`sessions_name`, same compression as ``OUT``),
    ``sessions_partial`` its ``.part``; ``legacy_checkpoint`` is where proxy-async 0.x
    kept its JSON checkpoint. ``legacy_sessions`` is the sessions file as named before
    :func:`sessions_name` (see :meth:`resuming`).
    """

    output: Path
    partial: Path
    state: Path
    sessions: Path
    sessions_partial: Path
    legacy_checkpoint: Path
    compression: Compression | None
    legacy_sessions: Path

    @classmethod
    def for_output(cls, output: str | os.PathLike[str]) -> ExportPaths:
        """The files of an export to ``output``.

        Raises :class:`~proxy_async.errors.ExportStateError` when ``output`` names a
        directory (an existing one, or a path ending in a separator): an export
        writes one file; :class:`~proxy_async.errors.InvalidParameterError` when it is
        no usable path (a NUL byte, text the file system cannot encode, another type).
        """
        text = os.fspath(check_file_path(output, "out"))
        path = Path(text)
        _check_plain_file(path, text)
        if path.is_dir():
            raise ExportStateError(
                f"the output {text} is a directory; name a file in it, e.g. "
                f"{path / 'interactions.ndjson'}"
            )
        if text.endswith(("/", os.sep)):
            raise ExportStateError(
                f"the output {text} names a directory (it ends in {text[-1]!r}); name a "
                f"file, e.g. {path / 'interactions.ndjson'}"
            )
        sessions = path.with_name(sessions_name(path.name))
        return cls(
            output=path,
            partial=_part(path),
            state=state_of(path),
            sessions=sessions,
            sessions_partial=_part(sessions),
            legacy_checkpoint=path.with_name(path.name + ".checkpoint.json"),
            compression=compression_of(path.name),
            legacy_sessions=path.with_name(legacy_sessions_name(path.name)),
        )

    def resuming(self, sessions_bytes: int) -> ExportPaths:
        """These paths, for an export whose state exists and says it writes a sessions
        file with ``sessions_bytes`` committed to it.

        An export started before :func:`sessions_name` wrote its sessions file under
        ``legacy_sessions``; the state does not record the name, so it is told by the
        files: if neither the sessions file nor its ``.part`` exists under the current
        name, bytes were committed, and the legacy ``.part`` or file exists, the export
        keeps the legacy name to the end. An export started under the current name has
        one of its two files as soon as a byte is committed, so it never switches.
        """
        legacy = self.legacy_sessions
        if (
            legacy == self.sessions
            or sessions_bytes == 0
            or self.sessions_partial.exists()
            or self.sessions.exists()
            or not (_part(legacy).exists() or legacy.exists())
        ):
            return self
        return attrs.evolve(self, sessions=legacy, sessions_partial=_part(legacy))

    def written(self, *, sessions_file: bool) -> tuple[Path, ...]:
        """Every file a fresh export to ``output`` creates or replaces (the sessions
        file and its ``.part`` only when it writes one)."""
        files = (self.output, self.partial, self.state)
        return files + ((self.sessions, self.sessions_partial) if sessions_file else ())

    def claimable(self) -> set[Path]:
        """The files an existing export to ``output`` may write: :meth:`written` with a
        sessions file, named as :meth:`resuming` would name it once bytes are in it, and
        the files SQLite keeps beside its state."""
        sides = {self.output.with_name(self.output.name + side) for side in STATE_SIDE_SUFFIXES}
        return set(self.resuming(sessions_bytes=1).written(sessions_file=True)) | sides


def _part(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


def state_of(output: Path) -> Path:
    """The state file of an export to ``output``: ``OUT.state.db``."""
    return output.with_name(output.name + STATE_SUFFIX)


def outputs_naming(path: Path) -> set[Path]:
    """The outputs whose exports may write a file named ``path``, by name alone: ``path``
    itself, ``X`` for ``X.part``, ``X.state.db`` and SQLite's files beside it
    (``X.state.db-wal``, ``-shm``, ``-journal``); and, when ``path`` (without
    ``.part``) looks like a sessions file, every output in its directory that has a
    state (the legacy naming is not invertible, so they are listed and checked).
    """
    name = path.name
    found = {path}
    for suffix in (PART_SUFFIX, STATE_SUFFIX, *STATE_SIDE_SUFFIXES):
        if name.endswith(suffix) and len(name) > len(suffix):
            found.add(path.with_name(name[: -len(suffix)]))
    if is_sessions_name(name.removesuffix(PART_SUFFIX)):
        with os.scandir(path.parent) as entries:
            found.update(
                path.with_name(entry.name[: -len(STATE_SUFFIX)])
                for entry in entries
                if entry.name.endswith(STATE_SUFFIX) and len(entry.name) > len(STATE_SUFFIX)
            )
    return found


def _check_plain_file(path: Path, text: str) -> None:
    """Refuse an output that exists as something else than a regular file (a device, a
    FIFO, a symbolic link): the final rename would replace it with a plain file."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as error:  # a name too long, a component that is not a directory
        raise ExportStateError(f"the output {text} cannot be used: {error.strerror}") from None
    if stat.S_ISLNK(mode):
        raise ExportStateError(
            f"the output {text} is a symbolic link; name the file it points to (it would "
            "be replaced by a plain file)"
        )
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise ExportStateError(
            f"the output {text} is not a regular file (a device, a FIFO or a socket); "
            "export to a file, or to '-' (stdout) and redirect that"
        )
