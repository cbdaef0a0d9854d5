"""Issue 8: a failing database never loses edits nor stops saves; a broken one never stops the
extension from loading; SIGTERM always stops the server.

Real server processes, real failures of the database: its files made read-only under the
running server (``chattr +i``: "disk I/O error"), its disk filled up (a small tmpfs: "database
or disk is full"), garbage, a truncated file, a newer schema, a folder it cannot be created in.
Nothing of ours is replaced.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jupyter_collab.persistence import SQLiteStore

from .client import eventually
from .servers import Server
from .storefaults import ReadOnlyFiles, SmallDisk, can_mount

LINES = 60


def store_errors(client: Any) -> list[dict[str, Any]]:
    return [n for n in client.notices if n.get("type") == "store-error"]


def recovered(client: Any) -> list[dict[str, Any]]:
    return [n for n in client.notices if n.get("type") == "store-recovered"]


async def type_lines(writer: Any, first: int, last: int) -> None:
    for i in range(first, last):
        writer.jdoc._ysource.insert(len(writer.content()), f"line {i}\n")
        await asyncio.sleep(0.005)


def lines(first: int, last: int) -> str:
    return "".join(f"line {i}\n" for i in range(first, last))


async def logged(db: Path, doc_id: str) -> tuple[str, list[Any]]:
    """What the database holds for a document, read after the server stopped: its text and
    its log entries."""
    from pycrdt import Doc, Text

    async with await SQLiteStore.open(db) as store:
        state = await store.load(doc_id)
        entries = await store.read(doc_id)
    doc = Doc()
    if state is not None:
        doc.apply_update(state)
    return str(doc.get("source", type=Text)), entries


def assert_complete_log(entries: list[Any], client_updates: int) -> None:
    """No gaps, no duplicates: seqs 1..n, every update once, every client update there."""
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    updates = [e.update for e in entries]
    assert len(set(updates)) == len(updates), "an update was logged twice"
    assert sum(1 for e in entries if e.origin == "client") == client_updates


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return root


async def test_read_only_database_loses_nothing_seen_even_on_kill(server, root, tmp_path):
    """The database's files become read-only under a running server (as with a full quota or
    a chmod by an admin): edits keep flowing, people are told once, the file holds every edit
    anybody saw when the server is killed, and the next start puts the history back exactly
    (a client that kept its document reconnects without a duplicated line)."""
    path = root / "doc.txt"
    path.write_text("")
    db = tmp_path / "collab.db"
    first = server(save_delay=3600, save_max_wait=3600, store_retry_max=1)
    doc_id = (await first.session("doc.txt"))["room"]
    writer = await first.connect("doc.txt")
    reader = await first.connect("doc.txt")
    await type_lines(writer, 0, 5)  # logged while the database works, never saved
    await eventually(lambda: reader.content() == lines(0, 5), what="first edits")
    with ReadOnlyFiles(db, Path(f"{db}-wal")):
        await type_lines(writer, 5, LINES)
        await eventually(lambda: reader.content() == lines(0, LINES), what="edits keep flowing")
        # An edit is released to the others once the file holds it, while the log fails.
        assert path.read_text() == reader.content()
        assert len(store_errors(reader)) == 1 and len(store_errors(writer)) == 1
        status, body = await first.request("GET", "api/collab/status")
        assert status == 200 and body["store"]["state"] == "failing"
        assert "disk I/O error" in body["store"]["error"] and body["store"]["help"]
        first.kill()
        assert path.read_text() == reader.content()  # every edit anybody saw is in the file
        writer.close()
        reader.close()
    second = server(save_delay=0.2, save_max_wait=1)  # replays what the first one kept aside
    fresh = await second.connect("doc.txt")
    assert fresh.content() == lines(0, LINES)
    back = await second.connect("doc.txt", ydoc=reader.ydoc)
    await eventually(lambda: back.content() == fresh.content() == lines(0, LINES), what="merge")
    await eventually(lambda: path.read_text() == lines(0, LINES), what="saved once")
    assert "Replayed the history a server kept during an outage" in second.log()
    assert second.terminate() == 0
    text, entries = await logged(db, doc_id)
    assert text == lines(0, LINES)
    assert_complete_log(entries, LINES)


async def test_read_only_database_catches_up_when_it_works_again(server, root, tmp_path):
    """The same outage without a crash: the database works again and the history catches up
    by itself, in order, with nothing twice; people are told when it recovers."""
    path = root / "doc.txt"
    path.write_text("")
    db = tmp_path / "collab.db"
    srv = server(save_delay=0.2, save_max_wait=1, store_retry_max=1)
    doc_id = (await srv.session("doc.txt"))["room"]
    writer = await srv.connect("doc.txt")
    reader = await srv.connect("doc.txt")
    await type_lines(writer, 0, 5)
    await eventually(lambda: reader.content() == lines(0, 5), what="first edits")
    with ReadOnlyFiles(db, Path(f"{db}-wal")):
        await type_lines(writer, 5, LINES)
        await eventually(lambda: reader.content() == lines(0, LINES), what="edits keep flowing")
        await eventually(lambda: path.read_text() == lines(0, LINES), what="saved meanwhile")
    await eventually(lambda: recovered(reader), timeout=60, what="history caught up")
    assert len(store_errors(reader)) == 1 and len(recovered(reader)) == 1
    status, body = await srv.request("GET", "api/collab/status")
    assert body["store"]["state"] == "ok" and body["store"]["roomsWithoutHistory"] == 0
    status, versions = await srv.request("POST", f"api/collab/documents/{doc_id}/versions",
                                         {"name": "after the outage"})  # fmt: skip
    assert status == 201, versions  # the history is whole again: version points work
    await type_lines(writer, LINES, LINES + 3)
    await eventually(lambda: path.read_text() == lines(0, LINES + 3), what="saved")
    assert srv.terminate() == 0
    text, entries = await logged(db, doc_id)
    assert text == lines(0, LINES + 3)
    assert_complete_log(entries, LINES + 3)


@pytest.mark.skipif(not can_mount(), reason="needs to mount a small tmpfs (root)")
async def test_full_disk_keeps_serving_stops_on_sigterm_and_catches_up(server, root, tmp_path):
    """The disk holding the database fills up: edits flow and are saved, SIGTERM stops the
    server in that state, and once space is freed the next start writes the history kept
    aside, complete."""
    disk = SmallDisk(tmp_path / "disk").mount()
    try:
        db = disk.path / "collab.db"
        path = root / "doc.txt"
        path.write_text("")
        first = Server(root, db, save_delay=0.2, save_max_wait=1, store_retry_max=1).start()
        try:
            doc_id = (await first.session("doc.txt"))["room"]
            writer = await first.connect("doc.txt")
            reader = await first.connect("doc.txt")
            await type_lines(writer, 0, 5)
            await eventually(lambda: reader.content() == lines(0, 5), what="first edits")
            disk.fill()
            # large lines: every update needs new pages of the database
            for i in range(5, 25):
                writer.jdoc._ysource.insert(len(writer.content()), f"line {i}{' ' * 6000}\n")
                await asyncio.sleep(0.005)
            expected = writer.content()
            await eventually(lambda: reader.content() == expected, what="edits keep flowing")
            await eventually(lambda: path.read_text() == expected, what="saved meanwhile")
            assert len(store_errors(reader)) == 1
            assert "full" in store_errors(reader)[0]["message"]
            assert first.terminate() == 0  # SIGTERM stops it, the database still full
            assert path.read_text() == expected
        finally:
            first.stop()
        disk.free()
        second = Server(root, db, save_delay=0.2, save_max_wait=1).start()
        try:
            again = await second.connect("doc.txt")
            assert again.content() == expected
            assert second.terminate() == 0
        finally:
            second.stop()
        text, entries = await logged(db, doc_id)
        assert text == expected
        assert_complete_log(entries, 25)
    finally:
        disk.unmount()


# -- a database that cannot be opened at start ---------------------------------------------------


def garbage(db: Path) -> str:
    db.write_bytes(b"this is not a database, it was overwritten " * 200)
    return "damaged"


def truncated(db: Path) -> str:
    """A real database with history, cut in the middle (a disk that filled up while copying,
    a crash of the file system)."""

    async def fill() -> None:
        async with await SQLiteStore.open(db) as store:
            for _ in range(400):
                await store.append("text:file:x", bytes(1000), origin="client", user=None,
                                   time=1.0)  # fmt: skip
            await store.vacuum()

    asyncio.run(fill())
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size // 2)
    return "damaged"


def newer_schema(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("INSERT INTO schema_version VALUES ('persistence', 999)")
    return "newer jupyter-collab"


BROKEN = {"garbage": garbage, "truncated": truncated, "newer_schema": newer_schema}


@pytest.mark.parametrize("broken", [*BROKEN, "unwritable_folder"])
async def test_extension_loads_and_works_with_a_broken_database(broken, root, tmp_path):
    """Today every collab endpoint was 404 and SIGTERM no longer stopped the server. Now:
    documents open, sync and save; users are told once; the status says what is wrong and
    what to do; history answers 503 with the reason; SIGTERM stops the server."""
    disk = None
    if broken == "unwritable_folder":
        if not can_mount():
            pytest.skip("needs to mount a read-only tmpfs (root)")
        disk = SmallDisk(tmp_path / "ro").mount()
        disk.read_only()
        db, expected = disk.path / "collab.db", "cannot open"
    else:
        db = tmp_path / "collab.db"
        expected = await asyncio.to_thread(BROKEN[broken], db)
    (root / "doc.txt").write_text("hello\n")
    srv = Server(root, db, save_delay=0.2, save_max_wait=1).start()
    try:
        status, body = await srv.request("GET", "api/collab/status")
        assert status == 200, body
        assert body["store"]["state"] == "unavailable" and not body["store"]["history"]
        assert expected in body["store"]["error"]
        assert "jupyter collab check" in body["store"]["help"]
        writer = await srv.connect("doc.txt")
        reader = await srv.connect("doc.txt")
        writer.jdoc._ysource.insert(len("hello\n"), "world\n")
        await eventually(lambda: reader.content() == "hello\nworld\n", what="sync")
        await eventually(lambda: (root / "doc.txt").read_text() == "hello\nworld\n", what="save")
        assert store_errors(reader) == [store_errors(reader)[0]]  # told once
        assert store_errors(reader)[0]["retrying"] is False
        doc_id = (await srv.session("doc.txt"))["room"]
        status, body = await srv.request("GET", f"api/collab/documents/{doc_id}/versions")
        assert status == 503 and expected in body["message"]
        assert "jupyter-collab cannot use its database" in srv.log()
        assert srv.terminate() == 0
    finally:
        srv.stop()
        if disk is not None:
            disk.unmount()
    assert (root / "doc.txt").read_text() == "hello\nworld\n"
