"""A client promoted from viewer to editor: its edits after the promotion reach everyone, where
it typed them, and its refused edits never do (issue 8, collaboration/integrity.py).

The defect: a viewer's refused insert is consumed with a tombstone. A tombstone that could not
keep its place (an append at the end of a text, any map entry) went to the hidden root
``jupyter-collab:refused``. The client keeps its refused item (deleted) where it typed it, and
after a promotion anchors its next insert on it; Yjs files an item in the parent of its origin,
so the room filed that insert under the hidden root: the author saw it, nobody else did, and
the file never got it. Whether the next insert was anchored on the refused item depended on
the order of the client ids (two appends at the same place are ordered by client id), so each
test here forces both orders.

First without a server (the room's checks on pycrdt documents with chosen client ids), then
through a real server with our client, stock yjs + y-websocket (Node) and pycrdt's provider;
each looks at every live client, the room, the file, a fresh client and the room reloaded from
its log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Array, Doc, Map, Text

from jupyter_collab.collaboration.integrity import HIDDEN_ROOT, RoomIntegrity

from .auth import token_header
from .client import Client, eventually
from .stock import node_clients, pycrdt_provider

# (alice's client id, bob's client id): two inserts at the same place are ordered by client id,
# so one order puts bob's refused append last (his next append is anchored on it), the other
# puts alice's last.
ORDERS = {"bob-after-alice": (1_000_001, 2_000_002), "bob-before-alice": (2_000_002, 1_000_001)}


@pytest.fixture(params=sorted(ORDERS))
def ids(request: pytest.FixtureRequest) -> tuple[int, int]:
    return ORDERS[request.param]


# -- the room's checks, without a server -------------------------------------------------------


class Room:
    """A room's document and its integrity checks, fed the way room.py feeds them: a viewer's
    updates are refused (their tombstones go to everyone), an editor's are admitted."""

    def __init__(self, fill: Callable[[Doc], None]) -> None:
        self.doc = Doc(client_id=7)
        fill(self.doc)
        self.integrity = RoomIntegrity(logging.getLogger("test-promotion"))
        self.log: list[bytes] = [self.doc.get_update()]  # what a reload replays
        self.clients: list[Doc] = []

    def join(self, client_id: int) -> Doc:
        doc = Doc(client_id=client_id)
        doc.apply_update(self.doc.get_update())
        self.clients.append(doc)
        return doc

    def _apply(self, update: bytes) -> None:
        self.doc.apply_update(update)
        self.log.append(update)
        for doc in self.clients:  # the room's broadcast (and each client's resync)
            doc.apply_update(self.doc.get_update(doc.get_state()))

    def edit(self, user: str, doc: Doc, change: Callable[[Doc], None], viewer: bool) -> None:
        updates: list[bytes] = []
        subscription = doc.observe(lambda event: updates.append(event.update))
        change(doc)  # (its own transactions: jupyter_ydoc may not be built inside one)
        doc.unobserve(subscription)
        for update in updates:
            if viewer:
                tombstones = self.integrity.refuse(user, update, self.doc.get_state())
                if tombstones is not None:
                    self._apply(tombstones)
            else:
                verdict = self.integrity.admit(user, False, update, self.doc.get_state())
                assert not verdict.missing, "the room would hold the promoted client's edit back"
                assert verdict.update is not None
                self._apply(verdict.update)
                assert self.integrity.check_applied(verdict.expected, self.doc.get_state(), "r")

    def reloaded(self) -> Doc:
        doc = Doc()
        for update in self.log:
            doc.apply_update(update)
        return doc

    def restart(self) -> None:
        """The room loaded again from its log (an idle room unloaded, a restart, or another
        server of a group): a new document and new checks, which see the log as one update."""
        self.doc = self.reloaded()
        self.integrity = RoomIntegrity(logging.getLogger("test-promotion"))
        self.integrity.observe(self.doc.get_update())  # what room.py's update observer does


def text(doc: Doc) -> str:
    return str(doc.get("source", type=Text))


