"""Keeping a room's document and its file in agreement through the ContentsManager.

Load once, autosave after a quiet delay with a maximum wait (so a document under constant
editing still reaches disk), poll for changes made on disk and merge them as the smallest edit,
and never save over a newer file without merging it first.

Saving never depends on the history database: merge bases are recorded when it works (and the
save goes on when it does not), and while the room's log fails the journal asks for saves right
away (``save_through``), the file being then where edits are durable before others see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from jupyter_core.utils import ensure_async
from jupyter_server.services.contents.fileio import FileManagerMixin
from jupyter_server.services.contents.filemanager import (
    AsyncFileContentsManager,
    FileContentsManager,
)
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc, merge_updates
from tornado.web import HTTPError

from .. import metrics
from ..origins import DISK, RESUME, SERVER, Origin
from .kinds import DocumentKind, detect_eol

if TYPE_CHECKING:
    from ..collaboration.firstreply import FirstReply
    from ..collaboration.journal import RoomJournal
    from .fileids import FileIds
from .merge import edit_from_base, value_of
from .notebooks import is_trusted, read_notebook, repair_cells
from .textupdate import text_update, utf8_text_update

EMPTY_STATE = b"\x00"  # the state vector of an empty document

TRUST_CHECK_DELAY = 0.5  # seconds after loading a notebook before its signature is checked


class FileGone(Exception):
    """The file no longer exists."""


class _NotWriter(Exception):
    """This server lost the writer lease of a group while it was about to save."""


class _StaleWrite(_NotWriter):
    """A fenced write reached the file after another server had taken the lease over (this
    server was paused between its last check and the rename); it was undone if it could be."""


class FileUnloadable(Exception):
    """The file exists but cannot be read as this kind of document."""


class SyncedRoom(Protocol):
    """What FileSync needs of its room."""

    ydoc: Any
    jdoc: Any

    def apply_update(self, update: bytes, origin: Origin) -> None: ...

    def transact(self, origin: Origin) -> Any: ...

    def fill(self, fill: Callable[[], None]) -> bytes: ...

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
        first_reply: FirstReply | None = None,
    ) -> None:
        self.room = room
        # A fresh load's bookkeeping (merge base, log entry, fingerprint, signature) waits
        # for the first client's sync reply (see collaboration/firstreply.py).
        self._first_reply = first_reply
        self.cm = contents_manager
        self.kind = kind
        self.path = path
        self._missing: str | None = None  # the path a poll last found gone
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
        # Saves asked for by the journal while the log fails: resolved by the next save.
        self._through: list[asyncio.Future[bool]] = []
        self._urgent = False
        self._wake = asyncio.Event()  # cuts the autosave's wait short (an urgent save)
        # Merge base writes, chained so they reach the database in order (never cancelled:
        # a base lost at close would make the next start merge the file twice).
        self._base_write: asyncio.Future[bool] | None = None
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        # Whether this server writes the file and watches it (see writer_changed). Always, for
        # one server; for a group of servers, the holder of the room's writer lease.
        self.may_write: Callable[[], bool] = lambda: True
        # For a group: proves with the lease's backend, just before a save, that this server
        # still holds the writer lease (its fencing token is the current one), so a server
        # that paused past its lease never overwrites its successor's saves.
        self.fence: Callable[[], Awaitable[bool]] | None = None
        # Set while this server is not the writer: the writer's saves make this server's merge
        # base stale, so the first save or poll after taking the lease over adopts the base the
        # writer recorded first (a merge from the stale one would repeat the writer's saves).
        self._stale_base = False
        # For tests only (CollabApp.test_write_pause): seconds a fenced write waits, at
        # ``write_pause_at`` ("fence": before the lease check; "rename": between the check and
        # the rename), so that a test can SIGSTOP the server exactly there. 0: never.
        self.write_pause = 0.0
        self.write_pause_at = "rename"

    @property
    def dirty(self) -> bool:
        return self._first_unsaved is not None

    # -- reading and writing ---------------------------------------------------------------

    async def _read(self) -> tuple[Any, datetime | None]:
        value, last_modified, _ = await self._read_for_load(None)
        return value, last_modified

    async def _read_for_load(
        self, client_id: int | None
    ) -> tuple[Any, datetime | None, bytes | None]:
        """The file's content for the document, its last modification time and, for a text
        file read directly (see :func:`_read_text`) when ``client_id`` is given, the whole
        update of an empty document of that client filled with it (else None)."""
        if self.kind.contents_type == "notebook":
            return (*await self._read_notebook(), None)
        if self.kind.ydoc_class is YUnicode and _stock_file_reader(self.cm):
            return await self._read_text_directly(client_id)
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
            raise FileUnloadable(self._reason(exc.log_message or str(exc))) from exc
        except Exception as exc:  # a broken notebook raises from nbformat, not HTTPError
            raise FileUnloadable(self._reason(str(exc))) from exc
        content = model["content"]
        if self.kind.format == "text":
            self.eol = detect_eol(content or "")
        return self.kind.from_model(content), model.get("last_modified"), None

    async def _read_text_directly(
        self, client_id: int | None
    ) -> tuple[str, datetime | None, bytes | None]:
        """Read a text file as Jupyter's own file managers would (``get`` with ``format``
        "text"), in one worker thread: their ``get`` runs its checks on the event loop, reads
        the bytes on a thread, decodes all of them on the loop, and the load then encoded
        them again for the document's first update (~10-40 ms of the loop for 4 MiB on a
        busy machine, on the path of every first client). The contents event Jupyter emits
        for a read is emitted all the same."""
        try:
            os_path = self.cm._get_os_path(self.path)
            read = await asyncio.to_thread(_read_text, os_path, client_id)
        except FileNotFoundError as exc:
            raise FileGone(self.path) from exc
        except HTTPError as exc:
            if exc.status_code == 404:
                raise FileGone(self.path) from exc
            raise FileUnloadable(self._reason(exc.log_message or str(exc))) from exc
        except UnicodeDecodeError as exc:
            raise FileUnloadable(f"{self.path} is not UTF-8 encoded") from exc
        except OSError as exc:
            raise FileUnloadable(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        self.cm.emit(data={"action": "get", "path": self.path})
        self.eol = read.eol
        return read.value, read.last_modified, read.update

    async def _read_notebook(self) -> tuple[Any, datetime | None]:
        try:
            return await read_notebook(self.cm, self.path)
        except HTTPError as exc:
            if exc.status_code == 404:
                raise FileGone(self.path) from exc
            raise FileUnloadable(self._reason(exc.log_message or str(exc))) from exc
        except Exception as exc:
            raise FileUnloadable(self._reason(str(exc))) from exc

    def _reason(self, message: str) -> str:
        """A contents manager's refusal, with the file's path on the server's disk (Jupyter's
        own managers name it so: "Unreadable Notebook: /home/...") replaced by its API path:
        the reason goes to clients, who have no business knowing where the server keeps its
        files."""
        get_os_path = getattr(self.cm, "_get_os_path", None)
        if get_os_path is None:
            return message
        try:
            os_path = get_os_path(self.path)
        except Exception:
            return message
        return message.replace(os_path, self.path) if os_path else message

    async def _stat(self) -> datetime | None:
        """The file's last modification time, as the ContentsManager reports it."""
        if isinstance(self.cm, FileManagerMixin) and hasattr(self.cm, "_base_model"):
            # Jupyter's own file managers: the same value from one stat, in a thread. Their
            # ``get`` costs milliseconds of the event loop (hidden-file checks, a contents
            # event validated against its schema): every second for each open room, that
            # alone kept a server with 150 open rooms busy.
            try:
                os_path = self.cm._get_os_path(self.path)
                info = await asyncio.to_thread(os.lstat, os_path)
            except FileNotFoundError as exc:
                raise FileGone(self.path) from exc
            except HTTPError as exc:
                if exc.status_code == 404:
                    raise FileGone(self.path) from exc
                raise
            if stat.S_ISDIR(info.st_mode):
                raise FileGone(self.path)
            return datetime.fromtimestamp(info.st_mtime, timezone.utc)
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
        large one) would delay every client waiting for the room. Its base is recorded under
        an empty digest (the next load finds it as the newest base all the same) and given
        its fingerprint afterwards. All of that, and the load's entry in the log, waits for
        the first client's sync reply (``first_reply``): the log is held until the base is
        durable (``RoomJournal.hold``), so no update is ever logged before the base it is
        resumed from.
        """
        async with self._lock:
            journal = self.journal
            history = journal is not None and journal.disabled is None and self._bases is not None
            # Whether the file has a history to resume is asked while the file is read (two
            # waits on other threads at once rather than one after the other).
            known = (
                asyncio.ensure_future(self._bases.base(self._file_id, None))
                if history and self._bases is not None
                else None
            )
            try:
                value, self.last_modified, update = await self._read_for_load(
                    self.room.ydoc.client_id
                )
            except BaseException:
                if known is not None:
                    known.add_done_callback(_retrieved)
                raise
            resumed = False
            if known is not None and journal is not None:
                try:
                    resumed = await self._resume(value, known)
                except Exception as exc:
                    # The history cannot be read: loading the file afresh and logging it as a
                    # new start would bury edits logged but never saved. History stays off for
                    # this room; its file keeps everything meanwhile.
                    self.log.error("Reading the history of %s failed: %s", self.path, exc)
                    journal.disable(f"its history could not be read: {exc}")
            if not resumed:
                gate = self._first_reply
                state = self.room.fill(
                    lambda: self.room.jdoc.set(value), self._load_update(value, update)
                )
                self._disk_digest = None
                # A fresh start: bases of an older history (an unfinished save) go with it.
                base = self._set_base(state, "", fresh=True, after=gate)
                if journal is not None:
                    # The load's entry (recorded by the fill: its append starts at the next
                    # turn of the loop, after this) and every update after it are logged
                    # once this base is recorded (or failed).
                    journal.hold(_settled(base), gate.open if gate else _nothing)

                async def fingerprint() -> None:
                    await self._after_first_reply()
                    async with self._lock:
                        # Unless a merge or a save has set a newer base meanwhile.
                        if self._base_update is state and self._disk_digest is None:
                            self._disk_digest = _digest(value)
                            self._set_digest(self._disk_digest)

                self._spawn(fingerprint())
        if self.kind.contents_type == "notebook":
            self._spawn(self._mark_trusted(value))

    def _load_update(self, value: Any, read: bytes | None = None) -> bytes | None:
        """The whole update of the empty document filled with ``value``, written directly
        for a text file (see ``textupdate.py``; ``read``: already written while the file was
        read); None for anything else (the document's own ``set`` fills it, and yrs encodes
        it)."""
        if self.kind.ydoc_class is not YUnicode or not isinstance(value, str):
            return None
        if self.room.ydoc.get_state() != EMPTY_STATE:
            return None  # (not empty: a history read in part before it failed)
        if read is not None:
            return read
        return text_update(self.room.ydoc.client_id, "source", value)

    async def _resume(self, value: Any, known: Awaitable[bytes | None]) -> bool:
        """Resume from the log (see :meth:`load`); ``known`` is the file's newest merge base,
        asked for while the file was read."""
        journal, bases = self.journal, self._bases
        assert journal is not None and journal.store is not None and bases is not None
        if await known is None:
            return False  # never loaded with history: nothing to resume
        base = await bases.base(self._file_id, _digest(value))
        state = await journal.store.load(journal.doc_id)
        if base is None or state is None:
            return False
        last_seq = await journal.store.last_seq(journal.doc_id)
        with self.room.transact(RESUME):
            self.room.ydoc.apply_update(state)
        journal.last_seq = last_seq
        self._base_update = base
        self._disk_digest = None
        await self._merge_value(value)  # what changed on disk while the server was down
        if value_of(self.room.jdoc) != _content_of(base, self.kind):
            self.changed()  # logged before a crash or shutdown, never saved
        return True

    def _set_base(
        self, state: bytes, digest: str, *, pending: bool = False, fresh: bool = False,
        after: FirstReply | None = None,
    ) -> asyncio.Future[bool]:  # fmt: skip
        """Keep the merge base, and record it durably: in order with the others (and not
        before ``after`` opens), awaitable (True once recorded). A failure is logged, not
        raised: the file matters more."""
        if not pending:
            self._base_update = state
        previous = self._base_write
        bases = self._bases

        async def write() -> bool:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            if after is not None:
                await after.wait()
            if bases is None:
                return True
            try:
                await bases.set_base(self._file_id, state, digest, pending=pending, fresh=fresh)
            except Exception as exc:
                self.log.warning("Recording the merge base of %s failed: %s", self.path, exc)
                return False
            return True

        self._base_write = asyncio.ensure_future(write())
        return self._base_write

    def _set_digest(self, digest: str) -> asyncio.Future[bool]:
        """Record the fingerprint of the base set last (by a fresh load, without one), in
        order with the base writes: only the digest is written, not the state again."""
        previous = self._base_write
        bases = self._bases

        async def write() -> bool:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            if bases is None:
                return True
            try:
                await bases.set_digest(self._file_id, digest)
            except Exception as exc:
                # (harmless: a base without its fingerprint is found as the newest one)
                self.log.warning("Recording the fingerprint of %s failed: %s", self.path, exc)
                return False
            return True

        self._base_write = asyncio.ensure_future(write())
        return self._base_write

    async def bases_written(self) -> None:
        """Wait until every merge base recorded so far is in the database (or failed); a
        fresh load's, deferred until the first sync reply, is written now."""
        if self._first_reply is not None:
            self._first_reply.open()
        if self._base_write is not None:
            await asyncio.gather(self._base_write, return_exceptions=True)

    async def _after_first_reply(self) -> None:
        """Wait until a freshly loaded document's first client has its sync reply (or, for
        a room without that gate, a moment for the first clients)."""
        if self._first_reply is not None:
            await self._first_reply.wait()
        else:
            await asyncio.sleep(TRUST_CHECK_DELAY)

    @property
    def _history_works(self) -> bool:
        """Whether the room's history database works (bases are worth waiting for)."""
        return self.journal is None or self.journal.logging

    async def _mark_trusted(self, notebook: dict[str, Any]) -> None:
        """Tell clients the cells are trusted, as Jupyter does on load, once the check is done.

        The mark lives in cell metadata, which Jupyter strips on save; it is server bookkeeping,
        so it neither makes the room dirty nor counts as anybody's edit.
        """
        # Hashing a large notebook holds the GIL for a while: let the first clients get their
        # sync reply before it starts.
        await self._after_first_reply()
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
            self._stale_base = True
            return  # the writer saves; if this server becomes it, became_writer saves
        if self._save_task is None or self._save_task.done():
            self._save_task = self._spawn(self._autosave())

    def save_through(self) -> asyncio.Future[bool]:
        """A save as soon as possible, containing every change made so far; the future is
        resolved when it is done (True if the file was written)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._closed or not self.may_write():
            # (not this server's to write: the writer's save holds what its journal logs)
            future.set_result(False)
            return future
        self._through.append(future)
        self._urgent = True
        if self._first_unsaved is None:
            self._first_unsaved = self._clock()
        if self._save_task is None or self._save_task.done():
            self._save_task = self._spawn(self._autosave())
        else:
            self._wake.set()  # (it may be waiting for the autosave delay)
        return future

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if an urgent save is asked for meanwhile."""
        self._wake.clear()
        if self._urgent:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _saved_through(self, futures: list[asyncio.Future[bool]], saved: bool) -> None:
        for future in futures:
            if not future.done():
                future.set_result(saved)

    async def _autosave(self) -> None:
        while self._first_unsaved is not None and not self._closed and self.may_write():
            due = min(self._last_change + self.save_delay, self._first_unsaved + self.save_max_wait)
            if self._urgent:
                due = self._clock()
            wait = due - self._clock()
            if wait > 0:
                await self._sleep(wait)
                continue
            if not await self.save():
                # Retry later, keeping the edits (a second later if saves are waited for: the
                # file system just refused one).
                retry = 1.0 if self._through else max(self.save_delay, 1.0)
                self._urgent = False
                await self._sleep(retry)
                self._urgent = bool(self._through)

    @metrics.timed_save
    async def save(self, user: str | None = None) -> bool:
        """Write the room to disk, merging a newer file first. True when it reached disk.

        ``user`` is who asked for the save (None for an autosave), for the audit log. A server
        that is not the room's writer does not write (False): the writer has the same content.
        """
        if not self.may_write():
            self._stale_base = True
            return False
        through: list[asyncio.Future[bool]] = []
        async with self._lock:
            started = self._first_unsaved
            try:
                if self._stale_base:
                    await self._adopt_writer_base()
                on_disk = await self._stat()
                if on_disk != self.last_modified:
                    await self._merge_from_disk()
                self._repair()
                await self._settle_log()
                if self.fence is not None and not await self.fence():
                    raise _NotWriter
                started = self._first_unsaved
                self._first_unsaved = None
                # What was asked for until now is in what is saved now (no await in between).
                through, self._through, self._urgent = self._through, [], False
                value = value_of(self.room.jdoc)
                state = self.room.ydoc.get_update()
                digest = _digest(value)
                if self._history_works:
                    # Recorded first, so that a crash before the file is written still finds
                    # the base of what it holds. Not when the database fails: the file first.
                    await self._set_base(state, digest, pending=True)
                if not self.may_write():  # (the lease expired during the awaits above)
                    raise _NotWriter
                content = {
                    "type": self.kind.contents_type,
                    "format": self.kind.format,
                    "content": self.kind.to_model(value, self.eol),
                }
                if self.fence is not None and _replaceable(self.cm):
                    model = await self._fenced_write(content)
                else:
                    model = await ensure_async(self.cm.save(content, self.path))
            except FileGone:
                self._saved_through(through, False)
                self.room.file_deleted()
                return False
            except _NotWriter as exc:
                # Another server writes the file now: its save holds these changes. Its saves
                # make this server's merge base stale: adopt the writer's if this server
                # becomes the writer again.
                self._stale_base = True
                through, self._through = through + self._through, []
                self._saved_through(through, False)
                if self._first_unsaved is None:
                    self._first_unsaved = started if started is not None else self._clock()
                if not isinstance(exc, _StaleWrite):
                    self.log.warning("Not saving %s: another server writes it now", self.path)
                return False
            except Exception as exc:
                self._saved_through(through, False)
                if self._first_unsaved is None:
                    self._first_unsaved = started if started is not None else self._clock()
                self.log.error("Saving %s failed: %s", self.path, exc)
                metrics.save_failed()
                self.room.notify({"type": "save-error", "path": self.path, "message": str(exc)})
                return False
            self.last_modified = model.get("last_modified")
            self._disk_digest = digest
            self._set_base(state, digest)
            if self.room.jdoc.dirty:
                with self.room.transact(SERVER):
                    self.room.jdoc.dirty = False
        self._saved_through(through, True)
        self.room.notify(
            {"type": "saved", "path": self.path, "lastModified": _iso(self.last_modified)}
        )
        self.room.emit("save", path=self.path, username=user)
        return True

    async def _fenced_write(self, model: dict[str, Any]) -> dict[str, Any]:
        """Save ``model`` as the group's writer, as safely as POSIX allows (the file system
        itself cannot refuse a write by its fencing token):

        1. write the content to a temporary file in the same folder (Jupyter's own writer:
           the bytes are what ``ContentsManager.save`` would write);
        2. prove on the bus that this server's lease and fencing token are still the current
           ones (:meth:`fence`); if not, remove the temporary file and write nothing;
        3. rename it over the file (atomic: readers see the old or the new file, whole), after
           a hard link keeps the file it replaces;
        4. check the token again. If another server took the lease over meanwhile (this
           server was paused between 2 and 3), the write is stale: while the file is still the
           one this server renamed, the replaced file is put back (its inode, with its own
           modification time, so the new writer sees no change), and this server saves
           nothing more and re-adopts the writer's merge base if it writes again.

        What remains (docs/scale-out.md): the stale content is on disk from the rename until
        the check that follows it (one round trip to Redis); the new writer's poll or a reader
        that reads the file exactly then sees it.
        """
        cm = self.cm
        path = self.path
        cm.run_pre_save_hooks(model=model, path=path)
        os_path = cm._get_os_path(path)
        target = await asyncio.to_thread(os.path.realpath, os_path)
        folder, name = os.path.split(target)
        tmp_path = os.path.join(folder, f".~{name}.{os.urandom(4).hex()}.collab-save")
        nb = None
        if model["type"] == "notebook":
            import nbformat

            nb = nbformat.from_dict(model["content"])
            cm.check_and_sign(nb, path)
        backup: str | None = None
        try:
            # (a new file gets the folder's default mode; an existing one keeps its own)
            mode = await asyncio.to_thread(_mode_of, target)
            if nb is not None:
                await ensure_async(cm._save_notebook(tmp_path, nb))
            else:
                await ensure_async(cm._save_file(tmp_path, model["content"], model["format"]))
            if mode is not None:
                await asyncio.to_thread(os.chmod, tmp_path, mode)
            written = await asyncio.to_thread(os.stat, tmp_path)
            await self._test_pause("fence")
            assert self.fence is not None
            if not await self.fence():
                raise _NotWriter
            await self._test_pause("rename")
            backup = await asyncio.to_thread(_link_aside, target)
            await asyncio.to_thread(os.replace, tmp_path, target)
            ours = await asyncio.to_thread(_same_file, target, written)
            last_modified = await self._stat() if ours else None
            if not await self.fence():
                undone = await asyncio.to_thread(_put_back, backup, target, written)
                if undone:
                    backup = None  # (renamed back into place)
                self.log.warning(
                    "A save of %s reached the file after another server took its writing "
                    "over (this server was paused): %s", path,
                    "the file it replaced is back" if undone
                    else "the file has changed since: left as it is",
                )  # fmt: skip
                raise _StaleWrite
        finally:
            for leftover in (tmp_path, backup):
                if leftover is not None:
                    with contextlib.suppress(FileNotFoundError):
                        await asyncio.to_thread(os.unlink, leftover)
        if nb is not None and not await ensure_async(cm.checkpoints.list_checkpoints(path)):
            await ensure_async(cm.create_checkpoint(path))  # (as Jupyter's own save does)
        saved = await ensure_async(cm.get(path, content=False))
        cm.run_post_save_hooks(model=saved, os_path=os_path)
        cm.emit(data={"action": "save", "path": path})
        if not ours:
            # Written over by someone else right after the rename: the next poll merges it.
            self.log.warning("%s changed on disk right after it was saved", path)
        return {**saved, "last_modified": last_modified}

    async def _test_pause(self, point: str) -> None:
        if self.write_pause > 0 and self.write_pause_at == point:
            self.log.warning(
                "Test hook: pausing %.1f s before the %s of a save of %s",
                self.write_pause, point, self.path,
            )  # fmt: skip
            await asyncio.sleep(self.write_pause)

    def _repair(self) -> None:
        """Make a notebook someone broke through the shared document savable (see
        ``repair_cells``): repaired in the room itself, as the server's change, so what the
        room shows stays what it saves; everybody is told once per repair."""
        if not isinstance(self.room.jdoc, YNotebook):
            return
        with self.room.transact(SERVER):
            done = repair_cells(self.room.jdoc)
        if done:
            self.log.warning("Repaired %s before saving it: %s", self.path, "; ".join(done))
            self.room.notify(
                {"type": "notebook-repaired", "path": self.path, "changes": done}
            )

    # -- changes made on disk --------------------------------------------------------------

    async def poll_once(self) -> None:
        if not self.may_write():
            self._stale_base = True
            return  # the writer watches the file: two servers would merge one change twice
        differs = False
        async with self._lock:
            try:
                if self._stale_base:
                    differs = bool(await self._adopt_writer_base())
                on_disk = await self._stat()
                if on_disk != self.last_modified:
                    await self._merge_from_disk()
            except FileGone:
                # Gone at two polls in a row: deleted outside Jupyter. Once may be a rename
                # through Jupyter whose contents event has not reached the room yet.
                if self._missing == self.path:
                    self.room.file_deleted()
                self._missing = self.path
                return
            self._missing = None
        if differs:
            self.changed()

    async def _poll_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.poll_once()
            except Exception as exc:
                self.log.warning("Checking %s on disk failed: %s", self.path, exc)

    async def _settle_log(self) -> None:
        """Wait until every update in the room was logged (or failed to be: the file does not
        wait for the database), so a save holds nothing that others have not seen."""
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
        # The diff runs on a private copy of the base, on a worker thread: a large file's
        # line diff takes a while, and the room keeps serving meanwhile (the edit is made
        # from the base, so edits the room takes in the meantime merge with it as usual).
        update = await asyncio.to_thread(
            edit_from_base, self._base_update, self.kind.ydoc_class, value
        )
        self._disk_digest = digest
        if update is None:
            return
        self.room.apply_update(update, DISK)
        self._set_base(merge_updates(self._base_update, update), digest)
        self.room.notify({"type": "disk-merged", "path": self.path})
        self.room.emit("disk_merged", path=self.path)

    async def became_writer(self) -> None:
        """This server now writes and watches the file (it took the writer lease over): adopt
        the writer's merge base now rather than at the first save or poll, and save what the
        file lacks."""
        async with self._lock:
            try:
                differs = await self._adopt_writer_base()
            except FileGone:
                self.room.file_deleted()
                return
        if differs:
            self.changed()
        elif differs is not None and self._first_unsaved is not None:
            self._first_unsaved = None

    async def _adopt_writer_base(self) -> bool | None:
        """Take the merge base the previous writer recorded for what the file holds (with the
        lock held). Whether the room then differs from the file; None when the file cannot be
        read now (the base stays as it was); ``FileGone`` when it is gone.

        The previous writer saved and merged with merge bases of its own, which it recorded in
        the shared file-ids database: take the base whose content is the file's, so that the
        next merge from disk is the edit from what the file really holds (merging from this
        server's older base would repeat the previous writer's saves: lines doubled). Every
        save and poll runs this first while the flag says the base is stale, since either may
        get the lock before the ``became_writer`` task does.
        """
        try:
            value, last_modified = await self._read()
        except FileUnloadable as exc:
            self.log.warning("Taking over %s: cannot read it: %s", self.path, exc)
            return None
        self._stale_base = False
        digest = _digest(value)
        base = None
        if self._bases is not None:
            base = await self._bases.base(self._file_id, digest)
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
        return value_of(self.room.jdoc) != value

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self.poll_interval > 0:
            self._spawn(self._poll_loop())

    async def close(self, save: bool = True) -> None:
        """Stop the timers; write what has not reached disk yet unless told otherwise."""
        if self._closed:
            return
        if save and (self.dirty or self._through):
            await self.save()
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        self._saved_through(self._through, False)
        await self.bases_written()  # the last merge base reaches the database

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _nothing() -> None:
    pass


