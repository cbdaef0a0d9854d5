"""Hooks into a room's life (the Hocuspocus extension model).

A room does its one job (a document, its clients, its file); whatever else wants to follow a
room (today: the event bus that shares it with the other servers of a group) attaches a
:class:`RoomHook` and is called at fixed points, instead of living inside the room. Every
method has a default that does nothing, so a hook implements only what it needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..origins import Origin
    from .room import Room


class RoomHook:
    """Called by a room at fixed points of its life; every method may be left as it is."""

    async def load(self, room: Room, load: Callable[[], Awaitable[None]]) -> None:
        """Wrap the room's loading (``load()`` reads the file or resumes the log).

        A hook may do things before and after, or hold a lock around it; it must call
        ``load()`` exactly once and let its exceptions through.
        """
        await load()

    def updated(self, room: Room, update: bytes, origin: Origin) -> None:
        """A transaction changed the document, and (when the room keeps a log) the update is
        durable: called in the order of the transactions, synchronously."""

    def notified(self, room: Room, body: dict[str, Any]) -> None:
        """The room sent a notice to all its clients (saved, save error, renamed, ...)."""

    def awareness_published(self, room: Room, before: int) -> None:
        """The room's presence changes after sequence number ``before`` and up to
        ``room.presence.published`` were just made deliverable (one room tick)."""

    async def closed(self, room: Room) -> None:
        """The room closed (clients disconnected, file saved): let go of what the hook holds."""