def append(value: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        source = doc.get("source", type=Text)
        source.insert(len(str(source).encode()), value)

    return change


def test_an_append_after_a_refused_append_reaches_everyone(ids: tuple[int, int]) -> None:
    """bob appends as a viewer (refused), alice appends, bob (promoted) appends: failed on
    main for "bob-after-alice" (bob's append landed under the hidden root)."""
    alice_id, bob_id = ids
    room = Room(lambda d: d.get("source", type=Text).insert(0, "hello\n"))
    alice, bob = room.join(alice_id), room.join(bob_id)
    room.edit("bob", bob, append("bob as viewer\n"), viewer=True)
    assert text(bob) == "hello\n"  # his refused text left his own copy
    room.edit("alice", alice, append("alice after\n"), viewer=False)
    room.edit("bob", bob, append("bob promoted\n"), viewer=False)
    expected = "hello\nalice after\nbob promoted\n"
    assert text(room.doc) == text(alice) == text(bob) == expected
    assert text(room.reloaded()) == expected
    assert str(room.doc.get(HIDDEN_ROOT, type=Text)) == ""  # nothing filed out of sight


def test_an_append_after_a_refused_append_with_nobody_else_typing() -> None:
    """The plainest case (no client-id order involved): failed on main every time."""
    room = Room(lambda d: d.get("source", type=Text).insert(0, "hello\n"))
    bob = room.join(42)
    room.edit("bob", bob, append("NO"), viewer=True)
    room.edit("bob", bob, append("yes"), viewer=False)
    assert text(room.doc) == text(bob) == text(room.reloaded()) == "hello\nyes"


def test_typing_in_an_empty_text_as_a_viewer_then_as_an_editor() -> None:
    """The first item of an empty text has no neighbours, only its parent: its tombstone keeps
    that place too (it went to the hidden root on main, and so did the next insert)."""
    room = Room(lambda d: d.get("source", type=Text))
    bob = room.join(42)
    room.edit("bob", bob, append("NO"), viewer=True)
    assert text(bob) == ""
    room.edit("bob", bob, append("yes"), viewer=False)
    assert text(room.doc) == text(bob) == text(room.reloaded()) == "yes"


def test_a_map_value_set_after_a_refused_one_replaces_it_everywhere(ids: tuple[int, int]) -> None:
    """A refused map entry cannot keep its place (a deleted entry would hide the value it
    replaced): its tombstone is hidden, and bob's next value for the key, anchored on it, is
    re-anchored where it stood. Failed on main: the new value went to the hidden root."""
    alice_id, bob_id = ids

    def fill(d: Doc) -> None:
        d.get("meta", type=Map)["kept"] = "original"

    room = Room(fill)
    alice, bob = room.join(alice_id), room.join(bob_id)

    def meta(doc: Doc) -> dict[str, Any]:
        return doc.get("meta", type=Map).to_py()

    def set_key(key: str, value: str) -> Callable[[Doc], None]:
        return lambda d: d.get("meta", type=Map).__setitem__(key, value)

    # as a viewer: overwrite a key the room has, and set a new one
    room.edit("bob", bob, set_key("kept", "refused"), viewer=True)
    room.edit("bob", bob, set_key("new", "refused"), viewer=True)
    assert meta(room.doc) == {"kept": "original"}
    room.edit("alice", alice, set_key("other", "alice"), viewer=False)
    # promoted: the same keys again
    room.edit("bob", bob, set_key("kept", "bob"), viewer=False)
    room.edit("bob", bob, set_key("new", "bob"), viewer=False)
    expected = {"kept": "bob", "new": "bob", "other": "alice"}
    assert meta(room.doc) == meta(alice) == meta(bob) == expected
    assert meta(room.reloaded()) == expected


@pytest.mark.parametrize("restart", [False, True], ids=["same-room", "reloaded-room"])
def test_a_map_value_refused_then_set_again_after_the_room_reloaded(restart: bool) -> None:
    """Where a hidden (map entry) tombstone stood travels in the document itself (its key), so
    a room loaded again from its log, or another server, still re-anchors the promoted
    client's next value. Failed on main (the value went to the hidden root)."""

    def fill(d: Doc) -> None:
        d.get("meta", type=Map)["kept"] = "original"

    room = Room(fill)
    alice, bob = room.join(1_000_001), room.join(2_000_002)

    def set_key(key: str, value: str) -> Callable[[Doc], None]:
        return lambda d: d.get("meta", type=Map).__setitem__(key, value)

    room.edit("bob", bob, set_key("kept", "refused"), viewer=True)
    room.edit("bob", bob, set_key("new", "refused"), viewer=True)
    if restart:
        room.restart()
    room.edit("bob", bob, set_key("kept", "bob"), viewer=False)
    room.edit("bob", bob, set_key("new", "bob"), viewer=False)
    expected = {"kept": "bob", "new": "bob"}
    for doc in (room.doc, alice, bob, room.reloaded()):
        assert doc.get("meta", type=Map).to_py() == expected


def test_a_cell_appended_after_a_refused_cell_reaches_everyone(ids: tuple[int, int]) -> None:
    """A notebook: bob appends a cell as a viewer, alice appends one, bob (promoted) appends
    another and types in it. Failed on main for one order: bob's cell was filed out of sight."""
    alice_id, bob_id = ids
    room = Room(lambda d: YNotebook(d).append_cell({"cell_type": "code", "source": "a = 1"}))
    alice, bob = room.join(alice_id), room.join(bob_id)

    def add_cell(source: str) -> Callable[[Doc], None]:
        return lambda d: YNotebook(d).append_cell({"cell_type": "markdown", "source": source})

    def sources(doc: Doc) -> list[str]:
        return [str(cell["source"]) for cell in doc.get("cells", type=Array)]

    room.edit("bob", bob, add_cell("refused"), viewer=True)
    assert sources(bob) == ["a = 1"]
    room.edit("alice", alice, add_cell("alice"), viewer=False)
    room.edit("bob", bob, add_cell("bob"), viewer=False)
    room.edit("bob", bob, lambda d: d.get("cells", type=Array)[-1]["source"].insert(3, "!"),
              viewer=False)  # fmt: skip
    expected = ["a = 1", "alice", "bob!"]
    assert sorted(sources(room.doc)) == sorted(expected)
    assert sources(room.doc) == sources(alice) == sources(bob)
    assert sources(room.reloaded()) == sources(room.doc)


# -- through a real server -----------------------------------------------------------------------


async def share(api: Any, path: str, user: str, role: str) -> None:
    status, body = await api("PUT", "shares", path, body={"user": user, "role": role})
    assert status == 200, body


async def join(jp_ws_fetch: Any, room: str, user: str, client_id: int) -> Client:
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header(user))
    client = Client(ws, "file", ydoc=Doc(client_id=client_id))
    await asyncio.wait_for(client.synced.wait(), 60)
    return client


