"""Export checkpoints: what an export has durably written, so a killed one can resume.

An export to ``OUT`` writes its records to ``OUT.part`` and, beside it,
``OUT.checkpoint.json``. The checkpoint records the byte length of ``OUT.part``
that is known to be on disk and, per session, the ``next_page_url`` to continue
from and how many records were written. It is replaced atomically (temporary
file, fsync, ``os.replace``, fsync of the directory) and only *after* the records
it covers were flushed and fsynced, so at every instant the checkpoint on disk
describes a prefix of ``OUT.part``. Resuming truncates ``OUT.part`` to that length
(dropping whatever was written after the last checkpoint) and refetches from the
saved page URLs: nothing is lost and nothing is written twice.

The file is plain JSON, one object::

    {"version": 1, "service_sid": "KS…", "base_url": "https://proxy.twilio.com",
     "format": "ndjson", "page_size": 1000, "discovered": true, "data_bytes": 81234,
     "sessions": {"KC…": {"status": "running", "next_page_url": "https://…",
                          "records": 2000, "error": null}, …}}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from .errors import ProxyError
from .validation import check_sid

CHECKPOINT_VERSION = 1
"""Version of the checkpoint layout; a checkpoint of another version is refused."""

Status = Literal["pending", "running", "done", "failed"]
"""Where a session stands: not started, part written, all written, or failed."""

_STATUSES: frozenset[str] = frozenset({"pending", "running", "done", "failed"})


class ExportError(ProxyError):
    """Root of the errors raised by :mod:`proxy_async.export` itself."""


class ExportStateError(ExportError):
    """The export cannot start or resume in the state the files are in.

    For instance a checkpoint exists and ``resume`` was not asked for, the resume
    asks for other parameters than the checkpoint's, the checkpoint is unreadable,
    or another export is writing the same file. Nothing was changed on disk.
    """


@attrs.frozen
class ExportPaths:
    """The files of an export to ``output``: the data being written and its checkpoint."""

    output: Path
    partial: Path
    checkpoint: Path

    @classmethod
    def for_output(cls, output: str | os.PathLike[str]) -> ExportPaths:
        """``OUT``, ``OUT.part`` and ``OUT.checkpoint.json``."""
        path = Path(output)
        return cls(
            path,
            path.with_name(path.name + ".part"),
            path.with_name(path.name + ".checkpoint.json"),
        )


@attrs.define
class SessionState:
    """Progress of one session, as far as records are durably written.

    ``next_page_url`` is where its walk continues (None: from the start while
    pending, nothing left once done); ``error`` says why it failed.
    """

    status: Status = "pending"
    next_page_url: str | None = None
    records: int = 0
    error: str | None = None


@attrs.define
class Checkpoint:
    """The parameters of an export and the durable progress of each of its sessions.

    ``discovered`` tells whether the session list came from listing the Service
    (rather than being given by the caller); ``data_bytes`` is the length of the
    data file the sessions' progress corresponds to.
    """

    service_sid: str
    base_url: str
    format: str
    page_size: int
    discovered: bool
    sessions: dict[str, SessionState]
    data_bytes: int = 0
    version: int = CHECKPOINT_VERSION

    def to_json(self) -> bytes:
        """The checkpoint as JSON bytes."""
        return orjson.dumps(attrs.asdict(self), option=orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        """Parse and check a checkpoint; anything unexpected raises :class:`ExportStateError`."""
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ExportStateError(f"the checkpoint is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise ExportStateError("the checkpoint is not a JSON object")
        version = _field(body, "version", int)
        if version != CHECKPOINT_VERSION:
            raise ExportStateError(
                f"the checkpoint has version {version}; this proxy-async reads version "
                f"{CHECKPOINT_VERSION}"
            )
        raw_sessions = _field(body, "sessions", dict)
        sessions = {
            _checked_sid(sid): _session_state(sid, state) for sid, state in raw_sessions.items()
        }
        data_bytes = _field(body, "data_bytes", int)
        page_size = _field(body, "page_size", int)
        if data_bytes < 0 or page_size < 1:
            raise ExportStateError("the checkpoint holds a negative length or page size")
        return cls(
            service_sid=_checked_service(_field(body, "service_sid", str)),
            base_url=_field(body, "base_url", str),
            format=_field(body, "format", str),
            page_size=page_size,
            discovered=_field(body, "discovered", bool),
            sessions=sessions,
            data_bytes=data_bytes,
        )

    def save(self, path: Path) -> None:
        """Atomically replace ``path`` with this checkpoint, durably."""
        write_atomically(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """Read the checkpoint at ``path`` (:class:`ExportStateError` if unreadable)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ExportStateError(f"cannot read the checkpoint {path}: {exc}") from None
        try:
            return cls.from_json(data)
        except ExportStateError as exc:
            raise ExportStateError(
                f"{path}: {exc}; delete it and {path.name.removesuffix('.checkpoint.json')}"
                ".part to start over"
            ) from None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file.

    Temporary file in the same directory, fsync, ``os.replace``, fsync of the directory.
    """
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """fsync a directory so a rename or unlink in it survives a crash (no-op on Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _field(body: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    value = body.get(name)
    # bool is an int subclass: an int field must not accept true/false.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ExportStateError(f"the checkpoint's {name!r} is missing or not a {kind.__name__}")
    return value


def _checked_sid(sid: str) -> str:
    try:
        return check_sid(sid, "KC", "session_sid")
    except ValueError:
        raise ExportStateError(f"the checkpoint lists an invalid session SID {sid!r}") from None


def _checked_service(sid: str) -> str:
    try:
        return check_sid(sid, "KS", "service_sid")
    except ValueError:
        raise ExportStateError(f"the checkpoint holds an invalid service SID {sid!r}") from None


def _session_state(sid: str, raw: object) -> SessionState:
    if not isinstance(raw, dict):
        raise ExportStateError(f"the checkpoint's state of {sid} is not an object")
    status = raw.get("status")
    next_page_url = raw.get("next_page_url")
    records = raw.get("records")
    error = raw.get("error")
    if (
        status not in _STATUSES
        or not (next_page_url is None or isinstance(next_page_url, str))
        or not isinstance(records, int)
        or isinstance(records, bool)
        or records < 0
        or not (error is None or isinstance(error, str))
    ):
        raise ExportStateError(f"the checkpoint's state of {sid} is malformed")
    return SessionState(status, next_page_url, records, error)
