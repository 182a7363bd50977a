"""The export's state store, data files and paths, without HTTP.

The state must describe a prefix of the data at every commit, cost the same per page
whatever the number of sessions, refuse a second writer, and take over a 0.x JSON
checkpoint.
"""

from __future__ import annotations

import gzip
import os
import re
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy_async.bulk_export.files import ChunkedFile
from proxy_async.bulk_export.legacy import import_legacy_checkpoint
from proxy_async.bulk_export.paths import ExportPaths
from proxy_async.bulk_export.schema import ExportParams, SessionRow
from proxy_async.bulk_export.state import ExportState
from proxy_async.errors import ExportStateError, ExportWriteError

SERVICE = "KS" + "b" * 32
PARAMS = ExportParams(
    service_sid=SERVICE,
    base_url="https://proxy.twilio.com",
    format="ndjson",
    compression=None,
    page_size=1000,
    discovered=True,
    sessions_file=True,
)


def sid(number: int) -> str:
    return f"KC{number:032x}"


# -- paths ----------------------------------------------------------------------------------


def test_paths_of_an_output() -> None:
    paths = ExportPaths.for_output("out/interactions.ndjson")
    assert paths.partial == Path("out/interactions.ndjson.part")
    assert paths.state == Path("out/interactions.ndjson.state.db")
    assert paths.sessions == Path("out/interactions.sessions.ndjson")
    assert paths.sessions_partial == Path("out/interactions.sessions.ndjson.part")
    assert paths.legacy_checkpoint == Path("out/interactions.ndjson.checkpoint.json")
    assert paths.compression is None
    gz = ExportPaths.for_output("all.csv.gz")
    assert gz.compression == "gzip"
    assert gz.sessions == Path("all.csv-sessions.ndjson.gz")
    assert ExportPaths.for_output("all.ndjson.gz").sessions == Path("all.sessions.ndjson.gz")
    assert ExportPaths.for_output("dump").sessions == Path("dump-sessions.ndjson")


@pytest.mark.parametrize("name", ["exports/", "exports" + os.sep, "."])
def test_a_directory_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ExportStateError, match=f"the output {re.escape(name)} (is|names) a directory"
    ):
        ExportPaths.for_output(name)


def test_an_existing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportStateError, match="is a directory; name a file in it"):
        ExportPaths.for_output(tmp_path)


# -- the data file --------------------------------------------------------------------------


def test_chunks_are_written_only_on_commit(tmp_path: Path) -> None:
    path = tmp_path / "data.part"
    data = ChunkedFile.open(path, compression=None, create=True)
    data.append(b"one\n")
    data.append(b"two\n")
    assert data.pending_bytes == 8
    assert path.read_bytes() == b""
    assert data.commit() == 8
    data.append(b"lost\n")
    data.close()
    assert path.read_bytes() == b"one\ntwo\n"


def test_gzip_chunks_truncated_at_any_commit_are_a_whole_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "data.ndjson.gz.part"
    data = ChunkedFile.open(path, compression="gzip", create=True)
    lengths = []
    for number in range(5):
        data.append(b"".join(b'{"n":%d}\n' % (number * 10 + i) for i in range(10)))
        lengths.append(data.commit())
    data.close()
    whole = path.read_bytes()
    for index, length in enumerate(lengths):
        truncated = tmp_path / f"cut{index}.gz"
        truncated.write_bytes(whole[:length])
        text = subprocess.run(  # noqa: S603 - a fixed command on our own file
            ["gzip", "-dc", str(truncated)],  # noqa: S607 - the system's gzip, as users run it
            capture_output=True,
            check=True,
        ).stdout
        assert text.count(b"\n") == 10 * (index + 1)
    assert gzip.decompress(whole).splitlines()[-1] == b'{"n":49}'
    # A cut inside a member is what a resume never leaves: gzip itself rejects it.
    with pytest.raises((EOFError, zlib.error, gzip.BadGzipFile)):
        gzip.decompress(whole[: lengths[2] + 5])


def test_cut_refuses_a_file_shorter_than_the_state_says(tmp_path: Path) -> None:
    path = tmp_path / "data.part"
    path.write_bytes(b"abc")
    data = ChunkedFile.open(path, compression=None, create=False)
    with pytest.raises(ExportStateError, match="changed by something else"):
        data.cut(10)
    data.cut(1)
    data.append(b"Z")
    data.commit()
    data.close()
    assert path.read_bytes() == b"aZ"


# -- the state ------------------------------------------------------------------------------


def test_sessions_are_kept_once_in_listing_order(tmp_path: Path) -> None:
    state = ExportState.create(tmp_path / "s.db", PARAMS)
    assert state.add_sessions([sid(2), sid(1), sid(2)]) == [True, True, False]
    assert state.add_sessions([sid(1), sid(3)]) == [False, True]
    assert state.counters.sessions == 3
    rows = state.unfinished_after(0, 10)
    assert [row.sid for row in rows] == [sid(2), sid(1), sid(3)]
    assert [row.sid for row in state.unfinished_after(rows[0].row, 1)] == [sid(1)]
    state.close()


