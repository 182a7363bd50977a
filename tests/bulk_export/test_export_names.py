"""Export file names: two exports never share a file, and never touch each other's.

The sessions file name is injective over output names
(:func:`~proxy_async.bulk_export.paths.sessions_name`); a fresh export refuses any file it
would write that exists (without ``--force``) or that is another export's (even with
it); ``finish`` renames a sessions ``.part`` only when the export writes a sessions
file; an export started under the old, shared name resumes under it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from conftest import set_fake_credentials

from proxy_async import ProxyClient
from proxy_async.bulk_export.paths import ExportPaths, legacy_sessions_name, sessions_name
from proxy_async.bulk_export.run import export
from proxy_async.cli import main
from proxy_async.errors import ExportStateError
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, Fault

TRICKY = [
    "odd",
    "odd.ndjson",
    "odd.NDJSON",
    "odd.csv",
    "odd.json",
    "odd.jsonl",
    "odd.ndjson.gz",
    "odd.ndjson.GZ",
    "odd.csv.gz",
    "odd.gz",
    "odd.sessions.ndjson",
    "odd.sessions.ndjson.gz",
    "odd-sessions.ndjson",
    "odd.csv.ndjson",
    "odd.csv-sessions.ndjson",
    ".ndjson",
    ".ndjson.gz",
    ".gz",
    "odd.ndjson.part",
]
# Every name built from a stem and up to two suffixes, the tricky list included.
_STEMS = ["odd", "a.b", ".ndjson", "x-sessions", "x.sessions"]
_SUFFIXES = [
    ".ndjson",
    ".NDJSON",
    ".csv",
    ".json",
    ".sessions.ndjson",
    "-sessions.ndjson",
    ".gz",
    ".GZ",
    ".part",
]
NAMES = sorted(
    set(TRICKY)
    | {
        stem + "".join(tail)
        for stem in _STEMS
        for count in range(3)
        for tail in itertools.product(_SUFFIXES, repeat=count)
    }
)


def test_the_documented_names_are_kept() -> None:
    assert sessions_name("interactions.ndjson") == "interactions.sessions.ndjson"
    assert sessions_name("archive.ndjson.gz") == "archive.sessions.ndjson.gz"
    assert sessions_name("odd.csv") == "odd.csv-sessions.ndjson"
    assert sessions_name("odd.csv.gz") == "odd.csv-sessions.ndjson.gz"
    assert sessions_name("odd") == "odd-sessions.ndjson"
    assert sessions_name("odd.NDJSON") == "odd.NDJSON-sessions.ndjson"
    # The old scheme, kept only to resume: it gave these four one file.
    assert {legacy_sessions_name(n) for n in ("odd", "odd.ndjson", "odd.csv", "odd.json")} == {
        "odd.sessions.ndjson"
    }


def test_sessions_names_are_injective_and_never_an_own_file() -> None:
    assert len(NAMES) > 400
    seen: dict[str, str] = {}
    for name in NAMES:
        derived = sessions_name(name)
        assert derived not in seen, f"{name} and {seen[derived]} share {derived}"
        seen[derived] = name
        paths = ExportPaths.for_output(name)
        own = {paths.output, paths.partial, paths.state, paths.legacy_checkpoint}
        assert paths.sessions not in own
        assert paths.sessions_partial not in own
        # gzip outputs get a gzip sessions file, and only they.
        assert derived.lower().endswith(".gz") == (paths.compression == "gzip")


def test_two_exports_meet_only_where_an_output_is_named_like_another_exports_file() -> None:
    """Files of two exports meet only where one's output is the other's ``.part``, state
    or sessions file: the cases the exporter refuses (see the tests below)."""
    exports = [ExportPaths.for_output(name) for name in NAMES]
    files = {a.output: set(a.written(sessions_file=True)) for a in exports}
    derived = {a.output: files[a.output] - {a.output} for a in exports}
    meetings = 0
    for a, b in itertools.combinations(exports, 2):
        if files[a.output] & files[b.output]:
            meetings += 1
            assert a.output in derived[b.output] or b.output in derived[a.output], (a, b)
    assert meetings > 0  # the list holds such names: the refusal is needed


# -- the exporter, through the CLI and the Python API ----------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[FakeProxyServer]:
    async with FakeProxyServer(sessions_per_service=8, interactions_per_session=20) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fake_credentials(monkeypatch)


async def cli(server: FakeProxyServer, out: Path, *extra: str) -> int:
    argv = ["export", "--service", server.service_sids[0], "--out", str(out)]
    argv += ["--base-url", server.url, "--quiet", "--page-size", "10", *extra]
    return await asyncio.to_thread(main, argv)


def break_one_session(server: FakeProxyServer) -> str:
    broken = server.session_sids(server.service_sids[0])[3]
    server.add_fault(Fault.status(400), times=None, path_contains=f"/Sessions/{broken}/")
    return broken


def session_lines(path: Path) -> list[str]:
    return sorted(orjson.loads(line)["sid"] for line in path.read_bytes().splitlines())


async def test_a_named_session_export_leaves_another_exports_sessions_part_alone(
    server: FakeProxyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newcomer's first sequence: odd.ndjson fails, odd.csv with --session runs, and
    odd.ndjson still resumes."""
    broken = break_one_session(server)
    ndjson = ExportPaths.for_output(tmp_path / "odd.ndjson")
    assert await cli(server, ndjson.output) == 1
    left = ndjson.sessions_partial.read_bytes()
    assert left
    assert not ndjson.sessions.exists()

    other = server.session_sids(server.service_sids[0])[0]
    assert broken != other
    assert await cli(server, tmp_path / "odd.csv", "--session", other) == 0
    assert ndjson.sessions_partial.read_bytes() == left  # neither renamed nor cut
    assert not ndjson.sessions.exists()
    assert not (tmp_path / "odd.csv-sessions.ndjson").exists()  # it wrote none

    server.clear_faults()
    capsys.readouterr()
    assert await cli(server, ndjson.output, "--resume") == 0
    assert session_lines(ndjson.sessions) == sorted(server.session_sids(server.service_sids[0]))
    assert not ndjson.sessions_partial.exists()
    assert len(ndjson.output.read_bytes().splitlines()) == 8 * 20


