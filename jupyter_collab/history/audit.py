"""The audit log: what happened to which document, by whom; stored and emitted as events.

Recording never blocks nor fails the action it describes: the store write runs in the
background and a failure is logged. Each event also goes to the server's ``event_logger``
(jupyter_events) so deployments can ship it wherever they ship other Jupyter events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..events import AUDIT_SCHEMA_ID, SCHEMAS
from ..persistence import AuditAction, AuditEvent, DocumentStore, StoreUnavailable

# Room lifecycle events (events/room.yaml) that are audited, and their audit action.
ROOM_ACTIONS = {
    "join": AuditAction.JOIN,
    "leave": AuditAction.LEAVE,
    "save": AuditAction.SAVE,
    "disk_merged": AuditAction.DISK_MERGED,
}


class AuditLog:
    def __init__(
        self, store: DocumentStore | None, event_logger: Any | None, log: logging.Logger
    ):
        """``store`` None (a server without its database) only emits the events."""
        self.store = store
        self.log = log
        self._logger = event_logger
        self._tasks: set[asyncio.Task[Any]] = set()
        if event_logger is not None:
            event_logger.register_event_schema(SCHEMAS / "audit.yaml")

    def record(
        self, action: AuditAction, doc_id: str | None, user: str | None, **details: Any
    ) -> None:
        details = {k: v for k, v in details.items() if v is not None}
        event = AuditEvent(action.value, time.time(), doc_id, user, details)
        task = asyncio.get_running_loop().create_task(self._store(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._logger is not None:
            payload: dict[str, Any] = {"action": action.value, "details": details}
            if doc_id is not None:
                payload["document"] = doc_id
            if user is not None:
                payload["user"] = user
            self._logger.emit(schema_id=AUDIT_SCHEMA_ID, data=payload)

    def room_event(self, action: str, *, room: str, **data: Any) -> None:
        """The audited subset of room events (the room's own emitter calls this too)."""
        audited = ROOM_ACTIONS.get(action)
        if audited is not None:
            self.record(audited, room, data.pop("username", None), **data)

    async def _store(self, event: AuditEvent) -> None:
        if self.store is None:
            return
        try:
            await self.store.audit(event)
        except StoreUnavailable as exc:  # (the outage itself is logged once, by the store)
            self.log.debug("Recording the audit event %s failed: %s", event.action, exc)
        except Exception as exc:
            self.log.error("Recording the audit event %s failed: %s", event.action, exc)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
