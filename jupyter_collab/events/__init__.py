"""Structured events of jupyter-collab, emitted through the server's ``event_logger``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOM_SCHEMA_ID = "https://events.jupyter-collab.org/room/v1"
AUDIT_SCHEMA_ID = "https://events.jupyter-collab.org/audit/v1"
SCHEMAS = Path(__file__).parent / "schemas"


class RoomEvents:
    """Emits room lifecycle events (opened, closed, join, leave, save, disk change merged)."""

    def __init__(self, event_logger: Any | None) -> None:
        self._logger = event_logger
        if event_logger is not None:
            event_logger.register_event_schema(SCHEMAS / "room.yaml")

    def __call__(self, action: str, *, room: str, **data: Any) -> None:
        if self._logger is None:
            return
        payload = {"action": action, "room": room}
        payload.update({k: v for k, v in data.items() if v is not None})
        self._logger.emit(schema_id=ROOM_SCHEMA_ID, data=payload)