async def test_a_csv_export_beside_a_finished_ndjson_one_has_its_own_sessions_file(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    """The newcomer's second sequence: a.csv no longer overwrites a.sessions.ndjson."""
    ndjson = ExportPaths.for_output(tmp_path / "a.ndjson")
    assert await cli(server, ndjson.output) == 0
    before = ndjson.sessions.read_bytes()
    ndjson.sessions.write_bytes(before + b"\n")  # a byte the CSV export must not lose

    csv = ExportPaths.for_output(tmp_path / "a.csv")
    assert csv.sessions == tmp_path / "a.csv-sessions.ndjson"
    assert await cli(server, csv.output) == 0
    assert ndjson.sessions.read_bytes() == before + b"\n"
    assert session_lines(csv.sessions) == sorted(server.session_sids(server.service_sids[0]))
    # odd vs odd.ndjson: plain "a" gets a third file.
    assert await cli(server, tmp_path / "a") == 0
    assert (tmp_path / "a-sessions.ndjson").exists()


async def test_an_output_that_is_another_exports_sessions_file_is_refused(
    server: FakeProxyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    break_one_session(server)
    first = ExportPaths.for_output(tmp_path / "a.ndjson")
    assert await cli(server, first.output) == 1
    left = first.sessions_partial.read_bytes()
    capsys.readouterr()
    requests = len(server.requests)
    for force in ([], ["--force"]):
        assert await cli(server, first.sessions, *force) == 2
        err = capsys.readouterr().err
        assert f"{first.sessions} is also a file of the export to {first.output}" in err
    assert first.sessions_partial.read_bytes() == left
    assert len(server.requests) == requests  # refused before any request

    # The other way round: this export's sessions file is another's output.
    server.clear_faults()
    taken = tmp_path / "b.sessions.ndjson"
    assert await cli(server, taken) == 0
    kept = taken.read_bytes()
    for force in ([], ["--force"]):
        assert await cli(server, tmp_path / "b.ndjson", *force) == 2
        err = capsys.readouterr().err
        assert f"{taken} is also a file of the export to {taken} (its state is" in err
    assert taken.read_bytes() == kept
    # Naming the sessions explicitly writes no sessions file: nothing in the way.
    sid = server.session_sids(server.service_sids[0])[0]
    assert await cli(server, tmp_path / "b.ndjson", "--session", sid) == 0
    assert taken.read_bytes() == kept


async def test_a_fresh_export_refuses_each_file_it_would_write(
    server: FakeProxyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = ExportPaths.for_output(tmp_path / "c.ndjson.gz")
    for path in (paths.output, paths.partial, paths.sessions, paths.sessions_partial):
        path.write_bytes(b"someone's")
        assert await cli(server, paths.output) == 2
        err = capsys.readouterr().err
        assert f"{path} already exists; use --force to replace it" in err
        assert path.read_bytes() == b"someone's"
        path.unlink()
    assert not paths.state.exists()
    paths.sessions.write_bytes(b"old")
    assert await cli(server, paths.output, "--force") == 0
    assert len(session_lines_gz(paths.sessions)) == 8


def session_lines_gz(path: Path) -> list[bytes]:
    import gzip

    return gzip.decompress(path.read_bytes()).splitlines()


async def test_library_messages_name_the_argument_and_the_cli_names_the_option(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    out = tmp_path / "d.ndjson"
    out.write_bytes(b"")
    client = ProxyClient(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, base_url=server.url)
    async with client:
        with pytest.raises(ExportStateError, match=r"use overwrite=True to replace") as caught:
            await export(client, server.service_sids[0], out)
        assert "--force" not in str(caught.value)
        assert "use --force to replace" in caught.value.for_command_line()
        assert "overwrite" not in caught.value.for_command_line()
        out.unlink()
        break_one_session(server)
        summary = await export(client, server.service_sids[0], out, page_size=10)
        assert not summary.complete
        with pytest.raises(
            ExportStateError,
            match=r"continue it with resume=True, or discard it with overwrite=True",
        ):
            await export(client, server.service_sids[0], out)


async def test_an_export_started_under_the_old_sessions_name_resumes_under_it(
    server: FakeProxyServer, tmp_path: Path
) -> None:
    """An unfinished pre-change export of odd.csv wrote odd.sessions.ndjson.part; the
    state does not record the name, so the files tell it, and it is kept to the end."""
    break_one_session(server)
    paths = ExportPaths.for_output(tmp_path / "odd.csv")
    assert await cli(server, paths.output) == 1
    legacy = tmp_path / "odd.sessions.ndjson"
    assert paths.legacy_sessions == legacy
    paths.sessions_partial.rename(legacy.with_name(legacy.name + ".part"))  # as 0.y left it

    server.clear_faults()
    assert await cli(server, paths.output, "--resume") == 0
    assert session_lines(legacy) == sorted(server.session_sids(server.service_sids[0]))
    assert not paths.sessions.exists()
    assert not paths.sessions_partial.exists()
    assert len(paths.output.read_bytes().splitlines()) == 1 + 8 * 20


async def test_an_output_named_like_another_exports_sqlite_side_file_is_refused(
    server: FakeProxyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite keeps ``-wal``/``-shm``/``-journal`` beside the state: they are that export's."""
    break_one_session(server)
    first = ExportPaths.for_output(tmp_path / "x.ndjson")
    assert await cli(server, first.output) == 1
    capsys.readouterr()
    sid = server.session_sids(server.service_sids[0])[0]
    for side in ("-wal", "-shm", "-journal"):
        taken = first.state.with_name(first.state.name + side)
        assert await cli(server, taken, "--force", "--session", sid) == 2
        err = capsys.readouterr().err
        assert f"{taken} is also a file of the export to {first.output}" in err
        assert not taken.exists()
