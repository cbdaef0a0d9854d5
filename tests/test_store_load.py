"""Issue 8: many rooms opening at once never freeze the server nor fail on "database is locked".

No SQLite work runs on the event loop: while the database waits for a lock (another server on
the same file, in the middle of a long transaction), the server keeps answering everything that
does not need to write; and every component of a process writes through one connection, so they
never lock each other out. Assertions are about what succeeds and what content arrives, never
about how long it took (figures: benchmarks/many_rooms.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from .client import eventually
from .servers import Server

FILES = 150


@pytest.fixture
def collab_config(collab_config: dict[str, Any]) -> dict[str, Any]:
    # Waits on the other server's lock instead of counting it as a failure (the test decides
    # how long the lock is held), and no autosave churn: this is about opening.
    return {**collab_config, "db_busy_timeout": 120.0, "save_delay": 5, "save_max_wait": 10}


@pytest.fixture(autouse=True)
def many_requests_at_once(http_server_client: Any) -> None:
    """The test client sends every request at once (tornado queues all but 10 by default),
    and waits as long as a loaded machine may need."""
    http_server_client.max_clients = 1000
    http_server_client.defaults = {
        **http_server_client.defaults, "request_timeout": 300, "connect_timeout": 300
    }


@pytest.fixture
def server_log(jp_serverapp: Any) -> Any:
    """Every line the server logs while the test runs."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep(level=logging.DEBUG)
    loggers = [jp_serverapp.log, logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)


def db_path(jp_serverapp: Any) -> Path:
    (app,) = jp_serverapp.extension_manager.extension_apps["jupyter_collab"]
    return Path(app.db_path)