def test_only_committed_progress_survives(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = ExportState.create(path, PARAMS)
    state.add_sessions([sid(1), sid(2)])
    first, second = state.unfinished_after(0, 10)
    state.page_written(first, 5, "https://proxy.twilio.com/next")
    state.commit(data_bytes=100, sessions_bytes=10)
    state.page_written(first, 5, None)
    state.session_ended(second, "missing", "NotFoundError: gone", 0)
    state.close()  # as a kill would: the open transaction is lost

    state = ExportState.open(path)
    counters = state.counters
    assert (counters.records, counters.done, counters.missing) == (5, 0, 0)
    assert (counters.data_bytes, counters.sessions_bytes) == (100, 10)
    rows = state.unfinished_after(0, 10)
    assert rows[0] == SessionRow(
        rows[0].row, sid(1), "running", "https://proxy.twilio.com/next", 5, 0
    )
    assert rows[1].status == "pending"
    state.close()


def test_counters_follow_every_change(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = ExportState.create(path, PARAMS)
    state.add_sessions([sid(n) for n in range(4)])
    rows = state.unfinished_after(0, 10)
    state.page_written(rows[0], 3, None)
    state.session_ended(rows[1], "failed", "ServerError: 503", 0)
    state.session_ended(rows[2], "missing", "NotFoundError: 404", 0)
    state.listing_moved(None)
    state.commit(data_bytes=1, sessions_bytes=1)
    assert not state.counters.finished
    assert state.retry_failed() == 1
    assert state.counters.failed == 0
    assert [row.sid for row in state.unfinished_after(0, 10)] == [sid(1), sid(3)]
    state.commit(data_bytes=1, sessions_bytes=1)
    state.close()
    state = ExportState.open(path)
    counters = state.counters
    assert (counters.sessions, counters.done, counters.failed, counters.missing) == (4, 1, 0, 1)
    assert counters.listing_done
    assert [row.sid for row in state.sessions_with("missing")] == [sid(2)]
    state.close()


def test_a_second_writer_is_refused_while_the_first_holds_the_state(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = ExportState.create(path, PARAMS)
    state.commit(data_bytes=0, sessions_bytes=0)
    script = (
        "import sys; from pathlib import Path\n"
        "from proxy_async.bulk_export.state import ExportState\n"
        "from proxy_async.errors import ExportStateError\n"
        "try:\n"
        f"    ExportState.open(Path({str(path)!r}))\n"
        "except ExportStateError as error:\n"
        "    print(error)\n"
    )
    other = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "another export is writing this output right now" in other.stdout
    state.close()
    ExportState.open(path).close()  # free again once closed


def test_a_state_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"x" * 4096)
    with pytest.raises(ExportStateError, match="unusable"):
        ExportState.open(path)
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    with pytest.raises(ExportStateError, match="not a proxy-async export state"):
        ExportState.open(other)
    with pytest.raises(ExportStateError, match="no export state"):
        ExportState.open(tmp_path / "absent.db")


def test_state_writes_per_page_do_not_grow_with_the_session_count(tmp_path: Path) -> None:
    """The bytes a page costs the state are the same at 2,000 and at 200,000 sessions."""

    def bytes_per_page(sessions: int) -> float:
        state = ExportState.create(tmp_path / f"s{sessions}.db", PARAMS)
        for start in range(0, sessions, 1000):
            state.add_sessions([sid(n) for n in range(start, min(start + 1000, sessions))])
        state.listing_moved(None)
        state.commit(data_bytes=0, sessions_bytes=0)
        # The last 2,000 sessions, one page each, committed 100 pages at a time.
        rows = state.unfinished_after(sessions - 2000, 2000)
        before = state.bytes_written
        for index, row in enumerate(rows, 1):
            state.page_written(row, 1, None)
            if index % 100 == 0:
                state.commit(data_bytes=index, sessions_bytes=0)
        written = state.bytes_written - before
        state.close()
        return written / len(rows)

    small, large = bytes_per_page(2_000), bytes_per_page(200_000)
    assert small > 0
    assert large <= small * 1.5


# -- the 0.x checkpoint ---------------------------------------------------------------------


def test_a_legacy_checkpoint_is_imported_then_removed(tmp_path: Path) -> None:
    checkpoint = tmp_path / "out.ndjson.checkpoint.json"
    checkpoint.write_bytes(
        orjson.dumps(
            {
                "version": 1,
                "service_sid": SERVICE,
                "base_url": "http://127.0.0.1:8080",
                "format": "ndjson",
                "page_size": 50,
                "discovered": True,
                "data_bytes": 1234,
                "sessions": {
                    sid(1): {"status": "done", "next_page_url": None, "records": 7, "error": None},
                    sid(2): {
                        "status": "failed",
                        "next_page_url": "http://127.0.0.1:8080/v1/x?Page=1",
                        "records": 3,
                        "error": "ServerError: 503",
                    },
                    sid(3): {
                        "status": "pending",
                        "next_page_url": None,
                        "records": 0,
                        "error": None,
                    },
                },
            }
        )
    )
    path = tmp_path / "out.ndjson.state.db"
    import_legacy_checkpoint(checkpoint, path)
    assert not checkpoint.exists()
    state = ExportState.open(path)
    assert state.params.page_size == 50
    assert not state.params.sessions_file
    counters = state.counters
    assert (counters.sessions, counters.done, counters.failed, counters.records) == (3, 1, 1, 10)
    assert counters.data_bytes == 1234
    assert counters.listing_done
    assert [row.sid for row in state.sessions_with("failed")] == [sid(2)]
    state.close()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"version": 2}',
        b'{"version": 1, "service_sid": "KSbad"}',
    ],
)
def test_a_damaged_legacy_checkpoint_is_refused(tmp_path: Path, body: bytes) -> None:
    checkpoint = tmp_path / "out.checkpoint.json"
    checkpoint.write_bytes(body)
    with pytest.raises(ExportStateError):
        import_legacy_checkpoint(checkpoint, tmp_path / "out.state.db")
    assert checkpoint.exists()


