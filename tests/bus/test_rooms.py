"""Several Jupyter servers, one document: real server processes sharing a folder, one SQLite
database file and a real Redis (issue 9).

Every test starts its own ``redis-server`` and two or three ``python -m jupyter_server``
processes with ``--CollabApp.redis_url``; clients are real y-websocket clients
(``tests/client.py``) connected to different servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from typing import Any

import pytest
from jupyter_ydoc import YUnicode
from pycrdt import Doc, Map
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from ..stock import pycrdt_provider
from .conftest import converged, eventually, text_of

pytestmark = pytest.mark.timeout(600)


async def test_edits_on_three_servers_converge_and_reach_the_file_once(group: Any) -> None:
    """Clients on three servers type at once: everyone ends with every edit once, the file
    too (one server writes it; no line doubled), and each edit is logged once in the shared
    store (only the server that received it logs it)."""
    (group.root / "doc.txt").write_text("start\n")
    servers = group(3)
    clients = [await s.connect("doc.txt") for s in servers for _ in range(2)]
    assert all(text_of(c) == "start\n" for c in clients)

    words = {}
    for round in range(10):
        for i, client in enumerate(clients):
            word = f"<c{i}r{round}>"
            words[word] = client
            source = client.jdoc._ysource
            source.insert(len(str(source)), word)
        await asyncio.sleep(0.01)

    def complete(text: Any) -> bool:
        return all(text.count(w) == 1 for w in words)

    await converged(clients, complete)
    final = text_of(clients[0])
    assert final.startswith("start\n") and final.count("start") == 1
    assert all(final.count(word) == 1 for word in words)

    path = group.root / "doc.txt"
    await eventually(lambda: path.read_text() == final, timeout=60, what="the file to be saved")
    await asyncio.sleep(2)  # a second writer, if there were one, would have saved by now
    assert path.read_text() == final
    # One server saved; the "saved" notice reached the clients of all three.
    await eventually(
        lambda: all(any(n.get("type") == "saved" for n in c.notices) for c in clients),
        timeout=60,
        what="every client to hear that the file was saved",
    )

    # Each client update logged once (by the server that received it), never as "bus".
    room = (await servers[0].session("doc.txt"))["room"]
    db = sqlite3.connect(group.root.parent / "collab.db")
    try:
        rows = db.execute(
            "SELECT origin, data FROM collab_updates WHERE doc_id = ?", (room,)
        ).fetchall()
    finally:
        db.close()
    assert rows and not [origin for origin, _ in rows if origin == "bus"]
    for word in words:
        assert sum(word.encode() in data for _, data in rows) == 1, word
    for client in clients:
        client.close()


async def test_a_notebook_edited_on_two_servers(group: Any) -> None:
    """Cells added on two servers at once reach every client and the .ipynb file once each."""
    notebook = {
        "cells": [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# T"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (group.root / "n.ipynb").write_text(json.dumps(notebook))
    a, b = group(2)
    ca = await a.connect("n.ipynb", type="notebook")
    cb = await b.connect("n.ipynb", type="notebook")
    for i in range(5):
        for name, client in (("a", ca), ("b", cb)):
            cell = Map({"cell_type": "code", "id": f"{name}{i}", "source": f"x = '{name}{i}'",
                        "metadata": Map(), "outputs": [], "execution_count": None})  # fmt: skip
            client.jdoc.ycells.append(cell)

    def ids(content: Any) -> list[str]:
        return [cell["id"] for cell in content["cells"]]

    await converged([ca, cb], lambda c: len(ids(c)) == 11)
    expected = sorted(ids(ca.content()))
    assert expected == sorted(["intro"] + [f"{n}{i}" for n in "ab" for i in range(5)])

    path = group.root / "n.ipynb"

    def saved() -> bool:
        try:
            cells = json.loads(path.read_text())["cells"]
        except (ValueError, KeyError):
            return False
        return sorted(c["id"] for c in cells) == expected

    await eventually(saved, timeout=60, what="the notebook to be saved with every cell once")
    ca.close()
    cb.close()


async def test_a_document_opened_over_one_socket_is_the_groups_room(group: Any) -> None:
    """The open socket (``/api/collab/open/{path}``) on one server and the session PUT + room
    URL on another reach one room: pycrdt's own provider on the open socket and our client
    on the room URL see each other's edits, and the file has both once."""
    (group.root / "doc.txt").write_text("start\n")
    a, b = group(2)
    ca = await a.connect("doc.txt")
    request = HTTPRequest(
        f"ws://127.0.0.1:{b.port}/api/collab/open/doc.txt?format=text&type=file&fresh=1",
        headers={"Authorization": f"token {b.token}"},
    )
    ws = await websocket_connect(request)
    doc = Doc()
    text = YUnicode(doc)
    async with pycrdt_provider(ws, doc):
        await eventually(lambda: text.get() == "start\n", what="the open socket synced")
        text._ysource.insert(len(text.get()), "from b\n")
        ca.jdoc._ysource.insert(len(text_of(ca)), "from a\n")
        await eventually(
            lambda: sorted(text.get().splitlines()) == ["from a", "from b", "start"]
            and text.get() == text_of(ca),
            timeout=30,
            what="both edits on both servers",
        )
    await eventually(
        lambda: sorted((group.root / "doc.txt").read_text().splitlines())
        == ["from a", "from b", "start"],
        timeout=60,
        what="the file saved with both edits once",
    )
    ca.close()


