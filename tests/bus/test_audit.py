"""The audit log on the bus (issue 9): an event is written once, by the server where it happened,
and followed live on every server of the group (``AuditLog.watch``), on both bus
implementations (in-process and a real Redis)."""

from __future__ import annotations

import asyncio
import logging

from jupyter_collab.history.audit import AuditLog
from jupyter_collab.persistence import AuditAction, AuditEvent, MemoryStore

from .conftest import Buses, eventually

LOG = logging.getLogger("test-audit")


async def test_an_audit_event_is_written_once_and_followed_on_every_server(buses: Buses) -> None:
    store = MemoryStore()  # the group's one store
    logs = [AuditLog(store, None, LOG) for _ in range(3)]
    seen: list[list[AuditEvent]] = [[] for _ in logs]
    for log, events in zip(logs, seen, strict=True):
        await log.attach(await buses())
        log.watch(events.append)

    logs[1].record(AuditAction.PERMISSION_CHANGE, "text:file:x", "alice", path="a.txt",
                   target="bob", role="viewer")  # fmt: skip
    await logs[1].flush()

    def everywhere() -> bool:
        return all(len(events) == 1 for events in seen)

    await eventually(everywhere, timeout=60, what="the event on every server")
    for events in seen:
        (event,) = events
        assert (event.action, event.doc_id, event.user) == ("permission-change", "text:file:x",
                                                           "alice")  # fmt: skip
        assert dict(event.details) == {"path": "a.txt", "target": "bob", "role": "viewer"}
    stored, _ = await store.query_audit(doc_id="text:file:x")
    assert [(e.action, e.user) for e in stored] == [("permission-change", "alice")]
    await asyncio.sleep(0.2)  # nothing more arrives (no echo, no second write)
    assert all(len(events) == 1 for events in seen)
    assert len((await store.query_audit(doc_id="text:file:x"))[0]) == 1
    for log in logs:
        log.detach()
