"""Pushing notifications to the sockets of connected users, on every server of a group.

Each server subscribes to the ``notification.event`` stream of every user who has a socket
open on it (one subscription per user, shared by their tabs, dropped with their last socket),
with ``own=True``: a notification made on this server reaches its sockets by the same path as
one made elsewhere. A socket first receives what it missed (from the store, after the id the
client says it has), then live events; ids make the hand-over exact (nothing is sent twice,
nothing is skipped). A bus gap (Redis restarted, a stream trimmed) is repaired from the store
the same way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..bus import EventBus, Gap, Message, Subscription, Topic
from ..sharing.store import ShareStore
from .kinds import public

CATCH_UP_MAX = 500
"""Most notifications a socket is sent when it (re)connects; beyond, the client pages."""
PAGE = 200


class PushSocket(Protocol):
    """What the hub needs of a connection: send one JSON message (never blocks), and close
    it when the server stops."""

    def push(self, message: dict[str, Any]) -> None: ...

    def shutdown(self) -> None: ...


@dataclass(eq=False)
class _Socket:
    socket: PushSocket
    last: int  # the highest notification id this socket has
    ready: bool = False
    floor: int = 0  # ids at or below this were all sent (the client had them)
    # ids sent lately: two servers may publish one user's notifications in another order
    # than the store numbered them, so a smaller id arriving late is still new
    seen: set[int] = field(default_factory=set)
    pending: list[dict[str, Any]] = field(default_factory=list)


@dataclass(eq=False)
class _Feed:
    user: str
    sockets: dict[PushSocket, _Socket] = field(default_factory=dict)
    subscription: Subscription | None = None
    subscribed: asyncio.Future[None] | None = None


class PushHub:
    """The sockets of the users connected to this server, fed from the bus."""

    def __init__(self, bus: EventBus, store: ShareStore, log: logging.Logger) -> None:
        self.bus = bus
        self.store = store
        self.log = log
        self._feeds: dict[str, _Feed] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def connected(self, user: str) -> int:
        """How many sockets ``user`` has open on this server."""
        feed = self._feeds.get(user)
        return len(feed.sockets) if feed else 0

    async def attach(self, user: str, socket: PushSocket, after: int | None) -> None:
        """Start feeding ``socket``: what it missed after ``after`` (None: nothing old),
        then ``ready``, then everything live."""
        feed = self._feeds.get(user)
        if feed is None:
            feed = self._feeds[user] = _Feed(user)
        state = _Socket(socket, after or 0, floor=after or 0)
        feed.sockets[socket] = state
        if feed.subscribed is None:
            feed.subscribed = asyncio.ensure_future(self._subscribe(feed))
        subscribing = feed.subscribed
        try:
            await asyncio.shield(subscribing)
        except Exception as exc:
            self.log.warning("Subscribing to %s's notifications failed: %s", user, exc)
            if feed.subscribed is subscribing:
                feed.subscribed = None  # the next socket of this user tries again
        if feed.sockets.get(socket) is state:
            await self._catch_up(feed, state, send_old=after is not None)

    def detach(self, user: str, socket: PushSocket) -> None:
        feed = self._feeds.get(user)
        if feed is None or feed.sockets.pop(socket, None) is None or feed.sockets:
            return
        del self._feeds[user]
        if feed.subscription is not None:
            feed.subscription.unsubscribe()
        elif feed.subscribed is not None:
            # still subscribing: drop the subscription once it is made
            feed.subscribed.add_done_callback(lambda _: _drop(feed))

    async def _subscribe(self, feed: _Feed) -> None:
        await self.bus.start()  # (idempotent: the server started it; a test app may not)
        feed.subscription = await self.bus.subscribe(
            Topic.NOTIFICATION_EVENT,
            feed.user,
            lambda message: self._receive(feed, message),
            on_gap=lambda gap: self._gap(feed, gap),
            own=True,
        )
        if self._feeds.get(feed.user) is not feed:
            feed.subscription.unsubscribe()  # everyone left while we subscribed

    def _receive(self, feed: _Feed, message: Message) -> None:
        payload = message.payload
        if not isinstance(payload, dict):
            return
        for state in list(feed.sockets.values()):
            if state.ready:
                _send(state, payload)
            else:
                state.pending.append(payload)

    def deliver_here(self, user: str, payload: dict[str, Any]) -> None:
        """Give an event to this server's sockets directly (when the bus could not take it:
        ids keep a later copy from the bus from being sent twice)."""
        feed = self._feeds.get(user)
        if feed is not None:
            for state in list(feed.sockets.values()):
                (_send(state, payload) if state.ready else state.pending.append(payload))

    def _gap(self, feed: _Feed, gap: Gap) -> None:
        self.log.info("Notifications of %s may have been missed (%s): re-reading them",
                      feed.user, gap.reason.value)  # fmt: skip
        for state in list(feed.sockets.values()):
            if state.ready:
                state.ready = False
                self._spawn(self._catch_up(feed, state, send_old=True))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up(self, feed: _Feed, state: _Socket, *, send_old: bool) -> None:
        """Send ``state`` what the store holds after its last id, then what arrived live
        meanwhile, then ``ready``."""
        truncated = False
        unread = None
        try:
            if send_old:
                sent = 0
                while sent < CATCH_UP_MAX:
                    found = await self.store.notifications(feed.user, state.last, PAGE)
                    for n in found[: CATCH_UP_MAX - sent]:
                        if n.id not in state.seen:
                            state.socket.push({"type": "notification", "notification": public(n)})
                        _mark(state, n.id)
                        sent += 1
                    if len(found) < PAGE:
                        break
                else:
                    truncated = bool(await self.store.notifications(feed.user, state.last, 1))
            unread = await self.store.unread(feed.user)
        except Exception as exc:
            self.log.warning("Reading %s's notifications failed: %s", feed.user, exc)
        if feed.sockets.get(state.socket) is not state:
            return
        pending, state.pending = state.pending, []
        for payload in pending:
            _send(state, payload)
        state.ready = True
        reply: dict[str, Any] = {"type": "ready", "last": state.last, "truncated": truncated}
        if unread is not None:
            reply["unread"] = unread
        state.socket.push(reply)

    async def close(self) -> None:
        """The server stops: unsubscribe and close every socket (1001: clients reconnect,
        to this server once it is back or to another one)."""
        for feed in list(self._feeds.values()):
            if feed.subscription is not None:
                feed.subscription.unsubscribe()
            for socket in list(feed.sockets):
                socket.shutdown()
        self._feeds.clear()
        for task in list(self._tasks):
            task.cancel()


def _drop(feed: _Feed) -> None:
    if feed.subscription is not None:
        feed.subscription.unsubscribe()


SEEN_KEPT = 2000


def _mark(state: _Socket, nid: int) -> None:
    state.seen.add(nid)
    state.last = max(state.last, nid)
    if len(state.seen) > SEEN_KEPT:
        cut = sorted(state.seen)[len(state.seen) - SEEN_KEPT // 2]
        state.seen = {i for i in state.seen if i >= cut}
        state.floor = max(state.floor, cut - 1)


def _send(state: _Socket, payload: dict[str, Any]) -> None:
    """One bus event to one ready socket: a notification it has not had yet, or the count."""
    event = payload.get("event")
    if event == "notification":
        n = payload.get("notification") or {}
        nid = n.get("id")
        if not isinstance(nid, int) or nid in state.seen or nid <= state.floor:
            return  # had it already (catch-up, or the direct copy)
        _mark(state, nid)
        state.socket.push(
            {"type": "notification", "notification": n, "unread": payload.get("unread")}
        )
    elif event == "unread":
        state.socket.push({"type": "unread", "unread": payload.get("unread")})
