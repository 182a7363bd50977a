"""The layout of an export's state database, and reading and writing its one ``export`` row.

What the tables mean, and how the export uses them, is
:mod:`proxy_async.bulk_export.state`; this module knows the SQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

import attrs

from ..errors import FORCE_REMEDY, BlankStateError, ExportStateError, ExportWriteError
from .paths import Compression
from .sqlite_db import error_name, execute_statements

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the state database (version 1 was the JSON checkpoint)."""

APPLICATION_ID = 0x50584153
"""``PRAGMA application_id`` marking a proxy-async state database: ASCII ``PXAS``."""

Status = Literal["pending", "running", "done", "failed", "missing"]
"""Where a session stands; see :mod:`proxy_async.bulk_export.state`."""

UNFINISHED: tuple[Status, ...] = ("pending", "running")
"""The statuses of a session the export still walks."""

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


def connect(path: Path | None, *, read_only: bool = False) -> sqlite3.Connection:
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


def initialise(db: sqlite3.Connection, params: ExportParams) -> ExportParams:
    """Empty ``db`` and lay out a new export in it (committed), then begin a transaction."""
    for table in ("export", "sessions"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    execute_statements(db, _SCHEMA)
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


def read_params(db: sqlite3.Connection, path: Path) -> ExportParams:
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


def read_counters(db: sqlite3.Connection) -> Counters:
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


def refusal(path: Path | None, error: sqlite3.Error) -> ExportStateError | ExportWriteError:
    name = error_name(error)
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


def write_counters(db: sqlite3.Connection, c: Counters) -> None:
    """Store the counters and the listing cursor ``c`` in the open transaction."""
    db.execute(
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
