"""Version points of one open room: automatic ones, and the ones users ask for.

Automatic points come after ``quiet`` seconds without changes and at least every ``interval``
seconds while changes keep coming (so a long session still has points to go back to), and
when the room closes with changes since the last point. Only content changes count (a client,
a restore, a merge from disk); the server's bookkeeping and loading do not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ..persistence import AuditAction, DocumentStore, VersionInfo
from ..persistence.model import VersionKind
from ..timestamps import iso
from .audit import AuditLog


def version_json(info: VersionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "seq": info.seq,
        "time": iso(info.time),
        "name": info.name,
        "kind": info.kind,
        "createdBy": info.user,
        "authors": list(info.authors),
        "changeBytes": info.change_bytes,
        "size": info.state_size,
    }


class RoomVersions:
    def __init__(
        self,
        store: DocumentStore,
        doc_id: str,
        last_seq: Callable[[], Any],
        notify: Callable[[dict[str, Any]], None],
        audit: AuditLog | None,
        log: logging.Logger,
        *,
        quiet: float,
        interval: float,
    ) -> None:
        self.store = store
        self.doc_id = doc_id
        self._last_seq = last_seq  # awaitable: the seq of the last update, once durable
        self._notify = notify
        self._audit = audit
        self.log = log
        self.quiet = quiet
        self.interval = interval
        self._first_change: float | None = None
        self._last_change = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def changed(self) -> None:
        """A content change: schedule the next automatic point."""
        if self._closed or self.quiet <= 0:
            return
        now = time.monotonic()
        self._last_change = now
        if self._first_change is None:
            self._first_change = now
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._wait())

    async def _wait(self) -> None:
        while self._first_change is not None and not self._closed:
            due = min(self._last_change + self.quiet, self._first_change + self.interval)
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._first_change = None
            try:
                await self.make("auto")
            except Exception as exc:
                self.log.error("Making a version point of %s failed: %s", self.doc_id, exc)

    async def make(
        self,
        kind: VersionKind,
        *,
        name: str | None = None,
        user: str | None = None,
        at_seq: int | None = None,
    ) -> VersionInfo | None:
        """A version point at the room's latest update (or at ``at_seq``, an update already
        durable); None for an automatic point that would repeat the last one."""
        async with self._lock:
            seq = at_seq if at_seq is not None else await self._last_seq()
            if seq <= 0:
                return None
            if kind == "auto":
                latest = await self.store.list_versions(self.doc_id, limit=1)
                if latest and latest[0].seq >= seq:
                    return None
            version_id = await self.store.add_version(
                self.doc_id, seq, name=name, kind=kind, user=user, time=time.time()
            )
            (info,) = await self.store.list_versions(self.doc_id, limit=1, before=version_id + 1)
        self._notify({"type": "version", "version": version_json(info)})
        if self._audit is not None:
            self._audit.record(
                AuditAction.VERSION_CREATED, self.doc_id, user, version=info.id, kind=kind,
                name=name,
            )  # fmt: skip
        return info

    async def close(self) -> None:
        """Keep a point for the changes since the last one, then stop."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        if self._first_change is not None:
            self._first_change = None
            try:
                await self.make("auto")
            except Exception as exc:
                self.log.error("Making a version point of %s failed: %s", self.doc_id, exc)
