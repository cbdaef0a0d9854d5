"""A room's whole document as one update, encoded once per version of the document.

Nearly everyone who opens a document arrives with an empty document (a new browser tab) or with
one that holds only its own local edits, so the sync step 2 the room owes them is the whole
document. Encoding it is the largest part of serving a join: yrs walks every string of the
document to count its UTF-16 units (about 14 instructions per byte: ~10 ms for a 3 MB notebook,
~35 ms for a 4 MB text file), and framing it copies it twice more. Here that update is encoded
at most once for each version of the document and shared, already framed, by every joiner
until the document changes; a fresh load seeds it with the state it computed anyway, so the
first client's reply costs nothing either.

A client's state vector is "disjoint" from the room's when it has no item of any client the
room knows: then the whole document is exactly what it lacks (yrs would encode the same bytes
for it). Any other client (a reconnecting one) gets a diff computed for it, as before.
"""

from __future__ import annotations

from typing import Any

from pycrdt import write_var_uint

from ..protocol.codes import MessageType, SyncType
from ..protocol.framing import MalformedMessage, Reader
from .transport import frame_header


def state_vector_clients(state_vector: bytes) -> dict[int, int]:
    """``{client id: clock}`` of an encoded (v1) state vector; MalformedMessage if invalid."""
    reader = Reader(state_vector)
    count = reader.var_uint()
    if count > len(state_vector):  # each entry takes at least two bytes
        raise MalformedMessage("state vector too short for its length")
    clients = {}
    for _ in range(count):
        client = reader.var_uint()
        clients[client] = reader.var_uint()
    reader.end()
    return clients


class FullState:
    """The full-state update of one document, valid until the document next changes.

    The room calls :meth:`changed` from its update observer (every transaction that changed
    anything), so a cached update can never be older than the document.
    """

    __slots__ = ("_ydoc", "_state", "_head", "_known")

    def __init__(self, ydoc: Any) -> None:
        self._ydoc = ydoc
        self._state: bytes | None = None
        self._head: bytes | None = None
        self._known: frozenset[int] | None = None

    def changed(self) -> None:
        """The document changed: forget the encoded state."""
        self._state = self._head = None
        self._known = None

    def seed(self, state: bytes) -> None:
        """``state`` is the document's full state now (just computed by the caller)."""
        self._state = state
        self._head = None
        self._known = None

    @property
    def cached(self) -> bool:
        return self._state is not None

    def state(self) -> bytes:
        """The whole document as one update (``ydoc.get_update()``), encoded once."""
        if self._state is None:
            self._state = self._ydoc.get_update()
        return self._state

    def step2_frame(self, state_vector: bytes) -> tuple[bytes, bytes] | None:
        """The sync step 2 WebSocket frame for a client with ``state_vector``, as two pieces
        to write in order (a header, and the update itself, shared, never copied), when the
        client lacks the whole document; None when it needs a diff of its own."""
        clients = state_vector_clients(state_vector)
        if clients and not self._disjoint(clients):
            return None
        state = self.state()
        if self._head is None:
            message_head = bytes((MessageType.SYNC, SyncType.STEP2)) + write_var_uint(len(state))
            self._head = frame_header(len(message_head) + len(state)) + message_head
        return self._head, state

    def _disjoint(self, clients: dict[int, int]) -> bool:
        if self._known is None:
            self._known = frozenset(state_vector_clients(self._ydoc.get_state()))
        known = self._known
        return not any(clock and client in known for client, clock in clients.items())
