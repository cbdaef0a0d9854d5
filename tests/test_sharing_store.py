"""The contract of every ShareStore (in memory, SQLite and PostgreSQL), and role resolution."""

from __future__ import annotations

import pytest

from jupyter_collab.sharing import MemoryShareStore, Notification, Role, SQLiteShareStore
from jupyter_collab.sharing.roles import levels, resolve
from jupyter_collab.sharing.store import KnownUser, NotificationPreferences


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request, tmp_path, jp_asyncio_loop):
    if request.param == "postgres":  # a real server (tests/services/postgres.py)
        from jupyter_collab.sharing.postgres import PostgresShareStore

        made = PostgresShareStore(request.getfixturevalue("postgres_url"), "/srv/a")
    elif request.param == "memory":
        made = MemoryShareStore()
    else:
        made = SQLiteShareStore(tmp_path / "s.db")
    yield made
    jp_asyncio_loop.run_until_complete(made.close())


async def test_shares_set_replace_remove(store):
    assert await store.set_share("p/a.txt", "bob", Role.VIEWER, "alice", 1.0) is None
    previous = await store.set_share("p/a.txt", "bob", Role.EDITOR, "alice", 2.0)
    assert previous is not None and previous.role is Role.VIEWER
    await store.set_share("p", "*", Role.VIEWER, "alice", 3.0)
    found = await store.shares(["p/a.txt", "p", ""])
    assert found["p/a.txt"]["bob"].role is Role.EDITOR and found["p/a.txt"]["bob"].time == 2.0
    assert found["p"]["*"].granted_by == "alice" and "" not in found
    assert {(s.path, s.user, s.role) for s in await store.all_shares()} == {
        ("p/a.txt", "bob", Role.EDITOR),
        ("p", "*", Role.VIEWER),
    }
    await store.set_share("p/a.txt", "bob", None, "alice", 4.0)
    assert "p/a.txt" not in await store.shares(["p/a.txt"])
    assert [s.path for s in await store.all_shares()] == ["p"]


async def test_shares_follow_moves_and_go_with_deletes(store):
    await store.set_share("p", "bob", Role.VIEWER, "alice", 1.0)
    await store.set_share("p/sub/a.txt", "bob", Role.EDITOR, "alice", 1.0)
    await store.set_share("p2/x.txt", "bob", Role.EDITOR, "alice", 1.0)  # "p2" is not under "p"
    await store.moved("p", "q")
    assert set(await store.shares(["p", "q", "q/sub/a.txt", "p2/x.txt"])) == {
        "q",
        "q/sub/a.txt",
        "p2/x.txt",
    }
    await store.deleted("q")
    assert set(await store.shares(["q", "q/sub/a.txt", "p2/x.txt"])) == {"p2/x.txt"}


async def test_shares_are_kept_per_root(tmp_path):
    """The default database is shared by every server a user starts: each root has its own."""
    one, two = SQLiteShareStore(tmp_path / "s.db", "/a"), SQLiteShareStore(tmp_path / "s.db", "/b")
    assert one.db is two.db  # one database object per file and process
    await one.set_share("x.txt", "bob", Role.NONE, "alice", 1.0)
    assert await two.all_shares() == [] and len(await one.all_shares()) == 1
    await one.close()
    await two.close()


async def test_user_directory_search(store):
    await store.user_seen(KnownUser("bob", "Robert Smith", "Bob", "BS", "#fff"), 1.0)
    await store.user_seen(KnownUser("alice", "Alice Liddell", "Alice", "AL", "#000"), 1.0)
    await store.user_seen(KnownUser("bob", "Robert Smith", "Bobby", "BS", "#fff"), 2.0)  # refreshed
    assert [u.username for u in await store.users("", 10)] == ["alice", "bob"]
    assert [u.display_name for u in await store.users("SMI", 10)] == ["Bobby"]
    assert await store.users("zzz", 10) == [] and len(await store.users("", 1)) == 1
    assert await store.users("%", 10) == []  # no wildcard injection


async def test_notifications_per_user_and_read_marks(store):
    def note(user: str, n: int) -> Notification:
        return Notification(0, user, "shared", float(n), "alice", "Alice", "x", None, f"m{n}")

    ids = [await store.notify(note("bob", i)) for i in range(5)]
    await store.notify(note("carol", 9))
    assert [n.message for n in await store.notifications("bob", 0, 10)] == [
        f"m{i}" for i in range(5)
    ]
    assert [n.id for n in await store.notifications("bob", ids[2], 10)] == ids[3:]
    assert await store.unread("bob") == 5
    await store.mark_read("bob", [ids[0]], None)
    await store.mark_read("bob", None, ids[2])
    assert await store.unread("bob") == 2 and await store.unread("carol") == 1
    assert [n.read for n in await store.notifications("bob", 0, 10)] == [True] * 3 + [False] * 2


def test_resolution_nearest_level_everyone_cap_and_owners():
    shares = {"p": {"*": Role.VIEWER}, "p/a.txt": {"bob": Role.EDITOR}, "": {"eve": Role.NONE}}
    kw = {"cap": Role.OWNER, "default": Role.OWNER}
    assert levels("p/a.txt") == ["p/a.txt", "p", ""]
    assert resolve("p/a.txt", "bob", shares, **kw) is Role.EDITOR
    assert resolve("p/b.txt", "bob", shares, **kw) is Role.VIEWER  # "*" on the folder
    assert resolve("q.txt", "bob", shares, **kw) is Role.OWNER  # no share: the default
    assert resolve("q.txt", "eve", shares, **kw) is Role.NONE  # the root's share
    assert resolve("p/a.txt", "bob", shares, cap=Role.VIEWER, default=Role.OWNER) is Role.VIEWER
    assert resolve("q.txt", "eve", shares, owner=True, **kw) is Role.OWNER


async def test_notification_preferences(store):
    """E-mail preferences per user (docs/notifications.md): none until set, replaced whole,
    "never chosen" (None) kept apart from "chose nothing" (an empty tuple)."""
    assert await store.preferences("bob") is None
    await store.set_preferences(NotificationPreferences("bob", "bob@example.org", None, 1.0))
    await store.set_preferences(NotificationPreferences("carol", None, (), 2.0))
    assert await store.preferences("bob") == NotificationPreferences(
        "bob", "bob@example.org", None, 1.0
    )
    await store.set_preferences(NotificationPreferences("bob", None, ("mentioned", "reply"), 3.0))
    assert await store.preferences("bob") == NotificationPreferences(
        "bob", None, ("mentioned", "reply"), 3.0
    )
    assert await store.preferences("carol") == NotificationPreferences("carol", None, (), 2.0)
    assert await store.preferences("dave") is None
