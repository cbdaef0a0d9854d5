"""A room: one shared document, the people editing it, and its file.

Every change to the document goes through :meth:`Room.transact` with a typed origin; the
document observer turns each transaction into exactly one broadcast update (skipping the
client that sent it) and tells the file side whether the room now differs from disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from pycrdt import Array, Doc, Map, Text

from .. import metrics
from ..documents.fileids import FileIds
from ..documents.filesync import FileSync
from ..documents.kinds import DocumentKind
from ..history.roomversions import RoomVersions
from ..origins import LOAD, SERVER, Origin, OriginKind
from ..protocol.awareness import parse_awareness
from ..protocol.codes import CloseCode, SyncType
from ..protocol.framing import (
    EMPTY_STATE_VECTOR,
    EMPTY_UPDATE,
    AwarenessMessage,
    MalformedMessage,
    Message,
    NoticeMessage,
    QueryAwarenessMessage,
    SyncMessage,
    notice_frame,
    sync_frame,
)
from ..protocol.updates import decode_state_vector
from .fanout import Broadcast, Outbox
from .firstreply import FirstReply
from .fullstate import FullState
from .hooks import RoomHook
from .integrity import DIVERGED_TEXT, RoomIntegrity, Verdict
from .journal import RoomJournal
from .lostcopy import (
    RESET_TEXT,
    content_of,
    from_lost_history,
    missing_update,
    restore_maps,
    retirement,
    root_maps,
    shows_content,
)
from .presence import Presence
from .transport import FrameSink

# Updates at least this large (a reconnect with lots of offline work, a pasted file) are read
# and checked on a worker thread: ~0.1 s of Python per 450 KB would stall every room.
CHECK_OFF_LOOP = 64 * 1024


@dataclass(frozen=True)
class RoomSettings:
    save_delay: float
    save_max_wait: float
    poll_interval: float
    max_client_backlog: int
    awareness_interval: float = 0.05  # seconds between a room's coalesced awareness frames
    awareness_max_states: int = 4  # awareness client ids one connection may hold
    awareness_max_state_bytes: int = 32 * 1024  # bytes of JSON in one awareness state
    awareness_max_rate: int = 256 * 1024  # awareness bytes per second a client is sent; 0: any


def content_types(jdoc: Any) -> list[Any]:
    """The shared types holding a document's content: every root but the ``state`` map."""
    return [
        value
        for name, value in vars(jdoc).items()
        if isinstance(value, (Text, Array, Map)) and name != "_ystate"
    ]


class Participant(Protocol):
    """A connected client, as the room sees it."""

    username: str
    user: dict[str, Any]  # the awareness identity, filled by the server
    can_write: bool
    role: Any  # sharing.Role: what the user may do here (its ``value`` goes to the client)
    origin: Origin
    outbox: Outbox | None

    def frame_sink(self) -> FrameSink: ...

    def disconnect(self, code: CloseCode, detail: str | None = None) -> None: ...


