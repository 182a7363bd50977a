"""The manifest of a batched export: one SQLite database shared by enqueue and merge.

``DIR/manifest.<format>.db`` (stdlib :mod:`sqlite3`) is written by ``enqueue`` (see
:mod:`proxy_async.workers.enqueue`) and read by ``merge`` (:mod:`proxy_async.workers.merge`).
Its schema, identity and parameters row are :mod:`proxy_async.workers.manifest_schema`'s.
It holds:

* ``manifest``, one row: the parameters (Service, base URL, format, compression, page
  size, batch size), the Sessions listing's cursor (the next page URL, and whether the
  listing is done), the number of sessions listed, and the durable length of
  ``DIR/sessions.ndjson`` (the Session records of the listing);
* ``sessions``, one row per session, in listing order, each with its batch number
  (the n-th session listed, counting from 0, is in batch ``n // batch_size + 1``);
* ``batches``, one row per batch once it is *closed*: full, or the last partial one
  when the listing is done. A closed batch never changes; ``job_id`` and ``queued``
  say whether it was handed to arq.

**Transactions.** :meth:`Manifest.add_listing_page` applies one Sessions page (its new
sessions, the batches they close, the listing's cursor) in the open transaction;
:meth:`Manifest.commit` commits it with the sessions file's new durable length, called
only after that file was fsynced. So the committed manifest describes a prefix of the
sessions file, and a rerun after a kill cuts the file back to the recorded length and
continues the listing from the saved cursor: no Session record is written twice.

**Locking and journal.** SQLite's default rollback journal (not WAL: the directory may
be on a shared file system, where WAL's shared memory does not work), default
``synchronous=FULL``. ``enqueue`` opens it with ``locking_mode=EXCLUSIVE`` and keeps it
locked until :meth:`Manifest.close`, so a second ``enqueue`` or a ``merge`` on the same
directory is refused while it runs. ``merge`` only reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..bulk_export.known_sids import KnownSids
from ..bulk_export.sqlite_db import built_or_closed, close_database, stored_sid
from ..errors import ExportStateError
from .manifest_schema import (
    Batch,
    ManifestParams,
    check_identity,
    initialise,
    read_params,
    refusal,
)

LOCK_TIMEOUT = 2.0
"""Seconds a reader waits for a writer's transaction before it is refused."""


