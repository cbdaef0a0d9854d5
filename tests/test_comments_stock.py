"""Comment anchors with a client nobody here wrote: stock yjs + y-websocket (Node) connected to a
live room makes relative positions (``Y.createRelativePositionFromTypeIndex`` +
``Y.encodeRelativePosition``) and posts a comment with them through the REST API; the server
places the thread on the text the stock client chose. The other way: an anchor made with our
code (``comments/anchors.py``) and stored by the server reads back at the same place in the stock
client's document (``Y.createAbsolutePositionFromRelativePosition``), also after concurrent edits
by other clients."""

from __future__ import annotations

import base64
from typing import Any

import nbformat
import pytest

from jupyter_collab.comments.anchors import range_positions

from .client import eventually
from .stock import NodeClient, node_clients, stock_client
from .test_comments_api import new_thread, threads_of

pytestmark = pytest.mark.timeout(300)


async def relpos(stock: NodeClient, index: int, assoc: int, cell: int | None = None) -> str:
    start = len(stock.events)
    stock.send(cmd="relpos", id=start, cell=cell, index=index, assoc=assoc)
    event = await stock.wait_event(
        lambda e: e["event"] == "relpos" and e["id"] == start, what="a relative position",
        start=start,
    )  # fmt: skip
    return event["position"]


async def abspos(stock: NodeClient, position: str) -> tuple[int | None, str | None]:
    start = len(stock.events)
    stock.send(cmd="abspos", id=start, position=position)
    event = await stock.wait_event(
        lambda e: e["event"] == "abspos" and e["id"] == start, what="an absolute position",
        start=start,
    )  # fmt: skip
    return event["index"], event["cell"]


async def current(api: Any, path: str, thread: str) -> Any:
    [found] = [t for t in (await threads_of(api, path))["threads"] if t["id"] == thread]
    return found


async def test_a_stock_client_anchors_a_comment_in_a_text_file(
    jp_root_dir, ours_in_room, ws_base, api
):
    (jp_root_dir / "s.txt").write_text("hello brave new world\n")
    ours, room = await ours_in_room("s.txt")
    async with stock_client(ws_base, room, "bob") as stock:
        # the range "brave" as a Yjs editor anchors it: the start sticks to its first
        # character (assoc 0), the end to its last (assoc -1)
        first, last = await relpos(stock, 6, 0), await relpos(stock, 11, -1)
        status, created = await api(
            "POST", "comments", user="bob",
            body={"path": "s.txt", "room": room, "body": "why brave?",
                  "anchor": {"cell": None, "start": first, "end": last}},
        )  # fmt: skip
        assert status == 201, created
        thread = created["thread"]
        assert thread["anchor"]["quote"] == "brave"
        assert thread["current"] == {"cell": None, "start": 6, "end": 11, "text": "brave"}
        # the anchor as stored is the stock client's bytes
        assert thread["anchor"]["start"] == first and thread["anchor"]["end"] == last

        # edits around and inside the range, by the stock client and ours at once
        stock.send(cmd="insert", index=0, text=">> ")
        ours.jdoc._ysource.insert(len("hello brave new world"), "!")
        stock.send(cmd="insert", index=len(">> hello br"), text="AAA")

        async def settled() -> bool:
            return await stock.content() == ours.content() == ">> hello brAAAave new world!\n"

        await eventually(settled, what="the edits everywhere")
        moved = await current(api, "s.txt", thread["id"])
        assert moved["current"] == {"cell": None, "start": 9, "end": 17, "text": "brAAAave"}
        assert await abspos(stock, first) == (9, None)
        assert await abspos(stock, last) == (17, None)  # (after its last character)

        # the text deleted: detached, and the stock client finds no place either
        stock.send(cmd="delete", index=len(">> hello "), length=len("brAAAave "))
        await eventually(lambda: ours.content() == ">> hello new world!\n", what="the delete")
        gone = await current(api, "s.txt", thread["id"])
        assert gone["detached"] is True and gone["anchor"]["quote"] == "brave"


async def test_our_anchors_read_back_in_a_stock_client_after_concurrent_edits(
    jp_root_dir, ours_in_room, ws_base, api
):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", id="first"),
        nbformat.v4.new_code_cell("total = price * quantity", id="second"),
    ]
    nbformat.write(nb, jp_root_dir / "n.ipynb")
    ours, room = await ours_in_room("n.ipynb", "json", "notebook")
    source = ours.jdoc.ycells[1]["source"]
    start, end = range_positions(source, 8, 13)  # "price", made by our code
    anchor = {"cell": "second", "start": _b64(start), "end": _b64(end)}
    created = await new_thread(api, "n.ipynb", anchor, "in cents?")
    thread = created["thread"]
    assert thread["current"] == {"cell": "second", "start": 8, "end": 13, "text": "price"}
    async with node_clients() as start_client:
        stock = await start_client()
        other = await start_client()
        await stock.connect(ws_base, room, "bob", kind="notebook")
        await other.connect(ws_base, room, "carol", kind="notebook")
        # the anchor as the server stores and sends it
        stored = (await current(api, "n.ipynb", thread["id"]))["anchor"]
        assert await abspos(stock, stored["start"]) == (8, "second")
        assert await abspos(stock, stored["end"]) == (13, "second")

        # concurrent edits by two other clients: a cell above, text before and inside
        other.send(cmd="cell-insert", index=0, source="import os", cell_type="code")
        other.send(cmd="cell-edit", cell=2, index=0, text="# cost\n")
        ours.jdoc.ycells[1]["source"].insert(len("total = pri"), "ce_of_pri")

        async def settled() -> bool:
            mine = [c["source"] for c in ours.content()["cells"]]
            theirs = [c["source"] for c in (await stock.content())["cells"]]
            return mine == theirs == [
                "import os", "x = 1", "# cost\ntotal = price_of_price * quantity"
            ]  # fmt: skip

        await eventually(settled, what="the edits everywhere")
        moved = await current(api, "n.ipynb", thread["id"])
        expected_start = len("# cost\ntotal = ")
        expected_end = len("# cost\ntotal = price_of_price")
        assert moved["current"] == {
            "cell": "second", "start": expected_start, "end": expected_end,
            "text": "price_of_price",
        }  # fmt: skip
        assert await abspos(stock, stored["start"]) == (expected_start, "second")
        assert await abspos(stock, stored["end"]) == (expected_end, "second")
        assert await abspos(other, stored["start"]) == (expected_start, "second")

        # and a stock client's own anchor in a cell is placed there by the server
        pos_start = await relpos(stock, 0, 0, cell=1)
        pos_end = await relpos(stock, 5, -1, cell=1)
        status, made = await api(
            "POST", "comments", user="bob",
            body={"path": "n.ipynb", "room": room, "body": "x?",
                  "anchor": {"cell": "first", "start": pos_start, "end": pos_end}},
        )  # fmt: skip
        assert status == 201, made
        assert made["thread"]["current"] == {"cell": "first", "start": 0, "end": 5,
                                             "text": "x = 1"}  # fmt: skip


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
