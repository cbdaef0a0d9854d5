"""Version points of one open room: automatic ones, and the ones users ask for.

Automatic points come after ``quiet`` seconds without changes and at least every ``interval``
seconds while changes keep coming (so a long session still has points to go back to), and
when the room closes with changes since the last point. Only content changes count (a client,
a restore, a merge from disk); the server's bookkeeping and loading do not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..origins import OriginKind
from ..persistence import AuditAction, DocumentStore, VersionInfo
from ..persistence.model import VersionKind
from ..timestamps import iso
from .audit import AuditLog

# A log longer than this without any version is an old history, not a file opened just now.
OPENED_SCAN_LIMIT = 1000


def version_json(info: VersionInfo) -> dict[str, Any]:
    """A version as the API shows it (docs/history-api.md): who made the point (``createdBy``,
    with ``kind`` saying how) apart from who wrote the changes it covers (``authors``)."""
    restored = info.details.get("restoredFrom")
    return {
        "id": info.id,
        "seq": info.seq,
        "time": iso(info.time),
        "name": info.name,
        "kind": info.kind,
        "createdBy": info.user,
        "authors": list(info.authors),
        "changeBytes": info.change_bytes,
        "size": info.state_size,
        "restoredFrom": dict(restored) if isinstance(restored, dict) else None,
    }


def version_reference(info: VersionInfo) -> dict[str, Any]:
    """What a restore keeps of the version it restored, to name it by its name or time."""
    return {"id": info.id, "name": info.name, "time": iso(info.time), "kind": info.kind}


def version_label(info: VersionInfo) -> str:
    """A version in text meant for people (diff headers, messages): its name, else its time;
    never its database id."""
    return f"“{info.name}”" if info.name else f"the version of {iso(info.time)}"


class RoomVersions:
    def __init__(
        self,
        store: DocumentStore,
        doc_id: str,
        last_seq: Callable[[], Any],
        notify: Callable[[dict[str, Any]], None],
        audit: AuditLog | None,
        log: logging.Logger,
        *,
        quiet: float,
        interval: float,
    ) -> None:
        self.store = store
        self.doc_id = doc_id
        self._last_seq = last_seq  # awaitable: the seq of the last update, once durable
        self._notify = notify
        self._audit = audit
        self.log = log
        self.quiet = quiet
        self.interval = interval
        self._first_change: float | None = None
        self._last_change = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._opening: asyncio.Task[VersionInfo | None] | None = None
        self._after: Any = None  # what the first point waits for (see loaded)
        self._closed = False
        # A group of servers (roombus.py): only the holder of the room's writer lease makes
        # automatic points, the "as first opened" point included, and proves it still holds
        # it (``fence``) before writing one; the log is the group's, so a point's seq is the
        # shared store's latest (what the other servers logged is in it too).
        self.writer: Callable[[], bool] = lambda: True
        self.fence: Callable[[], Awaitable[bool]] | None = None
        self.shared_log = False

    def changed(self) -> None:
        """A content change: schedule the next automatic point."""
        if self._closed or self.quiet <= 0:
            return
        now = time.monotonic()
        self._last_change = now
        if self._first_change is None:
            self._first_change = now
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._wait())

    async def _wait(self) -> None:
        while self._first_change is not None and not self._closed:
            due = min(self._last_change + self.quiet, self._first_change + self.interval)
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._first_change = None
            if not self.writer():
                return  # the writer saw the same changes (they crossed the bus) and makes it
            try:
                await self.make("auto")
            except Exception as exc:
                self.log.error("Making a version point of %s failed: %s", self.doc_id, exc)

    async def make(
        self,
        kind: VersionKind,
        *,
        name: str | None = None,
        user: str | None = None,
        at_seq: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> VersionInfo | None:
        """A version point at the room's latest update (or at ``at_seq``, an update already
        durable); None for an automatic point that would repeat the last one."""
        if self._opening is not None:  # the file as first opened comes first
            if self._after is not None:
                self._after.open()  # (now, not after the first client's reply)
            await asyncio.wait([self._opening])
        async with self._lock:
            if kind == "auto" and not self.writer():
                return None
            seq = at_seq if at_seq is not None else await self._seq()
            if seq <= 0:
                return None
            if kind == "auto":
                latest = await self.store.list_versions(self.doc_id, limit=1)
                if latest and latest[0].seq >= seq:
                    return None
                if not await self._fenced():
                    return None
            info = await self._add(kind, seq, name=name, user=user, details=details)
        self._announce(info, user)
        return info

    async def _seq(self) -> int:
        seq = int(await self._last_seq())
        if self.shared_log:
            seq = max(seq, await self.store.last_seq(self.doc_id))
        return seq

    async def _fenced(self) -> bool:
        """Whether this server may still write automatic points (its writer lease is the
        current one); always, for one server."""
        if self.fence is None or await self.fence():
            return True
        self.log.warning("Not making a version point of %s: another server writes it", self.doc_id)
        return False

    def became_writer(self) -> None:
        """This server took the writer lease over: the points its predecessor had not made yet
        (the file as first opened, changes since the last point) are its to make."""
        if self._closed:
            return
        if self._opening is None or self._opening.done():
            self._opening = asyncio.get_running_loop().create_task(self._opened())
        self.changed()

    async def _add(self, kind: VersionKind, seq: int, **options: Any) -> VersionInfo:
        version_id = await self.store.add_version(
            self.doc_id, seq, kind=kind, time=time.time(), **options
        )
        (info,) = await self.store.list_versions(self.doc_id, limit=1, before=version_id + 1)
        return info

    def loaded(self, after: Any = None) -> asyncio.Task[VersionInfo | None]:
        """The room loaded its file: make :meth:`opened` in the background (nobody waits for
        it to open the document), before any other version point of the room; once ``after``
        (the room's ``FirstReply``: the first client has the document) is open, if given."""
        self._after = after
        self._opening = asyncio.get_running_loop().create_task(self._opened())
        return self._opening

    async def _opened(self) -> VersionInfo | None:
        if self._after is not None:
            await self._after.wait()
        try:
            return await self.opened()
        except Exception as exc:
            self.log.error("Making the first version of %s failed: %s", self.doc_id, exc)
            return None

    async def opened(self) -> VersionInfo | None:
        """The document as first opened, as a version point: the first time a file gets a
        history (its log begins with the load of the file and it has no version yet), so
        people can always go back to the file as it was before anyone edited it.

        A file that loads empty logs nothing and gets no such point (there is nothing to go
        back to); neither does a document whose history predates this (its log no longer
        begins with the load, or it has versions already).
        """
        if not self.writer():
            return None  # the writer makes it (see became_writer)
        async with self._lock:
            last = await self._seq()
            if last <= 0 or await self.store.list_versions(self.doc_id, limit=1):
                return None
            if last > OPENED_SCAN_LIMIT:
                return None  # an old history without versions: not a first opening
            entries = await self.store.read(self.doc_id)
            if not entries or entries[0].seq != 1 or entries[0].origin != OriginKind.LOAD.value:
                return None
            if not await self._fenced():
                return None
            info = await self._add("opened", 1)
        self._announce(info, None)
        return info

    def _announce(self, info: VersionInfo, user: str | None) -> None:
        if info.kind in ("auto", "opened"):
            self.log.info("Made the %s version point of %s at %d", info.kind, self.doc_id, info.seq)
        self._notify({"type": "version", "version": version_json(info)})
        if self._audit is not None:
            self._audit.record(
                AuditAction.VERSION_CREATED, self.doc_id, user, version=info.id, kind=info.kind,
                name=info.name,
            )  # fmt: skip

    async def close(self) -> None:
        """Keep a point for the changes since the last one, then stop."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        if self._opening is not None:  # the file as first opened, before the log is compacted
            if self._after is not None:
                self._after.open()
            await asyncio.wait([self._opening])
        if self._first_change is not None:
            self._first_change = None
            if not self.writer():
                return  # the writer saw the same changes (they crossed the bus) and makes it
            try:
                await self.make("auto")
            except Exception as exc:
                self.log.error("Making a version point of %s failed: %s", self.doc_id, exc)
