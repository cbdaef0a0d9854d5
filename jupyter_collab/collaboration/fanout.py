"""Fan-out of room messages to many clients, with per-client queues that coalesce.

The room appends every outgoing document update and notice once to a shared
:class:`Broadcast` log, already encoded as a WebSocket frame. Each client holds a cursor into
that log, which is its queue: while its socket is idle a new message is written at once (the
same bytes for everybody); while its socket is busy, messages wait in the log, and when it
drains, every document update waiting for it is merged into one update, one frame, shared by
all clients that lag by the same range. A client whose backlog passes the limit is
disconnected so that it cannot make the server's memory grow; its client reconnects and
resyncs.

Awareness does not go through the log: it would outnumber document updates a hundred to one
in a crowded room. The room's :class:`AwarenessSource` publishes once per tick, and each
client is sent, after its document updates, one frame with the latest state of every id
that changed since it was last sent awareness; a busy client's pending awareness is that
"since" mark, not a queue, so presence never delays edits nor piles up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pycrdt import merge_updates

from .. import metrics
from ..protocol.codes import SyncType
from ..protocol.framing import sync_frame
from .transport import FrameSink, encode_frame


@dataclass(slots=True)
class Entry:
    frame: bytes
    update: bytes | None  # the document update carried, None for awareness and notices
    sender: Any  # the Outbox that sent it, which does not get it back
    end: int  # cumulative bytes of the log up to and including this entry


class AwarenessSource(Protocol):
    """The room's presence, as clients are sent it (see collaboration/presence.py)."""

    seq: int  # the last change
    published: int  # changes up to here may be sent

    def frame_since(self, seen: int) -> bytes: ...

    def snapshot_frame(self) -> bytes: ...


class Broadcast:
    """The room's outgoing messages, kept until every client has been sent them."""

    def __init__(self, awareness: AwarenessSource | None = None) -> None:
        self.awareness = awareness
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

    def publish(
        self, message: bytes, update: bytes | None = None, sender: Any = None,
        since: float | None = None,
    ) -> None:  # fmt: skip
        """Encode ``message`` once and offer it to every client (``since``: when the update
        it carries arrived, ``time.perf_counter()``, for the fan-out latency metric)."""
        if not self.outboxes:
            return
        frame = encode_frame(message)
        self._entries.append(Entry(frame, update, sender, self.total_bytes + len(frame)))
        recipients = len(self.outboxes) - (sender in self.outboxes)
        for outbox in list(self.outboxes):
            outbox.pump_updates()
        if update is not None:
            metrics.fanned_out(recipients, since)
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

    __slots__ = (
        "broadcast", "sink", "cursor", "max_backlog", "on_overflow", "_busy", "closed",
        "awareness_seen", "wants_snapshot",
    )  # fmt: skip

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
        # awareness changes up to this sequence number were sent (or are not for it)
        awareness = broadcast.awareness
        self.awareness_seen = awareness.seq if awareness is not None else 0
        self.wants_snapshot = False  # asked for every awareness state (query-awareness)
        broadcast.outboxes.add(self)

    def backlog(self) -> int:
        """Bytes waiting for this client: in the log and in its socket's buffer."""
        waiting = self.broadcast.total_bytes - self.broadcast.bytes_before(self.cursor)
        return waiting + self.sink.pending_bytes()

    def send_direct(self, frame_message: bytes) -> Any:
        """Send a message meant for this client alone (sync replies, notices).

        These bytes count in its backlog like the log's: a client that asks for the
        document again and again (sync step 1) without reading the replies would otherwise
        make the server buffer a copy of the document per request, without limit.

        Returns the socket's future for the write (resolved once the kernel took it), or
        None when it went out at once or was not sent.
        """
        if self.closed:
            return None
        written = self.sink.write(encode_frame(frame_message))
        self._watch(written)
        if self._busy and self.backlog() > self.max_backlog:
            self.close()
            self.on_overflow()
        return written

    def send_snapshot(self) -> None:
        """Send every awareness state of the room, once this client's socket is free."""
        self.wants_snapshot = True
        self.pump()

    def send_encoded(self, *pieces: bytes) -> Any:
        """Send a ready-made frame meant for this client alone, possibly in pieces (written in
        order): a large sync reply is sent without copying the update into a frame. Counted
        in the backlog like :meth:`send_direct`'s; returns the future of the last piece's
        write, as :meth:`send_direct` does."""
        if self.closed:
            return None
        written = None
        for piece in pieces:
            written = self.sink.write(piece)
            self._watch(written)
        if self._busy and self.backlog() > self.max_backlog:
            self.close()
            self.on_overflow()
        return written

    def pump(self) -> None:
        """Send what is waiting, unless the socket is busy: document updates and notices
        first, then the room's awareness changes this client was not sent yet."""
        self.pump_updates()
        if self.closed or self._busy:
            return  # presence waits until the document updates are through
        awareness = self.broadcast.awareness
        if awareness is None:
            return
        if self.awareness_seen < awareness.published:
            frame = awareness.frame_since(self.awareness_seen)
            self.awareness_seen = awareness.published
            if frame:
                self._watch(self.sink.write(frame))
        if self.wants_snapshot:
            # After the changes: its mark stays, as removals are not in a snapshot.
            self.wants_snapshot = False
            frame = awareness.snapshot_frame()
            if frame:
                self._watch(self.sink.write(frame))

    def pump_updates(self) -> None:
        """Send the document updates and notices waiting in the log, unless the socket is
        busy. (Awareness needs no look here: an idle client was sent the last publication,
        and a busy one gets it from :meth:`pump` once it drains.)"""
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
