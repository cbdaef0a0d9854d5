"""The event bus interface: topics, messages, gaps, leases and server liveness.

Several Jupyter servers that serve the same folder share rooms through an event bus. This module
is the contract every implementation keeps (ShareDB style: one small interface, an in-process
implementation for one server, a Redis Streams one for many, one contract test suite). The bus
is transport only: it knows topics and keys, never rooms, documents or users; what a payload
means is the publisher's and subscriber's business (y-redis keeps protocol apart from transport
the same way).

Guarantees, for every implementation:

* **Per-key order.** Messages of one topic and key (one *stream*) are delivered to every
  subscription in one total order, the same for every subscriber on every server. Messages a
  bus publishes are queued when :meth:`EventBus.publish` is *called* (not when it is awaited),
  so one server's messages on a key keep the order of its ``publish()`` calls. There is no
  order across keys.
* **Exactly once, or a gap.** A live subscription gets every message of its stream published
  after :meth:`EventBus.subscribe` returned, each once, in order, *or* its ``on_gap`` callback
  is called: a :class:`Gap` says "messages may have been missed here; re-sync from the source
  of truth" (for a room: from the shared store, by state vector), after which delivery resumes
  from the stream's current end. A bus never skips silently; it may report a gap where nothing
  was lost when it cannot prove otherwise (a gap costs a re-sync, never data).
* **Publishing.** ``await publish(...)`` returns the message id once the bus has it; if it
  raises :class:`BusUnavailable` the message may or may not have been published (the caller
  decides whether to queue it: the bus does not). A message is never delivered twice, even
  when the bus had to send it twice. Write the source of truth (the store) *before*
  publishing, so that a gap can always be repaired from it.
* **Own messages.** Each message carries the id of the server (bus) that published it. A
  subscription made with ``own=False`` (the default) never receives its own server's messages
  (a room has already applied and fanned out its own updates locally, and must never apply,
  log or re-publish them again); ``own=True`` receives every message, which suits consumers
  that want one code path for local and remote events (notifications, audit).
* **Handlers are synchronous.** ``handler(message)`` and ``on_gap(gap)`` are called on the
  event loop, one message at a time per bus, in order; they must return quickly and never
  block. Work that needs awaiting is the handler's own to schedule (and to keep in order). A
  handler that raises is logged and delivery goes on. Payloads delivered to several
  subscriptions may be one shared object: never mutate them.
* **After a reconnect** (Redis implementation): if the Redis server is the same process and its
  stream still holds everything after a subscription's position, the subscription receives
  every message it missed, in order, with no gap; otherwise (a restarted or failed-over Redis,
  a stream trimmed past the position, a subscription made while Redis was unreachable) it gets
  a :class:`Gap` first.

Payloads are ``bytes`` (delivered as ``bytes``, zero-copy in process) or JSON-able values
(delivered as the decoded JSON: lists for tuples, string keys), the same on every
implementation.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Payload = bytes | Any
"""``bytes`` (kept as bytes) or any JSON-able value."""


class Topic(str, enum.Enum):
    """What travels on the bus, and what its key is."""

    DOCUMENT_EDIT = "document.edit"
    """Document updates (Yjs update bytes), keyed by room."""
    DOCUMENT_VERSION = "document.version"
    """A version point was made or named, keyed by room."""
    NOTIFICATION_EVENT = "notification.event"
    """Something for one user (shared with you, restored, role changed), keyed by user."""
    AUDIT_LOG = "audit.log"
    """Every audit event of every document, one stream: its key is ``""``."""
    AWARENESS = "awareness"
    """Awareness (presence, cursors) updates, keyed by room."""
    ROOM_NOTICE = "room.notice"
    """Room notices (saved, save error, role changed, ...), keyed by room."""
    SHARE_CHANGE = "share.change"
    """A share was set, removed, moved or deleted, keyed by the served folder: every server
    keeps the folder's shares in memory and applies roles to its open rooms live."""

    @property
    def keyed(self) -> bool:
        """Whether messages of this topic have a key (all but the audit log)."""
        return self is not Topic.AUDIT_LOG


