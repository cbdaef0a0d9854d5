"""Zero loss: a room's updates are durable before anyone else sees them, whatever the database.

While the store works, each accepted update is appended to the durable log and released to
fan-out once its append is durable. One append of a room is in flight at a time, carrying every
update recorded meanwhile (the store commits concurrent rooms together), so the log keeps the
order in which the room applied its updates, and releases keep that order too: a slow commit
delays, but never reorders, what clients receive.

When the store fails (a read-only file, a full disk, a lock another process keeps too long) the
room goes on, and so does the guarantee, with the file as the durable medium:

- the updates that could not be logged are kept, in order, in memory and in the outage log
  (``persistence/outage.py``, replayed by the next start if this process dies), and each is
  released once a save of the file that contains it has completed (``save_through``): every
  edit anyone saw is in the file, so a ``kill -9`` in the middle of an outage loses nothing
  that was seen;
- the people in the room are told once (a ``store-error`` notice, also sent to whoever joins
  during the outage), not once per failed write;
- the unlogged updates are written again in the background, with a growing wait between
  attempts (1 s, 2 s, 4 s... up to ``retry_max``); once they are all in the log, in their
  order, without duplicates or gaps, the room is back to logging and says so
  (``store-recovered``).

A room whose history could not be read when it loaded (or a server whose database could not be
opened) has a journal without a store: history is off for it, and the file is its durable
medium for as long as it is open.

A ``load`` update (the file loaded afresh) starts the document's history over
(:meth:`~..persistence.store.DocumentStore.reset`): appended on top of an older log whose merge
base was lost, it would hold the content twice on the next resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import metrics
from ..origins import Origin, OriginKind
from ..persistence import DocumentStore, NewUpdate
from ..persistence.errors import HistoryUnavailable
from ..persistence.outage import OutageLog

RETRY_FIRST = 1.0  # seconds before the first new attempt after a failure
CLOSE_CATCH_UP = 2.0  # seconds a closing room gives its last attempt


def _reason(error: BaseException) -> str:
    return getattr(error, "reason", None) or str(error) or type(error).__name__


@dataclass(eq=False)
class _Entry:
    update: NewUpdate | None  # None: not logged (only kept for the order of releases)
    reset: bool
    release: Callable[[], None]
    durable: bool = False  # in the log, or (while the log fails) in the file
    logged: bool = False  # in the log
    spilled: asyncio.Future[bool] | None = None  # its write to the outage log


class RoomJournal:
    def __init__(
        self,
        store: DocumentStore | None,
        doc_id: str,
        log: logging.Logger,
        *,
        retry_max: float = 30.0,
        unavailable: str | None = None,
        outage: OutageLog | None = None,
    ) -> None:
        """``store`` None (with ``unavailable`` saying why) keeps no history at all."""
        self.store = store
        self.outage = outage
        self.doc_id = doc_id
        self.log = log
        self.retry_max = retry_max
        self.last_seq = 0
        self.failing: str | None = None  # why the log is not written now, or None
        self.disabled: str | None = None  # why history is off for this room, or None
        self._queue: deque[_Entry] = deque()  # every recorded update, until released
        self._batch: list[_Entry] = []  # waiting for the append in flight to finish
        self._unlogged: list[_Entry] = []  # could not be logged: kept for the catch-up
        self._appending: asyncio.Task[None] | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self._recorded = 0  # updates recorded, and updates whose write was attempted:
        self._attempted = 0  # ``flush`` waits until the second reaches the first
        self._settled: list[tuple[int, asyncio.Future[None]]] = []
        self._save_through: Callable[[], asyncio.Future[bool]] | None = None
        self._notify: Callable[[dict[str, Any]], None] | None = None
        self._closed = False
        # Set by a fresh load (see hold): the log is written only once this is done.
        self._hold: asyncio.Future[Any] | None = None
        self._hurry: Callable[[], None] | None = None
        if store is None:
            self.disabled = unavailable or "history is not kept"

    def attach(
        self,
        save_through: Callable[[], asyncio.Future[bool]],
        notify: Callable[[dict[str, Any]], None],
    ) -> None:
        """The room's file (the durable medium while the log fails) and its notices."""
        self._save_through = save_through
        self._notify = notify

    def hold(self, until: Awaitable[Any], hurry: Callable[[], None]) -> None:
        """Write nothing to the log before ``until`` is done.

        A file loaded afresh (``documents/filesync.py``) holds its log until the first
        client has its sync reply and then until the file's merge base is durable: the
        load's entry and every update after it go to the log after the base, so a crash at
        any point finds either no log of this load (nothing logged, nothing acknowledged:
        the file is loaded afresh, as it is) or a log with its base (resumed). Updates
        recorded meanwhile wait in order, and are released only once logged, as always.
        ``hurry`` cuts the first wait short for whoever needs the log written now
        (:meth:`flush`, hence saves, version points and the room's close).
        """
        self._hold = asyncio.ensure_future(until)
        self._hurry = hurry

    async def _held(self) -> None:
        """Wait for the hold, if any (see :meth:`hold`)."""
        hold = self._hold
        if hold is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(hold)
            if self._hold is hold:
                self._hold = self._hurry = None

    # -- state --------------------------------------------------------------------------------

    @property
    def logging(self) -> bool:
        """Whether updates go to the log now (history on and the store working)."""
        return self.disabled is None and self.failing is None

    @property
    def unlogged(self) -> int:
        """How many updates wait for the log (kept in the outage log and the file meanwhile)."""
        return len(self._unlogged)

    @property
    def pending(self) -> bool:
        """Whether some recorded update's write has not been attempted yet."""
        return self._attempted < self._recorded

    @property
    def notice(self) -> dict[str, Any] | None:
        """The notice for someone who joins now: the room's history problem, if any."""
        if self.disabled is not None:
            return {"type": "store-error", "message": self.disabled, "retrying": False}
        if self.failing is not None:
            return {"type": "store-error", "message": self.failing, "retrying": True}
        return None

    def disable(self, error: BaseException | str) -> None:
        """History is off for this room (its history could not be read when it loaded)."""
        if self.disabled is not None:
            return
        self.disabled = error if isinstance(error, str) else _reason(error)
        self.log.error(
            "History of %s is off until it is reopened: %s", self.doc_id, self.disabled
        )
        if self._notify is not None:
            self._notify(self.notice or {})

    # -- recording ----------------------------------------------------------------------------

    def record(self, update: bytes, origin: Origin, release: Callable[[], None]) -> None:
        """Log ``update`` and call ``release`` once it is durable (and all before it are)."""
        if not origin.logged:
            entry = _Entry(None, False, release, durable=True)
            self._queue.append(entry)
            self._release_ready()
            return
        entry = _Entry(
            NewUpdate(
                update, origin.kind.value, origin.user, time.time(), origin.credits,
                origin.provenance,
            ),
            origin.kind is OriginKind.LOAD,
            release,
        )
        self._queue.append(entry)
        self._recorded += 1
        if self.logging:
            self._batch.append(entry)
            if self._appending is None or self._appending.done():
                self._appending = asyncio.ensure_future(self._append_batches())
            return
        self._attempted += 1  # it goes to the file (and later the log) instead
        if self.disabled is None:
            self._unlogged.append(entry)
            self._spill([entry])
        if origin.kind in (OriginKind.LOAD, OriginKind.DISK):
            entry.durable = True  # it came from the file: it is there already
            self._release_ready()
        else:
            self._through([entry])
        self._settle()

    async def _append_batches(self) -> None:
        await self._held()
        while self._batch and self.logging:
            batch, self._batch = self._batch, []
            try:
                written = await self._write(batch)
            except BaseException as error:  # (includes a cancellation at shutdown)
                self._attempted += len(batch)
                self._failed(error, batch)
                self._settle()
                if not isinstance(error, Exception):
                    raise
                return
            self._attempted += len(batch)
            self._settle()
            del written
            self._release_ready()
        if self._batch:  # the log started failing meanwhile: these wait for the catch-up
            batch, self._batch = self._batch, []
            self._attempted += len(batch)
            self._unlogged.extend(batch)
            self._spill(batch)
            self._through(batch)
            self._settle()

    async def _write(self, entries: list[_Entry]) -> int:
        """Write ``entries`` in order; each is marked logged (and durable) as soon as it is. On
        an error the ones before it stay written and the error is raised."""
        assert self.store is not None
        i = 0
        while i < len(entries):
            if entries[i].reset:
                assert entries[i].update is not None
                seq = await self.store.reset(self.doc_id, entries[i].update)  # type: ignore[arg-type]
                run = [entries[i]]
                seqs = [seq]
            else:
                j = i
                while j < len(entries) and not entries[j].reset:
                    j += 1
                run = entries[i:j]
                seqs = await metrics.timed_append(
                    self.store.append_many(self.doc_id, [e.update for e in run])  # type: ignore[misc]
                )
            # Here, not in a callback: once the task is done, ``last_seq`` covers it (a
            # callback could still be waiting to run when someone asks for the durable seq).
            self.last_seq = max(self.last_seq, *seqs)
            for entry in run:
                entry.logged = entry.durable = True
            i += len(run)
        return i

    def _failed(self, error: BaseException, entries: list[_Entry]) -> None:
        """The log failed: the entries not written wait for the catch-up, and for the file."""
        unwritten = [e for e in entries if not e.logged]
        later, self._batch = self._batch, []
        self._attempted += len(later)
        self._unlogged.extend(unwritten + later)
        self._spill(unwritten + later)
        self._release_ready()  # the ones written before the error
        if self.failing is None:
            self.failing = _reason(error)
            self.log.error(
                "Logging updates of %s failed (%s): they are kept and saved to the file; "
                "retrying in the background",
                self.doc_id, self.failing,
            )  # fmt: skip
            if self._notify is not None:
                self._notify(self.notice or {})
        self._through(unwritten + later)
        if not self._closed and (self._catch_up is None or self._catch_up.done()):
            self._catch_up = asyncio.ensure_future(self._catch_up_later())

    def _spill(self, entries: list[_Entry]) -> None:
        """Keep refused updates in the outage log too (in order: one writer thread)."""
        if self.outage is None or self.store is None:
            return
        for entry in entries:
            assert entry.update is not None
            entry.spilled = asyncio.ensure_future(
                self.outage.update(
                    self.doc_id, entry.update, after=self.last_seq, reset=entry.reset
                )
            )

    def _through(self, entries: list[_Entry]) -> None:
        """Release ``entries`` once the file holds them (a save that started after now)."""
        if not entries:
            return
        waits: list[asyncio.Future[Any]] = [e.spilled for e in entries if e.spilled is not None]
        if self._save_through is not None:
            waits.append(self._save_through())
        if not waits:
            for entry in entries:
                entry.durable = True
            self._release_ready()
            return

        def saved(_: asyncio.Future[Any]) -> None:
            # Released even if the save failed: the room keeps serving (a save-error notice
            # said so, and the clients keep their edits); the next save retries.
            for entry in entries:
                entry.durable = True
            self._release_ready()

        asyncio.gather(*waits, return_exceptions=True).add_done_callback(saved)

    def _release_ready(self) -> None:
        while self._queue and self._queue[0].durable:
            self._queue.popleft().release()

    # -- catching up --------------------------------------------------------------------------

    async def _catch_up_later(self) -> None:
        delay = RETRY_FIRST
        while self._unlogged and not self._closed:
            await asyncio.sleep(delay)
            if await self.catch_up():
                return
            delay = min(delay * 2, self.retry_max)

    async def catch_up(self) -> bool:
        """Try once to write the unlogged updates; True when the log is complete again."""
        await self._held()
        while self._unlogged:
            entries = list(self._unlogged)
            try:
                await self._write(entries)
            except Exception as error:
                done = sum(1 for e in entries if e.logged)
                del self._unlogged[:done]
                self.failing = _reason(error)
                self._release_ready()
                return False
            del self._unlogged[: len(entries)]  # (more may have come during the write)
            self._release_ready()
        if self.outage is not None:
            self.outage.settled("doc", self.doc_id)
        if self.failing is not None:
            self.failing = None
            self.log.warning("The history of %s caught up: logging again", self.doc_id)
            if self._notify is not None:
                self._notify({"type": "store-recovered"})
            if self._batch and (self._appending is None or self._appending.done()):
                self._appending = asyncio.ensure_future(self._append_batches())
        return True

    # -- waiting ------------------------------------------------------------------------------

    def _settle(self) -> None:
        waiting, self._settled = self._settled, []
        for target, future in waiting:
            if self._attempted >= target:
                if not future.done():
                    future.set_result(None)
            else:
                self._settled.append((target, future))

    async def flush(self) -> None:
        """Wait until the write of every update recorded so far was attempted (logged, or
        failed and kept for the catch-up); never waits for the catch-up itself."""
        if self._attempted >= self._recorded:
            return
        if self._hurry is not None:
            self._hurry()  # (someone needs the log now: a fresh open's bookkeeping goes ahead)
        future = asyncio.get_running_loop().create_future()
        self._settled.append((self._recorded, future))
        await future

    async def durable_seq(self) -> int:
        """The seq of the room's latest update, once it is durable.

        Raises :class:`HistoryUnavailable` if history is off or some updates are not logged
        yet: a version point made now would silently leave them out.
        """
        await self.flush()
        if self.disabled is not None:
            raise HistoryUnavailable(f"history is off for this document: {self.disabled}")
        if self._unlogged or self.failing is not None:
            raise HistoryUnavailable("the update log is failing; updates are not durable yet")
        assert self.store is not None
        if not self.last_seq:
            self.last_seq = await self.store.last_seq(self.doc_id)
        return self.last_seq

    async def close(self) -> None:
        """The room closes: wait for the writes in flight, try once more (briefly: a server
        stopping must not wait for a lock) to write what the log is missing, and stop
        retrying. What is still missing is in the outage log and the file."""
        await self.flush()
        if self._unlogged and self.store is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.catch_up(), CLOSE_CATCH_UP)
        self._closed = True
        if self._catch_up is not None:
            self._catch_up.cancel()
        if self._unlogged:
            self.log.error(
                "%d updates of %s could not be logged before it closed; they are in its file",
                len(self._unlogged), self.doc_id,
            )  # fmt: skip
        for entry in self._queue:
            entry.durable = True
        self._release_ready()
