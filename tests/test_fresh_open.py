"""A first open gets the room's state without asking for it (``fresh=1``, protocol.md).

A browser sends its sync step 1 when the socket's open event runs, which waits for the long
task that builds the document's widget; a client that holds nothing of the room's says so on
the room's URL and the server sends the whole state right away. Stock clients (no parameter)
are served as before: nothing is sent before their step 1 is answered.
"""

from __future__ import annotations

import asyncio

import nbformat
import pytest
from pycrdt import Map

from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import SyncMessage, parse_message

from .auth import token_header
from .client import Client, eventually
from .test_sharing import share


async def _fresh_client(jp_ws_fetch, open_session, path, fmt, type, fresh=True, step1=False):
    session = await open_session(path, fmt, type)
    assert session["syncsFreshClients"] is True
    params = {"fresh": "1"} if fresh else None
    ws = await jp_ws_fetch("api", "collab", "room", session["room"], params=params)
    return Client(ws, type, step1=step1)


@pytest.mark.parametrize("kind", ["text", "notebook"])
async def test_a_fresh_client_gets_the_document_without_asking(
    kind, jp_root_dir, jp_ws_fetch, open_session, connect
):
    if kind == "text":
        path, fmt, type = "a.txt", "text", "file"
        (jp_root_dir / path).write_text("hello\nworld\n")
    else:
        path, fmt, type = "n.ipynb", "json", "notebook"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("# t")]
        nbformat.write(nb, jp_root_dir / path)
    other = await connect(path, fmt, type)  # the room is loaded and someone is in it
    client = await _fresh_client(jp_ws_fetch, open_session, path, fmt, type)
    await asyncio.wait_for(client.synced.wait(), 30)  # no step 1 was sent
    assert client.content() == other.content()
    # it edits like anyone else, and the edit reaches the others and the file
    if kind == "text":
        client.jdoc._ysource.insert(0, "fresh ")
        await eventually(lambda: other.content().startswith("fresh hello"), what="the edit")
    else:
        client.jdoc._ycells[0]["source"].insert(0, "y = 2\n")
        await eventually(lambda: other.content()["cells"][0]["source"] == "y = 2\nx = 1",
                         what="the edit")  # fmt: skip


async def test_a_fresh_clients_own_edits_made_before_joining_reach_the_room(
    jp_root_dir, jp_ws_fetch, open_session, connect
):
    """What JupyterLab does: its model writes defaults into its document before it syncs.
    Those go in the client's answer to the server's step 1."""
    (jp_root_dir / "b.txt").write_text("text\n")
    other = await connect("b.txt")
    session = await open_session("b.txt", "text", "file")
    ws = await jp_ws_fetch("api", "collab", "room", session["room"], params={"fresh": "1"})
    client = Client(ws, "file", step1=False)
    with client.ydoc.transaction():
        client.ydoc.get("state", type=Map)["mine"] = True
    await asyncio.wait_for(client.synced.wait(), 30)
    assert client.content() == "text\n"
    await eventually(lambda: other.ydoc.get("state", type=Map).get("mine") is True,
                     what="the client's own edit reaching the room")  # fmt: skip


async def test_a_client_without_the_parameter_is_sent_nothing_before_its_step_1(
    jp_root_dir, jp_ws_fetch, open_session
):
    (jp_root_dir / "c.txt").write_text("stock\n")
    session = await open_session("c.txt", "text", "file")
    ws = await jp_ws_fetch("api", "collab", "room", session["room"])
    steps: list[SyncType] = []
    while True:  # the greeting: notices, sync step 1, awareness; then silence
        try:
            frame = await asyncio.wait_for(ws.read_message(), 2)
        except asyncio.TimeoutError:
            break
        message = parse_message(frame)
        if isinstance(message, SyncMessage):
            steps.append(message.sync_type)
    assert steps == [SyncType.STEP1]
    client = Client(ws, "file")  # now it asks, and gets the document
    await asyncio.wait_for(client.synced.wait(), 30)
    assert client.content() == "stock\n"


async def test_a_fresh_client_that_also_sends_step_1_gets_only_what_it_lacks(
    jp_root_dir, jp_ws_fetch, open_session
):
    (jp_root_dir / "d.txt").write_text("twice\n")
    client = await _fresh_client(jp_ws_fetch, open_session, "d.txt", "text", "file", step1=True)
    await asyncio.wait_for(client.synced.wait(), 30)
    await asyncio.sleep(0.2)  # (both answers arrive)
    assert client.content() == "twice\n"


async def test_fresh_is_no_way_around_rights(
    jp_root_dir, jp_ws_fetch, open_session, api, connect
):
    """The room's state goes out only after the same checks as for any client: a user
    without read access, or whose share is none, gets 4403 and not one sync frame; a
    viewer gets the document and still cannot write."""
    (jp_root_dir / "secret.txt").write_text("secret\n")
    room = (await open_session("secret.txt"))["room"]
    await share(api, "secret.txt", "bob", "none")
    for who in ("nobody", "bob"):
        ws = await jp_ws_fetch(
            "api", "collab", "room", room, params={"fresh": "1"}, headers=token_header(who)
        )
        frames = []
        while (frame := await ws.read_message()) is not None:
            frames.append(frame)
        assert ws.close_code == 4403, who
        assert not any(isinstance(parse_message(f), SyncMessage) for f in frames), who
    ws = await jp_ws_fetch(
        "api", "collab", "room", room, params={"fresh": "1"}, headers=token_header("viewer")
    )
    vera = Client(ws, "file", step1=False)
    await asyncio.wait_for(vera.synced.wait(), 30)
    assert vera.content() == "secret\n"
    vera.jdoc._ysource.insert(0, "HACKED ")
    await eventually(lambda: any(n["type"] == "refused" for n in vera.notices), what="refusal")
    # the refused edit reached nobody (a fresh reader of the room)
    assert (await connect("secret.txt")).content() == "secret\n"
