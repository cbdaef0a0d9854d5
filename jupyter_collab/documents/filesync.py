"""Keeping a room's document and its file in agreement through the ContentsManager.

Load once, autosave after a quiet delay with a maximum wait (so a document under constant
editing still reaches disk), poll for changes made on disk and merge them as the smallest edit,
and never save over a newer file without merging it first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_core.utils import ensure_async
from pycrdt import Doc, merge_updates
from tornado.web import HTTPError

from ..origins import DISK, LOAD, RESUME, SERVER, Origin
from .kinds import DocumentKind, detect_eol

if TYPE_CHECKING:
    from ..collaboration.journal import RoomJournal
    from .fileids import FileIds
from .merge import edit_from_base, value_of
from .notebooks import is_trusted, read_notebook

TRUST_CHECK_DELAY = 0.5  # seconds after loading a notebook before its signature is checked


class FileGone(Exception):
    """The file no longer exists."""


class FileUnloadable(Exception):
    """The file exists but cannot be read as this kind of document."""


class SyncedRoom(Protocol):
    """What FileSync needs of its room."""

    ydoc: Any
    jdoc: Any

    def apply_update(self, update: bytes, origin: Origin) -> None: ...

    def transact(self, origin: Origin) -> Any: ...

    def notify(self, body: dict[str, Any]) -> None: ...

    def emit(self, action: str, **data: Any) -> None: ...

    def file_deleted(self) -> None: ...


class FileSync:
    def __init__(
        self,
        room: SyncedRoom,
        contents_manager: Any,
        kind: DocumentKind,
        path: str,
        *,
        save_delay: float,
        save_max_wait: float,
        poll_interval: float,
        log: logging.Logger,
        journal: RoomJournal | None = None,
        bases: FileIds | None = None,
        file_id: str = "",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.room = room
        self.cm = contents_manager
        self.kind = kind
        self.path = path
        self.save_delay = save_delay
        self.save_max_wait = save_max_wait
        self.poll_interval = poll_interval
        self.log = log
        self.journal = journal
        self._bases = bases
        self._file_id = file_id
        self.last_modified: datetime | None = None
        self.eol = "\n"
        self._base_update = b""  # document state equal to the file's content
        self._disk_digest: str | None = None  # of the content last read or written
        self._first_unsaved: float | None = None
        self._last_change = 0.0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._save_task: asyncio.Task[None] | None = None
        self._closed = False
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        # Whether this server writes the file and watches it (see writer_changed). Always, for
        # one server; for a group of servers, the holder of the room's writer lease.
        self.may_write: Callable[[], bool] = lambda: True

    @property
    def dirty(self) -> bool:
        return self._first_unsaved is not None

    # -- reading and writing ---------------------------------------------------------------

    async def _read(self) -> tuple[Any, datetime | None]:
        if self.kind.contents_type == "notebook":
            return await self._read_notebook()
        try:
            model = await ensure_async(
                self.cm.get(
                    self.path,
                    content=True,
                    type=self.kind.contents_type,
                    format=None if self.kind.contents_type == "notebook" else self.kind.format,
                )
            )
        except HTTPError as exc:
            if exc.status_code == 404:
                raise FileGone(self.path) from exc
            raise FileUnloadable(exc.log_message or str(exc)) from exc
        except Exception as exc:  # a broken notebook raises from nbformat, not HTTPError
            raise FileUnloadable(str(exc)) from exc
        content = model["content"]
        if self.kind.format == "text":
            self.eol = detect_eol(content or "")
        return self.kind.from_model(content), model.get("last_modified")

    async def _read_notebook(self) -> tuple[Any, datetime | None]:
        try:
            return await read_notebook(self.cm, self.path)
        except HTTPError as exc:
            if exc.status_code == 404:
                raise FileGone(self.path) from exc
            raise FileUnloadable(exc.log_message or str(exc)) from exc
        except Exception as exc:
            raise FileUnloadable(str(exc)) from exc

    async def _stat(self) -> datetime | None:
        try:
            model = await ensure_async(self.cm.get(self.path, content=False))
        except HTTPError as exc:
            if exc.status_code == 404:
                raise FileGone(self.path) from exc
            raise
        return model.get("last_modified")

    async def load(self) -> None:
        """Resume the room from its durable log if it has one, else load the file.

        Resuming replays the same CRDT history, so clients that kept the document across a
        restart merge without duplicates. The file is then merged as a diff from the content
        last saved, and edits that were logged but never saved make the room dirty.

        A file with no merge base recorded has nothing to resume, so it is not fingerprinted
        first: the fingerprint (a canonical JSON dump of a whole notebook, tens of ms for a
        large one) would delay every client waiting for the room. Its base is recorded at
        once under an empty digest (the next load finds it as the newest base all the same)
        and again with its fingerprint once the first clients have had their sync reply.
        """
        async with self._lock:
            value, self.last_modified = await self._read()
            resumable = (
                self.journal is not None
                and self._bases is not None
                and self._bases.base(self._file_id, None) is not None
            )
            if not (resumable and await self._resume(value)):
                with self.room.transact(LOAD):
                    self.room.jdoc.set(value)
                state = self.room.ydoc.get_update()
                self._disk_digest = None
                self._set_base(state, "")

                async def fingerprint() -> None:
                    await asyncio.sleep(TRUST_CHECK_DELAY)
                    async with self._lock:
                        # Unless a merge or a save has set a newer base meanwhile.
                        if self._base_update is state and self._disk_digest is None:
                            self._disk_digest = _digest(value)
                            self._set_base(state, self._disk_digest)

                self._spawn(fingerprint())
        if self.kind.contents_type == "notebook":
            self._spawn(self._mark_trusted(value))

    async def _resume(self, value: Any) -> bool:
        journal = self.journal
        base = None
        if self._bases is not None:
            base = self._bases.base(self._file_id, _digest(value))
        if journal is None or base is None:
            return False
        state = await journal.store.load(journal.doc_id)
        if state is None:
            return False
        with self.room.transact(RESUME):
            self.room.ydoc.apply_update(state)
        journal.last_seq = await journal.store.last_seq(journal.doc_id)
        self._base_update = base
        self._disk_digest = None
        await self._merge_value(value)  # what changed on disk while the server was down
        if value_of(self.room.jdoc) != _content_of(base, self.kind):
            self.changed()  # logged before a crash or shutdown, never saved
        return True

    def _set_base(self, state: bytes, digest: str, *, pending: bool = False) -> Any:
        """Keep the merge base, and record it durably (awaitable, in order with the others)."""
        if not pending:
            self._base_update = state
        if self._bases is None:
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return asyncio.wrap_future(
            self._bases.set_base(self._file_id, state, digest, pending=pending)
        )

    async def _mark_trusted(self, notebook: dict[str, Any]) -> None:
        """Tell clients the cells are trusted, as Jupyter does on load, once the check is done.

        The mark lives in cell metadata, which Jupyter strips on save; it is server bookkeeping,
        so it neither makes the room dirty nor counts as anybody's edit.
        """
        # Hashing a large notebook holds the GIL for a while: let the first clients get their
        # sync reply before it starts.
        await asyncio.sleep(TRUST_CHECK_DELAY)
        try:
            trusted = await is_trusted(self.cm, notebook)
        except Exception as exc:
            self.log.warning("Checking the signature of %s failed: %s", self.path, exc)
            return
        if not trusted or self._closed:
            return
        with self.room.transact(SERVER):
            for cell in self.room.jdoc.ycells:
                metadata = cell.get("metadata")
                if metadata is not None and metadata.get("trusted") is not True:
                    metadata["trusted"] = True

    # -- autosave --------------------------------------------------------------------------

    def changed(self) -> None:
        """Called for every change that makes the room differ from the file."""
        if self._closed:
            return
        now = self._clock()
        self._last_change = now
        if self._first_unsaved is None:
            self._first_unsaved = now
        if not self.may_write():
            return  # the writer saves; if this server becomes it, writer_changed saves
        if self._save_task is None or self._save_task.done():
            self._save_task = self._spawn(self._autosave())

    async def _autosave(self) -> None:
        while self._first_unsaved is not None and not self._closed and self.may_write():
            due = min(self._last_change + self.save_delay, self._first_unsaved + self.save_max_wait)
            wait = due - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if not await self.save():
                await asyncio.sleep(max(self.save_delay, 1.0))  # retry later, keep the edits

    async def save(self, user: str | None = None) -> bool:
        """Write the room to disk, merging a newer file first. True when it reached disk.

        ``user`` is who asked for the save (None for an autosave), for the audit log. A server
        that is not the room's writer does not write (False): the writer has the same content.
        """
        if not self.may_write():
            return False
        async with self._lock:
            started = self._first_unsaved
            try:
                on_disk = await self._stat()
                if on_disk != self.last_modified:
                    await self._merge_from_disk()
                await self._settle_log()
                started = self._first_unsaved
                self._first_unsaved = None
                value = value_of(self.room.jdoc)
                state = self.room.ydoc.get_update()
                digest = _digest(value)
                await self._set_base(state, digest, pending=True)
                model = await ensure_async(
                    self.cm.save(
                        {
                            "type": self.kind.contents_type,
                            "format": self.kind.format,
                            "content": self.kind.to_model(value, self.eol),
                        },
                        self.path,
                    )
                )
            except FileGone:
                self.room.file_deleted()
                return False
            except Exception as exc:
                if self._first_unsaved is None:
                    self._first_unsaved = started if started is not None else self._clock()
                self.log.error("Saving %s failed: %s", self.path, exc)
                self.room.notify({"type": "save-error", "path": self.path, "message": str(exc)})
                return False
            self.last_modified = model.get("last_modified")
            self._disk_digest = digest
            self._set_base(state, digest)
            if self.room.jdoc.dirty:
                with self.room.transact(SERVER):
                    self.room.jdoc.dirty = False
        self.room.notify(
            {"type": "saved", "path": self.path, "lastModified": _iso(self.last_modified)}
        )
        self.room.emit("save", path=self.path, username=user)
        return True

    # -- changes made on disk --------------------------------------------------------------

    async def poll_once(self) -> None:
        if not self.may_write():
            return  # the writer watches the file: two servers would merge one change twice
        async with self._lock:
            try:
                on_disk = await self._stat()
                if on_disk != self.last_modified:
                    await self._merge_from_disk()
            except FileGone:
                self.room.file_deleted()

    async def _poll_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.poll_once()
            except Exception as exc:
                self.log.warning("Checking %s on disk failed: %s", self.path, exc)

    async def _settle_log(self) -> None:
        """Wait until every update in the room is logged, so a save's seq is exact."""
        if self.journal is None:
            return
        for _ in range(100):
            if not self.journal.pending:
                return
            await self.journal.flush()
        raise RuntimeError("the update log does not keep up; saving later")

    async def _merge_from_disk(self) -> None:
        try:
            value, last_modified = await self._read()
        except FileUnloadable as exc:
            # A half-written or broken file: keep the room as it is, try again next time.
            self.log.warning("Not merging %s from disk: %s", self.path, exc)
            return
        self.last_modified = last_modified
        await self._merge_value(value)

    async def _merge_value(self, value: Any) -> None:
        """Merge a file content into the room as the edit from the last agreed content."""
        digest = _digest(value)
        if digest == self._disk_digest:
            return
        if value == value_of(self.room.jdoc):
            # The room already has this content: saved by us, or merged just before a crash
            # whose new merge base never reached the disk. Merging it again would repeat it.
            self._disk_digest = digest
            self._set_base(self.room.ydoc.get_update(), digest)
            return
        update = edit_from_base(self._base_update, self.kind.ydoc_class, value)
        self._disk_digest = digest
        if update is None:
            return
        self.room.apply_update(update, DISK)
        self._set_base(merge_updates(self._base_update, update), digest)
        self.room.notify({"type": "disk-merged", "path": self.path})
        self.room.emit("disk_merged", path=self.path)

    async def became_writer(self) -> None:
        """This server now writes and watches the file (it took the writer lease over).

        The previous writer saved and merged with merge bases of its own, which it recorded in
        the shared file-ids database: take the base whose content is the file's, so that the
        next merge from disk is the edit from what the file really holds (merging from this
        server's older base would repeat the previous writer's saves: lines doubled). Then save
        what the file lacks.
        """
        async with self._lock:
            try:
                value, last_modified = await self._read()
            except FileGone:
                self.room.file_deleted()
                return
            except FileUnloadable as exc:
                self.log.warning("Taking over %s: cannot read it: %s", self.path, exc)
                return
            digest = _digest(value)
            base = None
            if self._bases is not None:
                bases = self._bases
                base = await asyncio.to_thread(bases.base, self._file_id, digest)
            if base is not None and _content_of(base, self.kind) == value:
                self._base_update = base
            elif value == value_of(self.room.jdoc):
                self._set_base(self.room.ydoc.get_update(), digest)
            else:
                self.log.warning(
                    "Taking over %s: no merge base matches the file; merging from this "
                    "server's own", self.path,
                )  # fmt: skip
            self.last_modified = last_modified
            self._disk_digest = None
            await self._merge_value(value)  # a change made on disk meanwhile, if any
            differs = value_of(self.room.jdoc) != value
        if differs:
            self.changed()
        elif self._first_unsaved is not None and not differs:
            self._first_unsaved = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self.poll_interval > 0:
            self._spawn(self._poll_loop())

    async def close(self, save: bool = True) -> None:
        """Stop the timers; write what has not reached disk yet unless told otherwise."""
        if self._closed:
            return
        if save and self.dirty:
            await self.save()
        self._closed = True
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _digest(value: Any) -> str:
    """A fingerprint of a file content: keeping the content itself would double the memory
    of a large notebook."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str):
        data = value.encode()
    else:
        # No circular check: a file content is a tree (a few ms of 30 for a large notebook).
        data = json.dumps(
            value, sort_keys=True, separators=(",", ":"), check_circular=False
        ).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _content_of(state: bytes, kind: DocumentKind) -> Any:
    doc = Doc()
    doc.apply_update(state)
    return kind.ydoc_class(doc).get()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
