"""The state of an export, in SQLite: what is durably written, so a killed export resumes.

One database file beside the output (``OUT.state.db``, see
:class:`~proxy_async.bulk_export.files.ExportPaths`), through the standard library's
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

import bisect
import contextlib
import functools
import heapq
import os
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeAlias, TypeVar

import attrs
import orjson

from ..errors import FORCE_REMEDY, BlankStateError, ExportStateError, ExportWriteError
from ..validation import check_sid
from .files import Compression

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the state database (version 1 was the JSON checkpoint)."""

APPLICATION_ID = 0x50584153
"""``PRAGMA application_id`` marking a proxy-async state database: ASCII ``PXAS``."""

WAL_CHECKPOINT_BYTES = 8 << 20
"""WAL size after which it is copied into the database and truncated."""

Status = Literal["pending", "running", "done", "failed", "missing"]
"""Where a session stands; see the module docstring."""

_UNFINISHED = ("pending", "running")

_SCHEMA = """
CREATE TABLE export (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    service_sid TEXT NOT NULL,
    base_url TEXT NOT NULL,
    format TEXT NOT NULL,
    compression TEXT,
    page_size INTEGER NOT NULL,
    discovered INTEGER NOT NULL,
    sessions_file INTEGER NOT NULL,
    listing_url TEXT,
    listing_done INTEGER NOT NULL,
    data_bytes INTEGER NOT NULL DEFAULT 0,
    sessions_bytes INTEGER NOT NULL DEFAULT 0,
    sessions INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    missing INTEGER NOT NULL DEFAULT 0,
    records INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    sid TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    next_page_url TEXT,
    records INTEGER NOT NULL DEFAULT 0,
    not_found INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
"""


@attrs.frozen
class ExportParams:
    """What makes two runs the same export: a resume must ask for exactly these.

    ``discovered``: the sessions come from listing the Service (not from the caller);
    ``sessions_file``: the listed Session records are written beside the output.
    """

    service_sid: str
    base_url: str
    format: str
    compression: Compression | None
    page_size: int
    discovered: bool
    sessions_file: bool


@attrs.define
class Counters:
    """The running totals of an export, and the listing cursor, as last applied."""

    sessions: int = 0
    done: int = 0
    failed: int = 0
    missing: int = 0
    records: int = 0
    data_bytes: int = 0
    sessions_bytes: int = 0
    listing_url: str | None = None
    listing_done: bool = False
    complete: bool = False

    @property
    def finished(self) -> bool:
        """Every session known is done or missing, and the listing is over."""
        return self.listing_done and self.done + self.missing == self.sessions


@attrs.frozen
class SessionRow:
    """One session as the state holds it (``row`` is its id, in listing order)."""

    row: int
    sid: str
    status: Status
    next_page_url: str | None
    records: int
    not_found: int
    error: str | None = None


