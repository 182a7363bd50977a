"""The data files of an export, each made durable chunk by chunk.

Both data files (the records, and the sessions file; named in
:mod:`proxy_async.bulk_export.paths`) are :class:`ChunkedFile`: bytes are appended in
memory and written by :meth:`ChunkedFile.commit`, which returns the new durable length
only once the bytes are fsynced. The state store records that length after, never
before, so a length in the state always covers whole chunks that are on disk. With a
``.gz`` name each chunk is one independent gzip member: truncating the file at a
recorded length leaves a valid gzip stream, which ``gzip -dc`` reads whole (RFC 1952,
section 2.2: a gzip file is a series of members).
"""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import FORCE_REMEDY, ExportStateError
from .paths import STDOUT

# Imported "as" itself: workers/manifest.py imports it from here (it moved to paths.py).
from .paths import Compression as Compression

GZIP_LEVEL = 6
"""gzip's own default level: about 8x smaller NDJSON for about 20 MB/s per core."""


class ChunkedFile:
    """A file appended to in chunks, each made durable by :meth:`commit`.

    ``size`` is the durable length: what every committed chunk adds up to. Appended
    bytes wait in memory (``pending_bytes``) until the next commit, which writes them
    (as one gzip member with ``compression='gzip'``) with ``os.write`` until every byte
    is taken, then fsyncs. A write the system takes only in part (a pipe whose reader
    left, a full disk) raises OSError: a chunk is never silently cut short.
    """

    def __init__(
        self,
        fd: int,
        name: str,
        *,
        size: int,
        compression: Compression | None,
        durable: bool,
    ) -> None:
        self._fd = fd
        self.name = name
        self.size = size
        self._encode: Callable[[bytes], bytes] | None = (
            _gzip_member if compression == "gzip" else None
        )
        self._durable = durable
        self._pending: list[bytes] = []
        self.pending_bytes = 0

    @classmethod
    def open(cls, path: Path, *, compression: Compression | None, create: bool) -> ChunkedFile:
        """Open ``path`` for appending (created if ``create``, else it must exist).

        Raises :class:`~proxy_async.errors.ExportStateError` if it must exist and does
        not; OSError as the system raised it otherwise.
        """
        try:
            fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o666)
        except FileNotFoundError:
            if create:
                raise
            raise ExportStateError(
                f"{path} is missing although the export's state says it was written; "
                f"start over with {FORCE_REMEDY}"
            ) from None
        size = os.fstat(fd).st_size
        os.lseek(fd, size, os.SEEK_SET)
        return cls(fd, str(path), size=size, compression=compression, durable=True)

    @classmethod
    def stdout(cls) -> ChunkedFile:
        """Standard output: committed chunks are written whole (a pipe has no fsync)."""
        sys.stdout.flush()
        return cls(sys.stdout.fileno(), STDOUT, size=0, compression=None, durable=False)

    def cut(self, length: int) -> None:
        """Truncate to ``length`` bytes, the durable length the state recorded.

        What follows it was written after the last commit of the state: those pages are
        fetched and written again. A file shorter than ``length`` was changed by
        something else: :class:`~proxy_async.errors.ExportStateError`.
        """
        size = os.fstat(self._fd).st_size
        if size < length:
            raise ExportStateError(
                f"{self.name} holds {size} bytes but the export's state covers {length}: it "
                f"was changed by something else; start over with {FORCE_REMEDY}"
            )
        os.ftruncate(self._fd, length)
        os.lseek(self._fd, length, os.SEEK_SET)
        self.size = length
        self._pending.clear()
        self.pending_bytes = 0

    def append(self, data: bytes) -> None:
        """Add ``data`` to the current chunk (in memory until :meth:`commit`)."""
        if data:
            self._pending.append(data)
            self.pending_bytes += len(data)

    def commit(self) -> int:
        """Write the current chunk and make it durable; return the new durable length."""
        if not self._pending:
            return self.size
        pieces, written = self._pending, self.pending_bytes
        self._pending = []
        self.pending_bytes = 0
        if self._encode is not None:
            chunk = self._encode(b"".join(pieces))
            pieces, written = [chunk], len(chunk)
        # Gathered by the kernel: joining first would copy every byte once more.
        write_all_of(self._fd, pieces)
        if self._durable:
            os.fsync(self._fd)
        self.size += written
        return self.size

    def close(self) -> None:
        """Close the file, dropping uncommitted bytes (stdout is left open)."""
        self._pending.clear()
        self.pending_bytes = 0
        if self._durable and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``; OSError if the system stops taking them."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_MAX_GATHER = 512
"""Buffers per ``writev`` call (POSIX guarantees at least 16 and Linux takes 1,024)."""


def write_all_of(fd: int, pieces: Sequence[bytes]) -> None:
    """Write ``pieces`` to ``fd`` in order, every byte, with as few system calls as the
    kernel allows (``os.writev``; ``os.write`` where it is missing, on Windows)."""
    if not hasattr(os, "writev"):
        for piece in pieces:
            write_all(fd, piece)
        return
    views = [memoryview(piece) for piece in pieces if piece]
    start = 0
    while start < len(views):
        batch = views[start : start + _MAX_GATHER]
        written = os.writev(fd, batch)
        # A short write: skip the buffers written whole, then resume inside the next.
        for view in batch:
            if written < len(view):
                views[start] = view[written:]
                break
            written -= len(view)
            start += 1


def _gzip_member(data: bytes) -> bytes:
    # mtime=0: the same records compress to the same bytes, whenever they are written.
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def sync_directory(directory: Path) -> None:
    """fsync a directory so a rename or unlink in it survives a crash (no-op on Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
