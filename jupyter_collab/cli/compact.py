"""``jupyter collab compact``: the history upkeep the server does, for every document at once.

What the server's maintenance (``history/maintenance.py``) and closing rooms do: each
document's log is folded into its snapshot (``DocumentStore.compact``, keeping the log of the
last ``CollabApp.history_retention`` seconds and who wrote what in the snapshot's note, as
``History.annotate`` does), and deleted documents older than ``CollabApp.deleted_retention``
are purged with their file ids, and the comment threads of files deleted that long ago with
them (``comments/retention.py``). Version points are never touched. Safe while servers run
(each compaction is built on one consistent read; a document a server compacted further
meanwhile is left as it is).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from traitlets import Bool

from ..comments.retention import purge_deleted_threads
from ..history.attribution import annotate
from ..persistence import InvalidInput, LogEntry, Snapshot, UnknownDocument
from ..persistence.catalog import Catalog, room_kind
from .base import FLAGS, OK, CollabCommandBase, run_with_store
from .documents import open_catalog


def annotator(doc_id: str, snapshot: Snapshot | None, entries: Sequence[LogEntry]) -> bytes | None:
    """``History.annotate`` without a server: who wrote what in a new snapshot."""
    try:
        kind, _ = room_kind(doc_id)
    except LookupError:
        return None
    return annotate(kind, snapshot, entries)


class CompactApp(CollabCommandBase):
    name = "jupyter-collab-compact"
    description = """Compact the history of every document as the server does (logs older
    than CollabApp.history_retention folded into snapshots, deleted documents older than
    CollabApp.deleted_retention purged). Version points stay. Safe while servers run."""
    examples = """
    jupyter collab compact
    jupyter collab compact --vacuum --json
    """

    vacuum = Bool(
        False,
        config=True,
        help="SQLite: give the freed pages back to the file system afterwards (writes wait "
        "meanwhile).",
    )
    flags = {
        **FLAGS,
        "vacuum": ({"CompactApp": {"vacuum": True}}, "SQLite: shrink the file afterwards."),
    }

    def run(self) -> int:
        self.positional()
        where = self.where()
        settings = self.collab_settings()
        with open_catalog(where) as catalog:
            rows = [r for r in catalog.documents() if r.deleted is None]
            before = _bytes(catalog)

        async def work(store: Any, ids: Any) -> dict[str, Any]:
            store.annotator = annotator
            now = time.time()
            compacted, trimmed, skipped = [], 0, []
            with self.progress(len(rows), "compacting", "doc") as bar:
                for row in rows:
                    try:
                        kept_before = len(await store.read(row.room))
                        await store.compact(row.room, now=now)
                        trimmed += kept_before - len(await store.read(row.room))
                        compacted.append(row.room)
                    except (InvalidInput, UnknownDocument) as error:
                        skipped.append({"room": row.room, "reason": str(error)})
                    bar.update(1)
            purged = await store.purge_deleted(now - settings.deleted_retention)
            for doc_id in purged:
                file_id = doc_id.rpartition(":")[2]
                if await ids.path_of(file_id) is None:
                    await ids.forget(file_id)
            comments = comment_store_on(store)
            try:
                threads = await purge_deleted_threads(
                    comments, ids, now - settings.deleted_retention
                )
            finally:
                await comments.close()
            if self.vacuum and hasattr(store, "vacuum"):
                await store.vacuum()
            return {"compacted": compacted, "trimmedEntries": trimmed, "purged": purged,
                    "purgedThreads": threads, "skipped": skipped}  # fmt: skip

        result = run_with_store(where, work, retention=settings.history_retention)
        with open_catalog(where) as catalog:
            after = _bytes(catalog)
        result.update({"historyBytesBefore": before, "historyBytesAfter": after})
        if self.json:
            self.emit(result)
            return OK
        print(
            f"Compacted {len(result['compacted'])} document(s): {result['trimmedEntries']} log "
            f"entries folded into snapshots; history {before:,} -> {after:,} bytes."
        )
        for skip in result["skipped"]:
            print(f"  skipped {skip['room']}: {skip['reason']}")
        if result["purged"]:
            print(
                f"Purged {len(result['purged'])} deleted document(s): {', '.join(result['purged'])}"
            )
        if result["purgedThreads"]:
            print(f"Purged {result['purgedThreads']} comment thread(s) of deleted files.")
        return OK


def comment_store_on(store: Any) -> Any:
    """The comment store on the history store's own database (SQLite file or PostgreSQL)."""
    from ..persistence.database import SQLiteDatabase

    if isinstance(store.db, SQLiteDatabase):
        from ..comments.sqlite import SQLiteCommentStore

        return SQLiteCommentStore(store.db)
    from ..comments.postgres import PostgresCommentStore

    return PostgresCommentStore(store.db)


def _bytes(catalog: Catalog) -> int:
    return sum(r.history_bytes for r in catalog.documents())