def roles(client: Client) -> list[str]:
    return [n["role"] for n in client.notices if n.get("type") == "role"]


async def everywhere(
    expected: str, path: str, room: str, live: list[Any], rooms: Any, root: Any, connect: Any
) -> None:
    """``expected`` in every live client, the room, the file, a fresh client, and the room
    reloaded from its log once everyone left."""

    async def shown() -> bool:
        for client in live:
            content = client() if callable(client) else client.content()
            if asyncio.iscoroutine(content):
                content = await content
            if content != expected:
                return False
        return True

    await eventually(shown, timeout=60, what=f"every client to show {expected!r}")
    assert rooms.rooms[room].jdoc.get() == expected
    await eventually(lambda: (root / path).read_text() == expected, timeout=60, what="the file")
    fresh = await connect(path, headers=token_header("carol"))
    assert fresh.content() == expected
    fresh.close()


async def test_our_client_promoted_after_a_refused_append(
    ids, jp_root_dir, connect, open_session, api, rooms, jp_ws_fetch
):
    alice_id, bob_id = ids
    (jp_root_dir / "p.txt").write_text("hello\n")
    room = (await open_session("p.txt"))["room"]
    alice = await join(jp_ws_fetch, room, "alice", alice_id)
    carol = await connect("p.txt", headers=token_header("carol"))
    await share(api, "p.txt", "bob", "viewer")
    bob = await join(jp_ws_fetch, room, "bob", bob_id)
    assert roles(bob) == ["viewer"]
    bob.jdoc._ysource.insert(len(bob.content()), "bob as viewer\n")
    await eventually(lambda: any(n["type"] == "refused" for n in bob.notices), what="refusal")
    await eventually(lambda: bob.content() == "hello\n", what="bob's copy drops his text")
    alice.jdoc._ysource.insert(len(alice.content()), "alice after\n")
    await eventually(lambda: bob.content() == "hello\nalice after\n", what="alice's line")
    await share(api, "p.txt", "bob", "editor")
    await eventually(lambda: roles(bob)[-1:] == ["editor"], what="the promotion")
    bob.jdoc._ysource.insert(len(bob.content()), "bob promoted\n")
    expected = "hello\nalice after\nbob promoted\n"
    await everywhere(expected, "p.txt", room, [alice, bob, carol], rooms, jp_root_dir, connect)
    for client in (alice, bob, carol):
        client.close()
    await eventually(lambda: room not in rooms.rooms, timeout=60, what="the room to close")
    again = await connect("p.txt", headers=token_header("alice"))
    assert again.content() == expected  # the room reloaded from its log
    assert (jp_root_dir / "p.txt").read_text() == expected


