"""Shares kept the same on every server of a group, through the event bus (issue 9).

Every server keeps the shares of its folder in memory (:class:`~.service.Sharing`), so that a
role check never waits for the database. A server that changes a share writes the store first,
then publishes the change on ``share.change`` (keyed by the folder); the other servers apply it
to their copy and give the users of their open rooms the new role at once (a viewer's next edit
is refused, the client gets its ``role`` notice). A change that cannot be published yet is
published again, in order, until the bus takes it. When a server cannot prove it saw every
change (a gap: Redis restarted, a trimmed stream, an outage) it reads every share again from
the store, the source of truth, and applies the roles they give.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from ..bus import BusClosed, BusError, EventBus, Gap, Message, Subscription, Topic
from .service import Sharing

RETRY_DELAY = 1.0  # seconds between attempts to publish a change the bus refused


def folder_key(folder: str) -> str:
    """The bus key of a served folder (its name in the store: the real path of the root, or
    ``root_name``), short and the same on every server."""
    return hashlib.sha256(folder.encode()).hexdigest()[:32]


class ShareFeed:
    """Publishes this server's share changes and applies the other servers' ones."""

    def __init__(self, sharing: Sharing, bus: EventBus, folder: str, log: logging.Logger) -> None:
        self.sharing = sharing
        self.bus = bus
        self.key = folder_key(folder)
        self.log = log
        self._subscription: Subscription | None = None
        self._unsent: list[dict[str, Any]] = []
        self._retry: asyncio.Task[None] | None = None
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False
        self._closed = False
        self.applied = 0  # changes from other servers applied (for tests and monitoring)
        self.reloads = 0
        sharing.on_change = self._publish

    async def start(self) -> None:
        """Follow the other servers' changes from now on, then read the store once more: a
        change made between this server's start-up read and now is in it."""
        self._subscription = await self.bus.subscribe(
            Topic.SHARE_CHANGE, self.key, self._on_change, on_gap=self._on_gap
        )
        if self.sharing.unknown is None:
            self.reload()

    # -- publishing ------------------------------------------------------------------------------

    def _publish(self, change: dict[str, Any]) -> None:
        if self._closed:
            return
        if self._unsent:
            self._unsent.append(change)  # behind the ones waiting: changes keep their order
            return
        try:
            sent = asyncio.ensure_future(self.bus.publish(Topic.SHARE_CHANGE, self.key, change))
        except BusError as error:
            self._failed(change, error)
            return
        sent.add_done_callback(lambda future: self._published(future, change))

    def _published(self, future: asyncio.Future[str], change: dict[str, Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and not isinstance(error, BusClosed):
            self._failed(change, error)

    def _failed(self, change: dict[str, Any], error: BaseException) -> None:
        if self._closed:
            return
        self.log.warning("Telling the other servers of a share change failed (%s); retrying", error)
        self._unsent.append(change)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.get_running_loop().create_task(self._publish_unsent())

    async def _publish_unsent(self) -> None:
        while self._unsent and not self._closed:
            await asyncio.sleep(RETRY_DELAY)
            try:
                await self.bus.publish(Topic.SHARE_CHANGE, self.key, self._unsent[0])
            except BusClosed:
                return
            except BusError as error:
                self.log.debug("Publishing a share change again failed: %s", error)
                continue
            del self._unsent[0]

    # -- following -------------------------------------------------------------------------------

    def _on_change(self, message: Message) -> None:
        change = message.payload
        if not isinstance(change, dict):
            self.log.warning("Ignoring a share change that is not an object: %r", change)
            return
        try:
            self.sharing.apply_change(change)
        except (KeyError, TypeError, ValueError) as error:
            self.log.warning("Ignoring a bad share change %r: %s", change, error)
            return
        self.applied += 1
        self.log.debug("Applied a share change from server %s: %s", message.origin, change)

    def _on_gap(self, gap: Gap) -> None:
        self.log.info(
            "Share changes may have been missed (%s): reading the shares again", gap.reason.value
        )
        self.reload()

    def reload(self) -> None:
        """Read every share from the store again (one read at a time; another if asked for
        meanwhile), keeping the copy as it is when the store cannot be read."""
        if self._reload is not None and not self._reload.done():
            self._reload_again = True
            return
        self._reload = asyncio.get_running_loop().create_task(self._reload_from_store())

    async def _reload_from_store(self) -> None:
        while not self._closed:
            self._reload_again = False
            self.reloads += 1
            try:
                await self.sharing.reload()
            except Exception as error:
                self.log.error("Reading the shares again failed: %s; retrying", error)
                await asyncio.sleep(RETRY_DELAY)
                self._reload_again = True
            if not self._reload_again:
                return

    async def close(self) -> None:
        self._closed = True
        if self.sharing.on_change == self._publish:
            self.sharing.on_change = None
        if self._subscription is not None:
            self._subscription.unsubscribe()
        for task in (self._retry, self._reload):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
