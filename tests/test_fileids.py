"""File ids: one namespace per served directory, deleted files remembered until purged, merge
bases; the same contract in memory, in SQLite and in PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest

from jupyter_collab.documents.fileids import FileIds, MemoryFileIds, SQLiteFileIds


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