async def test_a_stock_client_promoted_after_a_refused_append(
    ids, jp_root_dir, connect, open_session, api, rooms, jp_ws_fetch, ws_base
):
    """Stock yjs + y-websocket 1.5 (Node) as bob, with a chosen client id."""
    alice_id, bob_id = ids
    (jp_root_dir / "s.txt").write_text("hello\n")
    room = (await open_session("s.txt"))["room"]
    alice = await join(jp_ws_fetch, room, "alice", alice_id)
    await share(api, "s.txt", "bob", "viewer")
    async with node_clients() as start:
        stock = await start()
        await stock.connect(ws_base, room, "bob", clientID=bob_id)
        stock.send(cmd="insert", index=len("hello\n"), text="bob as viewer\n")
        await stock.wait_event(
            lambda e: e["event"] == "notice" and e["body"]["type"] == "refused", what="refusal"
        )
        alice.jdoc._ysource.insert(len(alice.content()), "alice after\n")

        async def stock_has(expected: str) -> bool:
            return await stock.content() == expected

        await eventually(lambda: stock_has("hello\nalice after\n"), what="alice's line")
        await share(api, "s.txt", "bob", "editor")
        await stock.wait_event(
            lambda e: e["event"] == "notice" and e["body"] == {"type": "role", "role": "editor"},
            what="the promotion",
        )
        stock.send(cmd="insert", index=len("hello\nalice after\n"), text="bob promoted\n")
        expected = "hello\nalice after\nbob promoted\n"
        await everywhere(expected, "s.txt", room, [alice, stock.content], rooms, jp_root_dir,
                         connect)  # fmt: skip
        # the network drops: y-websocket reconnects and sends its whole state, refused
        # text included; nothing changes
        stock.send(cmd="drop")
        await stock.wait_event(lambda e: e["event"] == "close", what="the drop")
        synced = len(stock.events)
        await stock.wait_event(lambda e: e["event"] == "synced", what="resync", start=synced)
        stock.send(cmd="insert", index=len(expected), text="and again\n")
        expected += "and again\n"
        await everywhere(expected, "s.txt", room, [alice, stock.content], rooms, jp_root_dir,
                         connect)  # fmt: skip
        assert not stock.closes() or all(c["code"] != 4409 for c in stock.closes())
        await stock.stop()
    alice.close()
    await eventually(lambda: room not in rooms.rooms, timeout=60, what="the room to close")
    again = await connect("s.txt", headers=token_header("alice"))
    assert again.content() == expected