class Manifest:
    """An open manifest database. Build with :meth:`open_for_enqueue` or :meth:`open_for_merge`.

    Attributes mirror the ``manifest`` row: ``params``, ``listing_url``,
    ``listing_done``, ``sessions`` (count), ``batches`` (closed batches, count) and
    ``sessions_bytes`` (the sessions file's committed length), as last applied.
    """

    def __init__(self, db: sqlite3.Connection, path: Path, params: ManifestParams) -> None:
        self._db = db
        self.path = path
        self.params = params
        row = db.execute(
            "SELECT listing_url, listing_done, sessions, batches, sessions_bytes "
            "FROM manifest WHERE id = 1"
        ).fetchone()
        self.listing_url: str | None = row[0]
        self.listing_done = bool(row[1])
        self.sessions: int = row[2]
        self.batches: int = row[3]
        self.sessions_bytes: int = row[4]
        # No index on the SIDs (see ExportState.add_sessions): a fingerprint set instead.
        self._known = KnownSids()
        if not self.listing_done:
            self._known.load(sid for (sid,) in db.execute("SELECT sid FROM sessions"))

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open_for_enqueue(cls, path: Path, params: ManifestParams) -> Manifest:
        """The manifest at ``path``, created if missing, locked until :meth:`close`.

        Raises :class:`~proxy_async.errors.ExportStateError` if another enqueue or a
        merge holds it, if it is not a manifest of this version, or if it was made
        with other parameters than ``params``.
        """
        try:
            db = sqlite3.connect(path, timeout=0, isolation_level=None)
        except sqlite3.Error as error:
            raise refusal(path, error) from None

        def build() -> Manifest:
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
            db.execute("PRAGMA journal_mode = DELETE")
            db.execute("BEGIN EXCLUSIVE")
            if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                initialise(db, params)
            check_identity(db, path)
            saved = read_params(db)
            differences = saved.differences(params)
            if differences:
                raise ExportStateError(
                    f"{path.parent} holds an export made with "
                    + "; ".join(differences)
                    + ": enqueue it with the same options, or use another directory"
                )
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            return cls(db, path, saved)

        return built_or_closed(db, build, lambda error: refusal(path, error))

    @classmethod
    def open_for_merge(cls, path: Path) -> Manifest:
        """The existing manifest at ``path``, to read; :meth:`close` it.

        Raises :class:`~proxy_async.errors.ExportStateError` if it is missing, is not
        a manifest of this version, or an enqueue is writing it right now.
        """
        if not path.is_file():
            raise ExportStateError(f"no manifest at {path}")
        try:
            db = sqlite3.connect(path, timeout=LOCK_TIMEOUT, isolation_level=None)
        except sqlite3.Error as error:
            raise refusal(path, error) from None

        def build() -> Manifest:
            db.execute("BEGIN")  # one consistent snapshot (a shared lock) until close
            check_identity(db, path)
            return cls(db, path, read_params(db))

        return built_or_closed(db, build, lambda error: refusal(path, error))

    def close(self) -> None:
        """Release the lock; changes not committed are dropped, as a kill would drop them."""
        close_database(self._db)

    # -- the listing --------------------------------------------------------------------

    def add_listing_page(self, sids: Sequence[str], next_page_url: str | None) -> list[bool]:
        """Apply one Sessions page (in the open transaction): add its sessions to their
        batches, close the batches that are full (and the last one if the listing is
        done, ``next_page_url`` None), move the cursor.

        Returns, for each SID, whether it was new (a SID already listed is skipped).
        """
        added = []
        size = self.params.batch_size
        for sid in sids:
            new = self._known.admit(sid, lambda sid: stored_sid(self._db, sid))
            if new:
                self._db.execute(
                    "INSERT INTO sessions (sid, batch) VALUES (?, ?)",
                    (sid, self.sessions // size + 1),
                )
                self.sessions += 1
            added.append(new)
        self.listing_url = next_page_url
        self.listing_done = next_page_url is None
        closed = self.sessions // size
        if self.listing_done and self.sessions % size:
            closed += 1
        for batch in range(self.batches + 1, closed + 1):
            count = min(size, self.sessions - (batch - 1) * size)
            self._db.execute("INSERT INTO batches (batch, sessions) VALUES (?, ?)", (batch, count))
        self.batches = max(self.batches, closed)
        return added

    def commit(self, *, sessions_bytes: int) -> None:
        """Commit what was applied, with the sessions file's new durable length.

        Call only once the sessions file is durable up to ``sessions_bytes``.
        """
        self.sessions_bytes = sessions_bytes
        self._db.execute(
            "UPDATE manifest SET listing_url = ?, listing_done = ?, sessions = ?, batches = ?, "
            "sessions_bytes = ? WHERE id = 1",
            (self.listing_url, self.listing_done, self.sessions, self.batches, sessions_bytes),
        )
        self._db.execute("COMMIT")
        self._db.execute("BEGIN IMMEDIATE")

    # -- batches --------------------------------------------------------------------------

    def batch_rows(self, *, after: int = 0, limit: int = 1000) -> list[Batch]:
        """Up to ``limit`` closed batches numbered above ``after``, in order."""
        cursor = self._db.execute(
            "SELECT batch, sessions, job_id, queued FROM batches WHERE batch > ? "
            "ORDER BY batch LIMIT ?",
            (after, limit),
        )
        return [Batch(batch, count, job, bool(queued)) for batch, count, job, queued in cursor]

    def all_batches(self) -> Iterator[Batch]:
        """Every closed batch, in order (read a thousand at a time)."""
        after = 0
        while rows := self.batch_rows(after=after):
            yield from rows
            after = rows[-1].batch

    def batch_sessions(self, batch: int) -> list[str]:
        """The session SIDs of batch number ``batch``, in listing order."""
        cursor = self._db.execute("SELECT sid FROM sessions WHERE batch = ? ORDER BY id", (batch,))
        return [sid for (sid,) in cursor]

    def batch_queued(self, batch: int, job_id: str) -> None:
        """Record (in the open transaction, committed with the next :meth:`commit`) that
        ``batch`` was handed to arq as ``job_id``. Lost to a kill, it costs nothing: the
        next enqueue hands arq every batch again, and arq ignores the jobs it knows."""
        self._db.execute(
            "UPDATE batches SET job_id = ?, queued = 1 WHERE batch = ?", (job_id, batch)
        )

    def batched_sessions(self) -> int:
        """Sessions in closed batches (all of them once the listing is done)."""
        row = self._db.execute("SELECT coalesce(sum(sessions), 0) FROM batches").fetchone()
        return int(row[0])
