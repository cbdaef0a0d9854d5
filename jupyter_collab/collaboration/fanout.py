"""Fan-out of room messages to many clients, with per-client queues that coalesce.

The room appends every outgoing message once to a shared :class:`Broadcast` log, already
encoded as a WebSocket frame. Each client holds a cursor into that log, which is its queue:
while its socket is idle a new message is written at once (the same bytes for everybody);
while its socket is busy, messages wait in the log, and when it drains, every document update
waiting for it is merged into one update, one frame, shared by all clients that lag by the
same range. A client whose backlog passes the limit is disconnected so that it cannot make the
server's memory grow; its client reconnects and resyncs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pycrdt import merge_updates

from ..protocol.codes import SyncType
from ..protocol.framing import sync_frame
from .transport import FrameSink, encode_frame


@dataclass(slots=True)
class Entry:
    frame: bytes
    update: bytes | None  # the document update carried, None for awareness and notices
    sender: Any  # the Outbox that sent it, which does not get it back
    end: int  # cumulative bytes of the log up to and including this entry


class Broadcast:
    """The room's outgoing messages, kept until every client has been sent them."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._base = 0  # sequence number of _entries[0]
        self._bytes_before = 0  # cumulative bytes of the entries already trimmed
        self._merged: dict[tuple[int, int], bytes] = {}
        self.outboxes: set[Outbox] = set()

    @property
    def head(self) -> int:
        return self._base + len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._entries[-1].end if self._entries else self._bytes_before

    def bytes_before(self, seq: int) -> int:
        if seq <= self._base:
            return self._bytes_before
        return self._entries[seq - self._base - 1].end

    def publish(self, message: bytes, update: bytes | None = None, sender: Any = None) -> None:
        """Encode ``message`` once and offer it to every client."""
        if not self.outboxes:
            return
        frame = encode_frame(message)
        self._entries.append(Entry(frame, update, sender, self.total_bytes + len(frame)))
        for outbox in list(self.outboxes):
            outbox.pump()
        if len(self._entries) > 64:
            self._trim()

    def take(self, cursor: int, outbox: Outbox) -> bytes:
        """The frames from ``cursor`` to the head for ``outbox``, updates merged into one."""
        start = cursor - self._base
        entries = self._entries[start:]
        if len(entries) == 1:
            entry = entries[0]
            return b"" if entry.sender is outbox else entry.frame
        frames = [e.frame for e in entries if e.update is None and e.sender is not outbox]
        if any(e.update is not None for e in entries):
            frames.append(self._merged_frame(cursor, entries))
        return b"".join(frames)

    def _merged_frame(self, cursor: int, entries: list[Entry]) -> bytes:
        key = (cursor, cursor + len(entries))
        frame = self._merged.get(key)
        if frame is None:
            updates = [e.update for e in entries if e.update is not None]
            merged = updates[0] if len(updates) == 1 else merge_updates(*updates)
            frame = encode_frame(sync_frame(SyncType.UPDATE, merged))
            self._merged[key] = frame
        return frame

    def _trim(self) -> None:
        oldest = min((o.cursor for o in self.outboxes), default=self.head)
        drop = oldest - self._base
        if drop <= 0:
            return
        self._bytes_before = self._entries[drop - 1].end
        del self._entries[:drop]
        self._base = oldest
        self._merged = {k: v for k, v in self._merged.items() if k[0] >= oldest}


class Outbox:
    """One client's queue: a cursor into the room's broadcast log and its socket."""

    __slots__ = ("broadcast", "sink", "cursor", "max_backlog", "on_overflow", "_busy", "closed")

    def __init__(
        self,
        broadcast: Broadcast,
        sink: FrameSink,
        max_backlog: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self.broadcast = broadcast
        self.sink = sink
        self.cursor = broadcast.head
        self.max_backlog = max_backlog
        self.on_overflow = on_overflow
        self._busy = False
        self.closed = False
        broadcast.outboxes.add(self)

    def backlog(self) -> int:
        """Bytes waiting for this client: in the log and in its socket's buffer."""
        waiting = self.broadcast.total_bytes - self.broadcast.bytes_before(self.cursor)
        return waiting + self.sink.pending_bytes()

    def send_direct(self, frame_message: bytes) -> None:
        """Send a message meant for this client alone (sync replies, notices)."""
        if self.closed:
            return
        self._watch(self.sink.write(encode_frame(frame_message)))

    def send_encoded(self, *pieces: bytes) -> None:
        """Send a ready-made frame meant for this client alone, possibly in pieces (written in
        order): a large sync reply is sent without copying the update into a frame."""
        if self.closed:
            return
        for piece in pieces:
            self._watch(self.sink.write(piece))

    def pump(self) -> None:
        if self.closed:
            return
        if self._busy:
            if self.backlog() > self.max_backlog:
                self.close()
                self.on_overflow()
            return
        head = self.broadcast.head
        if self.cursor >= head:
            return
        frames = self.broadcast.take(self.cursor, self)
        self.cursor = head
        if frames:
            self._watch(self.sink.write(frames))

    def _watch(self, future: Any) -> None:
        if future is None or future.done():
            return
        self._busy = True
        future.add_done_callback(self._drained)

    def _drained(self, _future: Any) -> None:
        if self.sink.pending_bytes() > 0:
            # A later write is still in flight; its own callback resumes the pump.
            return
        self._busy = False
        self.pump()

    def close(self) -> None:
        self.closed = True
        self.broadcast.outboxes.discard(self)
