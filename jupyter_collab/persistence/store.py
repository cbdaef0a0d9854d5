"""The abstract store of document history (the ShareDB model: one interface, several backends).

A store keeps, per document (a file id):

- an append-only **update log**: every pycrdt update a room accepted, with a per-document
  sequence number (1, 2, 3...), its origin, user and time (attribution);
- one **snapshot**: the full state covering the log up to a seq, so the log before it can be
  trimmed (compaction) and loading does not replay the whole history;
- **version points**: each stores the full document state at its seq (see :meth:`add_version`);
- a **deleted** mark, so a deleted file's history is kept for a while before it is purged.

and, across documents, an **audit log** with stable paging.

Every method is a coroutine so that backends doing I/O (SQLite in a thread, PostgreSQL over the
network) and the in-memory one are interchangeable. One contract test suite
(``tests/persistence/test_store_contract.py``) runs against every implementation.
"""

from __future__ import annotations

import asyncio
import logging
import time as _time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from .errors import UnknownDocument
from .history import compact_state, merge
from .model import AuditEvent, LogEntry, NewUpdate, Snapshot, Version, VersionInfo, VersionKind

DEFAULT_RETENTION = 7 * 24 * 3600.0

Annotator = Callable[[str, "Snapshot | None", Sequence[LogEntry]], "bytes | None"]


