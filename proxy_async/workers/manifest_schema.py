"""The manifest's SQLite layer: its schema, identity, parameters row and refusals.

See :mod:`proxy_async.workers.manifest` for what the tables hold and how they are
written; this module lays the database out and reads it back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs

from ..bulk_export.paths import Compression
from ..bulk_export.sqlite_db import error_name, execute_statements
from ..errors import ExportStateError

MANIFEST_VERSION = 1
"""``PRAGMA user_version`` of the manifest database."""

MANIFEST_APPLICATION_ID = 0x50584D46
"""``PRAGMA application_id`` marking a proxy-async manifest: ASCII ``PXMF``."""

_SCHEMA = """
CREATE TABLE manifest (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    service_sid TEXT NOT NULL,
    base_url TEXT NOT NULL,
    format TEXT NOT NULL,
    compression TEXT,
    page_size INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    listing_url TEXT,
    listing_done INTEGER NOT NULL DEFAULT 0,
    sessions INTEGER NOT NULL DEFAULT 0,
    batches INTEGER NOT NULL DEFAULT 0,
    sessions_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    sid TEXT NOT NULL,
    batch INTEGER NOT NULL
);
CREATE INDEX sessions_by_batch ON sessions (batch, id);
CREATE TABLE batches (
    batch INTEGER PRIMARY KEY,
    sessions INTEGER NOT NULL,
    job_id TEXT,
    queued INTEGER NOT NULL DEFAULT 0
);
"""


@attrs.frozen
class ManifestParams:
    """What makes two enqueues the same export: a rerun must ask for exactly these.

    ``page_size`` is the Interactions page size of every batch's export;
    ``batch_size`` the number of sessions per batch (the last one may hold fewer).
    """

    service_sid: str
    base_url: str
    format: str
    compression: Compression | None
    page_size: int
    batch_size: int

    def differences(self, other: ManifestParams) -> list[str]:
        """How ``self`` (saved) differs from ``other`` (asked), one phrase each."""
        names = ("service_sid", "base_url", "format", "compression", "page_size", "batch_size")
        return [
            f"{name.replace('_', ' ')} {getattr(self, name)}, not {getattr(other, name)}"
            for name in names
            if getattr(self, name) != getattr(other, name)
        ]


@attrs.frozen
class Batch:
    """A closed batch: its number (from 1), how many sessions, its arq job."""

    batch: int
    sessions: int
    job_id: str | None
    queued: bool


def initialise(db: sqlite3.Connection, params: ManifestParams) -> None:
    """Lay out a new manifest in the empty ``db`` (in the open transaction) for ``params``."""
    execute_statements(db, _SCHEMA)
    db.execute(
        "INSERT INTO manifest (id, service_sid, base_url, format, compression, page_size, "
        "batch_size) VALUES (1, ?, ?, ?, ?, ?, ?)",
        (
            params.service_sid,
            params.base_url,
            params.format,
            params.compression,
            params.page_size,
            params.batch_size,
        ),
    )
    db.execute(f"PRAGMA user_version = {MANIFEST_VERSION}")
    db.execute(f"PRAGMA application_id = {MANIFEST_APPLICATION_ID}")


def check_identity(db: sqlite3.Connection, path: Path) -> None:
    """Raise :class:`~proxy_async.errors.ExportStateError` unless ``db`` (opened from
    ``path``) is a proxy-async manifest of :data:`MANIFEST_VERSION`."""
    application = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if application != MANIFEST_APPLICATION_ID:
        raise ExportStateError(f"{path} is not a proxy-async manifest")
    if version != MANIFEST_VERSION:
        raise ExportStateError(
            f"{path} is a manifest of version {version}; this proxy-async reads version "
            f"{MANIFEST_VERSION}: finish that export with the proxy-async that started it"
        )


def read_params(db: sqlite3.Connection) -> ManifestParams:
    """The parameters the manifest row records; raises
    :class:`~proxy_async.errors.ExportStateError` if there is none or it is malformed."""
    row = db.execute(
        "SELECT service_sid, base_url, format, compression, page_size, batch_size "
        "FROM manifest WHERE id = 1"
    ).fetchone()
    if row is None:
        raise ExportStateError("the manifest holds no export")
    service, base_url, fmt, compression, page_size, batch_size = row
    if compression not in (None, "gzip"):
        raise ExportStateError(f"the manifest names an unknown compression {compression!r}")
    return ManifestParams(service, base_url, fmt, compression, page_size, batch_size)


def refusal(path: Path, error: sqlite3.Error) -> ExportStateError:
    """The one-line error for an SQLite ``error`` on the manifest at ``path``: locked (an
    enqueue runs), or unusable."""
    if error_name(error) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return ExportStateError(
            f"{path} is locked: an enqueue into {path.parent} is running right now; wait "
            "for it to finish, or stop it first"
        )
    return ExportStateError(f"the manifest {path} is unusable ({error})")
