"""The state of an export, in SQLite: what is durably written, so a killed export resumes.

One database file beside the output (``OUT.state.db``, see
:class:`~proxy_async.bulk_export.paths.ExportPaths`), through the standard library's
:mod:`sqlite3`, in WAL mode. It holds:

* ``export``, one row: the parameters (Service, base URL, format, compression, page
  size, whether the Service was listed), the listing's cursor (the next Sessions page
  URL, and whether the listing is done), the durable lengths of the data file and of the
  sessions file, and running counters (sessions known, done, failed, missing; records);
* ``sessions``, one row per session, in listing order: status, the ``next_page_url``
  its walk continues from, its record count, its last error.

**Transactions.** One transaction is open at all times and collects the changes of the
pages applied since the last commit (one small ``UPDATE`` by row id per page, a batch of
``INSERT`` per Sessions page). :meth:`ExportState.commit` is called by the export only
after the data those changes describe is fsynced, and stores the new file lengths with
them; so at every instant the committed state describes a prefix of each data file. A
kill loses the open transaction, and the resume truncates the files to the committed
lengths. Nothing here costs O(sessions) per page or per commit: counters are kept
incrementally, sessions are read in batches by row id.

**Durability.** ``synchronous=NORMAL``: a commit is not fsynced itself, but WAL keeps the
database consistent, and a commit lost to a power cut only makes the resume redo more.
``locking_mode=EXCLUSIVE`` holds the database locked from the first transaction to
:meth:`ExportState.close`, which is how a second export to the same file is refused (on
every platform). WAL is checkpointed by hand when it passes :data:`WAL_CHECKPOINT_BYTES`,
and every byte written to the WAL and to the database is counted in
:attr:`ExportState.bytes_written`.

Statuses: ``pending`` (nothing written), ``running`` (some pages written, continues from
``next_page_url``), ``done``, ``failed`` (retried by the next resume), ``missing`` (the
session answered 404: deleted or expired; never retried).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeAlias, TypeVar

from ..errors import ExportStateError, ExportWriteError

# Imported "as" themselves: workers/manifest.py imports them from here (they moved to
# known_sids.py and sqlite_db.py, which the manifest could import directly).
from .known_sids import KnownSids as KnownSids
from .schema import (
    UNFINISHED,
    ExportParams,
    SessionRow,
    Status,
    connect,
    initialise,
    read_counters,
    read_params,
    refusal,
    write_counters,
)
from .sqlite_db import built_or_closed as built_or_closed
from .sqlite_db import close_database as close_database
from .sqlite_db import error_name, file_size, unlink_database
from .sqlite_db import stored_sid as stored_sid

WAL_CHECKPOINT_BYTES = 8 << 20
"""WAL size after which it is copied into the database and truncated."""


P = ParamSpec("P")
R = TypeVar("R")
_StateMethod: TypeAlias = Callable[Concatenate["ExportState", P], R]

ImportedSession: TypeAlias = tuple[str, str, str | None, int, str | None]
"""A session as :meth:`ExportState.import_sessions` takes it: ``(sid, status,
next_page_url, records, error)``."""


def _writes(method: Callable[Concatenate[ExportState, P], R]) -> _StateMethod[P, R]:
    """A state method whose SQLite errors (disk full...) become :class:`ExportWriteError`."""

    def wrapper(self: ExportState, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            raise ExportWriteError(f"cannot write the export state {self.path}: {error}") from None

    functools.update_wrapper(wrapper, method)
    return wrapper


class ExportState:
    """An open, locked state database. Build with :meth:`create` or :meth:`open`."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path | None, params: ExportParams
    ) -> None:
        self._db = connection
        self.path = path
        self.params = params
        self.counters = read_counters(connection)
        self.bytes_written = 0
        self._wal_size = file_size(self._wal_path())
        self._known = KnownSids()
        if not self.counters.listing_done:
            # Only the listing adds sessions, and only it needs to know every SID.
            self._known.load(sid for (sid,) in connection.execute("SELECT sid FROM sessions"))

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path | None, params: ExportParams) -> ExportState:
        """A new, empty state at ``path`` (None: in memory, for an export to stdout).

        An existing database there is emptied in the same transaction that locks it;
        an existing file that is not a database is replaced. Raises
        :class:`~proxy_async.errors.ExportStateError` if another export holds it.
        """
        try:
            db = connect(path)
        except sqlite3.DatabaseError as error:
            if path is None or error_name(error) not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise refusal(path, error) from None
            unlink_database(path)  # not a database at all: --force replaces it
            db = connect(path)
        return cls._locked(db, path, lambda: initialise(db, params))

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> ExportState:
        """The existing state at ``path``, locked for this process.

        ``read_only`` opens it to read without changing a byte of it (what ``merge``
        does to a batch's state); an export writing it right now still refuses.

        Raises :class:`~proxy_async.errors.ExportStateError` if it is missing, is not a
        proxy-async state of this version, is damaged, or another export holds it;
        :class:`BlankStateError` if it was never initialised.
        """
        if not path.exists():
            raise ExportStateError(f"no export state at {path}")
        if not path.is_file():
            raise ExportStateError(f"{path}, where the export's state belongs, is not a file")
        try:
            db = connect(path, read_only=read_only)
        except sqlite3.DatabaseError as error:
            raise refusal(path, error) from None
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        return cls._locked(db, path, lambda: read_params(db, path), begin)

    @classmethod
    def _locked(
        cls,
        db: sqlite3.Connection,
        path: Path | None,
        prepare: Callable[[], ExportParams],
        begin: str = "BEGIN IMMEDIATE",
    ) -> ExportState:
        """Lock ``db`` (``begin``), let ``prepare`` read or write its parameters, and wrap
        it; on any error close it, a database error becoming :class:`ExportStateError`."""

        def build() -> ExportState:
            db.execute(begin)
            return cls(db, path, prepare())

        return built_or_closed(db, build, lambda error: refusal(path, error))

    def close(self) -> None:
        """Release the lock. Changes not committed are dropped, as a kill would drop them."""
        close_database(self._db)

    # -- sessions -----------------------------------------------------------------------

    @_writes
    def add_sessions(self, sids: Sequence[str]) -> list[bool]:
        """Add sessions in order; a SID already known is not added again.

        Returns, for each SID, whether it was new. The check costs no index: a
        random-key index would make every Sessions page rewrite about a thousand of its
        pages, more as it grows (5 MB of WAL a page at 1,000,000 sessions, measured).
        """
        added = []
        for sid in sids:
            new = self._known.admit(sid, lambda sid: stored_sid(self._db, sid))
            if new:
                self._db.execute("INSERT INTO sessions (sid) VALUES (?)", (sid,))
            added.append(new)
        self.counters.sessions += sum(added)
        return added

    def unfinished_after(self, row: int, limit: int) -> list[SessionRow]:
        """Up to ``limit`` pending or running sessions with a row id above ``row``, in order."""
        cursor = self._db.execute(
            "SELECT id, sid, status, next_page_url, records, not_found FROM sessions "
            "WHERE id > ? AND status IN (?, ?) ORDER BY id LIMIT ?",
            (row, *UNFINISHED, limit),
        )
        return [SessionRow(*values) for values in cursor.fetchall()]

    @_writes
    def page_written(self, session: SessionRow, records: int, next_page_url: str | None) -> None:
        """A page of ``session`` was appended: count it and move its cursor on."""
        status: Status = "running" if next_page_url is not None else "done"
        self._db.execute(
            "UPDATE sessions SET status = ?, next_page_url = ?, records = records + ?, "
            "not_found = 0, error = NULL WHERE id = ?",
            (status, next_page_url, records, session.row),
        )
        self.counters.records += records
        if status == "done":
            self.counters.done += 1

    @_writes
    def session_ended(
        self, session: SessionRow, status: Status, error: str, not_found: int
    ) -> None:
        """``session`` failed (``failed``) or is gone (``missing``)."""
        self._db.execute(
            "UPDATE sessions SET status = ?, error = ?, not_found = ? WHERE id = ?",
            (status, error, not_found, session.row),
        )
        if status == "failed":
            self.counters.failed += 1
        elif status == "missing":
            self.counters.missing += 1

    @_writes
    def retry_failed(self) -> int:
        """Make every failed session pending (or running, where it has pages) again."""
        count = self._db.execute(
            "UPDATE sessions SET status = CASE WHEN next_page_url IS NULL THEN 'pending' "
            "ELSE 'running' END WHERE status = 'failed'"
        ).rowcount
        self.counters.failed -= count
        return count

    def sessions_with(self, status: Status) -> list[SessionRow]:
        """Every session with ``status``, in listing order (one scan: for summaries)."""
        cursor = self._db.execute(
            "SELECT id, sid, status, next_page_url, records, not_found, error FROM sessions "
            "WHERE status = ? ORDER BY id",
            (status,),
        )
        return [SessionRow(*values) for values in cursor.fetchall()]

    def all_sids(self) -> Iterator[str]:
        """Every session SID, in listing order."""
        for (sid,) in self._db.execute("SELECT sid FROM sessions ORDER BY id"):
            yield sid

    def import_sessions(self, rows: Sequence[ImportedSession]) -> None:
        """Add whole sessions, as an import of a 0.x checkpoint does, and count them; the
        listing is over. Only on a new state, in its open transaction."""
        self._db.executemany(
            "INSERT INTO sessions (sid, status, next_page_url, records, error) VALUES (?,?,?,?,?)",
            rows,
        )
        c = self.counters
        c.sessions = len(rows)
        c.done = sum(row[1] == "done" for row in rows)
        c.failed = sum(row[1] == "failed" for row in rows)
        c.records = sum(row[3] for row in rows)
        c.listing_done = True

    # -- the listing ----------------------------------------------------------------------

    def listing_moved(self, next_page_url: str | None) -> None:
        """A Sessions page was applied; the listing continues at ``next_page_url`` (None: done)."""
        self.counters.listing_url = next_page_url
        self.counters.listing_done = next_page_url is None

    # -- commits --------------------------------------------------------------------------

    @_writes
    def commit(self, *, data_bytes: int, sessions_bytes: int) -> None:
        """Commit everything applied so far with the files' new durable lengths.

        Call only once the files are durable up to those lengths.
        """
        self.counters.data_bytes = data_bytes
        self.counters.sessions_bytes = sessions_bytes
        write_counters(self._db, self.counters)
        self._db.execute("COMMIT")
        self._count_wal()
        self._db.execute("BEGIN IMMEDIATE")

    @_writes
    def mark_complete(self) -> None:
        """Record that the files were renamed into place, and leave one plain database file."""
        self.counters.complete = True
        write_counters(self._db, self.counters)
        self._db.execute("COMMIT")
        self._count_wal()
        if self.path is not None:
            self._db.execute("PRAGMA journal_mode = DELETE")  # checkpoints and removes the WAL

    def _wal_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + "-wal")

    def _count_wal(self) -> None:
        wal = self._wal_path()
        if wal is None:
            return
        size = file_size(wal)
        self.bytes_written += max(0, size - self._wal_size)
        self._wal_size = size
        if size >= WAL_CHECKPOINT_BYTES:
            _, _, copied = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self.bytes_written += max(0, copied) * self._page_size()
            self._wal_size = file_size(wal)

    def _page_size(self) -> int:
        return int(self._db.execute("PRAGMA page_size").fetchone()[0])
