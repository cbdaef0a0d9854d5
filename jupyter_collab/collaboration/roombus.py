"""Rooms shared by a group of servers through the event bus (issue 9).

Every server that serves a folder keeps its own room per document; a :class:`RoomLink` (a
:class:`~.hooks.RoomHook`, so none of this lives inside the room) joins each room to the same
room on the other servers:

* **Edits.** The server that received a client's update logs it (the room's journal) and only
  then publishes it on ``document.edit``, keyed by the room id (document kind + file id): the
  shared store always holds what was published. The other servers apply it with the ``bus``
  origin, which fans it out to their clients and is never logged nor published again.
* **Gaps.** When the bus cannot prove a subscription saw every update (a trimmed stream, a
  Redis restart, an outage, a consumer that fell behind), the room is re-synced from the
  shared store by state vector: the store's state minus what the room has. A stream with a
  gap is never applied past it.
* **Loading.** Two servers loading one file at once would each make their own CRDT items of
  the same text (everything twice once they meet). A short lease serializes first loads:
  whoever comes second finds the first one's log and merge base in the shared store and
  resumes from them, as after a restart.
* **The file, versions, compaction.** One server at a time (the holder of the room's writer
  lease) saves the file, watches it for changes on disk, makes automatic version points and
  compacts the history; another takes over within the lease's ttl when it leaves or dies, from
  the merge base the previous writer recorded. Before each save and each automatic point the
  holder confirms its lease on the bus (holder and fencing token), so a writer that was paused
  past its lease writes nothing once another took over. Version notices travel on
  ``document.version``, other notices on ``room.notice``.
* **Presence.** Each server publishes its own clients' awareness changes; the others hold
  them under one :class:`~.presence.RemoteOwner` per server, and drop them when that server
  closes the room, leaves, or stops sending heartbeats (it died).

With the in-process bus (one server, the default) rooms still publish to it, and nobody else
listens: no leases, the room writes its file as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, merge_updates

from ..bus import (
    BusClosed,
    BusError,
    EventBus,
    Gap,
    LeaseKeeper,
    Message,
    ServerEvent,
    Subscription,
    Topic,
)
from ..origins import BUS, Origin
from ..protocol.awareness import encode_states, parse_awareness
from ..protocol.framing import EMPTY_UPDATE, MalformedMessage
from .hooks import RoomHook
from .presence import RemoteOwner

if TYPE_CHECKING:
    from ..persistence import DocumentStore
    from .room import Room

LOAD_LEASE_TTL = 60.0  # seconds: longer than any load; released as soon as the load ends
LOAD_LEASE_WAIT = 120.0  # seconds a server waits for another's load before loading anyway
RETRY_DELAY = 1.0  # seconds between attempts to publish updates the bus refused
SAVE_REQUEST_WAIT = 30.0  # seconds a save asked for through another server waits for it
SAVE_REQUEST_CHECK = 1.0  # seconds between looks at who writes, while waiting for a save
SAVE_CLAIM_TTL = 3 * SAVE_REQUEST_WAIT  # seconds a save request's claim outlives it
LOST_COPY_TTL = 120.0  # seconds: longer than any merge of a lost copy; released at its end
LOST_COPY_WAIT = 120.0  # seconds a lost copy waits for the bus before it is merged anyway


class RoomBus:
    """The server's side of the group: one per server, one :class:`RoomLink` per room."""

    def __init__(
        self,
        bus: EventBus,
        *,
        group: bool,
        store: DocumentStore | None,
        log: logging.Logger,
        writer_ttl: float = 10.0,
        test_write_pause: float = 0.0,
        test_write_pause_at: str = "rename",
        test_takeover_delay: float = 0.0,
    ) -> None:
        self.bus = bus
        # Test hooks (CollabApp.test_*; 0: off): see FileSync.write_pause and _became_writer.
        self.test_write_pause = test_write_pause
        self.test_write_pause_at = test_write_pause_at
        self.test_takeover_delay = test_takeover_delay
        self.group = group
        """Whether other servers may serve these rooms (a Redis bus): leases, shared loads."""
        self.store = store
        self.log = log
        self.writer_ttl = writer_ttl
        self.links: dict[str, RoomLink] = {}
        self._owners: dict[str, RemoteOwner] = {}
        self._watch = bus.watch_servers(self._server_event) if group else None

    def attach(self, room: Room) -> list[RoomHook]:
        """The hooks for a new room (for :class:`~.manager.RoomManager`)."""
        link = RoomLink(self, room)
        self.links[room.room_id] = link
        return [link]

    def owner(self, server_id: str) -> RemoteOwner:
        owner = self._owners.get(server_id)
        if owner is None:
            owner = self._owners[server_id] = RemoteOwner(server_id)
        return owner

    def _server_event(self, event: ServerEvent) -> None:
        if event.alive or event.server_id == self.bus.server_id:
            return
        owner = self._owners.pop(event.server_id, None)
        if owner is None:
            return
        self.log.info("Server %s left the group: removing its users' presence", event.server_id)
        for link in list(self.links.values()):
            link.owner_left(owner)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for link in list(self.links.values()):
            await link.closed(link.room)


