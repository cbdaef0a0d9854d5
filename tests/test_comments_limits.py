"""The limits of comments against a live server: caps (threads per file, comments per thread,
body and quote sizes: CollabApp settings, a clear 4xx over them, nothing stored), and the
threads of a deleted file (hidden, back with a restore of the file, purged after
``deleted_retention`` by the maintenance pass and by ``jupyter collab compact``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .auth import token_header
from .client import eventually
from .test_cli import Setup, ajson
from .test_comments_api import new_thread, text_anchor, threads_of
from .test_history import _collab_app, doc, named, room_of

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def small_caps(collab_config: dict[str, Any]) -> None:
    collab_config.update(
        comments_max_threads=3, comments_max_comments=2, comments_max_body=50,
        comments_max_quote=10,
    )  # fmt: skip


@pytest.mark.usefixtures("small_caps")
async def test_caps_refuse_with_a_message_and_store_nothing(jp_root_dir, connect, api):
    (jp_root_dir / "c.txt").write_text("a line of text to comment on\n")
    (jp_root_dir / "other.txt").write_text("x\n")
    alice = await connect("c.txt", headers=token_header("alice"))
    source = alice.jdoc._ysource

    # the body: 50 characters pass, 51 are refused (413), on create, reply and edit alike
    first = await new_thread(api, "c.txt", text_anchor(source, 0, 1), "b" * 50)
    status, reply = await api("POST", "comments", body={"path": "c.txt", "body": "b" * 51})
    assert status == 413 and "50" in reply["message"]
    assert "comments_max_body" in reply["message"]
    thread = first["thread"]["id"]
    status, reply = await api("POST", "comments", thread, "comments", body={"body": "r" * 51})
    assert status == 413
    status, reply = await api(
        "PATCH", "comments", thread, "comments", first["comment"]["id"], body={"body": "e" * 51}
    )
    assert status == 413

    # the quote: a selection longer than the cap is kept cut; a client's longer quote refused
    long = await new_thread(api, "c.txt", text_anchor(source, 0, 20), "long selection")
    assert long["thread"]["anchor"]["quote"] == "a line of…"
    assert len(long["thread"]["anchor"]["quote"]) == 10
    quoted = {**text_anchor(source, 2, 6), "quote": "q" * 11}
    status, reply = await api("POST", "comments",
                              body={"path": "c.txt", "anchor": quoted, "body": "hm"})  # fmt: skip
    assert status == 413 and "comments_max_quote" in reply["message"]
    status, reply = await api("POST", "comments", body={
        "path": "c.txt", "anchor": {**text_anchor(source, 2, 6), "quote": 7}, "body": "hm"})
    assert status == 400 and "quote" in reply["message"]

    # threads per file: the third passes, the fourth is refused (409) whoever asks
    await new_thread(api, "c.txt", None, "third")
    for body in ({"path": "c.txt", "body": "fourth"},
                 {"path": "c.txt", "anchor": text_anchor(source, 2, 6), "body": "fourth"}):
        status, reply = await api("POST", "comments", body=body)
        assert status == 409 and "comments_max_threads" in reply["message"], reply
    listing = await threads_of(api, "c.txt")
    assert [t["comments"][0]["body"] for t in listing["threads"]] == [
        "b" * 50, "long selection", "third"
    ]  # fmt: skip
    # other files have their own count
    await new_thread(api, "other.txt", None, "elsewhere")
    # resolved threads count too; deleting one makes room
    status, _ = await api("PATCH", "comments", thread, body={"resolved": True})
    status, reply = await api("POST", "comments", body={"path": "c.txt", "body": "fourth"})
    assert status == 409
    status, _ = await api("DELETE", "comments", long["thread"]["id"], "comments",
                          long["comment"]["id"])  # fmt: skip
    assert status == 200
    await new_thread(api, "c.txt", None, "fourth, now")

    # comments per thread: the first and one reply, then 409
    status, _ = await api("POST", "comments", thread, "comments", body={"body": "second"})
    assert status == 201
    status, reply = await api("POST", "comments", thread, "comments", body={"body": "third"})
    assert status == 409 and "comments_max_comments" in reply["message"]
    status, one = await api("GET", "comments", thread)
    assert [c["body"] for c in one["thread"]["comments"]] == ["b" * 50, "second"]


async def test_caps_are_settings_with_checked_values() -> None:
    from traitlets import TraitError

    from jupyter_collab.app import CollabApp

    app = CollabApp()
    assert (app.comments_max_threads, app.comments_max_comments) == (1000, 500)
    assert (app.comments_max_body, app.comments_max_quote) == (10_000, 1000)
    for name, bad in (("comments_max_threads", -1), ("comments_max_comments", -1),
                      ("comments_max_body", 0), ("comments_max_quote", 0)):  # fmt: skip
        with pytest.raises(TraitError):
            setattr(app, name, bad)
    app.comments_max_threads = 0  # no cap
    assert CollabApp.class_traits()["comments_max_threads"].help


@pytest.fixture
def short_retention(collab_config: dict[str, Any]) -> None:
    collab_config.update(deleted_retention=0.5, maintenance_interval=0)


async def _deleted(jp_root_dir: Path, jp_fetch: Any, api: Any, connect: Any, name: str) -> Any:
    """A file with a thread and a version, deleted through the contents API once saved."""
    (jp_root_dir / name).write_text("keep these words\n")
    alice = await connect(name, headers=token_header("alice"))
    room = room_of(alice)
    alice.jdoc._ysource.insert(0, ">> ")
    await eventually(lambda: (jp_root_dir / name).read_text() == ">> keep these words\n",
                     what="saved")  # fmt: skip
    version = await named(api, room, "before delete")
    created = await new_thread(
        api, name, text_anchor(alice.jdoc._ysource, 8, 13), "about these"
    )
    await jp_fetch("api", "contents", name, method="DELETE")
    await eventually(lambda: alice.closed.is_set(), what="the room closed")
    return room, version, created["thread"]["id"]


async def test_threads_of_a_deleted_file_are_hidden_and_come_back_with_it(
    jp_root_dir, jp_fetch, jp_serverapp, connect, api
):
    room, version, thread = await _deleted(jp_root_dir, jp_fetch, api, connect, "gone.txt")
    # hidden: by id and through every route of the thread
    status, reply = await api("GET", "comments", thread)
    assert status == 404 and "no such thread" in reply["message"]
    status, _ = await api("POST", "comments", thread, "comments", body={"body": "hello?"})
    assert status == 404
    status, _ = await api("PATCH", "comments", thread, body={"resolved": True})
    assert status == 404
    # a new file at that path is another file: none of them
    (jp_root_dir / "gone.txt").write_text("someone else's\n")
    assert (await threads_of(api, "gone.txt"))["threads"] == []
    await jp_fetch("api", "contents", "gone.txt", method="DELETE")
    # within the retention, the maintenance pass keeps them
    done = await _collab_app(jp_serverapp).maintenance.run_once()
    assert done["purgedThreads"] == 0
    # the file restored from its history: its threads with it, where their text is
    status, result = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200, result
    await eventually(lambda: (jp_root_dir / "gone.txt").exists(), what="the file back")
    [back] = (await threads_of(api, "gone.txt"))["threads"]
    assert back["id"] == thread and back["comments"][0]["body"] == "about these"
    assert back["detached"] is False and back["current"]["text"] == "these"
    status, _ = await api("POST", "comments", thread, "comments", body={"body": "welcome back"})
    assert status == 201


@pytest.mark.usefixtures("short_retention")
async def test_the_maintenance_pass_purges_threads_of_files_deleted_past_retention(
    jp_root_dir, jp_fetch, jp_serverapp, connect, api
):
    (jp_root_dir / "stays.txt").write_text("still here\n")
    await connect("stays.txt", headers=token_header("alice"))
    kept = await new_thread(api, "stays.txt", None, "on a living file")
    room, version, thread = await _deleted(jp_root_dir, jp_fetch, api, connect, "old.txt")
    app = _collab_app(jp_serverapp)
    store = app.comment_store
    assert [t.id for t in await store.threads(room.rpartition(":")[2])] == [thread]

    purged: list[int] = []

    async def purge() -> bool:
        done = await app.maintenance.run_once()
        purged.append(done["purgedThreads"])
        return sum(purged) >= 1

    await eventually(purge, timeout=60, what="the threads purged after the retention")
    assert sum(purged) == 1
    assert await store.threads(room.rpartition(":")[2]) == []
    assert await store.file_ids() == [kept["thread"]["fileId"]]
    # the history went too: nothing can bring the file (or its threads) back
    status, _ = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status in (404, 409)
    [alive] = (await threads_of(api, "stays.txt"))["threads"]
    assert alive["id"] == kept["thread"]["id"]


async def test_compact_purges_threads_of_files_deleted_past_retention(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    try:
        (setup.root / "gone.txt").write_text("bye\n")
        (setup.root / "stays.txt").write_text("hi\n")
        srv = setup.server()
        for name in ("gone.txt", "stays.txt"):
            status, reply = await srv.request(
                "POST", "api/collab/comments", {"path": name, "body": f"on {name}"}
            )
            assert status == 201, reply
        status, _ = await srv.request("DELETE", "api/contents/gone.txt")
        assert status == 204
        assert srv.terminate() == 0
        kept = await ajson(setup, "compact")  # (default retention: 30 days)
        assert kept["purgedThreads"] == 0
        result = await ajson(setup, "compact", "--CollabApp.deleted_retention=0")
        assert result["purgedThreads"] == 1
        with sqlite3.connect(setup.db) as db:
            bodies = [r[0] for r in db.execute("SELECT body FROM collab_comments")]
        assert bodies == ["on stays.txt"]
    finally:
        setup.stop()


@pytest.fixture
def long_quotes(collab_config: dict[str, Any]) -> None:
    collab_config.update(comments_max_quote=3000)


@pytest.mark.usefixtures("long_quotes")
async def test_a_quote_cap_above_the_default_keeps_longer_quotes(jp_root_dir, connect, api):
    text = "".join(f"line {i:04}\n" for i in range(200))  # 2,000 characters
    (jp_root_dir / "long.txt").write_text(text)
    alice = await connect("long.txt", headers=token_header("alice"))
    created = await new_thread(api, "long.txt", text_anchor(alice.jdoc._ysource, 0, 1500), "all")
    assert created["thread"]["anchor"]["quote"] == text[:1500]
