"""Small SQLite helpers shared by the export state and the workers' manifest.

Both are one locked database file opened with the standard library's :mod:`sqlite3`
(:mod:`proxy_async.bulk_export.state`, :mod:`proxy_async.workers.manifest`); these are
the steps they take alike: open-or-close, roll back and close, look a SID up, name an
SQLite error.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def built_or_closed(
    db: sqlite3.Connection,
    build: Callable[[], T],
    refusal: Callable[[sqlite3.Error], Exception],
) -> T:
    """``build()`` on a database just opened; if it fails, ``db`` is closed first and an
    SQLite error becomes ``refusal(error)`` (the caller's typed, one-line error)."""
    try:
        return build()
    except sqlite3.Error as error:
        db.close()
        raise refusal(error) from None
    except BaseException:
        db.close()
        raise


def close_database(db: sqlite3.Connection) -> None:
    """Roll back what is not committed (as a kill would) and close ``db``."""
    with contextlib.suppress(sqlite3.Error):
        db.rollback()
    db.close()


def stored_sid(db: sqlite3.Connection, sid: str) -> bool:
    """Whether table ``sessions`` of ``db`` holds ``sid``: a full scan, made only for a SID
    whose fingerprint is known (a repeat, which a listing should never send, or a
    fingerprint collision; see :class:`~proxy_async.bulk_export.known_sids.KnownSids`)."""
    return db.execute("SELECT 1 FROM sessions WHERE sid = ?", (sid,)).fetchone() is not None


def execute_statements(db: sqlite3.Connection, script: str) -> None:
    """Execute each ``;``-separated statement of ``script`` (a schema) in the open
    transaction (``executescript`` would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def error_name(error: sqlite3.Error) -> str:
    """SQLite's name of the error (``SQLITE_BUSY``...), or ``""`` where Python gives none."""
    return str(getattr(error, "sqlite_errorname", ""))


def unlink_database(path: Path) -> None:
    """Delete the database at ``path`` and the files SQLite keeps beside it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.with_name(path.name + suffix))


def file_size(path: Path | None) -> int:
    """The size of ``path`` in bytes; 0 if it is None or does not exist."""
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
