"""The contract of every CommentStore (in memory, SQLite and a real PostgreSQL)."""

from __future__ import annotations

import pytest

from jupyter_collab.comments import (
    Comment,
    LimitReached,
    MemoryCommentStore,
    SQLiteCommentStore,
    Thread,
    UnknownComment,
    UnknownThread,
)
from jupyter_collab.comments.anchors import Anchor


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request, tmp_path, jp_asyncio_loop):
    if request.param == "postgres":  # a real server (tests/services/postgres.py)
        from jupyter_collab.comments.postgres import PostgresCommentStore

        made = PostgresCommentStore(request.getfixturevalue("postgres_url"))
    elif request.param == "memory":
        made = MemoryCommentStore()
    else:
        made = SQLiteCommentStore(tmp_path / "c.db")
    yield made
    jp_asyncio_loop.run_until_complete(made.close())


RANGE = Anchor(
    "cell-1", b"\x00\x01\x02\x00", b"\x00\x01\x05\x41", "quoted text", b"\x02\x01\x01\x41"
)


def thread(id: str, file_id: str = "f1", created: float = 1.0, anchor: Anchor = RANGE) -> Thread:
    return Thread(id, file_id, f"json:notebook:{file_id}", anchor, "alice", created, created)


def comment(id: str, thread: str, author: str = "alice", t: float = 1.0, body: str = "hi"):
    return Comment(id, thread, author, body, t, None, ("bob",))


async def test_a_thread_keeps_its_anchor_comments_and_order(store):
    await store.create_thread(thread("t1"), comment("c1", "t1", body="first @bob"))
    await store.add_comment(comment("c2", "t1", "bob", 2.0, "second"))
    await store.add_comment(comment("c3", "t1", "carol", 2.0, "third"))  # same time: kept order
    found = await store.thread("t1")
    assert found.anchor == RANGE and found.file_id == "f1" and found.doc_id == "json:notebook:f1"
    assert [c.id for c in found.comments] == ["c1", "c2", "c3"]
    assert found.comments[0].body == "first @bob" and found.comments[0].mentions == ("bob",)
    assert found.participants == ["alice", "bob", "carol"]
    assert found.updated == 2.0 and not found.resolved


async def test_whole_cell_and_whole_document_anchors(store):
    await store.create_thread(
        thread("t1", anchor=Anchor("c", None, None, "x = 1")), comment("a", "t1")
    )
    await store.create_thread(thread("t2", anchor=Anchor(None, None, None, "")), comment("b", "t2"))
    assert (await store.thread("t1")).anchor == Anchor("c", None, None, "x = 1")
    assert (await store.thread("t2")).anchor == Anchor(None, None, None, "")


async def test_threads_of_a_file_oldest_first(store):
    await store.create_thread(thread("t2", created=2.0), comment("c2", "t2"))
    await store.create_thread(thread("t1", created=1.0), comment("c1", "t1"))
    await store.create_thread(thread("t3", "f2"), comment("c3", "t3"))
    assert [t.id for t in await store.threads("f1")] == ["t1", "t2"]
    assert [t.id for t in await store.threads("f2")] == ["t3"]
    assert await store.threads("nothing") == []


async def test_writes_repeated_land_once(store):
    """Ids come from the service: a write sent twice (a retry) is one thread, one comment."""
    await store.create_thread(thread("t1"), comment("c1", "t1"))
    await store.create_thread(thread("t1"), comment("c1", "t1"))
    await store.add_comment(comment("c2", "t1", t=2.0))
    await store.add_comment(comment("c2", "t1", t=2.0))
    assert [c.id for c in (await store.thread("t1")).comments] == ["c1", "c2"]


async def test_edit_delete_resolve(store):
    await store.create_thread(thread("t1"), comment("c1", "t1"))
    await store.add_comment(comment("c2", "t1", "bob", 2.0))
    edited = await store.edit_comment("t1", "c2", "better", ("carol",), 3.0)
    assert edited.body == "better" and edited.edited == 3.0 and edited.mentions == ("carol",)
    assert edited.created == 2.0 and edited.author == "bob"
    resolved = await store.set_resolved("t1", True, "bob", 4.0)
    assert resolved.resolved and resolved.resolved_by == "bob" and resolved.resolved_at == 4.0
    assert [c.id for c in resolved.comments] == ["c1", "c2"]
    reopened = await store.set_resolved("t1", False, "alice", 5.0)
    assert not reopened.resolved and reopened.resolved_by is None and reopened.updated == 5.0
    assert await store.delete_comment("t1", "c1", 6.0) is False
    assert [c.id for c in (await store.thread("t1")).comments] == ["c2"]
    assert await store.delete_comment("t1", "c2", 7.0) is True  # the last one: thread goes
    with pytest.raises(UnknownThread):
        await store.thread("t1")
    assert await store.threads("f1") == []