class RoomLink(RoomHook):
    """One room's membership of the group (see the module docstring)."""

    def __init__(self, roombus: RoomBus, room: Room) -> None:
        self.roombus = roombus
        self.bus = roombus.bus
        self.room = room
        self.key = room.room_id
        self.log = roombus.log
        self._edits: Subscription | None = None
        self._awareness: Subscription | None = None
        self._notices: Subscription | None = None
        self._loaded = False
        self._early: list[bytes] = []  # remote updates that came while the room was loading
        self._unsent: list[bytes] = []  # local updates the bus refused, to publish again
        self._retry: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self._resync_again = False
        self._writer: LeaseKeeper | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._announced = False
        self._closed = False
        self.resyncs = 0  # re-syncs from the store (for tests and monitoring)
        self._versions: Subscription | None = None
        self._save_requests: dict[str, asyncio.Future[None]] = {}
        if roombus.group:
            # The holder of the writer lease saves, polls, makes automatic versions and
            # compacts; until this server holds it, it does none of these (FileSync.may_write,
            # RoomVersions.writer), and before it writes it proves it still holds it (fence).
            room.file.may_write = self._is_writer
            room.file.fence = self.fenced
            room.file.write_pause = roombus.test_write_pause
            room.file.write_pause_at = roombus.test_write_pause_at
            room.save_elsewhere = self.save_elsewhere
            room.merging_lost_copy = self.merging_lost_copy
            if room.versions is not None:
                room.versions.writer = self._is_writer
                room.versions.fence = self.fenced
                room.versions.shared_log = True

    # -- loading -----------------------------------------------------------------------------

    async def load(self, room: Room, load: Callable[[], Awaitable[None]]) -> None:
        await self.bus.start()  # (idempotent: started with the server, or again after a failure)
        # Subscribe first: whatever is published from now on arrives, and whatever was
        # published before is in the store the load reads (logged before it was published).
        self._edits = await self.bus.subscribe(
            Topic.DOCUMENT_EDIT, self.key, self._on_edit, on_gap=self._on_gap
        )
        self._awareness = await self.bus.subscribe(
            Topic.AWARENESS, self.key, self._on_awareness
        )
        if self.roombus.group:
            self._notices = await self.bus.subscribe(
                Topic.ROOM_NOTICE, self.key, self._on_notice
            )
            self._versions = await self.bus.subscribe(
                Topic.DOCUMENT_VERSION, self.key, self._on_notice
            )
        if self.roombus.group:
            await self._load_alone(room, load)
        else:
            await load()
        self._loaded = True
        early, self._early = self._early, []
        for update in early:
            self._apply(update)
        if self.roombus.group:
            self._send_json({"query": True})  # who is here on the other servers
            self._writer = LeaseKeeper(
                self.bus,
                f"write:{self.key}",
                self.roombus.writer_ttl,
                on_acquired=self._became_writer,
                on_lost=self._lost_writer,
            )
            self._writer.start()

    async def _load_alone(self, room: Room, load: Callable[[], Awaitable[None]]) -> None:
        """Load while no other server loads this room, and leave the log and the merge base
        durable for the next one."""
        lease = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOAD_LEASE_WAIT
        delay = 0.02
        while lease is None and loop.time() < deadline:
            try:
                lease = await self.bus.acquire_lease(f"load:{self.key}", LOAD_LEASE_TTL)
            except BusClosed:
                raise
            except BusError as error:
                self.log.warning("Loading %s: the bus is unavailable (%s)", self.key, error)
            if lease is None:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
        if lease is None:
            self.log.warning("Loading %s without the load lease: another server holds it", self.key)
        try:
            await load()
            if room.journal is not None:
                await room.journal.flush()
            await room.file.bases_written()  # the base this load recorded, for the next one
        finally:
            if lease is not None:
                with contextlib.suppress(BusError):
                    await lease.release()

    # -- edits -------------------------------------------------------------------------------

    def updated(self, room: Room, update: bytes, origin: Origin) -> None:
        """A durable update of this room: publish it unless it came from the group."""
        if not origin.shared or self._closed:
            return
        if self._unsent:
            self._unsent.append(update)  # behind the ones waiting, to keep their order
            return
        self._publish(update)

    def _publish(self, update: bytes) -> None:
        try:
            sent = asyncio.ensure_future(self.bus.publish(Topic.DOCUMENT_EDIT, self.key, update))
        except BusError as error:
            self._failed(update, error)
            return
        if sent.done():  # (the in-process bus: no callback round on the loop per update)
            self._published(sent, update)
        else:
            sent.add_done_callback(lambda future: self._published(future, update))

    def _published(self, future: asyncio.Future[str], update: bytes) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and not isinstance(error, BusClosed):
            self._failed(update, error)

    def _failed(self, update: bytes, error: BaseException) -> None:
        """The bus may not have the update: publish it again (a duplicate costs nothing, as
        Yjs applies an update once) until it does. It is in the store meanwhile."""
        if self._closed:
            return
        self.log.warning("Publishing an update of %s failed (%s); retrying", self.key, error)
        self._unsent.append(update)
        if self._retry is None or self._retry.done():
            self._retry = self._spawn(self._publish_unsent())

    async def _publish_unsent(self) -> None:
        while self._unsent and not self._closed:
            await asyncio.sleep(RETRY_DELAY)
            batch = list(self._unsent)
            update = batch[0] if len(batch) == 1 else merge_updates(*batch)
            try:
                await self.bus.publish(Topic.DOCUMENT_EDIT, self.key, update)
            except BusClosed:
                return
            except BusError as error:
                self.log.debug("Publishing %s again failed: %s", self.key, error)
                continue
            del self._unsent[: len(batch)]

    def _on_edit(self, message: Message) -> None:
        update = message.payload
        if not isinstance(update, bytes):
            self.log.warning("Ignoring a %s edit that is not an update", self.key)
            return
        if not self._loaded:
            self._early.append(update)
            return
        self._apply(update)

    def _apply(self, update: bytes) -> None:
        if self.room.closed:
            return
        try:
            self.room.apply_update(update, BUS)
        except Exception as error:
            self.log.error("Applying another server's update of %s failed: %s", self.key, error)
            self.resync()

    def _on_gap(self, gap: Gap) -> None:
        self.log.info(
            "Updates of %s may have been missed (%s): re-syncing from the store",
            self.key,
            gap.reason.value,
        )
        if not self._loaded:
            return  # the load reads the store after this, and applies what came early
        self.resync()

    def resync(self) -> None:
        """Bring the room up to the shared store (what it lacks, by state vector)."""
        if self._resync is not None and not self._resync.done():
            self._resync_again = True
            return
        self._resync = self._spawn(self._resync_from_store())

    async def _resync_from_store(self) -> None:
        store = self.roombus.store
        if store is None:
            self.log.error("Cannot re-sync %s: this server keeps no store", self.key)
            return
        while not self.room.closed:
            self._resync_again = False
            self.resyncs += 1
            try:
                state = await store.load(self.key)
            except Exception as error:
                self.log.error("Re-syncing %s from the store failed: %s", self.key, error)
                await asyncio.sleep(RETRY_DELAY)
                self._resync_again = True
            else:
                if state is not None and not self.room.closed:
                    have = self.room.ydoc.get_state()
                    missing = await asyncio.to_thread(_missing, state, have)
                    if missing != EMPTY_UPDATE and not self.room.closed:
                        self.room.apply_update(missing, BUS)
            if not self._resync_again:
                return

    # -- the file ----------------------------------------------------------------------------

    def _is_writer(self) -> bool:
        return self._writer is not None and self._writer.held

    async def fenced(self) -> bool:
        """Whether this server still holds the room's writer lease, proved on the bus (holder
        and fencing token; see :meth:`LeaseKeeper.confirm`): checked before each save and each
        automatic version, so a writer that was paused past its lease writes nothing."""
        keeper = self._writer
        if keeper is None:
            return False
        if await keeper.confirm():
            return True
        self.log.warning("Not writing %s: this server no longer holds its lease", self.room.path)
        return False

    def _became_writer(self, lease: Any) -> None:
        self.log.info("This server now writes %s (lease %s)", self.room.path, lease.token)
        self._spawn(self._take_over())
        if self.room.versions is not None:
            self.room.versions.became_writer()

    async def _take_over(self) -> None:
        delay = self.roombus.test_takeover_delay
        if delay > 0:  # (a test hook: the first save or poll comes before this task)
            self.log.warning("Test hook: taking %s over in %.1f s", self.room.path, delay)
            await asyncio.sleep(delay)
        await self.room.file.became_writer()

    async def save_elsewhere(self, username: str) -> None:
        """A save ``username`` asked for (Ctrl+S) on this server, which does not write the
        file: the writer saves and makes the "save" version point, once, for everyone.

        The user's edits are in the shared store first (the journal flushed), so the writer's
        version holds them even if their updates reach it after the request. While waiting
        for its answer the writer lease is watched: a writer that died (its lease expired)
        is replaced within seconds, and the request goes to the new writer, or is done here
        when this server took over. Without any writer, with the bus failing or without an
        answer within ``SAVE_REQUEST_WAIT``, the version point is made here (the store is the
        group's) and the file saved if this server may write it, else by the next writer.
        Exactly one side does it: the writer and the fallback both claim the request on the
        bus first (:meth:`_claim`), so a writer answering late makes no second version."""
        room = self.room
        if room.journal is not None:
            await room.journal.flush()
        request = os.urandom(8).hex()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._save_requests[request] = done
        try:
            if await self._ask_writer(request, username, done):
                return
            self.log.info("Saving %s for %s: no other server writes it now", room.path, username)
        except (BusError, asyncio.TimeoutError) as error:
            self.log.warning(
                "Saving %s for %s: the writer did not answer (%s); making the version here",
                room.path, username, error or "timed out",
            )  # fmt: skip
        finally:
            self._save_requests.pop(request, None)
        if not await self._claim(request):
            self.log.info("The writer of %s took the save of %s after all", room.path, username)
            return
        if room.file.may_write():
            await room.save_as_asked(username)
        elif room.versions is not None:
            try:
                await room.versions.make("save", user=username)
            except Exception as exc:
                self.log.error("Making a version point of %s failed: %s", self.key, exc)

    async def _ask_writer(self, request: str, username: str, done: asyncio.Future[None]) -> bool:
        """Ask the writer (each new writer, after a take-over) to save; True once one did.

        False when no other server writes the file now (or this one took over); TimeoutError
        after ``SAVE_REQUEST_WAIT``; BusError when the bus fails."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SAVE_REQUEST_WAIT
        asked: int | None = None
        while True:
            holder = await self.bus.lease_holder(f"write:{self.key}")
            if holder is None or holder.holder == self.bus.server_id:
                if asked is None:
                    return False
                # The writer asked died or gave up: wait for the next one (a take-over takes
                # a lease's ttl), unless this server may write the file itself now.
                if self.room.file.may_write():
                    return False
            elif holder.token != asked:
                body = {"type": "save-request", "id": request, "user": username}
                await self.bus.publish(Topic.ROOM_NOTICE, self.key, body)
                asked = holder.token
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError
            try:
                await asyncio.wait_for(asyncio.shield(done), min(remaining, SAVE_REQUEST_CHECK))
                return True
            except asyncio.TimeoutError:
                continue

    async def _claim(self, request: str) -> bool:
        """Whether this server makes the save of ``request`` (nobody else claimed it). If the
        bus cannot say, yes: a save is never dropped (at worst made twice)."""
        try:
            return await self.bus.acquire_lease(f"save:{request}", SAVE_CLAIM_TTL) is not None
        except BusError as error:
            self.log.warning("Claiming the save %s on the bus failed: %s", request, error)
            return True

    async def _save_for(self, username: str, request: str) -> None:
        """The writer's side of :meth:`save_elsewhere`."""
        if not await self._claim(request):
            return  # (the asking server did it itself: it gave up waiting)
        self.resync()  # (the requester's edits, logged before it asked, if not here yet)
        if self._resync is not None:
            await asyncio.gather(self._resync, return_exceptions=True)
        await self.room.save_as_asked(username)
        with contextlib.suppress(BusError):
            await self.bus.publish(
                Topic.ROOM_NOTICE, self.key, {"type": "save-done", "id": request}
            )

    @contextlib.asynccontextmanager
    async def merging_lost_copy(self) -> AsyncIterator[None]:
        """Hold the room's lost-copy lease while a copy of a lost history is merged here
        (``Room._merge_lost_copy``): one server at a time, caught up with the shared store
        when it starts (what another server merged before is in the store: it flushes its
        log before it lets go). Without the bus, it waits for it (the copy's client waits for
        its answer) up to ``LOST_COPY_WAIT``, then merges anyway."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOST_COPY_WAIT
        lease = None
        while lease is None and not self.room.closed and loop.time() < deadline:
            try:
                lease = await self.bus.acquire_lease(f"lostcopy:{self.key}", LOST_COPY_TTL)
            except BusError as error:
                self.log.debug("Waiting for the bus to merge a copy of %s: %s", self.key, error)
            if lease is None:
                await asyncio.sleep(RETRY_DELAY)
        if lease is None:
            self.log.warning("Merging a lost copy of %s without the other servers", self.key)
        try:
            self.resync()
            if self._resync is not None:
                await asyncio.gather(self._resync, return_exceptions=True)
            yield
        finally:
            if self.room.journal is not None:
                with contextlib.suppress(Exception):
                    await self.room.journal.flush()
            if lease is not None:
                with contextlib.suppress(BusError):
                    await lease.release()

    def _lost_writer(self, lease: Any) -> None:
        self.log.warning("This server no longer writes %s (lease %s)", self.room.path, lease.token)

    # -- notices -----------------------------------------------------------------------------

    def notified(self, room: Room, body: dict[str, Any]) -> None:
        """Room notices (saved, save error, disk merged, renamed, versions) reach the room's
        clients on every server: the writer that saved is one server, its clients everywhere."""
        if not self.roombus.group or self._closed:
            return
        topic = Topic.ROOM_NOTICE
        if body.get("type") == "version":
            topic = Topic.DOCUMENT_VERSION  # a version point made here: history panels update
        elif body.get("type") == "saved":
            keeper = self._writer
            token = keeper.lease.token if keeper is not None and keeper.lease else None
            self.log.info("Saved %s as the writer (lease %s)", room.path, token)
        try:
            sent = asyncio.ensure_future(self.bus.publish(topic, self.key, body))
        except (BusError, TypeError, ValueError) as error:
            self.log.warning("Not sharing a notice of %s: %s", self.key, error)
            return
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _on_notice(self, message: Message) -> None:
        body = message.payload
        if self.room.closed or not isinstance(body, dict):
            return
        kind = body.get("type")
        if kind == "save-request":  # (between servers: never shown to clients)
            user, request = body.get("user"), body.get("id")
            if self._is_writer() and isinstance(user, str) and isinstance(request, str):
                self._spawn(self._save_for(user, request))
            return
        if kind == "save-done":
            waiting = self._save_requests.get(str(body.get("id")))
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            return
        path = body.get("path")
        if body.get("type") == "renamed" and isinstance(path, str):
            # Renamed through another server: this one's file events did not see it.
            self.room.file.path = path
        self.room.show_notice(body)

    # -- presence ----------------------------------------------------------------------------

    def awareness_published(self, room: Room, before: int) -> None:
        if not self.roombus.group:
            return  # one server: nobody else to tell
        states = room.presence.local_states(before, room.presence.published)
        if states:
            self._announced = True
            self._send(encode_states(states))

    def _on_awareness(self, message: Message) -> None:
        if self.room.closed:
            return
        presence = self.room.presence
        owner = self.roombus.owner(message.origin)
        payload = message.payload
        changed = False
        if isinstance(payload, bytes):
            try:
                entries = parse_awareness(payload, presence.max_state_bytes)
            except MalformedMessage as error:
                self.log.warning("Ignoring bad awareness of %s: %s", self.key, error)
                return
            changed = presence.apply_remote(owner, entries)
        elif isinstance(payload, dict):
            if payload.get("query"):
                states = presence.local_states()
                if states:
                    self._send(encode_states(states))
            if payload.get("left"):
                changed = presence.remove_owner(owner)
        if changed:
            self.room.presence_changed()

    def owner_left(self, owner: RemoteOwner) -> None:
        if not self.room.closed and self.room.presence.remove_owner(owner):
            self.room.presence_changed()

    def _send(self, payload: Any) -> None:
        try:
            sent = asyncio.ensure_future(self.bus.publish(Topic.AWARENESS, self.key, payload))
        except BusError:
            return
        # Presence is ephemeral: a lost change is replaced by the next one.
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _send_json(self, payload: dict[str, Any]) -> None:
        self._send(payload)

    # -- closing -----------------------------------------------------------------------------

    async def closed(self, room: Room) -> None:
        if self._closed:
            return
        self._closed = True
        if self.roombus.links.get(self.key) is self:
            del self.roombus.links[self.key]
        if self._announced:
            self._send_json({"left": True})
        for subscription in (self._edits, self._awareness, self._notices, self._versions):
            if subscription is not None:
                subscription.unsubscribe()
        if self._writer is not None:
            await self._writer.stop(release=True)
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _missing(state: bytes, have: bytes) -> bytes:
    """What of the document ``state`` a document with state vector ``have`` lacks."""
    doc = Doc()
    doc.apply_update(state)
    return doc.get_update(have)
