"""Committed export chunks reach the file whole, in order, however the kernel takes them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy_async.bulk_export import files as export_files
from proxy_async.bulk_export.files import ChunkedFile, write_all_of

PIECES = [b"abc", b"", b"defghij", b"k" * 20, b"\n"] * 700  # more than one writev batch
# 3,000 pieces of 0 to 6 bytes: many empty, more than 1,024 (Linux's IOV_MAX).
SMALL_PIECES = [bytes([i % 251]) * (i % 7) for i in range(3000)]


@pytest.mark.parametrize(
    ("pieces", "taken"),
    [
        (PIECES, lambda size: 7),  # at most 7 bytes a call, as a kernel may when interrupted
        (SMALL_PIECES, lambda size: max(1, size // 3)),  # a third of what is offered
    ],
    ids=["7-bytes", "a-third"],
)
def test_short_writes_are_resumed_inside_a_piece(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pieces: list[bytes],
    taken: Callable[[int], int],
) -> None:
    real_write = os.write
    calls: list[int] = []

    def short_writev(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        data = b"".join(bytes(buffer) for buffer in buffers)
        return real_write(fd, data[: taken(len(data))])

    monkeypatch.setattr(os, "writev", short_writev)
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        write_all_of(fd, pieces)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(pieces)
    assert max(calls) <= export_files._MAX_GATHER <= 1024


def test_a_committed_chunk_is_every_piece_appended(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    chunked = ChunkedFile.open(path, compression=None, create=True)
    try:
        for piece in PIECES:
            chunked.append(piece)
        size = chunked.commit()
    finally:
        chunked.close()
    assert path.read_bytes() == b"".join(PIECES)
    assert size == len(b"".join(PIECES))