class GapReason(str, enum.Enum):
    """Why a subscription could not prove it saw every message."""

    TRIMMED = "trimmed"
    """Entries after the subscription's position were removed before it read them (retention
    trimming under a consumer that fell behind, XDEL, a stream that expired or was deleted and
    made anew)."""
    RESTARTED = "restarted"
    """The Redis server is not the one the position was read from (restart, failover), so what
    it held may be gone."""
    OFFLINE = "offline"
    """The position is unknown: the subscription was made while Redis was unreachable."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message, as delivered to a subscription."""

    topic: Topic
    key: str
    payload: Payload
    origin: str
    """Id of the server (bus) that published it."""
    id: str
    """Its position in its stream (``"<ms>-<seq>"`` on Redis); increasing per stream."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages of a stream may have been missed: re-sync from the source of truth.

    After the callback returns, delivery resumes from ``resumed_after`` (the stream's end when
    the gap was found): messages up to it are not delivered.
    """

    topic: Topic
    key: str
    reason: GapReason
    last_id: str | None
    """The last position the subscription had proved continuous (None if it never had one)."""
    resumed_after: str
    """Delivery goes on with the messages after this id."""


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """A server joined (heartbeat seen) or left (closed, or its heartbeat expired)."""

    server_id: str
    alive: bool


Handler = Callable[[Message], None]
GapHandler = Callable[[Gap], None]
ServerHandler = Callable[[ServerEvent], None]


class BusError(Exception):
    """Something went wrong on the bus."""


class BusUnavailable(BusError):
    """The bus's backend (Redis) cannot be reached; the operation did not (surely) happen."""


class BusClosed(BusError):
    """The bus was closed."""


class Subscription:
    """A subscription to one stream; :meth:`unsubscribe` stops delivery at once.

    Unsubscribing is synchronous (no round trip: the reader simply stops asking for the
    stream), so a handler may unsubscribe its own subscription.
    """

    def __init__(
        self,
        topic: Topic,
        key: str,
        handler: Handler,
        on_gap: GapHandler | None,
        own: bool,
        last_id: str,
    ) -> None:
        self.topic = topic
        self.key = key
        self.handler = handler
        self.on_gap = on_gap
        self.own = own
        self.last_id = last_id
        """The last position delivered (or skipped by a gap); pass it as ``after=`` to a new
        subscription to continue from here (or learn of a gap)."""
        self.active = True
        self._cancel: Callable[[Subscription], None] | None = None

    def unsubscribe(self) -> None:
        """Stop delivery: no handler call happens after this. Idempotent."""
        if not self.active:
            return
        self.active = False
        if self._cancel is not None:
            self._cancel(self)

    def __repr__(self) -> str:
        return f"<Subscription {self.topic.value}:{self.key!r} at {self.last_id}>"


class Lease:
    """An exclusive, expiring right held by one server (e.g. "write this document's file").

    ``token`` is a fencing token: it grows every time the lease changes hands, so a store can
    refuse writes carrying a smaller token than one it has already seen (a holder that paused
    past its expiry cannot overwrite its successor's work). ``expires_at`` is on the
    ``time.monotonic()`` clock and is measured from *before* the request that acquired or
    renewed the lease, so the holder's view expires no later than the backend's.
    """

    def __init__(
        self,
        name: str,
        holder: str,
        token: int,
        ttl: float,
        expires_at: float,
        backend: LeaseBackend,
    ) -> None:
        self.name = name
        self.holder = holder
        self.token = token
        self.ttl = ttl
        self.expires_at = expires_at
        self.released = False
        self.lost = False
        self._backend = backend

    @property
    def held(self) -> bool:
        """Whether this server may still act as the holder (not released, lost or expired)."""
        return not (self.released or self.lost) and self._backend.clock() < self.expires_at

    async def renew(self) -> bool:
        """Extend the lease by its ttl; False (and ``lost``) if it expired or changed hands.

        Raises :class:`BusUnavailable` when the backend cannot be reached: the lease is then
        still held until ``expires_at``, and no longer after it.
        """
        if self.released or self.lost:
            return False
        return await self._backend.renew_lease(self)

    async def release(self) -> None:
        """Give the lease up now (another server may take it at once). Idempotent."""
        if self.released:
            return
        self.released = True
        if not self.lost:
            await self._backend.release_lease(self)

    def __repr__(self) -> str:
        state = "released" if self.released else "lost" if self.lost else "held"
        return f"<Lease {self.name!r} token={self.token} by {self.holder} {state}>"


