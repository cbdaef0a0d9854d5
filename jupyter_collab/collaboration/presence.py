"""Awareness (presence) of a room: who owns which awareness id, within limits, coalesced.

The server is the authority here, as y-websocket's server is not:

* **Identity.** Every state carries the authenticated user in its ``user`` field, whatever
  the client put there.
* **Ownership.** An awareness client id belongs to the connection that first announced it.
  Nobody else may change or remove it. When that connection goes, its states are removed
  (as y-websocket's server does) but the id stays *reserved* for the same user, so that a
  client reconnecting after a network blip with the same id (y-websocket keeps
  ``doc.clientID``) gets it back and nobody else can take it over. An id may also pass to
  another connection of the same user with a newer clock (the old socket of a blip may not be
  closed yet). States that are not newer are ignored without a word: y-websocket 1.x clients
  send back every state they receive.
* **Limits.** A connection holds at most ``max_states`` ids (JupyterLab uses one per
  document) and each state is at most ``max_state_bytes`` of JSON. What is over is dropped
  (the connection stays; the room sends it one ``awareness-refused`` notice per reason), so
  one client cannot make every joiner download megabytes or the server keep them.
* **Coalescing.** Changes are not sent as they come: each change takes the next sequence
  number, and :meth:`publish` (called once per room tick) makes everything up to it
  deliverable. A client is then sent one frame with the latest state of every id that
  changed since what it was last sent (:meth:`frame_since`), encoded once and shared by all
  clients that are equally up to date. A slow client therefore never accumulates awareness:
  its pending presence is only "everything since sequence N", however long it lags.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .. import metrics
from ..protocol.awareness import AwarenessEntry, encode_states, state_json
from ..protocol.framing import awareness_frame
from .transport import encode_frame

# Why a client's awareness state was not taken (the ``reason`` of its notice).
TOO_MANY_STATES = "too-many-states"
STATE_TOO_LARGE = "state-too-large"
NOT_YOURS = "not-yours"

# Ids whose connection left stay reserved for their user; beyond this many per room the
# oldest reservations are forgotten (each costs ~200 bytes).
MAX_RESERVED_IDS = 4096


@dataclass(slots=True)
class Slot:
    """One awareness client id of the room."""

    client_id: int
    clock: int
    state: dict[str, Any] | None
    owner: Any  # the connection holding it; None once that connection left (reserved)
    username: str
    seq: int  # sequence number of its last change
    size: int = 0  # bytes of the state's JSON as the client sent it
    text: bytes | None = None  # the state as it goes on the wire, made when first needed
    reserved_at: int = 0  # when its connection left (epoch of joins and leaves)

    def wire(self) -> tuple[int, int, bytes]:
        if self.text is None:
            self.text = state_json(self.state)
        return self.client_id, self.clock, self.text


class RemoteOwner:
    """The clients of another server of the group, as the owner of their awareness ids.

    That server checked and stamped their states; here they are taken as they come (newer
    clocks win), and removed together when the server leaves or dies.
    """

    __slots__ = ("server_id",)

    def __init__(self, server_id: str) -> None:
        self.server_id = server_id

    def __repr__(self) -> str:
        return f"<RemoteOwner {self.server_id}>"


@dataclass
class Applied:
    """What :meth:`Presence.apply` did with one update."""

    changed: bool = False
    refused: dict[str, str] = field(default_factory=dict)  # reason -> message, first time only


class Presence:
    def __init__(self, max_states: int = 4, max_state_bytes: int = 32 * 1024) -> None:
        self.max_states = max_states
        self.max_state_bytes = max_state_bytes
        self.seq = 0  # the last change
        self.published = 0  # changes up to here may be sent
        self._slots: dict[int, Slot] = {}
        self._owned: dict[Any, set[int]] = {}
        self._reserved: OrderedDict[int, None] = OrderedDict()
        # client id -> seq of its last change, oldest first: what changed since N, cheaply
        self._changes: OrderedDict[int, int] = OrderedDict()
        self._frames: dict[int, bytes] = {}  # frame_since(n) of the current publication
        self._snapshot: tuple[int, bytes] | None = None
        self._refused: dict[Any, set[str]] = {}
        self._epoch = 0  # counts joins and leaves: who joined after an id was reserved
        self._joined: dict[Any, int] = {}

    # -- changes from clients ----------------------------------------------------------------

    def apply(
        self, owner: Any, username: str, user: dict[str, Any], entries: list[AwarenessEntry]
    ) -> Applied:
        """Take what ``owner`` (a connection of ``username``) may change, stamped with
        ``user``; say what was refused (each reason once per connection)."""
        result = Applied()
        refused: dict[str, str] = {}
        owned = self._owned.setdefault(owner, set())
        for entry in entries:
            if entry.oversize:
                refused[STATE_TOO_LARGE] = (
                    f"an awareness state may have at most {self.max_state_bytes} bytes; "
                    f"{entry.size} were sent"
                )
                continue
            slot = self._slots.get(entry.client_id)
            clock = entry.clock
            if slot is None:
                if entry.state is None:
                    continue  # removing a state nobody has
                if len(owned) >= self.max_states:
                    refused[TOO_MANY_STATES] = (
                        f"a connection may hold at most {self.max_states} awareness states"
                    )
                    continue
                slot = Slot(entry.client_id, clock, None, owner, username, 0)
                self._slots[entry.client_id] = slot
                owned.add(entry.client_id)
            elif slot.owner is owner:
                if not (
                    clock > slot.clock
                    or (clock == slot.clock and entry.state is None and slot.state is not None)
                ):
                    continue  # an old clock: y-protocols ignores it too
            elif clock < slot.clock or (clock == slot.clock and not self._reclaims(
                    slot, owner, username, entry.state)):  # fmt: skip
                # Not newer: what y-websocket 1.x clients do with every state they receive
                # is send it back (its awareness handler ignores the origin). Ignored, as
                # y-protocols ignores old clocks.
                continue
            elif slot.username != username:
                refused[NOT_YOURS] = "that awareness client id belongs to another user"
                continue
            else:
                # The same user from another connection: a reconnect after a network blip
                # (whose old socket may not be closed yet), with a newer clock or, for a
                # reserved id, the clock it had.
                if len(owned) >= self.max_states:
                    refused[TOO_MANY_STATES] = (
                        f"a connection may hold at most {self.max_states} awareness states"
                    )
                    continue
                if clock == slot.clock:
                    # y-websocket resends its state with the clock it had; everybody was told
                    # of the removal at that clock and would ignore it, so move it on by one
                    # (the client adopts it from the echo, as y-protocols does).
                    clock += 1
                self._release(slot)
                slot.owner = owner
                owned.add(entry.client_id)
            slot.clock = clock
            slot.state = None if entry.state is None else {**entry.state, "user": user}
            slot.size = entry.size
            slot.text = None
            self._changed(slot)
            result.changed = True
        if refused:
            metrics.refused_awareness(refused)
            told = self._refused.setdefault(owner, set())
            result.refused = {k: v for k, v in refused.items() if k not in told}
            told.update(refused)
        return result

    def apply_remote(self, owner: RemoteOwner, entries: list[AwarenessEntry]) -> bool:
        """Take states another server's clients announced (checked and stamped there); say if
        anything changed. An id moves to that server when it comes with a newer clock (its
        client reconnected there)."""
        changed = False
        owned = self._owned.setdefault(owner, set())
        for entry in entries:
            if entry.oversize:
                continue
            slot = self._slots.get(entry.client_id)
            clock = entry.clock
            if slot is None:
                if entry.state is None:
                    continue
                slot = Slot(entry.client_id, clock, None, owner, "", 0)
                self._slots[entry.client_id] = slot
            elif slot.owner is owner:
                if not (
                    clock > slot.clock
                    or (clock == slot.clock and entry.state is None and slot.state is not None)
                ):
                    continue
            elif clock > slot.clock:
                self._release(slot)
                slot.owner = owner
            else:
                continue
            owned.add(entry.client_id)
            user = (entry.state or {}).get("user")
            if isinstance(user, dict) and isinstance(user.get("username"), str):
                slot.username = user["username"]
            slot.clock = clock
            slot.state = entry.state
            slot.size = entry.size
            slot.text = None
            self._changed(slot)
            changed = True
        return changed

    def local_states(
        self, after: int = 0, upto: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        """The wire states of this server's own clients: every present one (``after`` 0), or
        those changed after sequence number ``after`` and up to ``upto`` (removals included),
        for the other servers of the group."""
        if after == 0 and upto is None:
            return [
                s.wire()
                for s in self._slots.values()
                if s.state is not None and not isinstance(s.owner, RemoteOwner)
            ]
        upto = self.published if upto is None else upto
        states = []
        for client_id, seq in reversed(self._changes.items()):
            if seq <= after:
                break
            slot = self._slots[client_id]
            if seq <= upto and not isinstance(slot.owner, RemoteOwner):
                states.append(slot.wire())
        return states

    def join(self, owner: Any) -> None:
        """``owner``, a new connection, joined (it may reclaim ids reserved before now)."""
        self._epoch += 1
        self._joined[owner] = self._epoch
        self._owned.setdefault(owner, set())

    def _reclaims(
        self, slot: Slot, owner: Any, username: str, state: dict[str, Any] | None
    ) -> bool:
        """Whether a state at the clock ``slot`` has is its user's reconnect: a connection
        that joined after the id's connection left, resending the state it had. (Another
        connection of that user which saw the state before merely sends it back.)"""
        return (
            slot.owner is None
            and slot.username == username
            and state is not None
            and self._joined.get(owner, 0) > slot.reserved_at
        )

    def remove_owner(self, owner: Any) -> bool:
        """``owner`` left: remove its states, keep its ids reserved; say if anything changed."""
        self._refused.pop(owner, None)
        self._joined.pop(owner, None)
        self._epoch += 1
        changed = False
        for client_id in self._owned.pop(owner, ()):
            slot = self._slots[client_id]
            slot.owner = None
            slot.reserved_at = self._epoch
            self._reserved[client_id] = None
            if slot.state is not None:
                # the clock it had, as y-websocket's server removes states
                slot.state, slot.size, slot.text = None, 0, None
                self._changed(slot)
                changed = True
        while len(self._reserved) > MAX_RESERVED_IDS:
            client_id, _ = self._reserved.popitem(last=False)
            del self._slots[client_id]
            self._changes.pop(client_id, None)
        return changed

    def _release(self, slot: Slot) -> None:
        """Take ``slot`` from whoever holds it (a reservation or another connection)."""
        if slot.owner is None:
            self._reserved.pop(slot.client_id, None)
        else:
            self._owned.get(slot.owner, set()).discard(slot.client_id)

    def _changed(self, slot: Slot) -> None:
        self.seq += 1
        slot.seq = self.seq
        self._changes[slot.client_id] = self.seq
        self._changes.move_to_end(slot.client_id)

    # -- what goes to clients ----------------------------------------------------------------

    def publish(self, oldest_seen: int) -> bool:
        """Make every change so far deliverable (one room tick); forget the changes every
        client (all have seen ``oldest_seen``) already got. False when nothing is new."""
        changes = self._changes
        while changes:
            client_id, seq = next(iter(changes.items()))
            if seq > oldest_seen:
                break
            del changes[client_id]
        if self.seq == self.published:
            return False
        self.published = self.seq
        self._frames.clear()
        return True

    def frame_since(self, seen: int) -> bytes:
        """The WebSocket frame with the latest state of every id changed after ``seen`` and up
        to the last publication (b"" if none): encoded once for every client at ``seen``."""
        if seen >= self.published:
            return b""
        frame = self._frames.get(seen)
        if frame is None:
            published = self.published
            states = []
            for client_id, seq in reversed(self._changes.items()):
                if seq <= seen:
                    break
                if seq <= published:
                    states.append(self._slots[client_id].wire())
            frame = encode_frame(awareness_frame(encode_states(states))) if states else b""
            self._frames[seen] = frame
        return frame

    def snapshot_frame(self) -> bytes:
        """Every present state as one WebSocket frame (b"" if there are none): for a joining
        client and for y-protocols' query-awareness."""
        if self._snapshot is None or self._snapshot[0] != self.seq:
            states = [s.wire() for s in self._slots.values() if s.state is not None]
            frame = encode_frame(awareness_frame(encode_states(states))) if states else b""
            self._snapshot = (self.seq, frame)
        return self._snapshot[1]

    # -- looking inside ----------------------------------------------------------------------

    def states(self) -> list[AwarenessEntry]:
        return [
            AwarenessEntry(s.client_id, s.clock, s.state)
            for s in self._slots.values()
            if s.state is not None
        ]

    def users(self) -> list[dict[str, Any]]:
        return [e.state["user"] for e in self.states() if e.state and "user" in e.state]

    def state_bytes(self) -> int:
        """Bytes of state JSON held (as the clients sent it), for memory accounting."""
        return sum(s.size for s in self._slots.values())

    def ids(self) -> int:
        """Awareness ids known: held by connections or reserved for their user."""
        return len(self._slots)
