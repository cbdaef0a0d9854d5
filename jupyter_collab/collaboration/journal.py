"""Zero loss: a room's updates reach the durable log before anyone else sees them.

Each accepted update is appended to the store at once, in transaction order (the store keeps
call order and commits concurrent appends together), and released to fan-out only when its
append is durable. Releases keep the order of the updates, so a slow commit delays, but never
reorders, what clients receive. If the store fails, clients are still served (the room and the
autosave to disk go on), the error is logged and reported, and the updates that could not be
logged are written again with the next append.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..origins import Origin
from ..persistence import DocumentStore, NewUpdate


class RoomJournal:
    def __init__(
        self,
        store: DocumentStore,
        doc_id: str,
        log: logging.Logger,
        on_failure: Callable[[Exception], None],
    ) -> None:
        self.store = store
        self.doc_id = doc_id
        self.log = log
        self.on_failure = on_failure
        self.last_seq = 0
        self._queue: deque[tuple[asyncio.Future[Any] | None, Callable[[], None]]] = deque()
        self._unlogged: list[NewUpdate] = []

    @property
    def pending(self) -> bool:
        return any(future is not None and not future.done() for future, _ in self._queue)

    def record(self, update: bytes, origin: Origin, release: Callable[[], None]) -> None:
        """Log ``update`` and call ``release`` once it is durable (and all before it are)."""
        if not origin.logged:
            if self._queue:
                self._queue.append((None, release))
            else:
                release()
            return
        entry = NewUpdate(
            update, origin.kind.value, origin.user, time.time(), origin.credits, origin.provenance
        )
        entries, self._unlogged = [*self._unlogged, entry], []
        future = asyncio.ensure_future(self._append(entries))
        future.add_done_callback(lambda f: self._done(f, entries))
        self._queue.append((future, release))

    async def _append(self, entries: list[NewUpdate]) -> list[int]:
        seqs = await self.store.append_many(self.doc_id, entries)
        # Here, not in a done callback: once the task is done, ``last_seq`` covers it (a
        # callback could still be waiting to run when someone asks for the durable seq).
        self.last_seq = max(self.last_seq, *seqs)
        return seqs

    def _done(self, future: asyncio.Future[Any], entries: list[NewUpdate]) -> None:
        if future.cancelled() or future.exception() is not None:
            error = future.exception() if not future.cancelled() else RuntimeError("cancelled")
            self._unlogged = entries + self._unlogged
            self.log.error("Logging an update of %s failed: %s", self.doc_id, error)
            self.on_failure(error)  # type: ignore[arg-type]
        while self._queue and (self._queue[0][0] is None or self._queue[0][0].done()):
            _, release = self._queue.popleft()
            release()

    async def durable_seq(self) -> int:
        """The seq of the room's latest update, once it is durable.

        Raises if some updates could not be logged: a version point made now would silently
        leave them out.
        """
        await self.flush()
        if self._unlogged:
            raise RuntimeError("the update log is failing; updates are not durable yet")
        if not self.last_seq:
            self.last_seq = await self.store.last_seq(self.doc_id)
        return self.last_seq

    async def flush(self) -> None:
        """Wait until every update recorded so far has been logged (or failed)."""
        futures = [f for f, _ in self._queue if f is not None and not f.done()]
        if futures:
            await asyncio.gather(*futures, return_exceptions=True)
