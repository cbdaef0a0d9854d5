"""Clients nobody here wrote (stock yjs + y-websocket 1.5 in Node, pycrdt's own Provider)
edit the same documents as our JupyterLab-shaped client, through a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import nbformat
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc

from .auth import token_header
from .client import eventually
from .stock import node_clients, pycrdt_provider, stock_client


async def share(api: Any, path: str, user: str, role: str) -> None:
    status, body = await api("PUT", "shares", path, user="alice", body={"user": user, "role": role})
    assert status == 200, body


async def history_content(api: Any, room: str) -> Any:
    """The content of a version made now, as the durable history holds it."""
    status, body = await api("POST", "documents", room, "versions", body={"name": "check"})
    assert status == 201, body
    status, content = await api("GET", "documents", room, "versions", str(body["version"]["id"]))
    assert status == 200, content
    return content["content"]


async def test_stock_yjs_text_converges(jp_root_dir, ours_in_room, ws_base):
    (jp_root_dir / "a.txt").write_text("hello\n")
    ours, room = await ours_in_room("a.txt")
    async with stock_client(ws_base, room, "bob") as stock:
        assert await stock.content() == "hello\n"
        stock.send(cmd="insert", index=0, text="S")
        ours.jdoc._ysource.insert(len(ours.content()), "O")

        async def same() -> bool:
            return await stock.content() == ours.content() == "Shello\nO"

        await eventually(same, what="convergence")
        await eventually(lambda: (jp_root_dir / "a.txt").read_text() == "Shello\nO", what="file")


async def test_stock_yjs_notebook_converges(jp_root_dir, ours_in_room, ws_base):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(3)]
    nbformat.write(nb, jp_root_dir / "n.ipynb")
    ours, room = await ours_in_room("n.ipynb", "json", "notebook")
    async with stock_client(ws_base, room, "bob", kind="notebook") as stock:
        cells = (await stock.content())["cells"]
        assert [c["source"] for c in cells] == ["x = 0", "x = 1", "x = 2"]
        # the stock client adds a markdown cell and edits a source; ours deletes a cell
        stock.send(cmd="cell-insert", index=3, source="# from node", cell_type="markdown")
        stock.send(cmd="cell-edit", cell=1, index=5, text=" + 1")
        del ours.jdoc.ycells[0]

        async def sources() -> list[str]:
            return [c["source"] for c in (await stock.content())["cells"]]

        async def same() -> bool:
            mine = [c["source"] for c in ours.content()["cells"]]
            return mine == await sources() == ["x = 1 + 1", "x = 2", "# from node"]

        await eventually(same, what="notebook convergence")

        def on_disk() -> list[str]:
            try:
                return [c.source for c in nbformat.read(jp_root_dir / "n.ipynb", 4).cells]
            except Exception:  # caught in the middle of a save
                return []

        await eventually(lambda: on_disk() == ["x = 1 + 1", "x = 2", "# from node"], what="file")
        nbformat.validate(nbformat.read(jp_root_dir / "n.ipynb", 4))


async def test_stock_yjs_reconnects_after_the_server_drops_it(
    jp_root_dir, connect, open_session, ws_base, rooms
):
    (jp_root_dir / "r.txt").write_text("start\n")
    ours = await connect("r.txt", headers=token_header("alice"))
    room_id = (await open_session("r.txt"))["room"]
    async with node_clients() as start:
        stock = await start()
        await stock.connect(ws_base, room_id, "bob")
        # the server drops every connection of the room (as a restart of a proxy would)
        for participant in list(rooms.rooms[room_id].participants):
            if participant.username == "bob":
                participant.ws_connection.stream.close()
        await stock.wait_event(lambda e: e["event"] == "close", what="the drop")
        # edits on both sides while the stock client is away, then its own reconnect
        stock.send(cmd="insert", index=0, text="offline ")
        ours.jdoc._ysource.insert(len(ours.content()), "meanwhile\n")
        synced = len(stock.events)
        await stock.wait_event(lambda e: e["event"] == "synced", what="resync", start=synced)

        async def same() -> bool:
            return await stock.content() == ours.content() == "offline start\nmeanwhile\n"

        await eventually(same, what="convergence after the reconnect")


async def test_stock_yjs_viewer_is_refused(jp_root_dir, ours_in_room, ws_base, api):
    (jp_root_dir / "v.txt").write_text("read me\n")
    ours, room = await ours_in_room("v.txt")
    await share(api, "v.txt", "bob", "viewer")
    async with stock_client(ws_base, room, "bob") as stock:
        stock.send(cmd="insert", index=0, text="NOPE ")
        await stock.wait_event(
            lambda e: e["event"] == "notice" and e["body"]["type"] == "refused", what="refusal"
        )

        # the refused text is removed from the stock client's own copy too
        async def stock_copy_clean() -> bool:
            return await stock.content() == "read me\n"

        await eventually(stock_copy_clean, what="the stock copy drops the refused text")
        assert ours.content() == "read me\n"
        assert (jp_root_dir / "v.txt").read_text() == "read me\n"


async def test_stock_viewer_promoted_to_editor_loses_nothing_and_refused_text_never_lands(
    jp_root_dir, connect, open_session, ws_base, api, rooms, jp_ws_fetch
):
    """issue 8: a stock client's refused edits stayed in its document, its later edits were
    held as pending (half of them reached the file, a reload erased them), and the refused
    edits were applied when it reconnected."""
    (jp_root_dir / "p.txt").write_text("hello world\n")
    alice = await connect("p.txt", headers=token_header("alice"))
    room = (await open_session("p.txt"))["room"]
    await share(api, "p.txt", "bob", "viewer")
    async with stock_client(ws_base, room, "bob") as stock:
        # as a viewer: typed in the middle (its place is kept) and at the end (an append)
        stock.send(cmd="insert", index=5, text="REFUSED")
        stock.send(cmd="insert", index=len("helloREFUSED world\n"), text="TAIL")
        await stock.wait_event(
            lambda e: e["event"] == "notice" and e["body"]["type"] == "refused", what="refusal"
        )
        await share(api, "p.txt", "bob", "editor")
        await stock.wait_event(
            lambda e: e["event"] == "notice" and e["body"] == {"type": "role", "role": "editor"},
            what="the promotion",
        )
        # as an editor: at the start, and right after where its refused text was
        content = await stock.content()
        assert content == "hello world\n"  # its refused text was removed from its copy
        stock.send(cmd="insert", index=content.index(" world") + 1, text="B")
        stock.send(cmd="insert", index=0, text="Z")
        expected = "Zhello Bworld\n"
        await eventually(lambda: alice.content() == expected, what="alice sees bob's edits")
        # the network drops; y-websocket reconnects and sends its whole state again
        stock.send(cmd="drop")
        await stock.wait_event(lambda e: e["event"] == "close", what="the drop")
        synced = len(stock.events)
        await stock.wait_event(lambda e: e["event"] == "synced", what="resync", start=synced)
        stock.send(cmd="insert", index=0, text="!")
        expected = "!" + expected

        async def everyone_agrees() -> bool:
            return alice.content() == await stock.content() == expected

        await eventually(everyone_agrees, what="alice and the stock client agree")
        assert str(rooms.rooms[room].jdoc.get()) == expected
        await eventually(lambda: (jp_root_dir / "p.txt").read_text() == expected, what="file")
        fresh = await connect("p.txt", headers=token_header("alice"))
        assert fresh.content() == expected
        assert await history_content(api, room) == expected
        # reload the room from its durable log: nothing appears, nothing is lost
        await stock.stop()
        for client in (alice, fresh):
            client.close()
        await eventually(lambda: room not in rooms.rooms, what="the room to close")
        again = await connect("p.txt", headers=token_header("alice"))
        assert again.content() == expected
        assert "REFUSED" not in again.content() and "TAIL" not in again.content()
        assert (jp_root_dir / "p.txt").read_text() == expected


async def test_pycrdt_provider_edits_with_our_client(jp_root_dir, ours_in_room, jp_ws_fetch):
    (jp_root_dir / "y.txt").write_text("one\n")
    ours, room = await ours_in_room("y.txt")
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("bob"))
    doc = Doc()
    text = YUnicode(doc)
    async with pycrdt_provider(ws, doc, room) as (provider, channel):
        await asyncio.wait_for(provider.synced.wait(), 30)
        assert text.get() == "one\n"
        text._ysource.insert(len(text.get()), "two\n")
        ours.jdoc._ysource.insert(0, "zero\n")
        await eventually(lambda: text.get() == ours.content() == "zero\none\ntwo\n",
                         what="convergence")  # fmt: skip
        await eventually(lambda: (jp_root_dir / "y.txt").read_text() == "zero\none\ntwo\n",
                         what="file")  # fmt: skip


async def test_pycrdt_provider_notebook_and_reconnect(
    jp_root_dir, ours_in_room, jp_ws_fetch, rooms
):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1")]
    nbformat.write(nb, jp_root_dir / "p.ipynb")
    ours, room = await ours_in_room("p.ipynb", "json", "notebook")
    doc = Doc()
    notebook = YNotebook(doc)
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("bob"))
    async with pycrdt_provider(ws, doc, room) as (provider, channel):
        await asyncio.wait_for(provider.synced.wait(), 30)
        notebook.append_cell(nbformat.v4.new_markdown_cell("from pycrdt"))
        await eventually(lambda: len(ours.content()["cells"]) == 2, what="the new cell")
        # the server drops the provider's connection; both sides edit while it is away
        for participant in list(rooms.rooms[room].participants):
            if participant.username == "bob":
                participant.ws_connection.stream.close()
        await eventually(lambda: channel.closed, what="the drop")
    mine = notebook.ycells[0]["source"]
    mine += " + 1"
    theirs = ours.jdoc.ycells[1]["source"]
    theirs += "!"
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("bob"))
    async with pycrdt_provider(ws, doc, room) as (provider, channel):
        await asyncio.wait_for(provider.synced.wait(), 30)

        def sources(jdoc: Any) -> list[str]:
            return [c["source"] for c in jdoc.get()["cells"]]

        await eventually(
            lambda: sources(notebook) == sources(ours.jdoc) == ["a = 1 + 1", "from pycrdt!"],
            what="convergence after reconnecting",
        )


async def test_pycrdt_provider_viewer_is_refused(
    jp_root_dir, ours_in_room, api, jp_ws_fetch, rooms
):
    (jp_root_dir / "w.txt").write_text("fixed\n")
    ours, room = await ours_in_room("w.txt")
    await share(api, "w.txt", "bob", "viewer")
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("bob"))
    doc = Doc()
    text = YUnicode(doc)
    async with pycrdt_provider(ws, doc, room) as (provider, channel):
        await asyncio.wait_for(provider.synced.wait(), 30)
        text._ysource.insert(0, "changed ")
        # the refusal's tombstones come back: the provider's own copy drops the text
        await eventually(lambda: text.get() == "fixed\n", what="the provider drops it")
    assert ours.content() == "fixed\n"
    assert rooms.rooms[room].jdoc.get() == "fixed\n"
    assert (jp_root_dir / "w.txt").read_text() == "fixed\n"