class LeaseBackend(abc.ABC):
    """What a :class:`Lease` calls back into (its bus)."""

    @abc.abstractmethod
    def clock(self) -> float: ...

    @abc.abstractmethod
    async def renew_lease(self, lease: Lease) -> bool: ...

    @abc.abstractmethod
    async def release_lease(self, lease: Lease) -> None: ...


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds a lease, as the backend sees it."""

    name: str
    holder: str
    token: int
    ttl: float
    """Seconds left."""


class ServerWatch:
    """A registration made by :meth:`EventBus.watch_servers`; :meth:`cancel` ends it."""

    def __init__(self, handler: ServerHandler, cancel: Callable[[ServerWatch], None]) -> None:
        self.handler = handler
        self._cancel = cancel

    def cancel(self) -> None:
        self._cancel(self)


class EventBus(abc.ABC):
    """Publish and subscribe per topic and key; leases; server liveness."""

    server_id: str

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect, announce this server (heartbeat) and start delivering.

        Raises :class:`BusUnavailable` if the backend cannot be reached now.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop delivering, fail queued publishes with :class:`BusClosed`, release this
        server's leases and withdraw its heartbeat (other servers see it leave at once)."""

    @abc.abstractmethod
    def publish(self, topic: Topic, key: str, payload: Payload) -> Awaitable[str]:
        """Queue a message now; the awaitable gives its id once the bus has it.

        Raises ``TypeError``/``ValueError`` at once for a payload that is neither bytes nor
        JSON-able, or a bad key; the awaitable raises :class:`BusUnavailable` (quickly) when
        the backend cannot be reached and :class:`BusClosed` after :meth:`close`.
        """

    @abc.abstractmethod
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
        """Deliver the stream's messages published from now on (or after id ``after``).

        ``on_gap`` is called when continuity cannot be proved (see the module docstring);
        without one, a gap is logged as a warning. ``after`` resumes from a position a previous
        subscription reached (:attr:`Subscription.last_id`): the missed messages are delivered
        if the stream still holds all of them, else ``on_gap`` is called before this returns.
        Subscribing while the backend is unreachable succeeds, and ``on_gap`` follows
        (reason ``offline``) once it is reachable again.
        """

    @abc.abstractmethod
    async def acquire_lease(self, name: str, ttl: float) -> Lease | None:
        """Take the lease ``name`` for ``ttl`` seconds if nobody holds it, else None.

        Raises :class:`BusUnavailable` when the backend cannot be reached.
        """

    @abc.abstractmethod
    async def lease_holder(self, name: str) -> LeaseInfo | None:
        """Who holds lease ``name`` now, or None."""

    @abc.abstractmethod
    async def live_servers(self) -> set[str]:
        """Ids of the servers whose heartbeat is current (this one included once started)."""

    @abc.abstractmethod
    def watch_servers(self, handler: ServerHandler) -> ServerWatch:
        """Call ``handler`` with a ``ServerEvent(alive=True)`` for every server this bus knows
        to be alive now (synchronously), then on every change: a server started, or left
        (closed, or its heartbeat expired: it died). A server that dies is reported within
        ``heartbeat_ttl`` plus one heartbeat interval on Redis."""


def validate_key(topic: Topic, key: str) -> None:
    """Keys are non-empty strings, except the audit log's, which is ``""``."""
    if not isinstance(topic, Topic):
        raise TypeError(f"topic must be a Topic, not {topic!r}")
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, not {type(key).__name__}")
    if topic.keyed and not key:
        raise ValueError(f"topic {topic.value} needs a key")
    if not topic.keyed and key:
        raise ValueError(f"topic {topic.value} has no key: use ''")