class Room:
    def __init__(
        self,
        room_id: str,
        kind: DocumentKind,
        file_id: str,
        path: str,
        contents_manager: Any,
        settings: RoomSettings,
        log: logging.Logger,
        emit: Callable[..., None],
        on_empty: Callable[[Room], None],
        on_deleted: Callable[[Room], None],
        journal: RoomJournal | None = None,
        bases: FileIds | None = None,
        versions: Callable[[Room], RoomVersions] | None = None,
    ) -> None:
        self.room_id = room_id
        self.kind = kind
        self.file_id = file_id
        self.settings = settings
        self.log = log
        self._emit = emit
        self._on_empty = on_empty
        self._on_deleted = on_deleted
        self.journal = journal
        self.ydoc = Doc()
        self.jdoc = kind.ydoc_class(self.ydoc)
        self._origin: Origin = SERVER
        # Which transactions change content, as opposed to the shared ``state`` map where
        # JupyterLab keeps its dirty flag: type observers run before the update observer.
        self._content_changed = False
        self._subscriptions: list[tuple[Any, Any]] = []
        self._observe()
        # The whole document as one update, for joiners who hold none of it (most of them).
        self.full_state = FullState(self.ydoc)
        self.integrity = RoomIntegrity(log)
        self._refused_write: asyncio.Future[None] | None = None
        # Clients holding a copy of another history (lostcopy.py): their state vector, whose
        # sync step 2 waits until their copy (their own sync step 2) has been merged.
        self._lost_copies: WeakKeyDictionary[Any, bytes] = WeakKeyDictionary()
        # One lost copy merged at a time, in a group by one server at a time (roombus.py):
        # a copy merged after another copy of the same lost history shares its items.
        self._lost_copy_lock = asyncio.Lock()
        self.merging_lost_copy: Callable[[], AbstractAsyncContextManager[Any]] | None = None
        self.presence = Presence(
            max_states=settings.awareness_max_states,
            max_state_bytes=settings.awareness_max_state_bytes,
        )
        self.broadcast = Broadcast(awareness=self.presence)
        self._awareness_tick: asyncio.TimerHandle | None = None
        self._awareness_next = 0.0  # loop time before which the next frame may not go
        self.participants: set[Participant] = set()
        # What a fresh open leaves until its first client has the document (firstreply.py).
        self.first_reply = FirstReply()
        self.file = FileSync(
            self,
            contents_manager,
            kind,
            path,
            save_delay=settings.save_delay,
            save_max_wait=settings.save_max_wait,
            poll_interval=settings.poll_interval,
            log=log,
            journal=journal,
            bases=bases,
            file_id=file_id,
            first_reply=self.first_reply,
        )
        self.versions = versions(self) if versions is not None else None
        self.hooks: list[RoomHook] = []  # see hooks.py: who else follows this room
        self._load_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # A group of servers (roombus.py): a save asked for on a server that does not write
        # the file goes to the one that does, which saves and makes the "save" version.
        self.save_elsewhere: Callable[[str], Awaitable[None]] | None = None
        self.closed = False
        self.close_code: CloseCode | None = None

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def loaded(self) -> bool:
        """Whether the document finished loading (successfully) and the room is still open."""
        task = self._load_task
        return (
            not self.closed
            and task is not None
            and task.done()
            and not task.cancelled()
            and task.exception() is None
        )

    # -- the document ----------------------------------------------------------------------

    @contextmanager
    def transact(self, origin: Origin) -> Iterator[None]:
        outer = self._origin
        self._origin = origin
        try:
            with self.ydoc.transaction():
                yield
        finally:
            self._origin = outer

    def apply_update(self, update: bytes, origin: Origin) -> None:
        with self.transact(origin):
            self.ydoc.apply_update(update)

    def _observe(self) -> None:
        for shared in content_types(self.jdoc):
            self._subscriptions.append((shared, shared.observe_deep(self._mark_content)))
        self._subscriptions.append((self.ydoc, self.ydoc.observe(self._on_update)))

    def _unobserve(self) -> None:
        for target, subscription in self._subscriptions:
            target.unobserve(subscription)
        self._subscriptions.clear()

    def fill(self, fill: Callable[[], None], update: bytes | None = None) -> bytes:
        """Run ``fill`` (which puts a file's content into the empty document) and return the
        document's whole state: the merge base, the load's entry in the log and the first
        sync replies all share that one encoding. With ``update`` (that whole state, written
        directly: ``documents/textupdate.py``), the document is filled by applying it, and
        it is the state: nothing is encoded.

        The room's observers are detached meanwhile: for a transaction that fills an empty
        document they would only repeat that encoding (pycrdt encodes a transaction's update
        for every document observer) and turn the whole content into Python event deltas
        (~40 ms for a 4 MB text), to tell what needs no telling: the load is the content,
        its update is the full state, nobody has joined yet, and nothing is dirty.
        """
        self._unobserve()
        try:
            with self.transact(LOAD):
                if update is not None:
                    self.ydoc.apply_update(update)
                else:
                    fill()
        finally:
            self._observe()
        state = update if update is not None else self.ydoc.get_update()
        self.full_state.seed(state)
        if self.journal is not None and self.ydoc.get_state() != b"\x00":
            # (an empty file fills nothing: like a transaction that changed nothing, no entry)
            self.journal.record(state, LOAD, lambda: None)
        return state

    def _mark_content(self, events: Any) -> None:
        self._content_changed = True

    def _on_update(self, event: Any) -> None:
        self.full_state.changed()
        update = event.update
        self.integrity.observe(update)  # hidden tombstones, from a resume or another server
        origin = self._origin
        content, self._content_changed = self._content_changed, False
        if not content and origin.kind is OriginKind.CLIENT:
            # a client's bookkeeping (its dirty flag): logged, but nobody's edit
            origin = Origin(OriginKind.CLIENT, None, origin.connection)
        elif not self.first_reply.is_open:
            self.first_reply.edited()  # (someone's edit: a fresh open's history goes ahead)
        if origin.kind is OriginKind.LOAD:
            # Nobody has joined before the load ends, and whoever joins after it gets the
            # document in their sync reply: sending the load again would double a large
            # document's first transfer. It is only logged.
            if self.journal is not None:
                self.journal.record(update, origin, lambda: None)
        else:
            message = sync_frame(SyncType.UPDATE, update)
            hooks = self.hooks
            since = perf_counter()

            def release() -> None:
                self.broadcast.publish(message, update, origin.connection, since)
                for hook in hooks:
                    try:
                        hook.updated(self, update, origin)
                    except Exception:
                        self.log.exception("A hook of room %s failed", self.room_id)

            if self.journal is None:
                release()
            else:
                self.journal.record(update, origin, release)
        if not content:
            return
        if origin.marks_dirty:
            self.file.changed()
        if self.versions is not None and (origin.marks_dirty or origin.kind is OriginKind.DISK):
            self.versions.changed()

    # -- loading ---------------------------------------------------------------------------

    async def ensure_loaded(self) -> None:
        """Load the file once, however many clients are waiting for it."""
        if self._load_task is None:
            self._load_task = asyncio.get_running_loop().create_task(self._load())
        await asyncio.shield(self._load_task)

    async def _load(self) -> None:
        load = self.file.load
        for hook in reversed(self.hooks):  # the first hook is the outermost

            async def wrapped(hook: RoomHook = hook, inner: Any = load) -> None:
                await hook.load(self, inner)

            load = wrapped
        # (read while the file loads: nobody's update is checked before the load is done)
        refused = asyncio.ensure_future(self._restore_refused())
        try:
            await load()
        finally:
            await refused
        self.file.start()
        self.first_reply.arm()
        if self.versions is not None:
            # the file as first opened becomes a version, once the first client has it
            self._tasks.add(task := self.versions.loaded(after=self.first_reply))
            task.add_done_callback(self._tasks.discard)
        self.emit("room_opened", path=self.path)

    # -- clients ---------------------------------------------------------------------------

    def join(self, participant: Participant, *, fresh: bool = False) -> None:
        """Add a client to a loaded room and start the sync handshake.

        ``fresh``: the client said it holds nothing of the room's (a first open; at most its
        own edits, which it sends in its answer to our step 1): the room's whole state goes
        out at once, which is what its sync step 1 would get. That step 1 waits for the
        client's page (a browser sends it when the socket's open event runs, often after the
        long task that builds the document's widget); the document then travels meanwhile
        instead of one round trip later. A client that says so wrongly only gets items it
        has already, which Yjs ignores."""
        outbox = Outbox(
            self.broadcast,
            participant.frame_sink(),
            self.settings.max_client_backlog,
            on_overflow=lambda: participant.disconnect(CloseCode.TOO_SLOW),
        )
        participant.outbox = outbox
        participant.origin = Origin(OriginKind.CLIENT, participant.username, outbox)
        self.participants.add(participant)
        self.presence.join(participant)
        outbox.send_direct(notice_frame({"type": "role", "role": participant.role.value}))
        if self.journal is not None and self.journal.notice is not None:
            outbox.send_direct(notice_frame(self.journal.notice))  # history is failing or off
        outbox.send_direct(sync_frame(SyncType.STEP1, self.ydoc.get_state()))
        outbox.send_snapshot()
        if fresh:
            self._answer_step1(participant, EMPTY_STATE_VECTOR)
        self.emit("join", path=self.path, username=participant.username)

    def set_role(self, participant: Participant, role: Any) -> None:
        """A share changed: the participant's new role applies from its next message on."""
        if role == participant.role or participant not in self.participants:
            return
        participant.role = role
        participant.can_write = role.can_write
        if not role.can_read:
            participant.disconnect(CloseCode.FORBIDDEN, "your access was removed")
        elif participant.outbox is not None:
            participant.outbox.send_direct(notice_frame({"type": "role", "role": role.value}))

    def leave(self, participant: Participant) -> None:
        if participant not in self.participants:
            return
        self.participants.discard(participant)
        if participant.outbox is not None:
            participant.outbox.close()
        if self.presence.remove_owner(participant):
            self._awareness_changed()
        self.emit("leave", path=self.path, username=participant.username)
        if not self.participants and not self.closed:
            self._on_empty(self)

    def receive(self, participant: Participant, message: Message) -> Awaitable[None] | None:
        """Handle one decoded frame; raise MalformedMessage for content that is not valid.

        A large update is handled in the background: the awaitable returned finishes it (and
        raises as this would); the connection's next frames wait for it."""
        outbox = participant.outbox
        assert outbox is not None
        if isinstance(message, SyncMessage):
            if message.sync_type is SyncType.STEP1:
                if self._from_lost_history(participant, message.payload):
                    return
                self._answer_step1(participant, message.payload)
                return
            if message.payload == EMPTY_UPDATE:
                return
            if message.sync_type is SyncType.STEP2 and participant in self._lost_copies:
                return self._merge_lost_copy(participant, message.payload)
            if not participant.can_write:
                self._refuse(participant, message.payload)
                return
            if len(message.payload) >= CHECK_OFF_LOOP:
                return self._admit_off_loop(participant, message)
            self._admit(participant, message)
        elif isinstance(message, AwarenessMessage):
            entries = parse_awareness(message.payload, self.presence.max_state_bytes)
            applied = self.presence.apply(
                participant, participant.username, participant.user, entries
            )
            if applied.changed:
                self._awareness_changed()
            for reason, text in applied.refused.items():
                outbox.send_direct(
                    notice_frame({"type": "awareness-refused", "reason": reason, "message": text})
                )
        elif isinstance(message, QueryAwarenessMessage):
            outbox.send_snapshot()
        # Unknown notices are ignored, so that newer clients work with this server.
        elif isinstance(message, NoticeMessage) and message.body.get("type") == "save":
            if participant.can_write:
                self._spawn(self._save_version(participant.username))
            else:
                metrics.refused(metrics.READ_ONLY_SAVE)
                outbox.send_direct(
                    notice_frame(
                        {"type": "refused", "what": "save", "reason": "read-only: you may not save"}
                    )
                )

    def _answer_step1(self, participant: Participant, state_vector: bytes) -> None:
        """Send a client what the room has beyond ``state_vector`` (sync step 2)."""
        outbox = participant.outbox
        assert outbox is not None
        whole = self.full_state.step2_frame(state_vector)
        if whole is not None:
            written = outbox.send_encoded(*whole)
        else:
            try:
                missing = self.ydoc.get_update(state_vector)
            except ValueError as exc:
                raise MalformedMessage(f"bad state vector: {exc}") from exc
            written = outbox.send_direct(sync_frame(SyncType.STEP2, missing))
        # the history's bookkeeping of a fresh open starts once this reply is out
        self.first_reply.after_sent(written)

    # -- copies of a lost history (lostcopy.py) ---------------------------------------------

    def _from_lost_history(self, participant: Participant, state_vector: bytes) -> bool:
        """Whether a client's sync step 1 shows a copy of another history than the room's:
        its answer then waits for that copy (see lostcopy.py)."""
        try:
            theirs = decode_state_vector(state_vector)
        except (IndexError, ValueError) as exc:
            raise MalformedMessage(f"bad state vector: {exc}") from exc
        if not from_lost_history(theirs, decode_state_vector(self.ydoc.get_state())):
            return False
        if participant not in self._lost_copies:
            self.log.warning(
                "%s joined %s with a copy of another history (the room's was lost): "
                "merging it without doubling",
                participant.username,
                self.room_id,
            )
        self._lost_copies[participant] = state_vector
        return True

    async def _merge_lost_copy(self, participant: Participant, payload: bytes) -> None:
        """Merge a copy of another history (its sync step 2: the whole copy), then send the
        client the room's state, which deletes its own items: see lostcopy.py.

        One copy at a time, and in a group of servers one server at a time, caught up with
        the shared store first: two tabs of one lost history reaching two servers at once
        would otherwise both add the lines they share and the room lacks (twice). The copy
        merged second shares the first one's items by then: it merges the usual way."""
        state_vector = self._lost_copies.pop(participant)
        exclusive = self.merging_lost_copy
        async with self._lost_copy_lock, (exclusive() if exclusive else nullcontext()):
            if self.closed or participant not in self.participants:
                return
            room = decode_state_vector(self.ydoc.get_state())
            if participant.can_write and not from_lost_history(
                decode_state_vector(state_vector), room
            ):
                self._admit(participant, SyncMessage(SyncType.STEP2, payload))
                self._send_step2(participant, state_vector)
                return
            await self._merge_lost_copy_now(participant, state_vector, payload)

    async def _merge_lost_copy_now(
        self, participant: Participant, state_vector: bytes, payload: bytes
    ) -> None:
        kept = False
        if not participant.can_write:
            self._refuse(participant, payload)  # (the viewer's items become tombstones)
        else:
            before = self.ydoc.get_state()
            verdict = await asyncio.to_thread(
                self.integrity.check, participant.username, True, payload, before
            )
            if verdict.missing or verdict.update is None:
                self._not_whole(participant, state_vector, verdict)
                return
            theirs = await asyncio.to_thread(content_of, self.kind, verdict.update)
            if self.closed or participant not in self.participants or participant.outbox is None:
                return
            if not shows_content(theirs):
                # JupyterLab's own bookkeeping, written before its first sync: the usual way
                self._admit(participant, SyncMessage(SyncType.STEP2, payload))
                self._send_step2(participant, state_vector)
                return
            now = self.ydoc.get_state()
            if now != before:
                verdict = self.integrity.recheck(verdict, now)
                if verdict.missing or verdict.update is None:
                    self._not_whole(participant, state_vector, verdict)
                    return
            verdict = self.integrity.accept(participant.username, verdict)
            assert verdict.update is not None and verdict.parsed is not None
            try:
                # the copy's items, deleted: tombstones (under the client's origin, so that it
                # is not sent its own items' deletion before the room's content: see below)
                with self.transact(participant.origin):
                    maps = root_maps(self.jdoc)
                    self.ydoc.apply_update(verdict.update)
                    self.ydoc.apply_update(retirement(verdict.parsed))
                    restore_maps(maps)
            except ValueError as exc:
                raise MalformedMessage(f"bad update: {exc}") from exc
            self.integrity.synced(participant)
            # what only the copy held: theirs (diffed on a worker thread, on a private copy)
            added = await asyncio.to_thread(missing_update, self.kind, self.ydoc.get_update(),
                                            theirs)  # fmt: skip
            if self.closed or participant not in self.participants:
                return
            if added is not None:
                self.apply_update(added, participant.origin)
                kept = True
        outbox = participant.outbox
        if outbox is None:
            return
        outbox.send_direct(notice_frame({"type": "history-reset", "kept": kept,
                                         "message": RESET_TEXT}))  # fmt: skip
        self._send_step2(participant, state_vector)

    def _not_whole(self, participant: Participant, state_vector: bytes, verdict: Verdict) -> None:
        """A copy whose state dump lacks what it builds on: handled as any such update (a
        resync, whose answer is merged as the copy, or ``diverged``)."""
        self._lost_copies[participant] = state_vector
        self._apply_verdict(participant, True, verdict)

    def _send_step2(self, participant: Participant, state_vector: bytes) -> None:
        """Answer a sync step 1 that waited (see :meth:`_merge_lost_copy`)."""
        if participant.outbox is not None and participant in self.participants:
            participant.outbox.send_direct(
                sync_frame(SyncType.STEP2, self.ydoc.get_update(state_vector))
            )

    async def _admit_off_loop(self, participant: Participant, message: SyncMessage) -> None:
        """:meth:`_admit` for a large update (a reconnect with lots of offline work): it is
        read and checked on a worker thread (the event loop serves everyone else meanwhile;
        the connection's next messages wait), then applied on the loop, checked again only if
        the room changed in between."""
        state_dump = message.sync_type is SyncType.STEP2
        state = self.ydoc.get_state()
        verdict = await asyncio.to_thread(
            self.integrity.check, participant.username, state_dump, message.payload, state
        )
        if self.closed or participant not in self.participants or participant.outbox is None:
            return
        now = self.ydoc.get_state()
        if now != state:
            verdict = self.integrity.recheck(verdict, now)
        self._apply_verdict(
            participant, state_dump, self.integrity.accept(participant.username, verdict)
        )

    def _admit(self, participant: Participant, message: SyncMessage) -> None:
        """Apply an editor's update if the room can take all of it (see integrity.py)."""
        state_dump = message.sync_type is SyncType.STEP2
        verdict = self.integrity.admit(
            participant.username, state_dump, message.payload, self.ydoc.get_state()
        )
        self._apply_verdict(participant, state_dump, verdict)

    def _apply_verdict(self, participant: Participant, state_dump: bool, verdict: Verdict) -> None:
        outbox = participant.outbox
        assert outbox is not None
        if verdict.missing:
            action = self.integrity.missing(participant, state_dump)
            if action == "resync":
                # A Yjs client answers with everything the room lacks, this update included.
                outbox.send_direct(sync_frame(SyncType.STEP1, self.ydoc.get_state()))
            elif action == "diverged":
                self.log.warning(
                    "%s's copy of %s builds on changes the room does not have",
                    participant.username,
                    self.room_id,
                )
                outbox.send_direct(notice_frame({"type": "diverged", "reason": DIVERGED_TEXT}))
                participant.disconnect(CloseCode.DIVERGED, "reload the document")
            return
        if state_dump:
            self.integrity.synced(participant)
        if verdict.update is None:
            return
        try:
            self.apply_update(verdict.update, participant.origin)
        except ValueError as exc:
            raise MalformedMessage(f"bad update: {exc}") from exc
        self.integrity.check_applied(verdict.expected, self.ydoc.get_state(), self.room_id)

    def _refuse(self, participant: Participant, payload: bytes) -> None:
        """A viewer's update: not applied, and its clock ranges consumed so that it never is."""
        assert participant.outbox is not None
        metrics.refused(metrics.READ_ONLY_EDIT)
        tombstones = self.integrity.refuse(participant.username, payload, self.ydoc.get_state())
        if self.integrity.unsaved:
            self._save_refused()
        if tombstones is not None:
            # Server bookkeeping, sent to everyone: the viewer's own copy drops the refused
            # text, the others learn the clocks are taken.
            self.apply_update(tombstones, SERVER)
        participant.outbox.send_direct(
            notice_frame(
                {"type": "refused", "what": "edit", "reason": "read-only: you may not edit"}
            )
        )

    def _history_store(self) -> Any:
        journal = self.journal
        if journal is None or journal.store is None or journal.disabled is not None:
            return None
        return journal.store

    async def _restore_refused(self) -> None:
        """The deletions refused in this document before the room was (re)loaded."""
        store = self._history_store()
        if store is None:
            return
        try:
            self.integrity.restore(await store.refused_deletions(self.room_id))
        except Exception as exc:  # (the document opens all the same)
            self.log.error("Reading the refused deletions of %s failed: %s", self.room_id, exc)

    def _save_refused(self) -> None:
        """Store the refused deletions the store lacks, in order with the earlier writes."""
        store = self._history_store()
        users, self.integrity.unsaved = self.integrity.unsaved, set()
        if store is None:
            return
        texts = {user: self.integrity.remembered(user) for user in users}
        previous = self._refused_write

        async def write() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            for user, text in texts.items():
                try:
                    await store.remember_refused(self.room_id, user, text)
                except Exception as exc:
                    # Kept in memory for the room's life all the same; the next refusal retries.
                    self.integrity.unsaved.add(user)
                    self.log.error(
                        "Storing the refused deletions of %s in %s failed: %s",
                        user, self.room_id, exc,
                    )  # fmt: skip

        self._refused_write = asyncio.ensure_future(write())

    async def _save_version(self, username: str) -> None:
        """A save the user asked for (Ctrl+S) is also a version point (made once, by the
        server that writes the file, whichever server the user is connected to)."""
        if self.save_elsewhere is not None and not self.file.may_write():
            await self.save_elsewhere(username)
            return
        await self.save_as_asked(username)

    async def save_as_asked(self, username: str) -> None:
        """Save the file and make the "save" version point, for ``username``."""
        if await self.file.save(user=username) and self.versions is not None:
            try:
                await self.versions.make("save", user=username)
            except Exception as exc:
                self.log.error("Making a version point of %s failed: %s", self.room_id, exc)

    async def durable_seq(self) -> int:
        if self.journal is None:
            raise RuntimeError("this room keeps no history")
        return await self.journal.durable_seq()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- awareness -------------------------------------------------------------------------

    def presence_changed(self) -> None:
        """Presence changed from outside the room's clients (another server's): send it."""
        self._awareness_changed()

    def _awareness_changed(self) -> None:
        """Someone's presence changed: send it with the others' at the end of this tick."""
        if self._awareness_tick is None and not self.closed:
            loop = asyncio.get_running_loop()
            at = max(loop.time() + self.settings.awareness_interval, self._awareness_next)
            self._awareness_tick = loop.call_at(at, self._publish_awareness)

    def _publish_awareness(self) -> None:
        """One awareness frame per tick for the whole room (see fanout.py and presence.py).

        In a crowd the frames grow with the number of people moving; the next tick then waits
        long enough to keep a client's awareness under ``awareness_max_rate`` bytes per second
        (more states per frame, each the latest): a storm of cursors cannot fill the sockets,
        where the document updates behind them would wait.
        """
        self._awareness_tick = None
        outboxes = list(self.broadcast.outboxes)
        before = self.presence.published
        oldest = min((o.awareness_seen for o in outboxes), default=self.presence.seq)
        if self.hooks:
            oldest = min(oldest, before)  # hooks are told of the changes after ``before``
        if not self.presence.publish(oldest):
            return
        for outbox in outboxes:
            outbox.pump()
        for hook in self.hooks:
            try:
                hook.awareness_published(self, before)
            except Exception:
                self.log.exception("A hook of room %s failed", self.room_id)
        rate = self.settings.awareness_max_rate
        if rate > 0:
            sent = len(self.presence.frame_since(before))  # what an up-to-date client got
            self._awareness_next = asyncio.get_running_loop().time() + sent / rate

    # -- notices and events ----------------------------------------------------------------

    def notify(self, body: dict[str, Any]) -> None:
        self.broadcast.publish(notice_frame(body))
        for hook in self.hooks:
            try:
                hook.notified(self, body)
            except Exception:
                self.log.exception("A hook of room %s failed", self.room_id)

    def show_notice(self, body: dict[str, Any]) -> None:
        """Send a notice to this server's clients only (another server's, from the bus)."""
        self.broadcast.publish(notice_frame(body))

    def emit(self, action: str, **data: Any) -> None:
        self._emit(action, room=self.room_id, **data)

    def renamed(self, path: str) -> None:
        self.file.path = path
        self.notify({"type": "renamed", "path": path})

    def file_deleted(self) -> None:
        self._on_deleted(self)

    async def close(self, code: CloseCode, reason: str | None = None) -> None:
        """Disconnect everybody; save unless the file is gone."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.first_reply.open()  # (what waited for a first client is written before the close)
        if self._awareness_tick is not None:
            self._awareness_tick.cancel()
            self._awareness_tick = None
        for participant in list(self.participants):
            participant.disconnect(code)
        self.participants.clear()
        if (
            self._load_task is not None
            and self._load_task.done()
            and not self._load_task.exception()
        ):
            try:
                if self._refused_write is not None:
                    await asyncio.gather(self._refused_write, return_exceptions=True)
                await self.file.close(save=code is not CloseCode.DELETED)
                if self.journal is not None:
                    await self.journal.close()
                if self.versions is not None and code is not CloseCode.DELETED:
                    await self.versions.close()
            except Exception:
                self.log.exception("Closing room %s", self.room_id)
        for hook in self.hooks:
            try:
                await hook.closed(self)
            except Exception:
                self.log.exception("A hook of room %s failed to close", self.room_id)
        self.emit("room_closed", path=self.path, reason=reason or code.reason)