class KnownSids:
    """A set of SIDs in 8 bytes each: 64-bit fingerprints, in a few sorted runs.

    :meth:`has` may answer True for a SID never added (when two SIDs share a 64-bit
    hash: at a million sessions, a chance of about 3 in 10^8 that any pair does), never
    False for one that was; the caller confirms a True against the database. New
    fingerprints collect in
    a small set and are sorted into a run of their own; runs of similar size are merged
    (as an LSM tree does), so there are O(log n) runs and each lookup is a bisection per run.
    """

    _PENDING = 4096
    _LOAD_CHUNK = 1 << 16

    def __init__(self) -> None:
        self._runs: list[array[int]] = []
        self._pending: set[int] = set()

    def has(self, sid: str) -> bool:
        """Whether ``sid`` may have been added (see the class docstring)."""
        key = _fingerprint(sid)
        return key in self._pending or any(_contains(run, key) for run in self._runs)

    def admit(self, sid: str, stored: Callable[[str], bool]) -> bool:
        """Remember ``sid`` and say True if it is new; a possible repeat is confirmed
        with ``stored(sid)``, the exact (and slow) check."""
        if self.has(sid) and stored(sid):
            return False
        self.add(sid)
        return True

    def add(self, sid: str) -> None:
        """Remember ``sid``."""
        self._pending.add(_fingerprint(sid))
        if len(self._pending) >= self._PENDING:
            self._flush()

    def load(self, sids: Iterable[str]) -> None:
        """Remember every SID of ``sids`` (a resumed listing's), sorted in chunks of
        :data:`_LOAD_CHUNK` so that memory stays bounded."""
        chunk: list[int] = []
        for sid in sids:
            chunk.append(_fingerprint(sid))
            if len(chunk) >= self._LOAD_CHUNK:
                self._add_run(array("Q", sorted(chunk)))
                chunk.clear()
        self._add_run(array("Q", sorted(chunk)))

    def _flush(self) -> None:
        self._add_run(array("Q", sorted(self._pending)))
        self._pending.clear()

    def _add_run(self, run: array[int]) -> None:
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = _merged(self._runs.pop(), run)
        self._runs.append(run)


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
    fingerprint collision; see :class:`KnownSids`)."""
    return db.execute("SELECT 1 FROM sessions WHERE sid = ?", (sid,)).fetchone() is not None


def _fingerprint(sid: str) -> int:
    # Python's string hash (SipHash, 64 bits) spreads any SIDs evenly, random or not; it
    # changes between processes, which is fine for a set each process rebuilds.
    return hash(sid) & _UINT64


_UINT64 = (1 << 64) - 1


def _contains(run: array[int], key: int) -> bool:
    index = bisect.bisect_left(run, key)
    return index < len(run) and run[index] == key


def _merged(first: array[int], second: array[int]) -> array[int]:
    merged = array("Q")
    merged.extend(heapq.merge(first, second))  # streamed: no list of a million ints
    return merged


P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
_StateMethod: TypeAlias = Callable[Concatenate["ExportState", P], R]


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
        self.counters = _read_counters(connection)
        self.bytes_written = 0
        self._wal_size = _size(self._wal_path())
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
            db = _connect(path)
        except sqlite3.DatabaseError as error:
            if path is None or _error_name(error) not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise _refusal(path, error) from None
            _unlink_database(path)  # not a database at all: --force replaces it
            db = _connect(path)
        return cls._locked(db, path, lambda: _initialise(db, params))

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
            db = _connect(path, read_only=read_only)
        except sqlite3.DatabaseError as error:
            raise _refusal(path, error) from None
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        return cls._locked(db, path, lambda: _read_params(db, path), begin)

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

        return built_or_closed(db, build, lambda error: _refusal(path, error))

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
            (row, *_UNFINISHED, limit),
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
        self._write_counters()
        self._db.execute("COMMIT")
        self._count_wal()
        self._db.execute("BEGIN IMMEDIATE")

    @_writes
    def mark_complete(self) -> None:
        """Record that the files were renamed into place, and leave one plain database file."""
        self.counters.complete = True
        self._write_counters()
        self._db.execute("COMMIT")
        self._count_wal()
        if self.path is not None:
            self._db.execute("PRAGMA journal_mode = DELETE")  # checkpoints and removes the WAL

    def _write_counters(self) -> None:
        c = self.counters
        self._db.execute(
            "UPDATE export SET listing_url = ?, listing_done = ?, data_bytes = ?, "
            "sessions_bytes = ?, sessions = ?, done = ?, failed = ?, missing = ?, records = ?, "
            "complete = ? WHERE id = 1",
            (
                c.listing_url,
                c.listing_done,
                c.data_bytes,
                c.sessions_bytes,
                c.sessions,
                c.done,
                c.failed,
                c.missing,
                c.records,
                c.complete,
            ),
        )

    def _wal_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + "-wal")

    def _count_wal(self) -> None:
        wal = self._wal_path()
        if wal is None:
            return
        size = _size(wal)
        self.bytes_written += max(0, size - self._wal_size)
        self._wal_size = size
        if size >= WAL_CHECKPOINT_BYTES:
            _, _, copied = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self.bytes_written += max(0, copied) * self._page_size()
            self._wal_size = _size(wal)

    def _page_size(self) -> int:
        return int(self._db.execute("PRAGMA page_size").fetchone()[0])


# -- the version 1 JSON checkpoint --------------------------------------------------------


def import_legacy_checkpoint(checkpoint: Path, path: Path) -> None:
    """Turn a proxy-async 0.x JSON checkpoint into a state database at ``path``.

    The JSON file (``OUT.checkpoint.json``) is checked as strictly as its own reader
    did, loaded into a new state in one transaction, and deleted once that is
    committed, so a kill at any point leaves one of the two. It had no sessions file,
    so the migrated export writes none. Raises
    :class:`~proxy_async.errors.ExportStateError` if it is unreadable.
    """
    try:
        body = orjson.loads(checkpoint.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise ExportStateError(f"cannot read the checkpoint {checkpoint}: {error}") from None
    if not isinstance(body, dict) or body.get("version") != 1:
        raise ExportStateError(f"{checkpoint} is not a version 1 proxy-async checkpoint")
    params = ExportParams(
        service_sid=_legacy_sid(_legacy(body, "service_sid", str), "KS"),
        base_url=_legacy(body, "base_url", str),
        format=_legacy(body, "format", str),
        compression=None,  # 0.x wrote every name uncompressed
        page_size=_legacy(body, "page_size", int),
        discovered=_legacy(body, "discovered", bool),
        sessions_file=False,
    )
    sessions = _legacy(body, "sessions", dict)
    rows = [_legacy_session(sid, state) for sid, state in sessions.items()]
    state = ExportState.create(path, params)
    try:
        c = state.counters
        state._db.executemany(
            "INSERT INTO sessions (sid, status, next_page_url, records, error) VALUES (?,?,?,?,?)",
            rows,
        )
        c.sessions = len(rows)
        c.done = sum(row[1] == "done" for row in rows)
        c.failed = sum(row[1] == "failed" for row in rows)
        c.records = sum(row[3] for row in rows)
        c.listing_done = True
        state.commit(data_bytes=_legacy(body, "data_bytes", int), sessions_bytes=0)
    finally:
        state.close()
    checkpoint.unlink()


def _legacy(body: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 0)):
        raise ExportStateError(f"the checkpoint's {name!r} is missing or not a {kind.__name__}")
    return value


def _legacy_sid(sid: str, prefix: str) -> str:
    try:
        return check_sid(sid, prefix, "sid")
    except ValueError:
        raise ExportStateError(f"the checkpoint holds an invalid SID {sid!r}") from None


def _legacy_session(sid: str, raw: object) -> tuple[str, str, str | None, int, str | None]:
    if not isinstance(raw, dict):
        raise ExportStateError(f"the checkpoint's state of {sid} is not an object")
    status, url, records, error = (
        raw.get(k) for k in ("status", "next_page_url", "records", "error")
    )
    if (
        status not in ("pending", "running", "done", "failed")
        or not (url is None or isinstance(url, str))
        or not isinstance(records, int)
        or isinstance(records, bool)
        or records < 0
        or not (error is None or isinstance(error, str))
    ):
        raise ExportStateError(f"the checkpoint's state of {sid} is malformed")
    return _legacy_sid(sid, "KC"), status, url, records, error


# -- helpers --------------------------------------------------------------------------------


def _connect(path: Path | None, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only and path is not None:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
    db = sqlite3.connect(":memory:" if path is None else path, timeout=0, isolation_level=None)
    try:
        # EXCLUSIVE before the first WAL access: no -shm file, and the lock is held.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        if path is not None:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        db.close()
        raise
    return db


def _initialise(db: sqlite3.Connection, params: ExportParams) -> ExportParams:
    """Empty ``db`` and lay out a new export in it (committed), then begin a transaction."""
    for table in ("export", "sessions"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        "INSERT INTO export (id, service_sid, base_url, format, compression, page_size,"
        " discovered, sessions_file, listing_done) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            params.service_sid,
            params.base_url,
            params.format,
            params.compression,
            params.page_size,
            params.discovered,
            params.sessions_file,
            not params.discovered,
        ),
    )
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("COMMIT")
    db.execute("BEGIN IMMEDIATE")
    return params


def _check_identity(db: sqlite3.Connection, path: Path) -> None:
    application = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application == 0 and version == 0 and tables == 0:
        raise BlankStateError(f"{path} holds no export yet")
    if application != APPLICATION_ID:
        raise ExportStateError(f"{path} is not a proxy-async export state")
    if version != SCHEMA_VERSION:
        raise ExportStateError(
            f"{path} has state version {version}; this proxy-async reads version "
            f"{SCHEMA_VERSION}. Finish it with the proxy-async that started it, or start "
            f"over with {FORCE_REMEDY}"
        )


def _read_params(db: sqlite3.Connection, path: Path) -> ExportParams:
    _check_identity(db, path)
    row = db.execute(
        "SELECT service_sid, base_url, format, compression, page_size, discovered, "
        "sessions_file FROM export WHERE id = 1"
    ).fetchone()
    if row is None:
        raise ExportStateError(f"{path} holds no export")
    service, base_url, fmt, compression, page_size, discovered, sessions_file = row
    return ExportParams(
        service, base_url, fmt, compression, page_size, bool(discovered), bool(sessions_file)
    )


def _read_counters(db: sqlite3.Connection) -> Counters:
    row = db.execute(
        "SELECT sessions, done, failed, missing, records, data_bytes, sessions_bytes, "
        "listing_url, listing_done, complete FROM export WHERE id = 1"
    ).fetchone()
    sessions, done, failed, missing, records, data_bytes, sessions_bytes = row[:7]
    return Counters(
        sessions=sessions,
        done=done,
        failed=failed,
        missing=missing,
        records=records,
        data_bytes=data_bytes,
        sessions_bytes=sessions_bytes,
        listing_url=row[7],
        listing_done=bool(row[8]),
        complete=bool(row[9]),
    )


def _error_name(error: sqlite3.Error) -> str:
    return str(getattr(error, "sqlite_errorname", ""))


def _refusal(path: Path | None, error: sqlite3.Error) -> ExportStateError | ExportWriteError:
    name = _error_name(error)
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return ExportStateError(
            f"another export is writing this output right now (its state {path} is "
            "locked); wait for it to finish, or stop it first"
        )
    if name.startswith(("SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR")):
        return ExportWriteError(f"cannot write the export state {path}: {error}")
    return ExportStateError(
        f"the export state {path} is unusable ({error}); start over with {FORCE_REMEDY}"
    )


def _unlink_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.with_name(path.name + suffix))


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