async def test_unknown_threads_and_comments(store):
    await store.create_thread(thread("t1"), comment("c1", "t1"))
    await store.create_thread(thread("t2"), comment("c2", "t2"))
    with pytest.raises(UnknownThread):
        await store.thread("nope")
    with pytest.raises(UnknownThread):
        await store.add_comment(comment("c9", "nope"))
    with pytest.raises(UnknownThread):
        await store.set_resolved("nope", True, "alice", 1.0)
    with pytest.raises(UnknownComment):
        await store.edit_comment("t1", "nope", "x", (), 1.0)
    with pytest.raises(UnknownComment):  # a comment of another thread
        await store.edit_comment("t1", "c2", "x", (), 1.0)
    with pytest.raises(UnknownComment):
        await store.delete_comment("t1", "c2", 1.0)
    assert (await store.thread("t2")).comments[0].body == "hi"  # nothing changed


async def test_sqlite_threads_survive_reopening(tmp_path):
    one = SQLiteCommentStore(tmp_path / "c.db")
    await one.create_thread(thread("t1"), comment("c1", "t1"))
    await one.close()
    two = SQLiteCommentStore(tmp_path / "c.db")
    try:
        assert (await two.thread("t1")).anchor == RANGE
    finally:
        await two.close()


async def test_a_repaired_database_keeps_its_comments(tmp_path):
    """`jupyter collab check --repair` copies the comment tables into the fresh database."""
    from jupyter_collab.persistence.repair import repair
    from jupyter_collab.tables import COMPONENTS

    one = SQLiteCommentStore(tmp_path / "c.db")
    await one.create_thread(thread("t1"), comment("c1", "t1", body="keep me"))
    await one.add_comment(comment("c2", "t1", "bob", 2.0, "me too"))
    await one.close()
    salvage = repair(tmp_path / "c.db", COMPONENTS)
    assert salvage.rows["collab_comment_threads"] == 1 and salvage.rows["collab_comments"] == 2
    two = SQLiteCommentStore(tmp_path / "c.db")
    try:
        kept = await two.thread("t1")
        assert kept.anchor == RANGE and [c.body for c in kept.comments] == ["keep me", "me too"]
    finally:
        await two.close()


async def test_caps_are_checked_in_the_write(store):
    """Threads per file and comments per thread: the write over the cap is refused and stores
    nothing; the same write repeated (a retry) is not counted twice; other files are apart."""
    await store.create_thread(thread("t1", created=1.0), comment("c1", "t1"), max_threads=2)
    await store.create_thread(thread("t2", created=2.0), comment("c2", "t2"), max_threads=2)
    await store.create_thread(thread("t2", created=2.0), comment("c2", "t2"), max_threads=2)
    with pytest.raises(LimitReached) as reached:
        await store.create_thread(thread("t3", created=3.0), comment("c3", "t3"), max_threads=2)
    assert (reached.value.what, reached.value.limit) == ("threads", 2)
    assert [t.id for t in await store.threads("f1")] == ["t1", "t2"]
    with pytest.raises(UnknownThread):
        await store.thread("t3")
    await store.create_thread(thread("t4", "f2"), comment("c4", "t4"), max_threads=2)

    await store.add_comment(comment("r1", "t1", t=2.0), max_comments=3)
    await store.add_comment(comment("r2", "t1", t=3.0), max_comments=3)
    await store.add_comment(comment("r2", "t1", t=3.0), max_comments=3)  # a retry: no-op
    with pytest.raises(LimitReached) as reached:
        await store.add_comment(comment("r3", "t1", t=4.0), max_comments=3)
    assert (reached.value.what, reached.value.limit) == ("comments", 3)
    assert [c.id for c in (await store.thread("t1")).comments] == ["c1", "r1", "r2"]
    # deleting one makes room again
    await store.delete_comment("t1", "r1", 5.0)
    await store.add_comment(comment("r3", "t1", t=6.0), max_comments=3)
    assert [c.id for c in (await store.thread("t1")).comments] == ["c1", "r2", "r3"]


async def test_purging_the_threads_of_files(store):
    await store.create_thread(thread("t1"), comment("c1", "t1"))
    await store.add_comment(comment("c2", "t1", t=2.0))
    await store.create_thread(thread("t2", "f2"), comment("c3", "t2"))
    await store.create_thread(thread("t3", "f3"), comment("c4", "t3"))
    assert await store.file_ids() == ["f1", "f2", "f3"]
    assert await store.purge_files(["f1", "f3", "unknown"]) == 2
    assert await store.purge_files([]) == 0
    assert await store.file_ids() == ["f2"]
    assert await store.threads("f1") == []
    with pytest.raises(UnknownThread):
        await store.thread("t1")
    assert [c.id for c in (await store.thread("t2")).comments] == ["c3"]
    # the comments went with their threads: a thread made again under an old id starts empty
    await store.create_thread(thread("t1"), comment("c9", "t1"))
    assert [c.id for c in (await store.thread("t1")).comments] == ["c9"]