async def test_pycrdt_provider_promoted_after_a_refused_append(
    ids, jp_root_dir, connect, open_session, api, rooms, jp_ws_fetch
):
    """pycrdt's own Provider as bob, with a chosen client id."""
    alice_id, bob_id = ids
    (jp_root_dir / "y.txt").write_text("hello\n")
    room = (await open_session("y.txt"))["room"]
    alice = await join(jp_ws_fetch, room, "alice", alice_id)
    await share(api, "y.txt", "bob", "viewer")
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("bob"))
    doc = Doc(client_id=bob_id)
    bob = YUnicode(doc)
    async with pycrdt_provider(ws, doc, room) as (provider, _channel):
        await asyncio.wait_for(provider.synced.wait(), 30)
        bob._ysource.insert(len(bob.get()), "bob as viewer\n")
        await eventually(lambda: bob.get() == "hello\n", what="the provider drops it")
        alice.jdoc._ysource.insert(len(alice.content()), "alice after\n")
        await eventually(lambda: bob.get() == "hello\nalice after\n", what="alice's line")
        await share(api, "y.txt", "bob", "editor")
        await eventually(
            lambda: rooms.rooms[room].participants
            and all(p.can_write for p in rooms.rooms[room].participants),
            what="the promotion",
        )
        bob._ysource.insert(len(bob.get()), "bob promoted\n")
        expected = "hello\nalice after\nbob promoted\n"
        await everywhere(expected, "y.txt", room, [alice, bob.get], rooms, jp_root_dir, connect)
    alice.close()


async def test_notebook_metadata_set_again_after_a_promotion(
    jp_root_dir, connect, open_session, api, rooms, jp_ws_fetch
):
    """A map entry through a real server: bob (our client) sets notebook metadata as a viewer
    (refused: a map entry's tombstone is hidden), is promoted, and sets the same keys again:
    everyone, the file and a fresh client get his values (on main they went to the hidden
    root: alice kept the old value, the file too)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1")]
    nb.metadata["kept"] = "original"
    nbformat.write(nb, jp_root_dir / "m.ipynb")
    session = await open_session("m.ipynb", "json", "notebook")
    room = session["room"]
    alice = await connect("m.ipynb", "json", "notebook", headers=token_header("alice"))
    await share(api, "m.ipynb", "bob", "viewer")
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("bob"))
    bob = Client(ws, "notebook", ydoc=Doc(client_id=2_000_002))
    await asyncio.wait_for(bob.synced.wait(), 60)
    bob.jdoc._ymeta["metadata"]["kept"] = "refused"
    bob.jdoc._ymeta["metadata"]["new"] = "refused"
    await eventually(lambda: sum(n["type"] == "refused" for n in bob.notices) >= 2,
                     what="refusals")  # fmt: skip
    await share(api, "m.ipynb", "bob", "editor")
    await eventually(lambda: roles(bob)[-1:] == ["editor"], what="the promotion")
    assert alice.content()["metadata"].get("kept") == "original"
    assert "new" not in alice.content()["metadata"]
    bob.jdoc._ymeta["metadata"]["kept"] = "bob"
    bob.jdoc._ymeta["metadata"]["new"] = "bob"

    def metadata(client: Client) -> dict[str, Any]:
        meta = client.content()["metadata"]
        return {k: meta.get(k) for k in ("kept", "new")}

    expected = {"kept": "bob", "new": "bob"}
    await eventually(lambda: metadata(alice) == metadata(bob) == expected, timeout=60,
                     what="alice to get bob's values")  # fmt: skip

    def on_disk() -> dict[str, Any]:
        try:  # (the server may be writing it)
            meta = nbformat.read(jp_root_dir / "m.ipynb", as_version=4).metadata
        except Exception:
            return {}
        return {k: meta.get(k) for k in ("kept", "new")}

    await eventually(lambda: on_disk() == expected, timeout=60, what="the file")
    fresh = await connect("m.ipynb", "json", "notebook", headers=token_header("carol"))
    assert metadata(fresh) == expected
    assert bob.close_code is None
    for client in (alice, bob, fresh):
        client.close()
