"""The in-process event bus: the default, for a single server.

Delivery is synchronous and zero-copy: ``publish()`` calls every matching handler before it
returns, with the very ``bytes`` object published (JSON payloads are encoded and decoded so
that subscribers see what they would see through Redis). No threads, no tasks, no copies.

Several :class:`InProcessBus` instances can share one :class:`LocalHub`; each then behaves as
one server of a group (own-message filtering, leases, liveness), which is how the contract
suite exercises the multi-server semantics without Redis. No message is retained (a
subscription that asks to resume from an older position gets a gap); a stream's state is one
counter per topic and key ever used, kept so that ids keep increasing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field

from .codec import normalize
from .delivery import call_gap_handler, call_handler, check_handler
from .interface import (
    BusClosed,
    BusError,
    EventBus,
    Gap,
    GapHandler,
    GapReason,
    Handler,
    Lease,
    LeaseBackend,
    LeaseInfo,
    Message,
    Payload,
    ServerEvent,
    ServerHandler,
    ServerWatch,
    Subscription,
    Topic,
    validate_key,
)


@dataclass(eq=False)
class _Member:
    subscription: Subscription
    server_id: str
    position: int


@dataclass
class _Stream:
    last: int = 0
    members: list[_Member] = field(default_factory=list)


@dataclass
class _HeldLease:
    holder: str
    token: int
    deadline: float


class LocalHub:
    """What a group of in-process buses share: streams, leases and the set of live servers."""

    def __init__(self) -> None:
        self._streams: dict[tuple[Topic, str], _Stream] = {}
        self._queue: deque[tuple[_Stream, int, Message]] = deque()
        self._delivering = False
        self.leases: dict[str, _HeldLease] = {}
        self.fences: dict[str, int] = {}
        self.servers: dict[str, InProcessBus] = {}

    def stream(self, topic: Topic, key: str) -> _Stream:
        stream = self._streams.get((topic, key))
        if stream is None:
            stream = self._streams[(topic, key)] = _Stream()
        return stream

    def publish(self, topic: Topic, key: str, payload: Payload, origin: str) -> str:
        stream = self.stream(topic, key)
        stream.last += 1
        message = Message(topic, key, payload, origin, f"{stream.last}-0")
        self._queue.append((stream, stream.last, message))
        if not self._delivering:
            self._drain()
        return message.id

    def _drain(self) -> None:
        # A handler that publishes gets its message delivered after the current one has
        # reached every subscriber (a trampoline), so that every subscriber sees one order.
        self._delivering = True
        try:
            while self._queue:
                stream, position, message = self._queue.popleft()
                for member in tuple(stream.members):
                    subscription = member.subscription
                    if not subscription.active or member.position >= position:
                        continue
                    member.position = position
                    subscription.last_id = message.id
                    if message.origin == member.server_id and not subscription.own:
                        continue
                    call_handler(subscription, message)
        finally:
            self._delivering = False

    def notify(self, event: ServerEvent) -> None:
        for bus in tuple(self.servers.values()):
            bus._notify(event)


class InProcessBus(EventBus, LeaseBackend):
    """One server's bus in process. ``hub`` groups buses as servers; each gets its own if None."""

    def __init__(self, server_id: str | None = None, hub: LocalHub | None = None) -> None:
        self.server_id = server_id or uuid.uuid4().hex
        self.hub = hub if hub is not None else LocalHub()
        self._started = False
        self._closed = False
        self._members: list[tuple[_Stream, _Member]] = []
        self._leases: set[Lease] = set()
        self._watches: list[ServerWatch] = []

    # lifecycle

    async def start(self) -> None:
        if self._closed:
            raise BusClosed("this bus was closed")
        if self._started:
            return
        if self.server_id in self.hub.servers:
            raise BusError(f"server id {self.server_id!r} is already in use on this hub")
        self._started = True
        self.hub.servers[self.server_id] = self
        self.hub.notify(ServerEvent(self.server_id, True))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for stream, member in self._members:
            member.subscription.active = False
            if member in stream.members:
                stream.members.remove(member)
        self._members.clear()
        for lease in tuple(self._leases):
            await lease.release()
        self._watches.clear()
        if self.hub.servers.get(self.server_id) is self:
            del self.hub.servers[self.server_id]
            self.hub.notify(ServerEvent(self.server_id, False))

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("this bus was closed")
        if not self._started:
            raise BusError("start() the bus first")

    # publish / subscribe

    def publish(self, topic: Topic, key: str, payload: Payload) -> Awaitable[str]:
        validate_key(topic, key)
        delivered = normalize(payload)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        try:
            self._check_open()
        except BusError as error:
            future.set_exception(error)
            return future
        future.set_result(self.hub.publish(topic, key, delivered, self.server_id))
        return future

    async def subscribe(
        self,
        topic: Topic,
        key: str,
        handler: Handler,
        *,
        on_gap: GapHandler | None = None,
        own: bool = False,
        after: str | None = None,
    ) -> Subscription:
        validate_key(topic, key)
        check_handler(handler, on_gap)
        self._check_open()
        stream = self.hub.stream(topic, key)
        end = f"{stream.last}-0"
        subscription = Subscription(topic, key, handler, on_gap, own, end)
        member = _Member(subscription, self.server_id, stream.last)
        if after is not None and after != end:
            # Nothing is retained in process: an older position cannot be caught up with, and
            # a newer (or foreign) one belongs to a stream that is not this one any more.
            from_position = _position(after)
            reason = GapReason.TRIMMED if from_position < stream.last else GapReason.RESTARTED
            call_gap_handler(subscription, Gap(topic, key, reason, after, end))
        stream.members.append(member)
        self._members.append((stream, member))

        def cancel(subscription: Subscription) -> None:
            if member in stream.members:
                stream.members.remove(member)
            if (stream, member) in self._members:
                self._members.remove((stream, member))

        subscription._cancel = cancel
        return subscription

    # leases

    def clock(self) -> float:
        return time.monotonic()

    async def acquire_lease(self, name: str, ttl: float) -> Lease | None:
        self._check_open()
        if ttl <= 0:
            raise ValueError("a lease needs a positive ttl")
        now = self.clock()
        held = self.hub.leases.get(name)
        if held is not None and held.deadline > now:
            return None
        token = self.hub.fences[name] = self.hub.fences.get(name, 0) + 1
        self.hub.leases[name] = _HeldLease(self.server_id, token, now + ttl)
        lease = Lease(name, self.server_id, token, ttl, now + ttl, self)
        self._leases.add(lease)
        return lease

    async def renew_lease(self, lease: Lease) -> bool:
        self._check_open()
        now = self.clock()
        held = self.hub.leases.get(lease.name)
        if held is None or held.token != lease.token or held.deadline <= now:
            lease.lost = True
            self._leases.discard(lease)
            return False
        held.deadline = lease.expires_at = now + lease.ttl
        return True

    async def release_lease(self, lease: Lease) -> None:
        self._leases.discard(lease)
        held = self.hub.leases.get(lease.name)
        if held is not None and held.token == lease.token:
            del self.hub.leases[lease.name]

    async def lease_holder(self, name: str) -> LeaseInfo | None:
        held = self.hub.leases.get(name)
        now = self.clock()
        if held is None or held.deadline <= now:
            return None
        return LeaseInfo(name, held.holder, held.token, held.deadline - now)

    # liveness

    async def live_servers(self) -> set[str]:
        return set(self.hub.servers)

    def watch_servers(self, handler: ServerHandler) -> ServerWatch:
        watch = ServerWatch(handler, self._watches.remove)
        self._watches.append(watch)
        for server_id in tuple(self.hub.servers):
            handler(ServerEvent(server_id, True))
        return watch

    def _notify(self, event: ServerEvent) -> None:
        for watch in tuple(self._watches):
            watch.handler(event)


def _position(stream_id: str) -> int:
    try:
        return int(stream_id.partition("-")[0])
    except ValueError:
        raise ValueError(f"not a stream id: {stream_id!r}") from None
