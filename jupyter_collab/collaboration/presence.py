"""Awareness (presence) of a room, with the server as the authority on identity.

Each awareness client id belongs to the connection that first announced it; another
connection cannot overwrite or remove it, and every state carries the authenticated user.
"""

from __future__ import annotations

from typing import Any

from ..protocol.awareness import AwarenessEntry


class Presence:
    def __init__(self) -> None:
        self._entries: dict[int, AwarenessEntry] = {}
        self._owners: dict[int, Any] = {}

    def apply(
        self, owner: Any, entries: list[AwarenessEntry], user: dict[str, Any]
    ) -> list[AwarenessEntry]:
        """Accept what ``owner`` may change, with ``user`` stamped in; return what changed."""
        accepted = []
        for entry in entries:
            current_owner = self._owners.get(entry.client_id)
            if current_owner is not None and current_owner is not owner:
                continue
            current = self._entries.get(entry.client_id)
            if current is not None and not (
                entry.clock > current.clock
                or (entry.clock == current.clock and entry.state is None and current.state)
            ):
                continue
            if entry.state is not None:
                entry = AwarenessEntry(entry.client_id, entry.clock, {**entry.state, "user": user})
            self._entries[entry.client_id] = entry
            self._owners[entry.client_id] = owner
            accepted.append(entry)
        return accepted

    def states(self) -> list[AwarenessEntry]:
        return [e for e in self._entries.values() if e.state is not None]

    def users(self) -> list[dict[str, Any]]:
        return [e.state["user"] for e in self.states() if e.state and "user" in e.state]

    def remove_owner(self, owner: Any) -> list[AwarenessEntry]:
        """Forget every state of ``owner``; return the removals to tell the others."""
        removed = []
        for client_id in [c for c, o in self._owners.items() if o is owner]:
            entry = self._entries.pop(client_id)
            del self._owners[client_id]
            if entry.state is not None:
                removed.append(AwarenessEntry(client_id, entry.clock + 1, None))
        return removed
