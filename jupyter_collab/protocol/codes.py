"""Message types and WebSocket close codes of the room protocol (see docs/protocol.md)."""

from __future__ import annotations

from enum import IntEnum


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    QUERY_AWARENESS = 3  # y-protocols' messageQueryAwareness: no payload
    NOTICE = 100


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class CloseCode(IntEnum):
    """Close codes with the reason text the server sends with them."""

    SHUTTING_DOWN = 1001
    MESSAGE_TOO_BIG = 1009
    MALFORMED = 4400
    FORBIDDEN = 4403
    UNKNOWN_ROOM = 4404
    DIVERGED = 4409
    DELETED = 4410
    UNLOADABLE = 4415
    TOO_SLOW = 4429
    INTERNAL = 4500

    @property
    def reason(self) -> str:
        return _REASONS[self]


_REASONS = {
    CloseCode.SHUTTING_DOWN: "server shutting down",
    CloseCode.MESSAGE_TOO_BIG: "message too large",
    CloseCode.MALFORMED: "malformed message",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.UNKNOWN_ROOM: "unknown room",
    CloseCode.DIVERGED: "document diverged",
    CloseCode.DELETED: "document deleted",
    CloseCode.UNLOADABLE: "document cannot be loaded",
    CloseCode.TOO_SLOW: "client too slow",
    CloseCode.INTERNAL: "internal error",
}
