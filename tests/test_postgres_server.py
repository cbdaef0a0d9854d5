"""Real Jupyter servers with ``CollabApp.database_url``: history, file ids and shares in a real
PostgreSQL (tests/services/postgres.py), none of it in SQLite.

Each server is its own process (tests/servers.py) so that it can be killed and started again.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from pycrdt import Doc, Text

from jupyter_collab.persistence.postgres import PostgresStore

from .client import Client, eventually
from .servers import Server
from .services.postgres import PostgresServer


def _rows(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _server(root: Path, sqlite: Path, url: str, **collab: object) -> Server:
    return Server(root, sqlite, database_url=url, **collab)


async def test_history_is_in_postgres_and_survives_a_killed_server(
    tmp_path: Path, postgres_url: str
) -> None:
    """An edit and a named version made through one server are in PostgreSQL (not in the
    SQLite file at db_path, which is never created); the server is killed before it could save
    the file; a server started again, with another db_path, shows the edit (it can only come
    from PostgreSQL's update log: the file on disk still has the old text), the same room, and
    the named version with its content."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("first line\n")
    first_db, second_db = tmp_path / "first.db", tmp_path / "second.db"
    first = _server(root, first_db, postgres_url, save_delay=3600, save_max_wait=3600).start()
    try:
        writer = await first.connect("notes.txt")
        assert writer.content() == "first line\n"
        room = (await first.session("notes.txt"))["room"]
        writer.jdoc._ysource.insert(len(writer.content()), "typed with postgres\n")
        # (the edit travels on the WebSocket, the naming on HTTP: name it once it arrived)
        await eventually(
            lambda: any(
                b"typed with postgres" in bytes(data)
                for (data,) in _rows(postgres_url, "SELECT data FROM collab_updates")
            ),
            timeout=60,
            what="the edit in PostgreSQL's update log",
        )
        status, named = await first.request(
            "POST", f"api/collab/documents/{room}/versions", {"name": "before the kill"}
        )
        assert status == 201, named
        writer.close()
        first.kill()
    finally:
        first.stop()
    assert (root / "notes.txt").read_text() == "first line\n"  # never saved
    assert not first_db.exists()
    (files,) = _rows(postgres_url, "SELECT count(*) FROM collab_files WHERE path = 'notes.txt'")
    assert files == (1,)

    second = _server(root, second_db, postgres_url, save_delay=0.2).start()
    try:
        reader = await second.connect("notes.txt")
        assert reader.content() == "first line\ntyped with postgres\n"
        assert (await second.session("notes.txt"))["room"] == room
        status, listed = await second.request("GET", f"api/collab/documents/{room}/versions")
        assert status == 200
        (version,) = [v for v in listed["versions"] if v["name"] == "before the kill"]
        status, content = await second.request(
            "GET", f"api/collab/documents/{room}/versions/{version['id']}"
        )
        assert status == 200 and content["content"] == "first line\ntyped with postgres\n"
        await eventually(
            lambda: (root / "notes.txt").read_text() == "first line\ntyped with postgres\n",
            timeout=60,
            what="the resumed document saved",
        )
        status, body = await second.request("GET", "api/collab/status")
        assert status == 200 and body["store"]["state"] == "ok"
        reader.close()
    finally:
        second.stop()
    assert not second_db.exists()
    assert "Traceback" not in second.log()


async def test_servers_on_one_folder_through_different_paths_share_file_ids(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two servers whose root dirs are different paths to one folder (a link) give a file one
    id and one room; a rename through one of them is followed by the other (the id is found at
    the new path, with its history); a share set through one is read by the other at start."""
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "a.txt").write_text("shared\n")
    link = tmp_path / "link-to-team"
    link.symlink_to(folder, target_is_directory=True)
    one = _server(folder, tmp_path / "one.db", postgres_url)
    two = Server(link, tmp_path / "two.db", database_url=postgres_url)
    two.log_path = tmp_path / "server-two.log"
    try:
        one.start()
        two.start()
        on_one, on_two = await one.session("a.txt"), await two.session("a.txt")
        assert on_one["fileId"] == on_two["fileId"] and on_one["room"] == on_two["room"]
        two.stop()

        status, _ = await one.request("PATCH", "api/contents/a.txt", {"path": "b.txt"})
        assert status == 200
        status, _ = await one.request(
            "PUT", "api/collab/shares/b.txt", {"user": "*", "role": "viewer"}
        )
        assert status in (200, 201), _
        two = Server(link, tmp_path / "two.db", database_url=postgres_url)
        two.log_path = tmp_path / "server-two.log"
        two.start()
        moved = await two.session("b.txt")
        assert moved["fileId"] == on_one["fileId"] and moved["room"] == on_one["room"]
        status, shares = await two.request("GET", "api/collab/shares/b.txt")
        assert status == 200, shares
        assert shares["everyone"]["role"] == "viewer" and not shares["everyone"]["inherited"]
        roots = _rows(postgres_url, "SELECT DISTINCT root FROM collab_files")
        assert roots == [(os.path.realpath(folder),)]
    finally:
        one.stop()
        two.stop()


async def test_an_unreachable_database_leaves_the_server_up_without_history(
    tmp_path: Path,
) -> None:
    """A database_url nobody answers: the server starts anyway (documents open, sync and are
    saved), says why history is off, answers 503 on history, and the password is never shown."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    root = tmp_path / "root"
    root.mkdir()
    (root / "x.txt").write_text("x\n")
    url = f"postgresql://someone:hunter2@127.0.0.1:{closed}/collab"
    server = _server(root, tmp_path / "c.db", url, database_timeout=2, save_delay=0.2).start()
    try:
        await eventually(lambda: "cannot use its database" in server.log(), timeout=60,
                         what="the start-up message")  # fmt: skip
        client = await server.connect("x.txt")
        client.jdoc._ysource.insert(0, "still works\n")
        await eventually(lambda: (root / "x.txt").read_text() == "still works\nx\n",
                         timeout=60, what="the save")  # fmt: skip
        status, body = await server.request("GET", "api/collab/status")
        assert status == 200 and body["store"]["state"] == "unavailable"
        assert "cannot reach" in body["store"]["error"] and "hunter2" not in str(body)
        room = (await server.session("x.txt"))["room"]
        status, _ = await server.request("GET", f"api/collab/documents/{room}/versions")
        assert status == 503
        client.close()
    finally:
        server.stop()
    assert "hunter2" not in server.log()
    assert not (tmp_path / "c.db").exists()


async def _type_lines(writer: Client, stop: asyncio.Event) -> int:
    n = 0
    while not stop.is_set():
        writer.jdoc._ysource.insert(len(writer.content()), f"line {n}\n")
        n += 1
        await asyncio.sleep(0.02)
    return n


async def _logged_text(url: str) -> str:
    """The text document that PostgreSQL's history holds, replayed from it alone."""
    return (await _logged(url))[0]


async def _logged(url: str) -> tuple[str, set[str]]:
    """The text PostgreSQL's history holds, replayed from it alone, and its updates' origins."""
    (doc_id,) = [d for (d,) in _rows(url, "SELECT doc_id FROM collab_docs")]
    store = await PostgresStore.open(url)
    try:
        snapshot, entries = await store.history(doc_id)
    finally:
        await store.close()
    doc = Doc()
    if snapshot is not None:
        doc.apply_update(snapshot.state)
    for entry in entries:
        doc.apply_update(entry.update)
    return str(doc.get("source", type=Text)), {entry.origin for entry in entries}


async def test_postgres_restarted_mid_editing_loses_and_doubles_nothing(
    tmp_path: Path, postgres_factory: Callable[..., PostgresServer]
) -> None:
    """PostgreSQL restarts while a client types a line every 20 ms: every client ends with
    every line once, and the history in PostgreSQL, replayed alone, is exactly that text (each
    update stored once, none lost: the commits cut off by the restart were resolved)."""
    postgres = postgres_factory()
    url = postgres.create_database()
    root = tmp_path / "root"
    root.mkdir()
    (root / "typing.txt").write_text("")
    server = _server(root, tmp_path / "c.db", url, save_delay=0.5).start()
    try:
        writer = await server.connect("typing.txt")
        reader = await server.connect("typing.txt")
        stop = asyncio.Event()
        typist = asyncio.ensure_future(_type_lines(writer, stop))
        await eventually(lambda: reader.content().count("\n") >= 20, timeout=60,
                         what="lines before the restart")  # fmt: skip
        await asyncio.to_thread(postgres.restart)
        before = writer.content().count("\n")
        await eventually(lambda: reader.content().count("\n") >= before + 20, timeout=60,
                         what="lines after the restart")  # fmt: skip
        stop.set()
        typed = await typist
        expected = "".join(f"line {i}\n" for i in range(typed))
        await eventually(lambda: reader.content() == expected, timeout=60, what="the reader")
        logged = ""
        for _ in range(240):  # the history catches up (within database_timeout at most)
            logged = await _logged_text(url)
            if logged == expected:
                break
            await asyncio.sleep(0.5)
        assert logged == expected
        await eventually(lambda: (root / "typing.txt").read_text() == expected, timeout=60,
                         what="the file saved")  # fmt: skip
        status, body = await server.request("GET", "api/collab/status")
        assert status == 200 and body["store"]["state"] == "ok", body
        writer.close()
        reader.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def _outage_updates(runtime: Path) -> int:
    """Updates kept in the outage logs of a server's runtime dir (persistence/outage.py)."""
    count = 0
    for path in (runtime / "jupyter_collab").glob("*.outage"):
        for line in path.read_text(errors="replace").splitlines():
            try:
                count += json.loads(line).get("t") == "update"
            except ValueError:
                continue  # (a torn last line)
    return count


async def test_a_server_killed_during_an_outage_loses_no_history(
    tmp_path: Path, postgres_factory: Callable[..., PostgresServer]
) -> None:
    """PostgreSQL goes away; the server keeps syncing and saving, says it is failing, and keeps
    the updates it cannot log in its outage log; it is killed before PostgreSQL is back. The
    next server on the machine replays them into PostgreSQL before opening any room: the
    history replayed alone is the whole text, each line once."""
    postgres = postgres_factory()
    url = postgres.create_database()
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("")
    options = {"database_timeout": 2, "save_delay": 0.2, "store_retry_max": 2}
    server = _server(root, tmp_path / "c.db", url, **options).start()
    try:
        writer = await server.connect("notes.txt")
        writer.jdoc._ysource.insert(0, "before the outage\n")
        await eventually(lambda: (root / "notes.txt").read_text() == "before the outage\n",
                         timeout=60, what="the first save")  # fmt: skip
        await asyncio.to_thread(postgres.stop)
        for i in range(5):
            writer.jdoc._ysource.insert(len(writer.content()), f"during the outage {i}\n")
        expected = "before the outage\n" + "".join(f"during the outage {i}\n" for i in range(5))
        await eventually(lambda: (root / "notes.txt").read_text() == expected, timeout=60,
                         what="the edits saved during the outage")  # fmt: skip
        await eventually(lambda: _outage_updates(tmp_path / "runtime") >= 5, timeout=120,
                         what="the outage log")  # fmt: skip
        status, body = await server.request("GET", "api/collab/status")
        assert status == 200 and body["store"]["state"] == "failing", body
        writer.close()
        server.kill()
    finally:
        server.stop()
    await asyncio.to_thread(postgres.start)
    second = _server(root, tmp_path / "c.db", url, **options).start()
    try:
        reader = await second.connect("notes.txt")
        assert reader.content() == expected
        logged, origins = await _logged(url)
        assert logged == expected
        # the clients' own updates, not a merge of the file on disk made up after the fact
        assert "disk" not in origins, origins
        assert "Replayed the history a server kept during an outage" in second.log()
        reader.close()
    finally:
        second.stop()


def test_database_url_validation() -> None:
    from traitlets import TraitError

    from jupyter_collab.app import CollabApp

    app = CollabApp()
    with pytest.raises(TraitError, match="PostgreSQL URL"):
        app.database_url = "mysql://x@127.0.0.1/db"
    app.database_url = " postgresql://u@127.0.0.1:5432/db "
    assert app.database_url == "postgresql://u@127.0.0.1:5432/db"

