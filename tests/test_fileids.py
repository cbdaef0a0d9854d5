"""File ids: one namespace per served directory, deleted files remembered until purged, merge
bases; the same contract in memory, in SQLite and in PostgreSQL; concurrent openers and two
servers on one database agree; no SQL on the event loop; ids follow renames through a real
server."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
from collections.abc import Awaitable

import pytest

from jupyter_collab.documents.fileids import COMPONENT, FileIds, MemoryFileIds, SQLiteFileIds
from jupyter_collab.persistence import SQLiteDatabase

from .client import eventually


async def test_same_path_under_two_roots_is_two_files(tmp_path):
    db = tmp_path / "collab.db"
    one, two = SQLiteFileIds(db, root="/srv/a"), SQLiteFileIds(db, root="/srv/b")
    a, b = await one.get_or_create("notes.txt"), await two.get_or_create("notes.txt")
    assert a != b
    assert await one.get_or_create("notes.txt") == a and await one.path_of(b) is None
    await one.close()
    await two.close()


async def test_ids_of_the_first_schema_are_adopted(tmp_path):
    db = tmp_path / "collab.db"
    old = sqlite3.connect(db)
    old.execute("CREATE TABLE file_ids (id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL)")
    old.execute("INSERT INTO file_ids VALUES ('old-id', 'x/notes.txt')")
    old.commit()
    old.close()
    ids = SQLiteFileIds(db, root="/home/me")
    assert await ids.get_or_create("x/notes.txt") == "old-id"
    await ids.close()
    again = await SQLiteFileIds.open(db, root="/home/me")  # adopted once, kept
    assert await again.path_of("old-id") == "x/notes.txt"
    await again.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def file_ids(request, tmp_path, jp_asyncio_loop):
    ids: FileIds
    if request.param == "postgres":  # a real server (tests/services/postgres.py)
        from jupyter_collab.documents.pgfileids import PostgresFileIds

        ids = PostgresFileIds(request.getfixturevalue("postgres_url"), root="/srv/a")
    else:
        ids = MemoryFileIds() if request.param == "memory" else SQLiteFileIds(tmp_path / "f.db")
    yield ids
    jp_asyncio_loop.run_until_complete(ids.close())


async def test_deleted_file_keeps_its_last_path_until_forgotten(file_ids):
    gone = await file_ids.get_or_create("dir/gone.txt")
    kept = await file_ids.get_or_create("kept.txt")
    assert await file_ids.deleted("dir") == [gone]
    assert await file_ids.path_of(gone) is None
    assert await file_ids.last_path(gone) == "dir/gone.txt"
    fresh = await file_ids.get_or_create("dir/gone.txt")  # a new file at the same path
    assert fresh != gone
    with pytest.raises(ValueError):
        await file_ids.revive(gone, "dir/gone.txt")  # taken by the new file
    await file_ids.revive(gone, "restored.txt")
    assert await file_ids.path_of(gone) == "restored.txt"
    assert await file_ids.get_or_create("restored.txt") == gone
    await file_ids.forget(kept)
    assert await file_ids.path_of(kept) is None and await file_ids.last_path(kept) is None


async def test_a_move_over_a_file_keeps_the_replaced_history(file_ids):
    moving = await file_ids.get_or_create("a.txt")
    replaced = await file_ids.get_or_create("b.txt")
    assert await file_ids.moved("a.txt", "b.txt") == {moving: "b.txt"}
    assert await file_ids.path_of(moving) == "b.txt"
    assert await file_ids.path_of(replaced) is None
    assert await file_ids.last_path(replaced) == "b.txt"


async def test_merge_bases_by_digest_newest_otherwise_and_fresh_starts(file_ids):
    """The base whose content the file has wins; else the newest (a pending base is written
    right before its file); a fresh load drops the bases of the history before it (an old
    unfinished save's pending base would otherwise match the file and be merged from)."""
    file_id = await file_ids.get_or_create("n.txt")
    assert await file_ids.base(file_id, None) is None
    await file_ids.set_base(file_id, b"saved", "d1")
    await file_ids.set_base(file_id, b"pending", "d2", pending=True)
    assert await file_ids.base(file_id, "d1") == b"saved"
    assert await file_ids.base(file_id, "d2") == b"pending"
    assert await file_ids.base(file_id, "other") == b"pending"  # the newest
    await file_ids.set_base(file_id, b"fresh", "", fresh=True)
    assert await file_ids.base(file_id, "d2") == b"fresh"  # the old pending one is gone


async def test_concurrent_get_or_create_gives_every_path_one_id(file_ids):
    """Many openers of the same never-seen files at once (150 rooms opening together): one id
    per path, whoever asked first."""
    paths = [f"d{i % 3}/f{i}.txt" for i in range(40)]
    asked = [p for _ in range(5) for p in paths]
    random.Random(8).shuffle(asked)
    got = await asyncio.gather(*(file_ids.get_or_create(p) for p in asked))
    ids: dict[str, set[str]] = {}
    for path, file_id in zip(asked, got, strict=True):
        ids.setdefault(path, set()).add(file_id)
    assert all(len(found) == 1 for found in ids.values()), ids
    assert len({next(iter(found)) for found in ids.values()}) == len(paths)  # all distinct
    for path, found in ids.items():
        assert await file_ids.path_of(next(iter(found))) == path


def test_two_processes_opening_a_new_database_at_once_both_get_it(tmp_path):
    """Two servers starting on one new database file: both switch it to WAL at the same
    moment, and SQLite tells the loser "database is locked" without waiting. That server's
    database looked failed and its file ids went to memory, different from the other's for
    the same files (CI saw it). Many fresh files, two databases each, migrating at once."""
    for round_ in range(40):
        path = tmp_path / f"new{round_}.db"
        one, two = SQLiteDatabase(path), SQLiteDatabase(path)
        try:
            migrations = [one.prepare(COMPONENT), two.prepare(COMPONENT)]
            for migration in migrations:
                migration.result(timeout=60)  # raised "database is locked" before
        finally:
            one.release_blocking()
            two.release_blocking()


async def test_two_servers_on_one_database_agree_on_ids(tmp_path):
    """Two processes on one database file (each with its own database object, connections and
    threads) opening the same new files at the same moment: one id per file, both agree."""
    db = tmp_path / "shared.db"
    one = SQLiteFileIds(SQLiteDatabase(db), root="/srv")
    two = SQLiteFileIds(SQLiteDatabase(db), root="/srv")
    try:
        paths = [f"n{i}.txt" for i in range(30)]
        firsts, seconds = await asyncio.gather(
            asyncio.gather(*(one.get_or_create(p) for p in paths)),
            asyncio.gather(*(two.get_or_create(p) for p in reversed(paths))),
        )
        assert list(firsts) == list(reversed(seconds))
        assert len(set(firsts)) == len(paths)
        # a rename made by one is what the other sees
        assert await one.moved("n0.txt", "renamed.txt") == {firsts[0]: "renamed.txt"}
        assert await two.path_of(firsts[0]) == "renamed.txt"
        assert await two.get_or_create("renamed.txt") == firsts[0]
        assert await two.get_or_create("n0.txt") not in firsts  # a new file there
    finally:
        await one.close()
        await two.close()


async def test_no_sql_runs_on_the_event_loop(tmp_path):
    """Every statement of every file-id operation runs on the database's threads: the event
    loop only awaits (issue 8: its SQLite calls on the loop froze the server for 30 s)."""
    database = SQLiteDatabase(tmp_path / "t.db")
    ids = await SQLiteFileIds.open(database, root="/r")
    loop_thread = threading.get_ident()
    statements: list[tuple[int, str]] = []
    lock = threading.Lock()

    def trace(sql: str) -> None:
        with lock:
            statements.append((threading.get_ident(), sql))

    async def on_every_connection() -> None:  # each thread opens its own connection lazily
        await database.read(lambda db: db.set_trace_callback(trace))
        await database.read(lambda db: db.set_trace_callback(trace), ordered=True)

    try:
        await on_every_connection()
        first = await ids.get_or_create("a/x.txt")
        await asyncio.gather(*(ids.get_or_create(f"a/{i}.txt") for i in range(20)))
        await ids.set_base(first, b"state", "digest")
        assert await ids.base(first, "digest") == b"state"
        await ids.moved("a", "b")
        assert await ids.path_of(first) == "b/x.txt"
        assert await ids.deleted("b/x.txt") == [first]
        assert await ids.last_path(first) == "b/x.txt"
        await ids.revive(first, "c.txt")
        await ids.forget(first)
        sql = " ".join(s for _, s in statements)
        for verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            assert verb in sql, verb  # the trace saw the work
        on_loop = [s for thread, s in statements if thread == loop_thread]
        assert on_loop == []
    finally:
        await ids.close()


async def test_ids_follow_renames_in_any_spelling_and_new_files_get_new_ids(
    jp_root_dir, jp_fetch, open_session
):
    """Through a real server: a file keeps its id (and so its room and history) when it or its
    folder is renamed, also when the request spells the paths another way (the contents event
    carries them as spelled: ids are kept by the canonical path); a new file at an old path
    gets a new id; a deleted file's id is not given to the file created after it."""
    (jp_root_dir / "dir").mkdir()
    for name in ("dir/a.txt", "dir/b.txt", "c.txt"):
        (jp_root_dir / name).write_text(name)
    before = {p: (await open_session(p))["fileId"] for p in ("dir/a.txt", "dir/b.txt", "c.txt")}
    assert len(set(before.values())) == 3

    async def file_id(path: str) -> str:
        return (await open_session(path))["fileId"]

    async def rename(source: str, target: str) -> None:
        body = json.dumps({"path": target})
        await jp_fetch("api", "contents", source, method="PATCH", body=body)

    await rename("dir", "moved")  # a folder: every file in it keeps its id
    await eventually(lambda: _is(file_id("moved/a.txt"), before["dir/a.txt"]), what="a moved")
    assert await file_id("moved/b.txt") == before["dir/b.txt"]
    await rename("c.txt", "moved/../renamed.txt")  # another spelling of "renamed.txt"
    await eventually(lambda: _is(file_id("renamed.txt"), before["c.txt"]), what="c renamed")
    assert await file_id("./renamed.txt") == before["c.txt"]

    (jp_root_dir / "dir").mkdir()
    (jp_root_dir / "dir" / "a.txt").write_text("a new file where a was")
    assert await file_id("dir/a.txt") not in before.values()

    await jp_fetch("api", "contents", "moved", "b.txt", method="DELETE")
    (jp_root_dir / "moved" / "b.txt").write_text("another b")
    await eventually(
        lambda: _is_not(file_id("moved/b.txt"), before["dir/b.txt"]), what="b's id retired"
    )


async def _is(value: Awaitable[str], expected: str) -> bool:
    return await value == expected


async def _is_not(value: Awaitable[str], expected: str) -> bool:
    return await value != expected