async def _settled(future: asyncio.Future[Any]) -> None:
    """Wait for ``future`` whatever its outcome."""
    await asyncio.gather(future, return_exceptions=True)


def _replaceable(cm: Any) -> bool:
    """Whether ``cm`` keeps files in the local file system with Jupyter's own writers (so a
    save can go through a temporary file and a rename)."""
    return isinstance(cm, FileManagerMixin) and all(
        hasattr(cm, name) for name in ("_get_os_path", "_save_file", "_save_notebook")
    )


def _mode_of(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def _link_aside(target: str) -> str | None:
    """A hard link to the file about to be replaced (None if there is none), to put it back."""
    aside = f"{target}.{os.urandom(4).hex()}.collab-aside"
    folder, name = os.path.split(aside)
    aside = os.path.join(folder, f".~{name}")
    try:
        os.link(target, aside)
    except FileNotFoundError:
        return None
    except OSError:  # (a file system without hard links: nothing to put back)
        return None
    return aside


def _same_file(path: str, written: os.stat_result) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    return (now.st_ino, now.st_dev) == (written.st_ino, written.st_dev)


def _put_back(aside: str | None, target: str, written: os.stat_result) -> bool:
    """Undo a stale rename: put the replaced file back if the file is still the one renamed."""
    if not _same_file(target, written):
        return False
    if aside is None:
        os.unlink(target)  # (there was no file before it)
        return True
    os.replace(aside, target)
    return True


class _TextRead(NamedTuple):
    value: str  # the text for the document ("\n" line endings)
    eol: str  # the line ending the file mostly uses
    last_modified: datetime
    update: bytes | None  # the whole first update of an empty document, if asked for


def _stock_file_reader(cm: Any) -> bool:
    """Whether ``cm`` reads files exactly as Jupyter's own file managers do (theirs, or a
    subclass that changes nothing of how a file is read), so that reading the file directly
    gives what its ``get`` would."""
    cls = type(cm)
    try:
        methods = (cls.get, cls._file_model, cls._read_file, cls._get_os_path)
    except AttributeError:
        return False
    return methods in _STOCK_READERS


_STOCK_READERS = {
    (c.get, c._file_model, c._read_file, c._get_os_path)
    for c in (FileContentsManager, AsyncFileContentsManager)
}


def _read_text(os_path: str, client_id: int | None) -> _TextRead:
    """Read a text file as Jupyter's file managers do (its bytes, decoded as UTF-8; the
    modification time of the path itself, from ``lstat`` as their models and :meth:`_stat`
    have it), in a worker thread, and write the document's first update from the bytes as
    read (UTF-8 already: nothing is encoded again)."""
    info = os.lstat(os_path)
    if not os.path.isfile(os_path):
        raise IsADirectoryError(errno.EISDIR, "not a file", os_path)
    with open(os_path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # (valid UTF-8 checked: the update may carry the bytes)
    eol = detect_eol(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # as DocumentKind.from_model
        data = text.encode("utf-8")
    update = utf8_text_update(client_id, "source", data) if client_id is not None else None
    return _TextRead(text, eol, datetime.fromtimestamp(info.st_mtime, timezone.utc), update)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (a lookup whose result is no longer wanted)."""
    if not future.cancelled():
        future.exception()


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
