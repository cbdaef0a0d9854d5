"""What only the SQLite store promises: reopening, sharing its file, schema, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from jupyter_collab.documents.fileids import SQLiteFileIds
from jupyter_collab.persistence import SchemaTooNew, SQLiteStore, StoreClosed, schema
from jupyter_collab.persistence.history import compress
from jupyter_collab.persistence.schema import SCHEMA_VERSION

from .conftest import run
from .edits import Editor, text_of


def test_history_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "collab.db"

    async def scenario() -> None:
        editor = Editor()
        async with SQLiteStore(db, retention=0) as store:
            for i in range(20):
                await store.append("a", editor.insert(i, "x"), origin="client", user="u", time=i)
            version = await store.add_version("a", 10, kind="save", time=1.0)
            await store.compact("a", now=100.0)
            await store.append("a", editor.insert(0, "y"), origin="disk", user=None, time=30.0)
        async with await SQLiteStore.open(db, retention=0) as store:
            assert await store.last_seq("a") == 21
            assert text_of(await store.load("a")) == str(editor.text)
            assert text_of((await store.get_version("a", version)).state) == "x" * 10
            await store.mark_deleted("a", 1.0)
            await store.purge_deleted(2.0)
            await store.append("b", b"\x00\x00", origin="client", user=None, time=1.0)
            # Version ids are never reused, so an old id cannot name another document's version.
            assert await store.add_version("b", 1, time=1.0) > version

    run(scenario())


def test_shares_the_database_with_file_ids(tmp_path: Path) -> None:
    """Every component of a process goes through one database object per file: one writing
    connection, so they never wait on each other's locks."""
    db = tmp_path / "collab.db"

    async def scenario() -> None:
        file_ids = await SQLiteFileIds.open(db)
        file_id = await file_ids.get_or_create("notes.txt")
        async with SQLiteStore(db) as store:
            assert store.db is file_ids.db
            await store.append(file_id, b"\x00\x00", origin="load", user=None, time=1.0)
            # The other component keeps working on the same file while the store is open.
            assert await file_ids.get_or_create("other.txt") != file_id
            assert await store.last_seq(file_id) == 1
        assert await file_ids.path_of(file_id) == "notes.txt"
        await file_ids.close()
        assert file_ids.db.closed

    run(scenario())
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"collab_files", "schema_version", "collab_updates", "collab_versions"} <= tables
        assert dict(conn.execute("SELECT component, version FROM schema_version")) == {
            "persistence": SCHEMA_VERSION,
            "files": 2,
        }
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_refuses_a_schema_from_the_future(tmp_path: Path) -> None:
    db = tmp_path / "collab.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("INSERT INTO schema_version VALUES ('persistence', 999)")

    async def scenario() -> None:
        with pytest.raises(SchemaTooNew):
            await SQLiteStore.open(db)
        store = SQLiteStore(db)
        with pytest.raises(SchemaTooNew):
            await store.append("a", b"\x00", origin="client", user=None, time=1.0)
        with pytest.raises(SchemaTooNew):
            await store.read("a")

    run(scenario())


def test_group_commit_batches_concurrent_appenders(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "collab.db") as store:
            for i in range(10):  # one appender: one transaction per append
                await store.append("solo", bytes([1, i]), origin="client", user=None, time=1.0)
            assert store.stats.transactions == store.stats.requests == 10

            async def appender(n: int) -> list[int]:
                return [
                    await store.append(
                        f"doc{n % 4}", bytes([2, i]), origin="client", user=f"u{n}", time=2.0
                    )  # fmt: skip
                    for i in range(20)
                ]

            before = store.stats.transactions
            results = await asyncio.gather(*(appender(n) for n in range(32)))
            transactions = store.stats.transactions - before
            assert store.stats.requests == 10 + 32 * 20
            assert transactions < 32 * 20 / 4  # at least 4 appends per fsync on average
            for seqs in results:
                assert seqs == sorted(seqs)
            for d in range(4):
                assert await store.last_seq(f"doc{d}") == 8 * 20

    run(scenario())


def test_close_finishes_queued_appends(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "collab.db")
        tasks = [
            asyncio.ensure_future(
                store.append("a", bytes([1, i]), origin="client", user=None, time=1.0)
            )
            for i in range(50)
        ]
        await asyncio.sleep(0)
        await store.close()
        assert sorted(await asyncio.gather(*tasks)) == list(range(1, 51))
        with pytest.raises(StoreClosed):
            await store.last_seq("a")
        async with SQLiteStore(tmp_path / "collab.db") as reopened:
            assert await reopened.last_seq("a") == 50

    run(scenario())


def test_versions_of_the_first_schema_still_read_after_the_upgrade(tmp_path: Path) -> None:
    """Schema 1 stored every version as a full state; schema 2 adds deltas next to them."""
    db = tmp_path / "collab.db"
    editor = Editor()
    first = editor.insert(0, "version one")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER)")
        for statement in schema.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES ('persistence', 1)")
        conn.execute("INSERT INTO collab_docs VALUES ('a', 1, 0, NULL)")
        conn.execute(
            "INSERT INTO collab_updates VALUES ('a', 1, 'client', 'ada', 1.0, ?)", (first,)
        )
        conn.execute(
            "INSERT INTO collab_versions (doc_id, seq, name, kind, user, time, authors,"
            " change_bytes, state_size, state) VALUES ('a', 1, NULL, 'auto', NULL, 1.0, '[]',"
            " 0, ?, ?)",
            (len(first), compress(first)),
        )

    async def scenario() -> None:
        async with SQLiteStore(db) as store:
            (old,) = await store.list_versions("a")
            assert text_of((await store.get_version("a", old.id)).state) == "version one"
            update = editor.insert(len("version one"), ", then two")
            await store.append("a", update, origin="client", user="ada", time=2.0)
            new = await store.add_version("a", 2, time=2.0)  # a delta from the old full state
            assert text_of((await store.get_version("a", new)).state) == "version one, then two"

    run(scenario())


@pytest.mark.parametrize("sync", ["background", "commit"])
def test_sync_modes(tmp_path: Path, sync: str) -> None:
    """Both modes keep every acknowledged append; 'background' flushes the WAL on its own
    thread after commits, 'commit' lets SQLite fsync before acknowledging."""
    db = tmp_path / "collab.db"

    async def scenario() -> None:
        store = SQLiteStore(db, sync=sync)
        editor = Editor()
        for i in range(20):
            await store.append("a", editor.insert(i, "x"), origin="client", user="u", time=1.0)
        await store.close()
        assert (store.stats.fsyncs > 0) == (sync == "background")
        async with SQLiteStore(db) as again:
            assert text_of(await again.load("a")) == "x" * 20

    run(scenario())
    with pytest.raises(ValueError):
        SQLiteStore(db, sync="sometimes")