def test_known_sids_are_exact_despite_fingerprint_collisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = ExportState.create(tmp_path / "s.db", PARAMS)
    # Every SID gets the same fingerprint: the database must still tell them apart.
    monkeypatch.setattr("proxy_async.bulk_export.known_sids._fingerprint", lambda sid: 7)
    twin_a, twin_b = "KC" + "1" * 16 + "a" * 16, "KC" + "1" * 16 + "b" * 16
    many = [sid(n) for n in range(300)]
    assert state.add_sessions([twin_a, *many[:150]]) == [True] * 151
    assert state.add_sessions([*many[140:], twin_b, twin_a]) == (
        [False] * 10 + [True] * 150 + [True, False]
    )
    assert state.counters.sessions == 302
    state.listing_moved("https://proxy.twilio.com/next")
    state.commit(data_bytes=0, sessions_bytes=0)
    state.close()
    # A resumed listing knows every SID again, from the database.
    state = ExportState.open(tmp_path / "s.db")
    assert state.add_sessions([many[0], twin_b, many[-1], sid(300)]) == [
        False,
        False,
        False,
        True,
    ]
    assert sorted(state.all_sids()) == sorted([twin_a, twin_b, *many, sid(300)])
    state.close()


def test_listing_writes_per_page_do_not_grow_with_the_session_count(tmp_path: Path) -> None:
    """No index on the SIDs: adding a Sessions page costs the same at any size."""

    def bytes_per_listing_page(sessions: int) -> float:
        state = ExportState.create(tmp_path / f"l{sessions}.db", PARAMS)
        before = 0
        for start in range(0, sessions, 1000):
            if start == sessions - 10_000:
                before = state.bytes_written
            state.add_sessions([sid(n) for n in range(start, start + 1000)])
            state.commit(data_bytes=0, sessions_bytes=0)
        written = state.bytes_written - before
        state.close()
        return written / 10

    small, large = bytes_per_listing_page(20_000), bytes_per_listing_page(200_000)
    assert small > 0
    assert large <= small * 1.5


def test_a_read_only_open_changes_nothing_and_still_respects_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = ExportState.create(path, PARAMS)
    state.add_sessions([sid(1)])
    state.listing_moved(None)
    state.commit(data_bytes=5, sessions_bytes=0)
    with pytest.raises(ExportStateError, match="another export is writing"):
        ExportState.open(path, read_only=True)
    state.mark_complete()
    state.close()
    before = path.read_bytes()
    reader = ExportState.open(path, read_only=True)
    assert reader.counters.complete
    assert reader.counters.sessions == 1
    reader.close()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["s.db"]


def test_outputs_that_are_not_regular_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.ndjson"
    os.mkfifo(fifo)
    with pytest.raises(ExportStateError, match="is not a regular file"):
        ExportPaths.for_output(fifo)
    target = tmp_path / "real.ndjson"
    target.write_bytes(b"")
    link = tmp_path / "link.ndjson"
    link.symlink_to(target)
    with pytest.raises(ExportStateError, match="is a symbolic link"):
        ExportPaths.for_output(link)
    with pytest.raises(ExportStateError, match="is not a regular file"):
        ExportPaths.for_output("/dev/null")
    with pytest.raises(ExportStateError, match="cannot be used: File name too long"):
        ExportPaths.for_output(tmp_path / ("c" * 300))
    assert ExportPaths.for_output(target).output == target  # a plain file is fine


def test_a_state_that_cannot_be_written_raises_a_typed_error(tmp_path: Path) -> None:
    class FullDisk:
        """A connection whose commits fail as on a full disk."""

        def __init__(self, real: sqlite3.Connection) -> None:
            self.real = real

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            return self.real.execute(sql, *args)

    state = ExportState.create(tmp_path / "s.db", PARAMS)
    real = state._db
    state._db = FullDisk(real)  # type: ignore[assignment]
    with pytest.raises(ExportWriteError, match=r"cannot write the export state .*disk is full"):
        state.commit(data_bytes=0, sessions_bytes=0)
    state._db = real
    state.close()
    directory = tmp_path / "adir.db"
    directory.mkdir()
    with pytest.raises(ExportStateError, match="is not a file"):
        ExportState.open(directory)
