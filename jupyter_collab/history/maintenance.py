"""Periodic upkeep of the history store: compaction of open documents, purge of deleted ones.

Rooms compact their log when they close; a room that stays open for days (a notebook left
open on a shared server) is compacted here too, so the store stays bounded either way.
Version points are full states, so compaction never touches them.

In a group of servers (one shared store, a Redis bus) each open document is compacted by the
holder of its writer lease only, and the purge of deleted documents runs on one server per
period: the one that takes the group's maintenance lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..bus import BusError, EventBus
from ..collaboration.manager import RoomManager
from ..comments.retention import purge_deleted_threads
from ..comments.store import CommentStore
from ..persistence import DocumentStore

DAY = 24 * 3600.0


class Maintenance:
    def __init__(
        self,
        store: DocumentStore,
        rooms: RoomManager,
        *,
        interval: float,
        deleted_retention: float,
        log: logging.Logger,
        bus: EventBus | None = None,
        lease_name: str = "maintenance",
        comments: CommentStore | None = None,
    ) -> None:
        """``bus``: the group's bus (None for one server), whose lease ``lease_name`` elects
        the server that purges. ``comments``: the comment store, whose threads of files
        deleted longer than ``deleted_retention`` ago are purged with their history."""
        self.comments = comments
        self.bus = bus
        self.lease_name = lease_name
        self.store = store
        self.rooms = rooms
        self.interval = interval
        self.deleted_retention = deleted_retention
        self.log = log
        self._task: asyncio.Task[Any] | None = None
        self._compacted: dict[str, tuple[int, float]] = {}  # room -> (seq, when) last compacted

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception:
                self.log.exception("History maintenance failed")

    async def run_once(self, now: float | None = None) -> dict[str, Any]:
        """Compact every open document and purge expired deleted ones; what was done."""
        now = time.time() if now is None else now
        compacted = []
        for room in list(self.rooms.rooms.values()):
            if room.journal is None or room.closed or not room.file.may_write():
                continue  # (another server of the group writes it, and compacts it)
            try:
                await room.journal.flush()
                seq = room.journal.last_seq
                done = self._compacted.get(room.room_id)
                # An idle room was folded already: rewriting its snapshot (a large notebook's
                # is a megabyte) every run would only trim what left the retention window,
                # which can wait for the room to change or close, or for a day to pass.
                if done is not None and done[0] == seq and now - done[1] < DAY:
                    continue
                await self.store.compact(room.room_id, now=now)
                self._compacted[room.room_id] = (seq, now)
                compacted.append(room.room_id)
            except Exception as exc:
                self.log.warning("Compacting %s failed: %s", room.room_id, exc)
        for room_id in [r for r in self._compacted if r not in self.rooms.rooms]:
            del self._compacted[room_id]
        if not await self._elected():
            return {"compacted": compacted, "purged": [], "purgedThreads": 0}
        purged = await self.store.purge_deleted(now - self.deleted_retention)
        for doc_id in purged:
            file_id = doc_id.split(":", 2)[-1]
            if await self.rooms.file_ids.path_of(file_id) is None:
                await self.rooms.file_ids.forget(file_id)
        if purged:
            self.log.info("Purged the history of %d deleted documents", len(purged))
        threads = 0
        if self.comments is not None:
            try:
                threads = await purge_deleted_threads(
                    self.comments, self.rooms.file_ids, now - self.deleted_retention
                )
            except Exception as exc:  # (the next run tries again)
                self.log.warning("Purging the comments of deleted files failed: %s", exc)
            if threads:
                self.log.info("Purged %d comment threads of deleted files", threads)
        return {"compacted": compacted, "purged": purged, "purgedThreads": threads}

    async def _elected(self) -> bool:
        """Whether this server purges this period: always alone; in a group, the one that
        takes the maintenance lease (kept until it expires, a period later, so that the others
        skip this period's purge)."""
        if self.bus is None:
            return True
        try:
            lease = await self.bus.acquire_lease(self.lease_name, max(self.interval, 60.0) * 0.9)
        except BusError as exc:
            self.log.warning("History maintenance: the bus is unavailable (%s); no purge", exc)
            return False
        return lease is not None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