class DocumentStore(ABC):
    """Durable history of collaborative documents.

    ``retention`` is how many seconds of fine-grained log survive compaction: entries newer
    than that are kept even when a snapshot covers them, so recent history keeps per-update
    attribution.
    """

    retention: float = DEFAULT_RETENTION
    # Describes what a new snapshot holds, from the previous snapshot and the log entries it
    # folds in (called in a worker thread by :meth:`compact`): the history layer keeps who
    # wrote what there, so attribution outlives the log that compaction trims.
    annotator: Annotator | None = None

    # -- update log ---------------------------------------------------------------------------

    async def append(
        self, doc_id: str, update: bytes, *, origin: str, user: str | None, time: float
    ) -> int:
        """Append one update; returns its seq once it is durable (for a durable backend)."""
        (seq,) = await self.append_many(doc_id, [NewUpdate(update, origin, user, time)])
        return seq

    @abstractmethod
    async def append_many(self, doc_id: str, entries: Sequence[NewUpdate]) -> list[int]:
        """Append several updates in one transaction: all of them are stored, or none.

        Returns their seqs, consecutive and in order. The first append creates the document.
        Raises :class:`~.errors.DocumentDeleted` for a document marked deleted.
        """

    @abstractmethod
    async def reset(self, doc_id: str, entry: NewUpdate) -> int:
        """Append ``entry`` as the document's new start; returns its seq.

        ``entry.update`` is a whole document (a file loaded afresh, without the history that
        was logged for it before). In one transaction it is appended and made the snapshot at
        its own seq, so :meth:`load` gives exactly this document from now on instead of merging
        it with the older log (which would hold the content twice). The older entries and
        version points stay readable (versions, attribution before it) until compaction trims
        them per the retention (counted from the entry's time). A document without history is
        created, the entry its first update.
        """

    @abstractmethod
    async def last_seq(self, doc_id: str) -> int:
        """The seq of the last appended update; 0 if the document has no history."""

    @abstractmethod
    async def read(self, doc_id: str, after_seq: int = 0) -> list[LogEntry]:
        """Retained log entries with ``seq > after_seq``, in order.

        ``after_seq=0`` means "everything retained". For ``after_seq > 0``, raises
        :class:`~.errors.HistoryCompacted` if entries right after ``after_seq`` were trimmed,
        so a reader catching up never silently misses updates.
        """

    @abstractmethod
    async def snapshot(self, doc_id: str) -> Snapshot | None:
        """The document's snapshot, or None if it was never compacted."""

    @abstractmethod
    async def history(self, doc_id: str) -> tuple[Snapshot | None, list[LogEntry]]:
        """The snapshot and the log entries after it, read at one point in time."""

    @abstractmethod
    async def write_snapshot(
        self,
        doc_id: str,
        state: bytes,
        upto_seq: int,
        *,
        now: float | None = None,
        note: bytes | None = None,
    ) -> int:
        """Store ``state`` as the snapshot covering seqs ``<= upto_seq`` and trim the log.

        ``note`` is kept with it and returned as :attr:`Snapshot.note` (see :attr:`annotator`).

        In one transaction: replaces the snapshot, then deletes the longest prefix of the log
        with ``seq <= upto_seq`` whose entries are all older than ``now - retention`` (a prefix,
        so the retained log stays contiguous and can be replayed onto the snapshot). No entry is
        kept for version points: each version stores its own state (see :meth:`add_version`).
        Returns the number of entries trimmed. ``upto_seq`` may not go back behind the current
        snapshot nor past the last seq.
        """

    async def load(self, doc_id: str) -> bytes | None:
        """The whole document as one update (snapshot merged with every later update).

        None if the document has no history. This is what a room resumes from: applying it to
        a fresh ``pycrdt.Doc`` recreates the same CRDT items (same client ids and clocks), so
        clients that kept their document across a restart merge without duplicates.
        """
        try:
            snapshot, entries = await self.history(doc_id)
        except UnknownDocument:
            return None
        if len(entries) < 64:  # a thread hop costs more than merging a few updates
            return merge(snapshot.state if snapshot else None, [e.update for e in entries])
        return await asyncio.to_thread(
            merge, snapshot.state if snapshot else None, [e.update for e in entries]
        )

    async def compact(self, doc_id: str, *, now: float | None = None) -> Snapshot | None:
        """Snapshot the whole current document and trim per :attr:`retention`.

        Built on one consistent :meth:`history` read, so updates appended meanwhile are simply
        left in the log after the new snapshot. Compacting again with nothing new still trims
        what has since left the retention window.
        """
        snapshot, entries = await self.history(doc_id)
        if entries:
            # Merging a long log takes a while: off the event loop that serves the rooms.
            state, note = await asyncio.to_thread(self._fold, doc_id, snapshot, entries)
            await self.write_snapshot(doc_id, state, entries[-1].seq, now=now, note=note)
        elif snapshot is not None:  # nothing new, but older entries may have left the window
            await self.write_snapshot(
                doc_id, snapshot.state, snapshot.upto_seq, now=now, note=snapshot.note
            )
        return await self.snapshot(doc_id)

    def _fold(
        self, doc_id: str, snapshot: Snapshot | None, entries: Sequence[LogEntry]
    ) -> tuple[bytes, bytes | None]:
        """The state of a new snapshot, and its note (in a worker thread)."""
        state = compact_state(snapshot.state if snapshot else None, [e.update for e in entries])
        assert state is not None
        note = None
        if self.annotator is not None:
            try:
                note = self.annotator(doc_id, snapshot, entries)
            except Exception:  # a note is a nicety: never a reason not to compact
                logging.getLogger(__name__).exception("Annotating the snapshot of %s", doc_id)
        return state, note

    # -- versions -----------------------------------------------------------------------------

    @abstractmethod
    async def add_version(
        self,
        doc_id: str,
        seq: int,
        *,
        name: str | None = None,
        kind: VersionKind = "auto",
        user: str | None = None,
        time: float,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Make a version point at ``seq`` (1 to the last seq); returns its id.

        ``user`` made the point (named it, saved, restored); ``details`` is a JSON-serializable
        mapping kept with it and returned in :attr:`VersionInfo.details`.

        The version stores the **full document state at seq**, zlib-compressed, computed here
        from the store's own history (the nearest earlier version or the snapshot, plus the log
        after it). Why full states rather than pinning log entries: a version then stays
        restorable whatever compaction does, reading it costs one decompression instead of a
        replay, and compaction needs no bookkeeping of which entries versions depend on. The
        price is a few KB per version for typical documents, small next to the log it lets us
        trim. Raises :class:`~.errors.HistoryCompacted` if the log needed to rebuild ``seq``
        was already trimmed (make version points before compacting past them).
        """

    @abstractmethod
    async def list_versions(
        self, doc_id: str, limit: int = 50, before: int | None = None
    ) -> list[VersionInfo]:
        """Versions of the document, newest first; ``before`` (a version id) pages backwards."""

    @abstractmethod
    async def get_version(self, doc_id: str, version_id: int) -> Version:
        """One version with its state. :class:`~.errors.UnknownVersion` if there is no such
        version, :class:`~.errors.ForeignVersion` if it belongs to another document."""

    # -- audit --------------------------------------------------------------------------------

    @abstractmethod
    async def audit(self, event: AuditEvent) -> int:
        """Record an audit event; returns its id. Audit events outlive purged documents."""

    @abstractmethod
    async def query_audit(
        self,
        doc_id: str | None = None,
        user: str | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[AuditEvent], str | None]:
        """Audit events matching every given filter, newest recorded first.

        ``since`` is inclusive, ``until`` exclusive. Returns a page and the cursor of the next
        page (None when there is no more). Pages are ordered by the event id, which only grows,
        so paging is stable: events recorded while a client pages appear before its first page,
        never as duplicates or gaps in later pages.
        """

    # -- lifecycle ----------------------------------------------------------------------------

    @abstractmethod
    async def mark_deleted(self, doc_id: str, time: float) -> None:
        """Mark the document deleted at ``time``: it keeps its history until purged."""

    @abstractmethod
    async def undelete(self, doc_id: str) -> None:
        """Clear the deleted mark (the file was restored before the purge)."""

    @abstractmethod
    async def deleted_at(self, doc_id: str) -> float | None:
        """When the document was marked deleted, or None."""

    @abstractmethod
    async def purge_deleted(self, older_than: float) -> list[str]:
        """Remove all history of documents marked deleted at or before ``older_than``.

        Returns the purged document ids. Their audit events are kept.
        """

    # -- refused deletions ----------------------------------------------------------------------

    @abstractmethod
    async def refused_deletions(self, doc_id: str) -> dict[str, str]:
        """``{username: clock ranges}`` of deletions the room refused to each user (a viewer's
        edits, ``collaboration/integrity.py``), as :meth:`remember_refused` stored them.

        They outlive the room: a stock client keeps its refused deletions in its own document
        and sends them again in its state dump after a promotion to editor, also to a room
        loaded again from the log (idle, or the server restarted) meanwhile."""

    @abstractmethod
    async def remember_refused(self, doc_id: str, user: str, ranges: str) -> None:
        """Replace what is remembered for ``user`` in the document (``ranges`` is opaque JSON
        text to the store); removed with the document's history when it is purged."""

    @abstractmethod
    async def size_bytes(self, doc_id: str | None = None) -> int:
        """Bytes of history payload (log updates, compressed snapshot and version states) of
        one document, or of every document. The same measure in every backend, for reporting;
        a backend's file may be larger (indexes, free pages)."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release resources; later calls raise StoreClosed."""

    async def __aenter__(self) -> DocumentStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def resolve_now(now: float | None) -> float:
    return _time.time() if now is None else now
