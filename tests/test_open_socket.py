"""Opening a document over one socket: ``GET /api/collab/open/{path}?format=&type=[&fresh=1]``
(docs/protocol.md, "Opening over one socket").

The route does what the session PUT does before it upgrades (same path resolution, same
rights, same refusals as HTTP errors), then it is the room's socket, whose first frame is the
notice ``{"type": "session", "session": <the session PUT's reply>}``. A browser can create it
as soon as it starts opening a document, without waiting for the session reply.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nbformat
import pytest
from jupyter_ydoc import YUnicode
from pycrdt import Doc
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from jupyter_collab.protocol.framing import NoticeMessage, SyncMessage, parse_message

from .auth import cookie_header, token_header
from .client import Client, eventually
from .stock import node_clients, pycrdt_provider
from .test_sharing import share

TEXT = "hello\nworld\n"
KINDS = {"text": ("a.txt", "text", "file"), "notebook": ("n.ipynb", "json", "notebook")}


def write_document(root: Any, kind: str) -> tuple[str, str, str]:
    """A text file or a two-cell notebook in the served folder; (path, format, type)."""
    path, fmt, type = KINDS[kind]
    if kind == "text":
        (root / path).write_text(TEXT)
    else:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("# t")]
        nbformat.write(nb, root / path)
    return path, fmt, type


@pytest.fixture
def open_socket(jp_ws_fetch: Any) -> Any:
    """``ws = await open_socket(path, format, type, user=, fresh=)``: the open route's socket
    as ``user`` (HTTPClientError with the status when the handshake is refused)."""

    async def open_socket(
        path: str, format: str = "text", type: str = "file", user: str = "alice",
        fresh: bool = True,
    ) -> WebSocketClientConnection:  # fmt: skip
        params = {"format": format, "type": type, **({"fresh": "1"} if fresh else {})}
        return await jp_ws_fetch(
            "api", "collab", "open", path, params=params, headers=token_header(user)
        )

    return open_socket


@pytest.fixture
def raw_socket(ws_base: str, http_server_client: Any) -> Any:
    """The open route's socket with its URL exactly as written (no escaping, no dot-segment
    removal), as an attacker would send it. (``http_server_client``: the server listens.)"""

    async def raw_socket(url: str, user: str = "alice") -> WebSocketClientConnection:
        request = HTTPRequest(ws_base + url, headers=token_header(user), request_timeout=60)
        return await websocket_connect(request)

    return raw_socket


async def session_notice(ws: WebSocketClientConnection) -> dict[str, Any]:
    """The socket's first frame, which must be the session notice; its session."""
    frame = await asyncio.wait_for(ws.read_message(), 30)
    assert frame is not None, f"closed: {ws.close_code} {ws.close_reason}"
    message = parse_message(frame)
    assert isinstance(message, NoticeMessage), message
    assert message.body["type"] == "session", message.body
    assert set(message.body) == {"type", "session"}
    return message.body["session"]


async def frames_until_closed(ws: WebSocketClientConnection) -> list[Any]:
    frames = []
    while (frame := await asyncio.wait_for(ws.read_message(), 30)) is not None:
        frames.append(parse_message(frame))
    return frames


async def refused(open_socket: Any, *args: Any, **kwargs: Any) -> int:
    """The HTTP status of a handshake the server must refuse (no socket, so no frame)."""
    with pytest.raises(HTTPClientError) as err:
        ws = await open_socket(*args, **kwargs)
        ws.close()  # (only reached if the server accepted it: the test fails)
    return err.value.code


@pytest.mark.parametrize("kind", ["text", "notebook"])
async def test_the_first_frame_is_the_session_then_the_document_comes_unasked(
    kind, jp_root_dir, open_socket, open_session
):
    path, fmt, type = write_document(jp_root_dir, kind)
    for user in ("alice", "bob"):  # an owner, then an editor (the default role)
        ws = await open_socket(path, fmt, type, user=user)  # (alice's is the room's first open)
        session = await session_notice(ws)
        # every field is what the session PUT replies for the same user, path, format, type
        assert session == await open_session(path, fmt, type, headers=token_header(user))
        assert (session["path"], session["role"]) == (
            path, "owner" if user == "alice" else "editor"
        )  # fmt: skip
        client = Client(ws, type, step1=False)  # it never asks: fresh=1 brings the document
        await asyncio.wait_for(client.synced.wait(), 30)
        if kind == "text":
            assert client.content() == TEXT
        else:
            cells = client.content()["cells"]
            assert [(c["cell_type"], c["source"]) for c in cells] == [
                ("code", "x = 1"), ("markdown", "# t")
            ]  # fmt: skip
        client.close()


