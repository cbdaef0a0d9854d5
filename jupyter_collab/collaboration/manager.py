"""All the rooms of a server: created on first join, dropped when idle, following their files."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ..documents.fileids import FileIds
from ..documents.kinds import KINDS, DocumentKind, UnsupportedKind, document_kind
from ..history.audit import AuditLog
from ..history.roomversions import RoomVersions
from ..persistence import AuditAction, DocumentStore, UnknownDocument
from ..persistence.outage import OutageLog
from ..protocol.codes import CloseCode
from .hooks import RoomHook
from .journal import RoomJournal
from .room import Room, RoomSettings


class UnknownRoom(LookupError):
    """No room of that id can exist: bad id or unknown file."""


def room_id_for(kind: DocumentKind, file_id: str) -> str:
    return f"{kind.format}:{kind.type}:{file_id}"


class RoomManager:
    def __init__(
        self,
        contents_manager: Any,
        file_ids: FileIds,
        settings: RoomSettings,
        idle_delay: float,
        log: logging.Logger,
        emit: Callable[..., None],
        store: DocumentStore | None = None,
        audit: AuditLog | None = None,
        version_quiet: float = 0.0,
        version_interval: float = 0.0,
        *,
        store_unavailable: str | None = None,
        store_retry_max: float = 30.0,
        outage: OutageLog | None = None,
        hooks: Callable[[Room], list[RoomHook]] | None = None,
    ) -> None:
        """``store`` None keeps no history; ``store_unavailable`` says why when that is not
        the deployment's choice (its database could not be opened): rooms then tell their
        clients, and save through to their files."""
        self.cm = contents_manager
        self.store = store
        self.store_unavailable = store_unavailable
        self.store_retry_max = store_retry_max
        self.outage = outage
        self.audit = audit
        self.version_quiet = version_quiet
        self.version_interval = version_interval
        self.hooks = hooks  # what else follows each new room (the event bus: roombus.py)
        self.file_ids = file_ids
        self.settings = settings
        self.idle_delay = idle_delay
        self.log = log
        self.emit = emit
        self.rooms: dict[str, Room] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._deleting: dict[str, asyncio.Task[Any]] = {}

    @staticmethod
    def parse(room_id: str) -> tuple[DocumentKind, str]:
        """The kind and file id of a room id; UnknownRoom if it is not one."""
        try:
            format, type, file_id = room_id.split(":", 2)
            return document_kind(format, type), file_id
        except (ValueError, UnsupportedKind) as exc:
            raise UnknownRoom(room_id) from exc

    async def open(self, room_id: str) -> Room:
        """The loaded room of ``room_id`` for the server's own use (a restore): dropped after
        the idle delay unless somebody joins."""
        room = await self.get(room_id)
        try:
            await room.ensure_loaded()
        except BaseException:
            await self.close_room(room, CloseCode.UNLOADABLE)
            raise
        if not room.participants:
            self._room_empty(room)
        return room

    def prefetch(self, room_id: str, path: str) -> None:
        """A client asked for the session of ``room_id``, the file at ``path`` (its
        WebSocket follows): start loading the room now, so that the load overlaps the
        session reply and the WebSocket handshake instead of following them. A room nobody
        joins is dropped after the idle delay; a file that cannot be loaded is reported to
        the WebSocket, which tries again."""
        if room_id in self.rooms:
            return
        kind, file_id = self.parse(room_id)
        room = self._create(room_id, kind, file_id, path)
        self._spawn(self._prefetch(room))

    async def _prefetch(self, room: Room) -> None:
        try:
            await room.ensure_loaded()
        except Exception as exc:  # (the client's WebSocket loads it again and is told why)
            self.log.debug("Loading %s ahead of its first client failed: %s", room.room_id, exc)
            await self.close_room(room, CloseCode.UNLOADABLE)
            return
        if not room.participants:
            self._room_empty(room)

    async def get(self, room_id: str) -> Room:
        """The room of ``room_id``, created (not yet loaded) if its file is known."""
        room = self.rooms.get(room_id)
        if room is None:
            kind, file_id = self.parse(room_id)
            path = await self.file_ids.path_of(file_id)
            if path is None:
                raise UnknownRoom(room_id)
            # (another join may have created it while the path was looked up)
            room = self.rooms.get(room_id) or self._create(room_id, kind, file_id, path)
        self._cancel_idle(room_id)
        return room

    def _create(self, room_id: str, kind: DocumentKind, file_id: str, path: str) -> Room:
        versions = None
        journal = RoomJournal(
            self.store, room_id, self.log, retry_max=self.store_retry_max,
            unavailable=self.store_unavailable, outage=self.outage,
        )  # fmt: skip
        if self.store is not None:
            store = self.store

            def versions(room: Room) -> RoomVersions:
                return RoomVersions(
                    store, room_id, room.durable_seq, room.notify, self.audit, self.log,
                    quiet=self.version_quiet, interval=self.version_interval,
                )  # fmt: skip

        # One history per file: text and blob views of the same file share the file id, so the
        # log is keyed by room (format, type and file id). A journal without a store (history
        # off) still makes the room save through to its file when that was not a choice.
        if self.store is None and self.store_unavailable is None:
            journal = None
        room = Room(
            room_id,
            kind,
            file_id,
            path,
            self.cm,
            self.settings,
            self.log,
            self.emit,
            on_empty=self._room_empty,
            on_deleted=lambda r: self._spawn(self.close_room(r, CloseCode.DELETED)),
            journal=journal,
            bases=self.file_ids,
            versions=versions,
        )
        if journal is not None:
            journal.attach(room.file.save_through, room.notify)
        if self.hooks is not None:
            room.hooks.extend(self.hooks(room))
        self.rooms[room_id] = room
        return room

    def open_file_id(self, path: str) -> str | None:
        """The file id of a room open on ``path`` (a canonical path), if any. Asked before the
        file ids' store: while that store fails (PostgreSQL down, an SQLite file that cannot be
        read) it would hand out a provisional id, so a second room would serve and save the
        same file beside the open one, without its history."""
        for room in self.rooms.values():
            if room.path == path:
                return room.file_id
        return None

    def rooms_of(self, file_id: str) -> list[Room]:
        return [r for r in self.rooms.values() if r.file_id == file_id]

    def _room_empty(self, room: Room) -> None:
        self._cancel_idle(room.room_id)
        loop = asyncio.get_running_loop()
        self._idle[room.room_id] = loop.call_later(
            self.idle_delay, lambda: self._spawn(self._drop_if_idle(room))
        )

    async def _drop_if_idle(self, room: Room) -> None:
        self._idle.pop(room.room_id, None)
        if room.journal is not None and room.journal.unlogged and not room.closed:
            # Its log is still catching up: reopened now, it would resume from a log without
            # its latest updates (they are in the file and the outage log meanwhile).
            self._room_empty(room)
            return
        if not room.participants and self.rooms.get(room.room_id) is room:
            await self.close_room(room, CloseCode.SHUTTING_DOWN, reason="idle")

    def _cancel_idle(self, room_id: str) -> None:
        handle = self._idle.pop(room_id, None)
        if handle is not None:
            handle.cancel()

    async def close_room(self, room: Room, code: CloseCode, reason: str | None = None) -> None:
        if self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]
        self._cancel_idle(room.room_id)
        writer = room.file.may_write()  # (in a group: the lease holder compacts, before release)
        await room.close(code, reason)
        logging_ok = room.journal is not None and room.journal.logging
        if self.store is not None and logging_ok and writer and code is not CloseCode.DELETED:
            try:  # a closed room's log is folded into its snapshot (per the retention)
                await self.store.compact(room.room_id)
            except UnknownDocument:
                pass
            except Exception as exc:
                self.log.error("Compacting the history of %s failed: %s", room.room_id, exc)

    # -- the server's contents events ------------------------------------------------------

    async def file_moved(self, old: str, new: str) -> None:
        """Follow a rename of ``old`` (a file or a folder) to ``new`` (canonical paths).

        The open rooms are renamed at once, from the paths they hold, before the file ids are
        (on the database's threads): until then a room polling its old path would find the
        file gone and close as deleted. A database that fails to record the move is logged;
        the rooms follow it all the same."""
        if old:
            for room in list(self.rooms.values()):
                if room.path == old or room.path.startswith(old + "/"):
                    room.renamed(new + room.path[len(old) :])
        try:
            moved = await self.file_ids.moved(old, new)
        except Exception as exc:
            self.log.error("Recording the move of %s to %s failed: %s", old, new, exc)
            return
        for file_id, path in moved.items():
            for room in self.rooms_of(file_id):
                if room.path != path:
                    room.renamed(path)

    async def file_deleted(self, path: str) -> list[str]:
        """Follow a delete of ``path`` (a file or a folder): close its rooms, keep its history
        as deleted; the file ids it concerned. A database that fails to record it is logged;
        the open rooms of the files there close all the same."""
        try:
            gone = await self.file_ids.deleted(path)
        except Exception as exc:
            self.log.error("Recording the delete of %s failed: %s", path, exc)
            gone = list(
                dict.fromkeys(
                    r.file_id for r in self.rooms.values()
                    if path and (r.path == path or r.path.startswith(path + "/"))
                )
            )  # fmt: skip
        for file_id in gone:
            task = self._spawn(self._file_deleted(file_id, path))
            self._deleting[file_id] = task
            task.add_done_callback(lambda _, f=file_id: self._deleting.pop(f, None))
        return gone

    async def deletion_settled(self, file_id: str) -> None:
        """Wait until a deletion of the file in progress has closed its rooms and marked its
        history (a restore right after a delete must come after both)."""
        task = self._deleting.get(file_id)
        if task is not None:
            await asyncio.shield(task)

    async def _file_deleted(self, file_id: str, path: str) -> None:
        """Close the file's rooms, then keep its history as deleted (purged after the
        retention, restorable until then)."""
        for room in self.rooms_of(file_id):
            await self.close_room(room, CloseCode.DELETED)
        if self.store is None:
            return
        for kind in KINDS.values():
            doc_id = room_id_for(kind, file_id)
            try:
                await self.store.mark_deleted(doc_id, time.time())
            except UnknownDocument:
                continue
            except Exception as exc:
                self.log.error("Marking the history of %s deleted failed: %s", doc_id, exc)
                continue
            if self.audit is not None:
                self.audit.record(AuditAction.DELETE, doc_id, None, path=path)

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            await self.close_room(room, CloseCode.SHUTTING_DOWN)
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