async def test_presence_crosses_servers_and_goes_when_its_server_dies(group: Any) -> None:
    """A cursor set on one server is seen on another (stamped with the user); SIGKILL that
    server and its users' presence is removed everywhere within seconds (heartbeats)."""
    (group.root / "p.txt").write_text("hello\n")
    a, b = group(2)
    ca = await a.connect("p.txt")
    cb = await b.connect("p.txt")
    ca.set_awareness({"cursor": {"anchor": 1}, "user": {"name": "forged"}})
    cb.set_awareness({"cursor": {"anchor": 2}})
    ida, idb = ca.ydoc.client_id, cb.ydoc.client_id

    await eventually(lambda: ida in cb.awareness, timeout=60, what="a's presence on b")
    await eventually(lambda: idb in ca.awareness, timeout=60, what="b's presence on a")
    assert cb.awareness[ida]["cursor"] == {"anchor": 1}
    # a's server stamped the identity; b passed it on unchanged
    assert cb.awareness[ida]["user"].get("name") != "forged"

    # A client joining b later gets a's presence in its snapshot.
    late = await b.connect("p.txt")
    await eventually(lambda: ida in late.awareness, timeout=60, what="a's presence for a joiner")

    a.kill()
    await eventually(lambda: ida not in cb.awareness, timeout=60, what="a's presence to go")
    await eventually(lambda: ida not in late.awareness, timeout=60, what="a's presence to go")
    assert idb not in cb.awareness or cb.awareness[idb]["cursor"] == {"anchor": 2}
    cb.close()
    late.close()


async def test_killed_writer_is_replaced_and_nothing_is_doubled(group: Any) -> None:
    """SIGKILL the server that writes the file mid-editing: another takes over saving, its
    clients' edits reach the file, and no line appears twice (issue 9's measured defect)."""
    (group.root / "k.txt").write_text("first line\n")
    servers = group(3)
    clients = [await s.connect("k.txt") for s in servers]
    for i, client in enumerate(clients):
        client.jdoc._ysource.insert(0, f"from {i}\n")
    await converged(clients, lambda c: all(f"from {i}\n" in c for i in range(3)))
    path = group.root / "k.txt"
    final = text_of(clients[0])
    await eventually(lambda: path.read_text() == final, timeout=60, what="the first save")

    # Exactly one writer lease for the room, held by one of the servers: find which.
    redis = group.redis().client()
    keys = redis.keys("collab:lease:write:*")
    assert len(keys) == 1, keys
    holder = redis.get(keys[0]).decode().split("|")[0]
    redis.close()
    [w] = [i for i, s in enumerate(servers) if f"as server {holder}" in s.log()]

    # Kill the writer mid-editing; the others go on typing, and so does its client, offline.
    servers[w].kill()
    orphan = clients[w]
    await eventually(lambda: orphan.closed.is_set(), timeout=60, what="the orphan's socket")
    orphan.online = False  # its tab keeps the document and queues what is typed
    orphan.jdoc._ysource.insert(0, "typed offline\n")
    survivors = [c for i, c in enumerate(clients) if i != w]
    for round in range(5):
        for i, client in enumerate(survivors):
            client.jdoc._ysource.insert(len(text_of(client)), f"after {i}.{round}\n")
    # The orphan's tab reconnects to another server with the document it kept.
    other = servers[(w + 1) % 3]
    rejoined = await other.connect("k.txt", ydoc=orphan.ydoc)
    everyone = [*survivors, rejoined]
    wanted = ["typed offline\n"] + [f"after {i}.{r}\n" for i in range(2) for r in range(5)]
    await converged(everyone, lambda c: all(c.count(x) == 1 for x in wanted))
    final = text_of(survivors[0])
    await eventually(lambda: path.read_text() == final, timeout=90, what="a survivor to save")
    text = path.read_text()
    assert text.count("first line") == 1
    assert all(text.count(x) == 1 for x in [*wanted, *(f"from {i}\n" for i in range(3))])
    assert "now writes k.txt" in "".join(s.log() for i, s in enumerate(servers) if i != w)
    for client in everyone:
        client.close()


