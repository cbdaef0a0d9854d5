"""The audit log: what happened to which document, by whom; stored and emitted as events.

Recording never blocks nor fails the action it describes: the store write runs in the
background and a failure is logged. Each event also goes to the server's ``event_logger``
(jupyter_events) so deployments can ship it wherever they ship other Jupyter events.

In a group of servers every event also travels on the bus's ``audit.log`` topic. It is written
to the shared store once, by the server where it happened (before it is published: the store
is the source of truth), and emitted to that server's ``event_logger`` only, so a deployment
that ships every server's events gets each once. Whatever follows the audit log live
(:meth:`AuditLog.watch`) gets the events of every server of the group, each once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ..bus import BusError, EventBus, Message, Subscription, Topic
from ..events import AUDIT_SCHEMA_ID, SCHEMAS
from ..persistence import AuditAction, AuditEvent, DocumentStore, StoreUnavailable

AuditWatcher = Callable[[AuditEvent], None]

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
        self._bus: EventBus | None = None
        self._subscription: Subscription | None = None
        self._watchers: list[AuditWatcher] = []
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
        self._tell(event)
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
        if self.store is not None:
            try:
                await self.store.audit(event)
            except StoreUnavailable as exc:  # (the outage itself is logged once, by the store)
                self.log.debug("Recording the audit event %s failed: %s", event.action, exc)
            except Exception as exc:
                self.log.error("Recording the audit event %s failed: %s", event.action, exc)
        if self._bus is not None:
            try:
                await self._bus.publish(Topic.AUDIT_LOG, "", _payload(event))
            except (BusError, TypeError, ValueError) as exc:  # (the store has it)
                self.log.debug("Publishing the audit event %s failed: %s", event.action, exc)

    # -- the group -------------------------------------------------------------------------------

    async def attach(self, bus: EventBus) -> None:
        """Publish this server's events on ``bus`` and follow the other servers' ones."""
        self._bus = bus
        self._subscription = await bus.subscribe(Topic.AUDIT_LOG, "", self._on_message)

    def watch(self, watcher: AuditWatcher) -> Callable[[], None]:
        """Call ``watcher`` (synchronously) with every audit event of the group from now on;
        returns what stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def _tell(self, event: AuditEvent) -> None:
        for watcher in list(self._watchers):
            try:
                watcher(event)
            except Exception:
                self.log.exception("An audit watcher failed")

    def _on_message(self, message: Message) -> None:
        body = message.payload
        try:
            event = AuditEvent(
                str(body["action"]), float(body["time"]), body.get("document"), body.get("user"),
                dict(body.get("details") or {}),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            self.log.warning("Ignoring a bad audit event from server %s", message.origin)
            return
        self._tell(event)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def detach(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
        self._bus = None


def _payload(event: AuditEvent) -> dict[str, Any]:
    return {
        "action": event.action, "time": event.time, "document": event.doc_id,
        "user": event.user, "details": dict(event.details),
    }  # fmt: skip