async def test_the_open_socket_joins_the_room_of_the_room_url(
    jp_root_dir, open_socket, connect, rooms
):
    (jp_root_dir / "a.txt").write_text(TEXT)
    ws = await open_socket("a.txt")
    session = await session_notice(ws)
    opened = Client(ws, "file", step1=False)
    await asyncio.wait_for(opened.synced.wait(), 30)
    other = await connect("a.txt", headers=token_header("bob"))  # session PUT + room URL
    assert [r.room_id for r in rooms.rooms.values() if r.path == "a.txt"] == [session["room"]]
    opened.jdoc._ysource.insert(0, "one ")
    await eventually(lambda: other.content() == "one " + TEXT, what="open socket -> room URL")
    other.jdoc._ysource.insert(len(other.content()), "two")
    await eventually(lambda: opened.content() == "one " + TEXT + "two", what="room URL -> open")
    await eventually(lambda: (jp_root_dir / "a.txt").read_text() == "one " + TEXT + "two",
                     what="the file saved")  # fmt: skip


async def test_every_spelling_of_a_path_is_the_one_room(jp_root_dir, raw_socket, open_session):
    (jp_root_dir / "a.txt").write_text(TEXT)
    (jp_root_dir / "sub").mkdir()
    canonical = await open_session("a.txt", headers=token_header("alice"))
    for spelling in ("./a.txt", "%2e/a.txt", "sub/%2e%2e/a.txt", "sub/../a.txt", "a.txt"):
        ws = await raw_socket(f"api/collab/open/{spelling}?format=text&type=file&fresh=1")
        session = await session_notice(ws)
        assert session == canonical, spelling
        client = Client(ws, "file", step1=False)
        await asyncio.wait_for(client.synced.wait(), 30)
        assert client.content() == TEXT, spelling
        client.close()


async def test_paths_that_are_no_visible_file_are_404(jp_root_dir, raw_socket, rooms):
    (jp_root_dir / "a.txt").write_text(TEXT)
    (jp_root_dir / ".hidden.txt").write_text("hidden\n")
    (jp_root_dir / ".config").mkdir()
    (jp_root_dir / ".config" / "a.txt").write_text("hidden\n")
    for path in (
        ".hidden.txt", "sub/../.hidden.txt", "%2e%2Fconfig/a.txt", ".config/a.txt",  # hidden
        "%2e%2e/x", f"%2e%2e/{jp_root_dir.name}/a.txt",  # outside the root
        "nope.txt", "", "sub",  # missing; the root; a folder that does not exist
    ):  # fmt: skip
        status = await refused(raw_socket, f"api/collab/open/{path}?format=text&type=file")
        assert status == 404, path
    (jp_root_dir / "folder").mkdir()
    assert await refused(raw_socket, "api/collab/open/folder?format=text&type=file") == 404
    assert not rooms.rooms  # nothing was opened


@pytest.mark.parametrize(
    "query",
    [
        "",
        "format=text",
        "type=file",
        "format=yaml&type=file",
        "format=text&type=notebook",  # a format that does not fit the type
        "format=&type=",
    ],
)
async def test_a_missing_or_bad_format_or_type_is_400(jp_root_dir, raw_socket, rooms, query):
    (jp_root_dir / "a.txt").write_text(TEXT)
    assert await refused(raw_socket, f"api/collab/open/a.txt?{query}") == 400
    assert not rooms.rooms


async def test_rights_are_those_of_the_session(
    jp_root_dir, open_socket, open_session, api, connect
):
    """The set-up of test_fresh_open.py::test_fresh_is_no_way_around_rights: nobody may not
    read (Authorizer), bob's share is none, vera may only read (Authorizer)."""
    (jp_root_dir / "secret.txt").write_text("secret\n")
    await share(api, "secret.txt", "bob", "none")
    for who in ("nobody", "bob"):
        # refused at the handshake: no socket, so not one frame
        assert await refused(open_socket, "secret.txt", user=who) == 403, who
        assert await refused(open_socket, "secret.txt", user=who, fresh=False) == 403, who
    ws = await open_socket("secret.txt", user="viewer")
    session = await session_notice(ws)
    assert session["role"] == "viewer"
    assert session == await open_session("secret.txt", headers=token_header("viewer"))
    vera = Client(ws, "file", step1=False)
    await asyncio.wait_for(vera.synced.wait(), 30)
    assert vera.content() == "secret\n"
    assert {"type": "role", "role": "viewer"} in vera.notices
    vera.jdoc._ysource.insert(0, "HACKED ")
    await eventually(lambda: any(n["type"] == "refused" for n in vera.notices), what="refusal")
    # the refused edit reached nobody (a fresh reader of the room), nor the file
    assert (await connect("secret.txt")).content() == "secret\n"
    assert (jp_root_dir / "secret.txt").read_text() == "secret\n"
    assert vera.close_code is None