class OtherServerLock(threading.Thread):
    """Another process's long write transaction on the database file (its write lock held),
    from a thread of its own: given up when the test says so, or after ``hold_max`` seconds
    whatever happens (on main the event loop, and so the test, froze while it was held)."""

    def __init__(self, db: Path, hold_max: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.db, self.hold_max = db, hold_max
        self.acquired, self.done = threading.Event(), threading.Event()
        self.holding = False
        self.start()

    def run(self) -> None:
        conn = sqlite3.connect(self.db, timeout=60, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.holding = True
        self.acquired.set()
        self.done.wait(self.hold_max)
        self.holding = False
        conn.execute("COMMIT")
        conn.close()

    def release(self) -> None:
        self.done.set()
        self.join(60)


async def typing(writer: Any, stop: asyncio.Event) -> int:
    """Type a line every few ms into an open document until told to stop."""
    n = 0
    while not stop.is_set():
        writer.jdoc._ysource.insert(len(writer.content()), f"edit {n}\n")
        n += 1
        await asyncio.sleep(0.01)
    return n


async def test_opening_150_files_with_edits_going_on(
    jp_root_dir, jp_serverapp, connect, jp_fetch, server_log
):
    for i in range(FILES):
        (jp_root_dir / f"f{i}.txt").write_text(f"file {i}\n")
    (jp_root_dir / "typing.txt").write_text("")
    writer = await connect("typing.txt")
    reader = await connect("typing.txt")
    stop = asyncio.Event()
    typist = asyncio.ensure_future(typing(writer, stop))
    opens = [asyncio.ensure_future(connect(f"f{i}.txt")) for i in range(FILES)]
    # Meanwhile the server answers other requests.
    answers = 0
    while not all(o.done() for o in opens):
        reply = await jp_fetch("api", "collab", "status")
        assert json.loads(reply.body)["store"]["state"] == "ok"
        listing = await jp_fetch("api", "contents", params={"content": "0"})
        assert listing.code == 200
        answers += 1
        await asyncio.sleep(0.05)
    stop.set()
    typed = await typist
    clients = [o.result() for o in opens]  # every session PUT and join succeeded
    assert [c.content() for c in clients] == [f"file {i}\n" for i in range(FILES)]
    expected = "".join(f"edit {n}\n" for n in range(typed))
    await eventually(lambda: reader.content() == expected, what="every edit reached the reader")
    assert answers >= 1
    assert not [line for line in server_log if "database is locked" in line]


async def test_a_lock_held_by_another_server_does_not_freeze_this_one(
    jp_root_dir, jp_serverapp, connect, open_session, jp_fetch, server_log
):
    """Another server on the same database file holds its write lock (a long transaction):
    opening never-opened files has to wait for it, but the server keeps answering everything
    else meanwhile (on main, the event loop itself waited on SQLite, up to its 30 s timeout,
    and then the opens failed with "database is locked")."""
    for i in range(FILES):
        (jp_root_dir / f"f{i}.txt").write_text(f"file {i}\n")
    (jp_root_dir / "known.txt").write_text("known\n")
    (jp_root_dir / "typing.txt").write_text("")
    known = await connect("known.txt")
    writer = await connect("typing.txt")
    reader = await connect("typing.txt")

    other_server = OtherServerLock(db_path(jp_serverapp))
    await asyncio.to_thread(other_server.acquired.wait, 60)
    assert other_server.holding
    try:
        opens = [asyncio.ensure_future(connect(f"f{i}.txt")) for i in range(FILES)]
        writer.jdoc._ysource.insert(0, "typed while locked\n")

        async def answered_while_locked() -> None:
            listing = await jp_fetch("api", "contents", params={"content": "0"})
            assert listing.code == 200
            # A file opened before needs nothing written: its session and room still work.
            session = await open_session("known.txt")
            assert session["room"] and session["path"] == "known.txt"
            again = await connect("known.txt")
            assert again.content() == known.content() == "known\n"

        await answered_while_locked()
        # (on main the event loop stood still until the lock was given up)
        assert other_server.holding, "the server only answered once the lock was released"
        assert not any(o.done() for o in opens)  # they wait for the lock, not fail
        status = json.loads((await jp_fetch("api", "collab", "status")).body)
        assert status["store"]["state"] == "ok"
    finally:
        other_server.release()
    clients = await asyncio.gather(*opens)
    assert [c.content() for c in clients] == [f"file {i}\n" for i in range(FILES)]
    await eventually(lambda: reader.content() == "typed while locked\n", what="the edit")
    assert not [line for line in server_log if "database is locked" in line]


async def test_two_servers_on_one_database_file_do_not_lock_each_other_out(tmp_path):
    """The default database in the Jupyter data dir is shared by every server a user starts:
    two real server processes open 100 files each at once, with edits going on in both."""
    files = 100
    db = tmp_path / "collab.db"
    servers = []
    try:
        for name in ("one", "two"):
            root = tmp_path / name / "root"
            root.mkdir(parents=True)
            for i in range(files):
                (root / f"f{i}.txt").write_text(f"{name} {i}\n")
            (root / "typing.txt").write_text("")
            server = Server(root, db, save_delay=5, save_max_wait=10)
            server.start()
            servers.append(server)
        writers = [await s.connect("typing.txt") for s in servers]
        readers = [await s.connect("typing.txt") for s in servers]
        stop = asyncio.Event()
        typists = [asyncio.ensure_future(typing(w, stop)) for w in writers]
        opens = [s.connect(f"f{i}.txt") for s in servers for i in range(files)]
        clients = await asyncio.gather(*opens)
        stop.set()
        typed = await asyncio.gather(*typists)
        names = [n for n in ("one", "two") for _ in range(files)]
        assert [c.content() for c in clients] == [
            f"{name} {i % files}\n" for i, name in enumerate(names)
        ]
        for reader, n in zip(readers, typed, strict=True):
            expected = "".join(f"edit {k}\n" for k in range(n))
            await eventually(lambda r=reader, e=expected: r.content() == e, what="edits")
    finally:
        for server in servers:
            server.stop()
    for name in ("one", "two"):
        log = (tmp_path / name / "server.log").read_text()
        assert "database is locked" not in log
        assert "Traceback" not in log
