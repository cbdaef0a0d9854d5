"""File ids: one namespace per served directory, deleted files remembered until purged."""

from __future__ import annotations

import sqlite3

import pytest

from jupyter_collab.documents.fileids import FileIds, MemoryFileIds, SQLiteFileIds


def test_same_path_under_two_roots_is_two_files(tmp_path):
    db = tmp_path / "collab.db"
    one, two = SQLiteFileIds(db, root="/srv/a"), SQLiteFileIds(db, root="/srv/b")
    a, b = one.get_or_create("notes.txt"), two.get_or_create("notes.txt")
    assert a != b
    assert one.get_or_create("notes.txt") == a and one.path_of(b) is None
    one.close()
    two.close()


def test_ids_of_the_first_schema_are_adopted(tmp_path):
    db = tmp_path / "collab.db"
    old = sqlite3.connect(db)
    old.execute("CREATE TABLE file_ids (id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL)")
    old.execute("INSERT INTO file_ids VALUES ('old-id', 'x/notes.txt')")
    old.commit()
    old.close()
    ids = SQLiteFileIds(db, root="/home/me")
    assert ids.get_or_create("x/notes.txt") == "old-id"
    ids.close()


@pytest.fixture(params=["memory", "sqlite"])
def file_ids(request, tmp_path):
    ids: FileIds = (
        MemoryFileIds() if request.param == "memory" else SQLiteFileIds(tmp_path / "f.db")
    )
    yield ids
    ids.close()


def test_deleted_file_keeps_its_last_path_until_forgotten(file_ids):
    gone = file_ids.get_or_create("dir/gone.txt")
    kept = file_ids.get_or_create("kept.txt")
    assert file_ids.deleted("dir") == [gone]
    assert file_ids.path_of(gone) is None and file_ids.last_path(gone) == "dir/gone.txt"
    fresh = file_ids.get_or_create("dir/gone.txt")  # a new file at the same path
    assert fresh != gone
    with pytest.raises(ValueError):
        file_ids.revive(gone, "dir/gone.txt")  # taken by the new file
    file_ids.revive(gone, "restored.txt")
    assert (
        file_ids.path_of(gone) == "restored.txt" and file_ids.get_or_create("restored.txt") == gone
    )
    file_ids.forget(kept)
    assert file_ids.path_of(kept) is None and file_ids.last_path(kept) is None


def test_a_move_over_a_file_keeps_the_replaced_history(file_ids):
    moving = file_ids.get_or_create("a.txt")
    replaced = file_ids.get_or_create("b.txt")
    assert file_ids.moved("a.txt", "b.txt") == {moving: "b.txt"}
    assert file_ids.path_of(moving) == "b.txt"
    assert file_ids.path_of(replaced) is None and file_ids.last_path(replaced) == "b.txt"
