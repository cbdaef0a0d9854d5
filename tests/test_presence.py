"""Awareness (presence): limits, ownership, query-awareness, coalescing under a storm.

Server tests run a real Jupyter server with real WebSocket clients; receivers that must follow
y-protocols' rules (clocks, removals) apply what they get to pycrdt's own ``Awareness``, an
implementation of y-protocols nobody here wrote. The last tests drive the fan-out and presence
classes directly, where "one frame, latest state per id, after the document updates" can be
checked frame by frame without any timing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pycrdt import Awareness, Doc, Text

from jupyter_collab.collaboration.fanout import Broadcast, Outbox
from jupyter_collab.collaboration.presence import Presence
from jupyter_collab.collaboration.transport import encode_frame
from jupyter_collab.protocol.awareness import AwarenessEntry, encode_awareness, parse_awareness
from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import (
    AwarenessMessage,
    SyncMessage,
    awareness_frame,
    parse_message,
    sync_frame,
)

from .auth import token_header
from .client import Client, eventually
from .test_fanout import FakeSink, _edits, _frames

QUERY_AWARENESS = bytes([3])


def send_states(client: Client, *entries: tuple[int, int, dict | None]) -> None:
    """One awareness update with the given (client id, clock, state) entries."""
    update = encode_awareness([AwarenessEntry(cid, clock, state) for cid, clock, state in entries])
    client.send(awareness_frame(update))


def refusals(client: Client) -> list[str]:
    return [n["reason"] for n in client.notices if n.get("type") == "awareness-refused"]


class Observer:
    """A y-protocols awareness (pycrdt's) fed with everything a client received."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.awareness = Awareness(Doc())
        self._applied = 0

    def states(self) -> dict[int, dict]:
        updates = self.client.awareness_updates
        for update in updates[self._applied :]:
            self.awareness.apply_awareness_update(update, "remote")
        self._applied = len(updates)
        return self.awareness.states


async def open_room(jp_ws_fetch, open_session, path: str, user: str, ydoc: Doc | None = None):
    """A client that joins without waiting for sync (for reconnects with a given document)."""
    session = await open_session(path, headers=token_header(user))
    ws = await jp_ws_fetch("api", "collab", "room", session["room"], headers=token_header(user))
    client = Client(ws, "file", ydoc=ydoc)
    await eventually(lambda: client.synced.is_set(), what=f"{user} synced")
    return client


# -- limits ------------------------------------------------------------------------------------


async def test_a_connection_holds_a_few_awareness_ids_only(jp_root_dir, connect, rooms):
    (jp_root_dir / "crowd.txt").write_text("x")
    alice = await connect("crowd.txt", headers=token_header("alice"))
    bob = await connect("crowd.txt", headers=token_header("bob"))
    # bob claims 200 awareness ids, in two updates
    send_states(bob, *[(1000 + i, 1, {"cursor": i}) for i in range(100)])
    send_states(bob, *[(2000 + i, 1, {"cursor": i}) for i in range(100)])
    send_states(bob, (1000, 2, {"cursor": "last"}))  # an id it does hold: still accepted
    await eventually(
        lambda: alice.awareness.get(1000, {}).get("cursor") == "last", what="bob's last state"
    )
    bobs = {cid for cid, s in alice.awareness.items() if s["user"]["username"] == "bob"}
    assert bobs == {1000, 1001, 1002, 1003}  # the default limit: 4 per connection
    assert refusals(bob) == ["too-many-states"]  # told once, not 196 times
    # bob is still connected and can still edit
    bob.jdoc._ysource.insert(1, "y")
    await eventually(lambda: alice.content() == "xy", what="bob's edit")
    assert bob.close_code is None
    # a joiner is sent no more than that either
    vera = await connect("crowd.txt", headers=token_header("viewer"))
    await eventually(lambda: 1000 in vera.awareness, what="vera's snapshot")
    assert {c for c, s in vera.awareness.items() if s["user"]["username"] == "bob"} == bobs
    # when bob leaves, his states go, from the clients and from the server's memory
    room = next(iter(rooms.rooms.values()))
    held = room.presence.state_bytes()
    bob.close()
    await eventually(lambda: not (bobs & set(alice.awareness)), what="bob's states removed")
    await eventually(lambda: not (bobs & set(vera.awareness)), what="removed for vera too")
    assert room.presence.state_bytes() < held
    assert room.presence.states() == []  # alice and vera published no state


async def test_an_oversized_awareness_state_is_dropped(jp_root_dir, connect, rooms):
    (jp_root_dir / "big.txt").write_text("x")
    alice = await connect("big.txt", headers=token_header("alice"))
    bob = await connect("big.txt", headers=token_header("bob"))
    cid = bob.ydoc.client_id
    send_states(bob, (cid, 1, {"cursor": 1}))
    send_states(bob, (cid, 2, {"cursor": 2, "blob": "z" * 1_000_000}))  # a 1 MB state
    send_states(bob, (cid, 3, {"cursor": 3}))
    await eventually(lambda: alice.awareness.get(cid, {}).get("cursor") == 3, what="cursor 3")
    states = [e.state or {} for u in alice.awareness_updates for e in parse_awareness(u)]
    assert not any("blob" in s for s in states)
    assert refusals(bob) == ["state-too-large"]
    room = next(iter(rooms.rooms.values()))
    assert room.presence.state_bytes() < 1000
    assert bob.close_code is None


# -- ownership ---------------------------------------------------------------------------------


async def test_the_id_of_a_user_who_left_cannot_be_taken_over(jp_root_dir, connect):
    (jp_root_dir / "own.txt").write_text("x")
    alice = await connect("own.txt", headers=token_header("alice"))
    bob = await connect("own.txt", headers=token_header("bob"))
    observer = Observer(alice)
    send_states(bob, (424242, 3, {"cursor": "bob"}))
    await eventually(lambda: 424242 in observer.states(), what="bob's state")
    bob.close()
    await eventually(lambda: 424242 not in observer.states(), what="bob's state removed")
    # vera (another user) claims bob's id, with a clock that would win, then shows her own
    vera = await connect("own.txt", headers=token_header("viewer"))
    send_states(vera, (424242, 50, {"cursor": "vera pretending"}))
    vera.set_awareness({"cursor": "vera"})
    await eventually(lambda: vera.ydoc.client_id in observer.states(), what="vera's own state")
    assert 424242 not in observer.states()
    assert refusals(vera) == ["not-yours"]


async def test_the_same_user_reconnecting_gets_its_id_back(jp_root_dir, connect, jp_ws_fetch,
                                                            open_session):  # fmt: skip
    """As y-websocket after a network blip: same document, same client id, same clock."""
    (jp_root_dir / "blip.txt").write_text("x")
    alice = await connect("blip.txt", headers=token_header("alice"))
    observer = Observer(alice)
    bob_doc = Doc(client_id=424242)
    bob_awareness = Awareness(bob_doc)  # bob's own y-protocols awareness, kept over the blip
    bob_awareness.set_local_state({"cursor": "before"})
    bob = await open_room(jp_ws_fetch, open_session, "blip.txt", "bob", bob_doc)
    bob.send(awareness_frame(bob_awareness.encode_awareness_update([424242])))
    await eventually(
        lambda: observer.states().get(424242, {}).get("cursor") == "before", what="bob"
    )
    bob.close()  # the blip: the server removes bob's state, as y-websocket's server does
    await eventually(lambda: 424242 not in observer.states(), what="bob's state removed")
    # y-websocket reconnects and resends its local state as it was, with the same clock
    bob = await open_room(jp_ws_fetch, open_session, "blip.txt", "bob", bob_doc)
    bob.send(awareness_frame(bob_awareness.encode_awareness_update([424242])))
    await eventually(
        lambda: observer.states().get(424242, {}).get("cursor") == "before",
        what="bob seen again after reconnecting",
    )
    # bob's awareness takes what the server echoed; its next change is seen too
    await eventually(lambda: bob.awareness_updates, what="bob's echo")
    for update in bob.awareness_updates:
        bob_awareness.apply_awareness_update(update, "remote")
    bob_awareness.set_local_state({"cursor": "after"})
    bob.send(awareness_frame(bob_awareness.encode_awareness_update([424242])))
    await eventually(
        lambda: observer.states().get(424242, {}).get("cursor") == "after", what="bob moved"
    )
    assert observer.states()[424242]["user"]["username"] == "bob"
    assert refusals(bob) == []


# -- query-awareness (y-protocols message type 3) ----------------------------------------------


async def test_query_awareness_is_answered_with_the_rooms_states(jp_root_dir, connect):
    (jp_root_dir / "q.txt").write_text("x")
    alice = await connect("q.txt", headers=token_header("alice"))
    bob = await connect("q.txt", headers=token_header("bob"))
    alice.set_awareness({"cursor": 7})
    bob.set_awareness({"cursor": 8})
    await eventually(lambda: alice.ydoc.client_id in bob.awareness, what="alice's state")
    received = len(bob.awareness_updates)
    bob.send(QUERY_AWARENESS)
    await eventually(lambda: len(bob.awareness_updates) > received, what="the answer")
    answer = {e.client_id: e.state for e in parse_awareness(bob.awareness_updates[received])}
    assert answer[alice.ydoc.client_id]["cursor"] == 7
    assert answer[bob.ydoc.client_id]["cursor"] == 8
    assert answer[alice.ydoc.client_id]["user"]["username"] == "alice"
    # the connection goes on as before
    alice.jdoc._ysource.insert(1, "!")
    await eventually(lambda: bob.content() == "x!", what="an edit after the query")
    assert bob.close_code is None


# -- a presence storm --------------------------------------------------------------------------


async def test_a_presence_flood_loses_no_edit_and_awareness_converges(jp_root_dir, connect):
    (jp_root_dir / "storm.txt").write_text("")
    editor = await connect("storm.txt", headers=token_header("alice"))
    editor.set_awareness({"cursor": "editor"})
    crowd = [
        await connect("storm.txt", headers=token_header("bob" if i % 2 else "alice"))
        for i in range(24)
    ]
    expected = ""
    for step in range(60):
        for k, client in enumerate(crowd):
            client.set_awareness({"cursor": step, "who": k})
        editor.jdoc._ysource.insert(len(expected), f"{step};")
        expected += f"{step};"
        await asyncio.sleep(0)
    for k, client in enumerate(crowd):
        client.set_awareness({"cursor": "final", "who": k})
    leaving, staying = crowd[:8], crowd[8:]
    for client in leaving:
        client.close()
    everyone = [editor, *staying]
    await eventually(
        lambda: all(c.content() == expected for c in everyone), timeout=60, what="every edit"
    )
    want = {c.ydoc.client_id: {"cursor": "final", "who": k} for k, c in enumerate(crowd)}
    want = {cid: s for cid, s in want.items() if cid not in {c.ydoc.client_id for c in leaving}}
    want[editor.ydoc.client_id] = {"cursor": "editor"}

    def converged(client: Client) -> bool:
        seen = {
            cid: {k: v for k, v in s.items() if k != "user"} for cid, s in client.awareness.items()
        }
        return seen == want

    await eventually(lambda: all(converged(c) for c in everyone), timeout=60, what="awareness")
    assert all(c.close_code is None for c in everyone)


# -- coalescing, frame by frame ----------------------------------------------------------------


def _awareness_frames(sink: FakeSink) -> list[list[AwarenessEntry]]:
    out = []
    for write in sink.writes:
        for payload in _frames(write):
            message = parse_message(payload)
            if isinstance(message, AwarenessMessage):
                out.append(parse_awareness(message.payload))
    return out


def _room(n_owners: int) -> tuple[Presence, Broadcast, list[object]]:
    presence = Presence()
    return presence, Broadcast(awareness=presence), [object() for _ in range(n_owners)]


def _tick(presence: Presence, broadcast: Broadcast) -> None:
    """What the room does once per awareness interval."""
    oldest = min(o.awareness_seen for o in broadcast.outboxes)
    if presence.publish(oldest):
        for outbox in list(broadcast.outboxes):
            outbox.pump()


async def test_one_frame_per_tick_with_the_latest_state_of_each_id():
    presence, broadcast, owners = _room(5)
    fast, slow = FakeSink(), FakeSink(busy=True)
    Outbox(broadcast, fast, 1 << 20, lambda: None)
    Outbox(broadcast, slow, 1 << 20, lambda: None)  # its socket stays busy after one write
    for tick in range(10):
        for k, owner in enumerate(owners):
            for move in range(3):  # three moves per person per tick
                clock = tick * 3 + move + 1
                entry = AwarenessEntry(k + 1, clock, {"cursor": clock})
                presence.apply(owner, f"user{k}", {"name": f"user{k}"}, [entry])
        _tick(presence, broadcast)
    frames = _awareness_frames(fast)
    assert len(frames) == 10  # one per tick, not one per move
    assert all(sorted(e.client_id for e in f) == [1, 2, 3, 4, 5] for f in frames)
    assert [e.clock for e in frames[-1]] == [30] * 5  # the latest state only
    assert len(_awareness_frames(slow)) == 1  # the first tick's, still being written
    slow.drain()
    await asyncio.sleep(0)
    first, caught_up = _awareness_frames(slow)  # one more frame, not a queue of 9 ticks
    assert sorted((e.client_id, e.state["cursor"]) for e in caught_up) == [
        (k, 30) for k in range(1, 6)
    ]


async def test_document_updates_go_before_awareness_and_removals_reach_the_lagging():
    presence, broadcast, (alice, bob) = _room(2)
    sink = FakeSink(busy=True)
    Outbox(broadcast, sink, 1 << 20, lambda: None)
    presence.apply(alice, "alice", {}, [AwarenessEntry(1, 1, {"cursor": 1})])
    presence.apply(bob, "bob", {}, [AwarenessEntry(2, 1, {"cursor": 1})])
    _tick(presence, broadcast)  # the socket takes this frame and is then busy
    presence.apply(alice, "alice", {}, [AwarenessEntry(1, 2, {"cursor": 2})])
    _tick(presence, broadcast)
    updates = _edits(2)
    for update in updates:
        broadcast.publish(sync_frame(SyncType.UPDATE, update), update)
    assert presence.remove_owner(bob)
    _tick(presence, broadcast)
    sink.drain()
    await asyncio.sleep(0)
    assert len(sink.writes) == 2  # the edits, merged; presence waits until they are through
    sink.drain()
    await asyncio.sleep(0)
    later = [parse_message(p) for w in sink.writes[1:] for p in _frames(w)]
    assert len(later) == 2
    assert isinstance(later[0], SyncMessage)
    assert isinstance(later[-1], AwarenessMessage)
    sent = {(e.client_id, e.clock, json.dumps(e.state)) for e in parse_awareness(later[-1].payload)}
    assert sent == {(1, 2, json.dumps({"cursor": 2, "user": {}})), (2, 1, "null")}
    doc = Doc()
    for message in later[:-1]:
        doc.apply_update(message.payload)
    assert str(doc.get("source", type=Text)) == "0;1;"


async def test_a_joiner_gets_a_snapshot_and_then_only_changes():
    presence, broadcast, (alice,) = _room(1)
    presence.apply(alice, "alice", {}, [AwarenessEntry(1, 1, {"cursor": 1})])
    assert presence.publish(presence.seq)
    sink = FakeSink()
    outbox = Outbox(broadcast, sink, 1 << 20, lambda: None)
    outbox.send_snapshot()
    assert _frames(sink.writes[0])[0] == awareness_frame(encode_awareness(presence.states()))
    assert sink.writes[0] == encode_frame(awareness_frame(encode_awareness(presence.states())))
    _tick(presence, broadcast)
    assert len(sink.writes) == 1  # nothing changed since its snapshot


def test_awareness_settings_are_validated():
    from traitlets import TraitError

    from jupyter_collab import CollabApp

    app = CollabApp(awareness_max_states=2, awareness_max_state_bytes=100, awareness_interval=0)
    assert (app.awareness_max_states, app.awareness_max_state_bytes) == (2, 100)
    for bad in ({"awareness_max_states": 0}, {"awareness_max_state_bytes": 0},
                {"awareness_interval": -1}):  # fmt: skip
        with pytest.raises(TraitError):
            CollabApp(**bad)


async def test_a_query_does_not_swallow_a_pending_removal():
    presence, broadcast, (alice, bob) = _room(2)
    sink = FakeSink()
    Outbox(broadcast, sink, 1 << 20, lambda: None)
    presence.apply(alice, "alice", {}, [AwarenessEntry(1, 1, {"cursor": 1})])
    presence.apply(bob, "bob", {}, [AwarenessEntry(2, 1, {"cursor": 1})])
    _tick(presence, broadcast)
    assert presence.remove_owner(bob)  # bob leaves; the removal goes out with the next tick
    next(iter(broadcast.outboxes)).send_snapshot()  # meanwhile, the client queries
    (snapshot,) = _awareness_frames(sink)[1:]
    assert [(e.client_id, e.state["cursor"]) for e in snapshot] == [(1, 1)]
    _tick(presence, broadcast)
    removal = _awareness_frames(sink)[-1]
    assert [(e.client_id, e.clock, e.state) for e in removal] == [(2, 1, None)]


async def test_a_second_tab_sending_back_states_takes_nothing_over(jp_root_dir, connect):
    """y-websocket 1.x sends back every awareness state it receives: a second tab of the same
    user must not take the first tab's id (which would outlive the first tab)."""
    (jp_root_dir / "tabs.txt").write_text("x")
    bob = await connect("tabs.txt", headers=token_header("bob"))
    observer = Observer(bob)
    first = await connect("tabs.txt", headers=token_header("alice"))
    second = await connect("tabs.txt", headers=token_header("alice"))
    send_states(first, (111, 3, {"cursor": "first tab"}))
    await eventually(lambda: 111 in second.awareness, what="the first tab's state")
    echoed = {"cursor": "first tab", "user": second.awareness[111]["user"]}
    send_states(second, (111, 3, echoed))  # what y-websocket does with it
    second.set_awareness({"cursor": "second tab"})
    await eventually(lambda: second.ydoc.client_id in observer.states(), what="second tab")
    first.close()
    await eventually(lambda: 111 not in observer.states(), what="first tab's state removed")
    send_states(second, (111, 3, echoed))  # a late echo, after the first tab left
    second.set_awareness({"cursor": "second tab, again"})
    await eventually(
        lambda: observer.states()[second.ydoc.client_id]["cursor"] == "second tab, again",
        what="the second tab's next state",
    )
    assert 111 not in observer.states()
    assert refusals(second) == []  # sending back is not an attack: no notice
    joiner = await connect("tabs.txt", headers=token_header("viewer"))
    await eventually(lambda: second.ydoc.client_id in joiner.awareness, what="joiner's snapshot")
    assert 111 not in joiner.awareness  # no ghost of the first tab either


async def test_a_reconnect_before_the_old_socket_closed_takes_its_id_over(jp_root_dir, connect):
    (jp_root_dir / "halfopen.txt").write_text("x")
    bob = await connect("halfopen.txt", headers=token_header("bob"))
    observer = Observer(bob)
    old = await connect("halfopen.txt", headers=token_header("alice"))
    send_states(old, (222, 5, {"cursor": "old socket"}))
    await eventually(lambda: 222 in observer.states(), what="alice's state")
    new = await connect("halfopen.txt", headers=token_header("alice"))
    send_states(new, (222, 5, {"cursor": "old socket"}))  # resent unchanged: nothing to do
    send_states(new, (222, 6, {"cursor": "moved"}))  # its next move takes the id over
    await eventually(lambda: observer.states()[222]["cursor"] == "moved", what="the move")
    old.close()  # the old socket finally closes: the id is the new connection's now
    new.set_awareness({"cursor": "sentinel"})
    await eventually(lambda: new.ydoc.client_id in observer.states(), what="sentinel")
    assert observer.states()[222]["cursor"] == "moved"