async def test_a_consumer_behind_the_streams_retention_resyncs_from_the_store(group: Any) -> None:
    """Stop one server (SIGSTOP), edit on another, trim the edit stream past what the stopped
    one read (a consumer that fell behind retention), continue it (SIGCONT): it finds the gap
    and re-syncs from the shared store instead of diverging."""
    EDITS = 300
    (group.root / "g.txt").write_text("base\n")
    a, b = group(2)
    ca = await a.connect("g.txt")
    cb = await b.connect("g.txt")
    ca.jdoc._ysource.insert(0, "one\n")
    await converged([ca, cb], lambda c: "one\n" in c)

    room = (await a.session("g.txt"))["room"]
    assert b.process is not None
    os.kill(b.process.pid, signal.SIGSTOP)
    try:
        # More edits than one read of the stopped server takes (100): the reply its blocked
        # read was sent holds the first of them at most; the rest are trimmed away.
        for i in range(EDITS):
            ca.jdoc._ysource.insert(len(text_of(ca)), f"while stopped {i}\n")
            await asyncio.sleep(0.005)
        redis = group.redis().client()
        stream = f"collab:document.edit:{room}"
        await eventually(
            lambda: redis.xlen(stream) >= EDITS, timeout=60, what="the edits on Redis"
        )
        redis.xtrim(stream, maxlen=0)
        redis.close()
    finally:
        os.kill(b.process.pid, signal.SIGCONT)
    # Nothing is published after: the continued server finds the gap on its own.
    await converged(
        [ca, cb], lambda c: all(f"while stopped {i}\n" in c for i in range(EDITS))
    )
    await eventually(lambda: "re-syncing from the store" in b.log(), timeout=30, what="a resync")
    ca.close()
    cb.close()


async def test_redis_restarted_mid_editing_loses_nothing(group: Any) -> None:
    """Redis killed while clients on two servers type, started again (empty): every edit
    reaches everyone once (the servers find the restart and re-sync from the store)."""
    (group.root / "r.txt").write_text("")
    a, b = group(2)
    ca = await a.connect("r.txt")
    cb = await b.connect("r.txt")
    ca.jdoc._ysource.insert(0, "before\n")
    await converged([ca, cb], lambda c: c == "before\n")
    redis = group.redis()
    redis.stop(kill=True)
    for i in range(5):
        ca.jdoc._ysource.insert(len(text_of(ca)), f"a{i}\n")
        cb.jdoc._ysource.insert(len(text_of(cb)), f"b{i}\n")
        await asyncio.sleep(0.2)
    redis.start()
    expected = ["before\n"] + [f"{n}{i}\n" for n in "ab" for i in range(5)]
    await converged([ca, cb], lambda c: all(c.count(x) == 1 for x in expected))
    path = group.root / "r.txt"
    final = text_of(ca)
    await eventually(lambda: path.read_text() == final, timeout=90, what="the file")
    ca.close()
    cb.close()
