"""Fan-out queues: one encoding for everyone, coalescing for busy clients, bounded backlog."""

from __future__ import annotations

import asyncio

from pycrdt import Doc, Text

from jupyter_collab.collaboration.fanout import Broadcast, Outbox
from jupyter_collab.collaboration.transport import encode_frame
from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import SyncMessage, parse_message, sync_frame


class FakeSink:
    """A socket whose writes complete when the test says so."""

    def __init__(self, busy: bool = False) -> None:
        self.writes: list[bytes] = []
        self.busy = busy
        self.pending: list[asyncio.Future] = []

    def write(self, frames: bytes):
        self.writes.append(frames)
        if not self.busy:
            return None
        future = asyncio.get_event_loop().create_future()
        self.pending.append(future)
        return future

    def pending_bytes(self) -> int:
        return sum(len(w) for w in self.writes[-len(self.pending) :]) if self.pending else 0

    def drain(self) -> None:
        pending, self.pending = self.pending, []
        for future in pending:
            future.set_result(None)


def _frames(data: bytes) -> list[bytes]:
    """Split concatenated server frames (unmasked, binary) into their payloads."""
    out = []
    while data:
        length = data[1]
        offset = 2
        if length == 126:
            length, offset = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(data[2:10], "big"), 10
        out.append(data[offset : offset + length])
        data = data[offset + length :]
    return out


def _edits(n: int) -> list[bytes]:
    doc = Doc()
    text = doc.get("source", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(n):
        text += f"{i};"
    return updates


async def test_same_bytes_for_every_client_and_no_echo():
    broadcast = Broadcast()
    sinks = [FakeSink() for _ in range(3)]
    outboxes = [Outbox(broadcast, s, 1 << 20, lambda: None) for s in sinks]
    update = _edits(1)[0]
    broadcast.publish(sync_frame(SyncType.UPDATE, update), update, sender=outboxes[0])
    assert sinks[0].writes == []  # the sender does not get its own update back
    assert sinks[1].writes[0] is sinks[2].writes[0]  # encoded once, shared
    assert sinks[1].writes[0] == encode_frame(sync_frame(SyncType.UPDATE, update))


async def test_busy_client_gets_one_merged_update():
    broadcast = Broadcast()
    fast, slow = FakeSink(), FakeSink(busy=True)
    Outbox(broadcast, fast, 1 << 20, lambda: None)
    Outbox(broadcast, slow, 1 << 20, lambda: None)
    updates = _edits(20)
    for update in updates:
        broadcast.publish(sync_frame(SyncType.UPDATE, update), update)
    assert len(fast.writes) == 20
    assert len(slow.writes) == 1  # the first went out; the socket is now busy
    slow.drain()
    await asyncio.sleep(0)
    assert len(slow.writes) == 2  # the other 19 coalesced into one frame
    merged = parse_message(_frames(slow.writes[1])[0])
    assert isinstance(merged, SyncMessage)
    doc = Doc()
    doc.apply_update(updates[0])
    doc.apply_update(merged.payload)
    assert str(doc.get("source", type=Text)) == "".join(f"{i};" for i in range(20))


async def test_backlog_over_the_limit_disconnects():
    broadcast = Broadcast()
    dropped = []
    slow = FakeSink(busy=True)
    outbox = Outbox(broadcast, slow, 10_000, lambda: dropped.append(True))
    other = FakeSink()
    Outbox(broadcast, other, 10_000, lambda: None)
    payload = b"x" * 3000
    for _ in range(10):
        broadcast.publish(sync_frame(SyncType.UPDATE, payload), payload)
    assert dropped == [True]
    assert outbox.closed
    assert outbox not in broadcast.outboxes
    assert len(other.writes) == 10  # everyone else carries on
