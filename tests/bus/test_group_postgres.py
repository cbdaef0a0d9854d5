"""A group of servers on Redis *and* PostgreSQL (issue 9): three server processes on one folder
with ``redis_url`` and ``database_url`` (history, file ids and shares in a real PostgreSQL, no
SQLite at all), clients on each; and a stock y-websocket client (yjs + y-websocket 1.5 in Node,
``tests/stock.py``) on a second server of a group, editing with clients of the first.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from pycrdt import Map

from ..stock import node_clients
from .conftest import converged, eventually, text_of
from .test_writer import writer_of

pytestmark = pytest.mark.timeout(900)

USERS = (
    "--ServerApp.identity_provider_class=tests.auth.TestIdentityProvider",
    "--ServerApp.authorizer_class=tests.auth.TestAuthorizer",
)


def _rows(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def notebook(*ids: str) -> str:
    cells = [{"cell_type": "markdown", "id": i, "metadata": {}, "source": f"# {i}"} for i in ids]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def cell(name: str) -> Map:
    return Map({"cell_type": "code", "id": name, "source": f"x = '{name}'", "metadata": Map(),
                "outputs": [], "execution_count": None})  # fmt: skip


def cell_ids(content: Any) -> list[str]:
    return [c["id"] for c in content["cells"]]


def saved_cells(path: Any) -> list[str] | None:
    try:
        return sorted(c["id"] for c in json.loads(path.read_text())["cells"])
    except (ValueError, KeyError):
        return None  # (caught in the middle of a save)


async def test_three_servers_on_redis_and_postgres(group: Any, postgres_url: str) -> None:
    """Notebook and text edited at once through three servers sharing Redis and PostgreSQL:
    everyone converges, each file is written with every edit once, each edit is logged once in
    PostgreSQL (never as "bus"). Then the server writing the text file is SIGKILLed mid-editing:
    its client rejoins another server with what it typed offline; nothing is lost or doubled
    and another server takes over saving."""
    text_path, nb_path = group.root / "doc.txt", group.root / "n.ipynb"
    text_path.write_text("start\n")
    nb_path.write_text(notebook("intro"))
    servers = group(3, database_url=postgres_url)
    texts = [await s.connect("doc.txt") for s in servers]
    books = [await s.connect("n.ipynb", type="notebook") for s in servers]

    words = []
    for round in range(5):
        for i, (text, book) in enumerate(zip(texts, books, strict=True)):
            word = f"<s{i}r{round}>"
            words.append(word)
            text.jdoc._ysource.insert(len(text_of(text)), word)
            book.jdoc.ycells.append(cell(f"s{i}r{round}"))
        await asyncio.sleep(0.05)
    await converged(texts, lambda t: all(t.count(w) == 1 for w in words))
    expected = sorted(["intro"] + [w.strip("<>") for w in words])
    await converged(books, lambda c: sorted(cell_ids(c)) == expected)
    final = text_of(texts[0])
    await eventually(lambda: text_path.read_text() == final, timeout=120, what="doc.txt saved")
    await eventually(lambda: saved_cells(nb_path) == expected, timeout=120, what="n.ipynb saved")
    assert final.count("start") == 1

    room = (await servers[0].session("doc.txt"))["room"]
    rows = _rows(postgres_url, "SELECT origin, data FROM collab_updates WHERE doc_id = %s", room)
    assert rows and all(origin != "bus" for origin, _ in rows)
    for word in words:
        assert sum(word.encode() in bytes(data) for _, data in rows) == 1, word
    assert not (group.root.parent / "collab.db").exists()  # nothing in SQLite

    # SIGKILL the writer of doc.txt mid-editing.
    w = writer_of(group, servers, room)
    servers[w].kill()
    orphan = texts[w]
    await eventually(lambda: orphan.closed.is_set(), timeout=60, what="the orphan's socket")
    orphan.online = False  # its tab keeps the document and what is typed meanwhile
    orphan.jdoc._ysource.insert(0, "typed offline\n")
    survivors = [t for i, t in enumerate(texts) if i != w]
    later = []
    for round in range(5):
        for i, text in enumerate(survivors):
            later.append(f"<after{i}.{round}>")
            text.jdoc._ysource.insert(len(text_of(text)), later[-1])
        await asyncio.sleep(0.05)
    rejoined = await servers[(w + 1) % 3].connect("doc.txt", ydoc=orphan.ydoc)
    everyone = [*survivors, rejoined]
    wanted = ["typed offline\n", *words, *later]
    await converged(everyone, lambda t: all(t.count(x) == 1 for x in wanted))
    final = text_of(survivors[0])
    await eventually(lambda: text_path.read_text() == final, timeout=180, what="the take-over")
    text = text_path.read_text()
    assert text.count("start") == 1 and all(text.count(x) == 1 for x in wanted)
    assert any("now writes doc.txt" in s.log() for i, s in enumerate(servers) if i != w)
    for client in [*everyone, *books]:
        client.close()


async def test_a_stock_client_on_a_second_server(group: Any) -> None:
    """Stock yjs + y-websocket (Node) connected to server B edits a text file and a notebook
    with our clients on server A: they converge, and the files hold both sides' edits once."""
    (group.root / "s.txt").write_text("hello\n")
    (group.root / "s.ipynb").write_text(notebook("intro"))
    a, b = group(2, server_args=USERS)
    ours = await a.connect("s.txt", token="alice-token")
    book = await a.connect("s.ipynb", type="notebook", token="alice-token")
    text_room = (await b.session("s.txt", token="bob-token"))["room"]
    nb_room = (await b.session("s.ipynb", type="notebook", token="bob-token"))["room"]
    ws_base = f"ws://127.0.0.1:{b.port}/"
    async with node_clients() as start:
        stock = await start()
        await stock.connect(ws_base, text_room, "bob")
        assert await stock.content() == "hello\n"
        stock.send(cmd="insert", index=0, text="from node on B\n")
        ours.jdoc._ysource.insert(len(text_of(ours)), "from python on A\n")
        both = "from node on B\nhello\nfrom python on A\n"

        async def same_text() -> bool:
            return text_of(ours) == both and await stock.content() == both

        await eventually(same_text, timeout=120, what="the text to converge across servers")
        await eventually(
            lambda: (group.root / "s.txt").read_text() == both, timeout=120, what="s.txt saved"
        )

        nb_stock = await start()
        await nb_stock.connect(ws_base, nb_room, "bob", kind="notebook")
        nb_stock.send(cmd="cell-insert", index=1, source="# from node", cell_type="markdown")
        book.jdoc.ycells.append(cell("python"))

        async def sources() -> list[str]:
            return sorted(c["source"] for c in (await nb_stock.content())["cells"])

        wanted = sorted(["# intro", "# from node", "x = 'python'"])

        async def same_notebook() -> bool:
            mine = sorted(c["source"] for c in book.content()["cells"])
            return mine == wanted and await sources() == wanted

        await eventually(same_notebook, timeout=120, what="the notebook to converge")

        def on_disk() -> list[str] | None:
            try:
                cells = json.loads((group.root / "s.ipynb").read_text())["cells"]
            except (ValueError, KeyError):
                return None
            return sorted("".join(c["source"]) for c in cells)

        await eventually(lambda: on_disk() == wanted, timeout=120, what="s.ipynb saved")
    ours.close()
    book.close()