async def test_a_share_removed_while_connected_closes_the_open_socket(
    jp_root_dir, open_socket, api
):
    (jp_root_dir / "s.txt").write_text("s\n")
    ws = await open_socket("s.txt", user="bob")
    assert (await session_notice(ws))["role"] == "editor"
    bob = Client(ws, "file", step1=False)
    await asyncio.wait_for(bob.synced.wait(), 30)
    await share(api, "s.txt", "bob", "none")
    await asyncio.wait_for(bob.closed.wait(), 30)
    assert bob.close_code == 4403


async def test_unauthenticated_and_cross_origin_are_refused(jp_root_dir, jp_ws_fetch, jp_http_port):
    (jp_root_dir / "a.txt").write_text(TEXT)
    params = {"format": "text", "type": "file"}

    async def status(headers: dict[str, str]) -> int:
        with pytest.raises(HTTPClientError) as err:
            await jp_ws_fetch("api", "collab", "open", "a.txt", params=params, headers=headers)
        return err.value.code

    assert await status({"Authorization": "token wrong"}) == 403
    # a browser's cookie session from another origin (cross-site WebSocket hijacking)
    assert await status({**cookie_header("alice"), "Origin": "http://evil.example"}) == 403
    same = {**cookie_header("alice"), "Origin": f"http://localhost:{jp_http_port}"}
    ws = await jp_ws_fetch("api", "collab", "open", "a.txt", params=params, headers=same)
    assert (await session_notice(ws))["path"] == "a.txt"
    ws.close()


async def test_a_room_that_cannot_load_closes_after_the_session(jp_root_dir, open_socket):
    """The close codes are the room socket's: a notebook that is not JSON is 4415."""
    (jp_root_dir / "broken.ipynb").write_text("{not json")
    ws = await open_socket("broken.ipynb", "json", "notebook")
    assert (await session_notice(ws))["path"] == "broken.ipynb"
    frames = await frames_until_closed(ws)
    assert not any(isinstance(f, SyncMessage) for f in frames)
    assert ws.close_code == 4415


async def test_pycrdt_provider_syncs_through_the_open_route(jp_root_dir, jp_ws_fetch, connect):
    (jp_root_dir / "a.txt").write_text(TEXT)
    ours = await connect("a.txt")
    ws = await jp_ws_fetch(
        "api", "collab", "open", "a.txt", params={"format": "text", "type": "file"}
    )
    doc = Doc()
    text = YUnicode(doc)
    async with pycrdt_provider(ws, doc):
        await eventually(lambda: text.get() == TEXT, what="pycrdt's provider synced")
        text._ysource.insert(0, "py ")
        await eventually(lambda: ours.content() == "py " + TEXT, what="its edit in the room")
        ours.jdoc._ysource.insert(len(ours.content()), "!")
        await eventually(lambda: text.get() == "py " + TEXT + "!", what="the room's edit")


@pytest.mark.parametrize("kind", ["text", "notebook"])
async def test_stock_y_websocket_syncs_through_the_open_route(kind, jp_root_dir, ws_base, connect):
    path, fmt, type = write_document(jp_root_dir, kind)
    ours = await connect(path, fmt, type)
    async with node_clients() as start:
        stock = await start()
        # y-websocket's URL is `${url}/${room}?${params}`: the room is the file's path
        await stock.connect(ws_base, path, "bob", kind=type, route="open",
                            params={"format": fmt, "type": type})  # fmt: skip
        notices = [e["body"] for e in stock.events if e["event"] == "notice"]
        assert notices[0]["type"] == "session" and notices[0]["session"]["path"] == path
        if kind == "text":
            assert await stock.content() == TEXT
            stock.send(cmd="insert", index=0, text="S")
            await eventually(lambda: ours.content() == "S" + TEXT, what="the stock edit")
            # the network drops: y-websocket reconnects by itself to the same URL
            synced = len(stock.events)
            stock.send(cmd="drop")
            await stock.wait_event(lambda e: e["event"] == "close", what="the drop", start=synced)
            ours.jdoc._ysource.insert(len(ours.content()), "meanwhile")
            await stock.wait_event(lambda e: e["event"] == "synced", what="resync", start=synced)

            async def same() -> bool:
                return await stock.content() == ours.content() == "S" + TEXT + "meanwhile"

            await eventually(same, what="convergence after the reconnect")
            assert all(e["code"] != 4403 for e in stock.closes())
        else:
            cells = (await stock.content())["cells"]
            assert [c["source"] for c in cells] == ["x = 1", "# t"]
            stock.send(cmd="cell-edit", cell=0, index=5, text=" + 1")
            await eventually(
                lambda: ours.content()["cells"][0]["source"] == "x = 1 + 1", what="the stock edit"
            )
            assert not stock.closes()
