"""Opening a document: the whole-document reply shared by joiners, and the load's one encoding.

A room encodes its whole document once per version and hands that same reply to everyone who
joins with an empty document (see collaboration/fullstate.py). These tests check that the
reply is never stale (edits and deletions made after it was encoded reach later joiners), that
a client who already holds part of the document still gets only what it lacks, and that a
fresh load is logged once, as exactly the file's content.
"""

from __future__ import annotations

import asyncio

import nbformat
import pytest
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc, Map, Text

from jupyter_collab.collaboration.fullstate import FullState, state_vector_clients
from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import MalformedMessage, parse_message

from .client import Client, eventually


async def _client(jp_ws_fetch, open_session, path, type="file", ydoc=None, fmt="text"):
    """A protocol client that also records the size of every sync step 2 it receives."""
    session = await open_session(path, fmt, type)
    ws = await jp_ws_fetch("api", "collab", "room", session["room"])
    sizes: list[int] = []
    read = ws.read_message

    async def recording_read(*args, **kwargs):
        frame = await read(*args, **kwargs)
        if isinstance(frame, bytes) and frame[:2] == bytes((0, SyncType.STEP2)):
            sizes.append(len(parse_message(frame).payload))  # type: ignore[union-attr]
        return frame

    ws.read_message = recording_read  # type: ignore[method-assign]
    client = Client(ws, type, ydoc)
    await asyncio.wait_for(client.synced.wait(), 30)
    return client, sizes


async def test_joiners_see_every_change_made_after_the_reply_was_encoded(jp_root_dir, connect):
    (jp_root_dir / "a.txt").write_text("hello big world\n")
    first = await connect("a.txt")
    second = await connect("a.txt")  # the shared whole-document reply is encoded now
    assert second.content() == "hello big world\n"
    # A deletion adds no item: the document's state vector stays the same.
    del first.jdoc._ysource[6:10]
    await eventually(lambda: second.content() == "hello world\n", what="the deletion")
    third = await connect("a.txt")
    assert third.content() == "hello world\n"
    first.jdoc._ysource.insert(0, ">> ")
    await eventually(lambda: second.content() == ">> hello world\n", what="the insertion")
    fourth = await connect("a.txt")
    assert fourth.content() == ">> hello world\n"


async def test_notebook_joiners_after_edits(jp_root_dir, connect):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(4)]
    nbformat.write(nb, jp_root_dir / "n.ipynb")
    a = await connect("n.ipynb", "json", "notebook")
    b = await connect("n.ipynb", "json", "notebook")
    del a.jdoc.ycells[1]
    source: Text = a.jdoc.ycells[0]["source"]
    source += " + 1"
    await eventually(lambda: b.content() == a.content(), what="b follows a")
    c = await connect("n.ipynb", "json", "notebook")
    assert [cell["source"] for cell in c.content()["cells"]] == ["x = 0 + 1", "x = 2", "x = 3"]
    assert c.content() == a.content()


async def test_reconnecting_client_gets_only_what_it_lacks(jp_root_dir, jp_ws_fetch, open_session):
    text = "".join(f"line {i}: some text to make the document large\n" for i in range(4000))
    (jp_root_dir / "big.txt").write_text(text)
    a, a_sizes = await _client(jp_ws_fetch, open_session, "big.txt")
    assert a_sizes and a_sizes[0] > len(text)  # the whole document
    b, _ = await _client(jp_ws_fetch, open_session, "big.txt")
    a.close()  # a goes away with its document, b keeps editing
    b.jdoc._ysource.insert(0, "edited by b\n")
    await asyncio.sleep(0.2)
    back, sizes = await _client(jp_ws_fetch, open_session, "big.txt", ydoc=a.ydoc)
    assert str(back.jdoc._ysource) == "edited by b\n" + text
    assert sizes and sizes[0] < 1000  # a diff, not the whole document


async def test_client_holding_only_its_own_edits_gets_the_whole_document(
    jp_root_dir, jp_ws_fetch, open_session
):
    """What JupyterLab does: its model writes defaults into its own document first."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)"), nbformat.v4.new_markdown_cell("# t")]
    nbformat.write(nb, jp_root_dir / "own.ipynb")
    first, _ = await _client(jp_ws_fetch, open_session, "own.ipynb", "notebook", fmt="json")
    mine = Doc()
    with mine.transaction():
        mine.get("state", type=Map)["mine"] = True
    client, sizes = await _client(
        jp_ws_fetch, open_session, "own.ipynb", "notebook", ydoc=mine, fmt="json"
    )
    assert [c["source"] for c in client.content()["cells"]] == ["print(1)", "# t"]
    assert client.content() == first.content()
    await eventually(lambda: first.ydoc.get("state", type=Map).get("mine") is True,
                     what="the client's own edit reaching the room")


async def test_a_fresh_load_is_logged_once_as_the_file(jp_root_dir, connect, open_session, rooms):
    (jp_root_dir / "log.txt").write_text("one\ntwo\n")
    client = await connect("log.txt")
    room_id = (await open_session("log.txt"))["room"]
    room = rooms.rooms[room_id]
    await room.journal.flush()
    entries = await rooms.store.read(room_id)
    assert [e.origin for e in entries] == ["load"]
    doc = Doc()
    doc.apply_update(entries[0].update)
    assert YUnicode(doc).get() == "one\ntwo\n"
    # the room's observers are back after the load: an edit is logged and saved
    client.jdoc._ysource.insert(0, "zero\n")
    await eventually(lambda: (jp_root_dir / "log.txt").read_text() == "zero\none\ntwo\n",
                     what="autosave after an edit")
    await room.journal.flush()
    assert [e.origin for e in await rooms.store.read(room_id)][:2] == ["load", "client"]


def test_state_vector_parsing():
    doc = Doc()
    doc.get("t", type=Text).insert(0, "abc")
    assert state_vector_clients(doc.get_state()) == {doc.client_id: 3}
    assert state_vector_clients(Doc().get_state()) == {}
    for bad in (b"", b"\x01", b"\x01\x05", b"\xff\xff", b"\x00trailing", b"\x09\x01\x02"):
        with pytest.raises(MalformedMessage):
            state_vector_clients(bad)


def test_full_state_is_what_yrs_encodes_and_follows_changes():
    doc = Doc()
    nb = YNotebook(doc)
    nb.set({"cells": [{"cell_type": "code", "source": "x", "metadata": {}, "outputs": [],
                       "execution_count": None, "id": "c1"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    full = FullState(doc)
    doc.observe(lambda _: full.changed())
    head, state = full.step2_frame(Doc().get_state())
    assert state == doc.get_update()
    assert full.step2_frame(Doc().get_state())[1] is state  # encoded once
    frame = head + state
    assert parse_message(frame[_ws_header_size(frame):]).payload == state
    stranger = Doc()
    stranger.get("state", type=Map)["x"] = 1
    assert full.step2_frame(stranger.get_state()) is not None  # knows nothing of ours
    holder = Doc()
    holder.apply_update(state)
    assert full.step2_frame(holder.get_state()) is None  # needs a diff of its own
    del nb.ycells[0]  # a deletion: same state vector, new document
    assert full.step2_frame(Doc().get_state())[1] == doc.get_update() != state


def _ws_header_size(frame: bytes) -> int:
    length = frame[1] & 0x7F
    return 2 if length < 126 else 4 if length == 126 else 10
