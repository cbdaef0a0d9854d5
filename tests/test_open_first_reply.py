"""A fresh open answers its first client before it does its history's bookkeeping.

Opening a file nobody has open yet logs its content, records its merge base (compressed),
makes the version "as first opened" and fingerprints it. None of that is needed for the first
client's sync reply, so it waits for that reply to be out (``collaboration/firstreply.py``),
with the log held until the merge base is durable (so no update is ever logged without the
base it resumes from). Whoever needs the history written meanwhile (a version point, the room
closing) does not wait, and a room nobody asks for writes it after a fallback delay. The
session request starts loading the room, so the load overlaps the WebSocket handshake.
"""

from __future__ import annotations

import asyncio

from jupyter_ydoc import YUnicode
from pycrdt import Doc, Text

from jupyter_collab.collaboration import firstreply
from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import SyncMessage, parse_message, sync_frame

from .auth import token_header
from .client import eventually

TEXT = "".join(f"line {i}: text of a file opened for the first time\n" for i in range(2000))


class RawClient:
    """A y-websocket connection driven by hand: it sends its sync request when told to."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.doc = Doc()
        self.step1 = asyncio.Event()  # the server's sync step 1 arrived: the room is joined
        self.step2 = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while (frame := await self.ws.read_message()) is not None:
            message = parse_message(frame)
            if not isinstance(message, SyncMessage):
                continue
            if message.sync_type is SyncType.STEP1:
                self.step1.set()
            else:
                self.doc.apply_update(message.payload)
                if message.sync_type is SyncType.STEP2:
                    self.step2.set()

    def ask(self) -> None:
        """Send sync step 1 (what a client holds), asking for the document."""
        self.ws.write_message(sync_frame(SyncType.STEP1, self.doc.get_state()), binary=True)

    def text(self) -> str:
        return str(self.doc.get("source", type=Text))

    def close(self) -> None:
        self.ws.close()
        self._task.cancel()


async def _joined(jp_ws_fetch, open_session, path: str) -> tuple[str, RawClient]:
    session = await open_session(path)
    ws = await jp_ws_fetch("api", "collab", "room", session["room"])
    client = RawClient(ws)
    await asyncio.wait_for(client.step1.wait(), 60)
    return session["room"], client


async def _history(rooms, room_id: str, file_id: str) -> tuple[list[str], bool, list[str]]:
    """(origins of the log's entries, whether a merge base is recorded, version kinds)."""
    entries = await rooms.store.read(room_id) if await rooms.store.last_seq(room_id) else []
    base = await rooms.file_ids.base(file_id, None)
    versions = (
        await rooms.store.list_versions(room_id, limit=10) if entries else []
    )  # fmt: skip
    return [e.origin for e in entries], base is not None, [v.kind for v in versions]


async def test_the_history_of_a_fresh_open_is_written_after_the_first_reply(
    jp_root_dir, jp_ws_fetch, open_session, rooms, monkeypatch
):
    monkeypatch.setattr(firstreply, "FIRST_REPLY_WAIT", 3600)  # only the reply opens it
    (jp_root_dir / "first.txt").write_text(TEXT)
    room_id, client = await _joined(jp_ws_fetch, open_session, "first.txt")
    room = rooms.rooms[room_id]
    assert room.loaded
    await asyncio.sleep(1.0)  # (main wrote the log, the base and the version by now)
    assert await _history(rooms, room_id, room.file_id) == ([], False, [])
    client.ask()
    await asyncio.wait_for(client.step2.wait(), 60)
    assert client.text() == TEXT
    await eventually(
        lambda: _history_is(rooms, room_id, room.file_id, (["load"], True, ["opened"])),
        what="the load logged, its base recorded and its version made after the reply",
    )
    # what was logged is the file, and the base resumes it
    (entry,) = await rooms.store.read(room_id)
    doc = Doc()
    doc.apply_update(entry.update)
    assert YUnicode(doc).get() == TEXT
    client.close()


async def _history_is(rooms, room_id: str, file_id: str, expected: tuple) -> bool:
    return await _history(rooms, room_id, file_id) == expected


async def test_an_edit_sent_before_the_reply_is_logged_after_the_load_and_its_base(
    jp_root_dir, jp_ws_fetch, open_session, connect, rooms, monkeypatch
):
    monkeypatch.setattr(firstreply, "FIRST_REPLY_WAIT", 3600)
    (jp_root_dir / "early.txt").write_text("from the file\n")
    room_id, client = await _joined(jp_ws_fetch, open_session, "early.txt")
    room = rooms.rooms[room_id]
    # an edit of the client's own (offline) document, sent before it asks for the room's
    edit = Doc()
    edit.get("source", type=Text).insert(0, "typed early\n")
    client.ws.write_message(sync_frame(SyncType.UPDATE, edit.get_update()), binary=True)
    await eventually(lambda: "typed early" in str(room.jdoc._ysource), what="applied")
    assert await _history(rooms, room_id, room.file_id) == ([], False, [])
    client.ask()
    await asyncio.wait_for(client.step2.wait(), 60)
    await eventually(
        lambda: _history_is(rooms, room_id, room.file_id, (["load", "client"], True, ["opened"])),
        what="the load, then the early edit, logged after the base",
    )
    # and anyone who joins now gets both
    other = await connect("early.txt")
    assert sorted(other.content().splitlines()) == ["from the file", "typed early"]
    client.close()


async def test_a_version_asked_for_before_the_reply_is_made_at_once(
    jp_root_dir, jp_ws_fetch, open_session, api, rooms, monkeypatch
):
    """Someone who needs the history now does not wait for the first client's reply."""
    monkeypatch.setattr(firstreply, "FIRST_REPLY_WAIT", 3600)
    (jp_root_dir / "named.txt").write_text("content\n")
    room_id, client = await _joined(jp_ws_fetch, open_session, "named.txt")
    status, body = await asyncio.wait_for(
        api("POST", "documents", room_id, "versions", body={"name": "Before anyone read it"}),
        60,
    )
    assert status == 201, body
    status, listing = await api("GET", "documents", room_id, "versions")
    assert [v["kind"] for v in listing["versions"]] == ["named", "opened"]
    client.close()


async def test_a_session_request_loads_the_room_and_one_nobody_joins_writes_its_history(
    jp_root_dir, open_session, connect, rooms, monkeypatch
):
    """The session PUT starts the load (the WebSocket finds the room loaded); a room whose
    client never connects still logs its load and makes its first version (after the
    fallback), and is dropped after the idle delay; the next open resumes it."""
    monkeypatch.setattr(firstreply, "FIRST_REPLY_WAIT", 0.2)
    (jp_root_dir / "alone.txt").write_text("nobody came\n")
    session = await open_session("alone.txt")
    room_id = session["room"]
    await eventually(
        lambda: _history_is(rooms, room_id, session["fileId"], (["load"], True, ["opened"])),
        what="the load logged without a client",
    )
    await eventually(lambda: room_id not in rooms.rooms, what="the unjoined room dropped")
    client = await connect("alone.txt", headers=token_header("alice"))
    assert client.content() == "nobody came\n"
    origins, _, kinds = await _history(rooms, room_id, session["fileId"])
    assert origins.count("load") == 1 and kinds == ["opened"]  # resumed, not loaded again


async def test_the_history_waits_a_moment_after_the_reply_and_an_edit_cuts_it_short(
    jp_root_dir, jp_ws_fetch, open_session, connect, rooms, monkeypatch
):
    """After the first reply the bookkeeping leaves the client the CPU while it takes the
    document in (``FIRST_REPLY_GRACE``), unless someone edits: the edit is not held back for
    it, and is logged after the load and its base, as always."""
    monkeypatch.setattr(firstreply, "FIRST_REPLY_WAIT", 3600)
    monkeypatch.setattr(firstreply, "FIRST_REPLY_GRACE", 3600)  # only an edit cuts it short
    (jp_root_dir / "grace.txt").write_text(TEXT)
    room_id, first = await _joined(jp_ws_fetch, open_session, "grace.txt")
    room = rooms.rooms[room_id]
    first.ask()
    await asyncio.wait_for(first.step2.wait(), 60)
    assert first.text() == TEXT
    second = await connect("grace.txt")  # (the shared reply: no second bookkeeping)
    assert second.content() == TEXT
    assert await _history(rooms, room_id, room.file_id) == ([], False, [])
    second.jdoc._ysource.insert(0, "typed at once\n")
    await eventually(lambda: first.text() == "typed at once\n" + TEXT,
                     what="the edit reached the first client without waiting for the grace")
    await eventually(
        lambda: _history_is(rooms, room_id, room.file_id, (["load", "client"], True, ["opened"])),
        what="the load, its base, then the edit logged",
    )
    first.close()


async def test_a_room_nobody_edits_writes_its_history_after_the_grace(
    jp_root_dir, jp_ws_fetch, open_session, rooms, monkeypatch
):
    monkeypatch.setattr(firstreply, "FIRST_REPLY_WAIT", 3600)
    monkeypatch.setattr(firstreply, "FIRST_REPLY_GRACE", 0.3)
    (jp_root_dir / "quiet.txt").write_text(TEXT)
    room_id, client = await _joined(jp_ws_fetch, open_session, "quiet.txt")
    client.ask()
    await asyncio.wait_for(client.step2.wait(), 60)
    await eventually(
        lambda: _history_is(rooms, rooms.rooms[room_id].room_id,
                            rooms.rooms[room_id].file_id, (["load"], True, ["opened"])),
        what="the load logged, its base recorded and its version made after the grace",
    )
    client.close()
