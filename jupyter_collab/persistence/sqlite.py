"""The embedded default store: history in the collaboration database (SQLite).

Durability and threading are the database's (:mod:`.database`): every SQLite call runs on its
threads, never on the event loop; an append is acknowledged (its coroutine returns) once its
commit reached the OS (``sync="background"``, kill -9 safe, the WAL fsynced right after) or the
disk (``sync="commit"``).

Group commit: a commit costs a write to the WAL (and in ``commit`` mode an fsync), so appends
are not committed one by one. The first append is committed at once; appends arriving while
that commit is in flight wait and are then committed together in the next transaction, each in
its own savepoint (one caller's bad request fails alone, each ``append_many`` stays
all-or-nothing). Under load the batch grows by itself and throughput follows the number of
appenders while latency stays about one or two commits.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import history as h
from .database import DEFAULT_BUSY_TIMEOUT, SYNC_MODES, SQLiteDatabase
from .errors import (
    DocumentDeleted,
    ForeignVersion,
    HistoryCompacted,
    StoreClosed,
    StoreError,
    UnknownDocument,
    UnknownVersion,
)
from .model import (
    AuditEvent,
    LogEntry,
    NewUpdate,
    Snapshot,
    Version,
    VersionInfo,
    VersionKind,
    check_audit_event,
    check_doc_id,
    check_limit,
    check_new_updates,
    check_refused,
    check_retention,
    check_seq,
    check_snapshot_args,
    check_time,
    check_version_args,
    check_version_id,
    check_version_seq,
)
from .schema import COMPONENT
from .store import DEFAULT_RETENTION, DocumentStore, resolve_now

T = TypeVar("T")
_Batch = list[tuple[str, list[NewUpdate], bool]]

__all__ = ["SYNC_MODES", "CommitStats", "SQLiteStore"]


@dataclass
class CommitStats:
    """How well group commit batches: ``requests / transactions`` appenders per commit."""

    transactions: int = 0
    requests: int = 0
    updates: int = 0
    _database: SQLiteDatabase | None = field(default=None, repr=False)

    @property
    def fsyncs(self) -> int:
        """Background flushes of the WAL (``sync="background"``), by the whole database."""
        return self._database.fsyncs if self._database is not None else 0


class _Stale(Exception):
    """What a version was computed from changed before it could be stored."""


@dataclass
class _VersionInputs:
    """What a version point is computed from (read in one transaction)."""

    created: float
    prev: tuple[int, int, int] | None  # (id, seq, depth) of the version point before it
    chain: list[bytes]  # the stored blobs of ``prev``: a full state, then deltas
    snapshot: tuple[int, bytes] | None  # (upto_seq, compressed state), if a newer basis
    changes: list[LogEntry]  # the log entries since ``prev``


class SQLiteStore(DocumentStore):
    """History in the collaboration database, whose file holds other components' tables too.

    ``database`` is the :class:`~.database.SQLiteDatabase` to use, or the path of its file (the
    process's object for that file is then acquired, with ``sync`` and ``busy_timeout``).

    ``sync`` says when an append is acknowledged (and a room lets others see the update):

    - ``"background"``: once its commit reached the operating system, which a crash or a
      ``kill -9`` of the server cannot undo; the WAL is then flushed to the disk (fsync) on a
      thread of its own right after, so a power loss can take at most the last few
      milliseconds. An fsync's latency (milliseconds, and spikes on a busy disk) then stays out
      of what collaborators wait for.
    - ``"commit"``: only once the commit is on the disk (``synchronous=FULL``): nothing anybody
      saw can be lost even to a power loss, at the price of an fsync per group commit.
    """

    def __init__(
        self,
        database: str | Path | SQLiteDatabase,
        *,
        retention: float = DEFAULT_RETENTION,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        sync: str = "background",
    ) -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {SYNC_MODES}, not {sync!r}")
        if isinstance(database, SQLiteDatabase):
            self.db = database.retain()
        else:
            self.db = SQLiteDatabase.acquire(database, sync=sync, busy_timeout=busy_timeout)
        self.path = self.db.path
        self.sync = self.db.sync
        self.retention = check_retention(retention)
        self.stats = CommitStats(_database=self.db)
        # Migrating runs on the database's writer thread: the constructor does not block.
        self.db.prepare(COMPONENT)
        self._pending: list[tuple[str, list[NewUpdate], bool, asyncio.Future[list[int]]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, database: str | Path | SQLiteDatabase, **kwargs: Any) -> SQLiteStore:
        """Create a store and wait until its schema is ready (errors surface here)."""
        store = cls(database, **kwargs)
        try:
            await store.db.ready(COMPONENT)
        except BaseException:
            await store.close()
            raise
        return store

    async def _ready(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed")
        await self.db.ready(COMPONENT)

    async def _read_tx(self, fn: Callable[..., T], *args: Any) -> T:
        await self._ready()
        return await self.db.read(fn, *args)

    async def _write_tx(self, fn: Callable[..., T], *args: Any) -> T:
        await self._ready()
        return await self.db.write(fn, *args)

    # -- update log ---------------------------------------------------------------------------

    async def append_many(self, doc_id: str, entries: Sequence[NewUpdate]) -> list[int]:
        return await self._enqueue(doc_id, entries, reset=False)

    async def reset(self, doc_id: str, entry: NewUpdate) -> int:
        (seq,) = await self._enqueue(doc_id, [entry], reset=True)
        return seq

    async def _enqueue(
        self, doc_id: str, entries: Sequence[NewUpdate], *, reset: bool
    ) -> list[int]:
        if self._closed:
            raise StoreClosed("the store is closed")
        checked = check_new_updates(entries)
        check_doc_id(doc_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        self._pending.append((doc_id, checked, reset, future))
        if self._committer is None:
            self._committer = loop.create_task(self._commit_pending())
        # shield: a cancelled caller does not cancel the commit of other callers' updates
        # (its own update may still become durable, as it would with any database).
        return await asyncio.shield(future)

    async def _commit_pending(self) -> None:
        """Commit what is pending, then what arrived meanwhile, until nothing is left."""
        batch: list[tuple[str, list[NewUpdate], bool, asyncio.Future[list[int]]]] = []
        try:
            await self.db.ready(COMPONENT)
            while self._pending:
                batch, self._pending = self._pending, []
                requests: _Batch = [(doc_id, entries, reset) for doc_id, entries, reset, _ in batch]
                try:
                    results = await self.db.run(self._commit_batch, requests)
                except Exception as error:  # the whole transaction failed
                    results = [error] * len(batch)
                for (*_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        except asyncio.CancelledError:
            # The event loop is going away mid-commit: whether the batch is durable is unknown.
            self._fail(batch, StoreError("interrupted: these updates may not be durable"))
            raise
        except Exception as error:  # opening the database failed
            self._fail(batch, error)
        finally:
            self._committer = None

    def _fail(
        self,
        batch: list[tuple[str, list[NewUpdate], bool, asyncio.Future[list[int]]]],
        error: Exception,
    ) -> None:
        waiting, self._pending = batch + self._pending, []
        for *_, future in waiting:
            if not future.done():
                future.set_exception(error)

    def _commit_batch(self, db: sqlite3.Connection, requests: _Batch) -> list[Any]:
        """One transaction for the whole batch (on the writer thread)."""
        results: list[list[int] | BaseException] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for doc_id, entries, reset in requests:
                db.execute("SAVEPOINT request")
                try:
                    seqs = self._append(db, doc_id, entries)
                    if reset and seqs[0] > 1:  # (without an older log there is nothing to hide)
                        last = entries[-1]
                        self._write_snapshot(db, doc_id, last.update, seqs[-1], last.time)
                    results.append(seqs)
                except StoreError as error:
                    db.execute("ROLLBACK TO request")
                    results.append(error)
                db.execute("RELEASE request")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.stats.transactions += 1
        self.stats.requests += len(requests)
        self.stats.updates += sum(len(e) for _, e, _ in requests)
        return results

    @staticmethod
    def _append(db: sqlite3.Connection, doc_id: str, entries: list[NewUpdate]) -> list[int]:
        row = db.execute(
            "SELECT last_seq, deleted_at FROM collab_docs WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO collab_docs (doc_id, last_seq, created) VALUES (?, 0, ?)",
                (doc_id, entries[0].time),
            )
            last = 0
        elif row[1] is not None:
            raise DocumentDeleted(doc_id)
        else:
            last = row[0]
        db.executemany(
            "INSERT INTO collab_updates (doc_id, seq, origin, user, time, data, credits, "
            "provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    doc_id, last + i, e.origin, e.user, e.time, e.update,
                    None if e.credits is None else json.dumps(e.credits), e.provenance,
                )
                for i, e in enumerate(entries, 1)
            ],
        )  # fmt: skip
        db.execute(
            "UPDATE collab_docs SET last_seq = ? WHERE doc_id = ?", (last + len(entries), doc_id)
        )
        return list(range(last + 1, last + len(entries) + 1))

    @staticmethod
    def _doc(db: sqlite3.Connection, doc_id: str) -> tuple[int, float | None]:
        """(last_seq, deleted_at) of a document that must exist."""
        row = db.execute(
            "SELECT last_seq, deleted_at FROM collab_docs WHERE doc_id = ?", (check_doc_id(doc_id),)
        ).fetchone()
        if row is None:
            raise UnknownDocument(doc_id)
        return row[0], row[1]

    @staticmethod
    def _entries(
        db: sqlite3.Connection, doc_id: str, after: int, upto: int | None = None
    ) -> list[LogEntry]:
        rows = db.execute(
            "SELECT seq, data, origin, user, time, credits, provenance FROM collab_updates "
            "WHERE doc_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
            (doc_id, after, upto if upto is not None else 2**62),
        ).fetchall()
        return [
            LogEntry(
                seq, bytes(data), origin, user, time,
                None if credits is None else tuple(json.loads(credits)),
                None if provenance is None else bytes(provenance),
            )
            for seq, data, origin, user, time, credits, provenance in rows
        ]  # fmt: skip

    @staticmethod
    def _snapshot(db: sqlite3.Connection, doc_id: str) -> Snapshot | None:
        row = db.execute(
            "SELECT state, upto_seq, time, note FROM collab_snapshots WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        return Snapshot(h.decompress(row[0]), row[1], row[2], bytes(row[3]) if row[3] else None)

    async def last_seq(self, doc_id: str) -> int:
        check_doc_id(doc_id)

        def run(db: sqlite3.Connection) -> int:
            row = db.execute(
                "SELECT last_seq FROM collab_docs WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            return row[0] if row else 0

        return await self._read_tx(run)

    async def read(self, doc_id: str, after_seq: int = 0) -> list[LogEntry]:
        check_seq(after_seq, "after_seq")

        def run(db: sqlite3.Connection) -> list[LogEntry]:
            last, _ = self._doc(db, doc_id)
            first = db.execute(
                "SELECT MIN(seq) FROM collab_updates WHERE doc_id = ?", (doc_id,)
            ).fetchone()[0]
            start = first if first is not None else last + 1
            if 0 < after_seq < start - 1:
                raise HistoryCompacted(
                    f"the log of document {doc_id!r} after seq {after_seq} was compacted"
                )
            return self._entries(db, doc_id, after_seq)

        return await self._read_tx(run)

    async def snapshot(self, doc_id: str) -> Snapshot | None:
        def run(db: sqlite3.Connection) -> Snapshot | None:
            self._doc(db, doc_id)
            return self._snapshot(db, doc_id)

        return await self._read_tx(run)

    async def history(self, doc_id: str) -> tuple[Snapshot | None, list[LogEntry]]:
        def run(db: sqlite3.Connection) -> tuple[Snapshot | None, list[LogEntry]]:
            self._doc(db, doc_id)
            snap = self._snapshot(db, doc_id)
            return snap, self._entries(db, doc_id, snap.upto_seq if snap else 0)

        return await self._read_tx(run)

    async def write_snapshot(
        self,
        doc_id: str,
        state: bytes,
        upto_seq: int,
        *,
        now: float | None = None,
        note: bytes | None = None,
    ) -> int:
        return await self._write_tx(self._write_snapshot, doc_id, state, upto_seq, now, note)

    def _write_snapshot(
        self,
        db: sqlite3.Connection,
        doc_id: str,
        state: bytes,
        upto_seq: int,
        now: float | None,
        note: bytes | None = None,
    ) -> int:
        at = resolve_now(now)
        cutoff = at - self.retention
        last, _ = self._doc(db, doc_id)
        row = db.execute(
            "SELECT upto_seq FROM collab_snapshots WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        data = check_snapshot_args(doc_id, state, upto_seq, last, row[0] if row else 0)
        db.execute(
            "INSERT OR REPLACE INTO collab_snapshots (doc_id, upto_seq, time, state, note) "
            "VALUES (?, ?, ?, ?, ?)",
            (doc_id, upto_seq, at, h.compress(data), note),
        )
        # Trim a prefix only, so the retained log stays contiguous.
        young = db.execute(
            "SELECT MIN(seq) FROM collab_updates WHERE doc_id = ? AND seq <= ? AND time >= ?",
            (doc_id, upto_seq, cutoff),
        ).fetchone()[0]
        limit = upto_seq if young is None else young - 1
        return db.execute(
            "DELETE FROM collab_updates WHERE doc_id = ? AND seq <= ?", (doc_id, limit)
        ).rowcount

    # -- versions -----------------------------------------------------------------------------

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
        extra = check_version_args(kind, name, user, time, details)
        check_doc_id(doc_id)
        # Merging and compressing a large document's state takes a while: it runs on a worker
        # thread between a read and a short write, so the writer thread (which every append,
        # file id and merge base of the process waits for) only inserts the row.
        for _ in range(5):
            got = await self._read_tx(self._version_inputs, doc_id, seq)
            state_size, blob, base_id, depth = await asyncio.to_thread(
                self._encode_version, doc_id, seq, got
            )
            row = (
                doc_id, seq, name, kind, user, float(time),
                json.dumps(h.authors(got.changes)), sum(len(e.update) for e in got.changes),
                state_size, blob, base_id, depth, json.dumps(extra) if extra else None,
            )  # fmt: skip
            try:
                return await self._write_tx(self._insert_version, got, row)
            except _Stale:
                continue  # a version or a snapshot came in between: read again
        raise StoreError(f"document {doc_id!r} kept changing under a new version; try again")

    @classmethod
    def _version_inputs(cls, db: sqlite3.Connection, doc_id: str, seq: int) -> _VersionInputs:
        """What a version at ``seq`` is made of, read in one transaction (reader thread)."""
        last, _ = cls._doc(db, doc_id)
        check_version_seq(seq, last)
        created = db.execute(
            "SELECT created FROM collab_docs WHERE doc_id = ?", (doc_id,)
        ).fetchone()[0]
        prev = cls._prev_version(db, doc_id, seq)
        chain: list[bytes] = []
        if prev is not None:
            next_id: int | None = prev[0]
            while next_id is not None:
                blob, next_id = db.execute(
                    "SELECT state, base_id FROM collab_versions WHERE id = ?", (next_id,)
                ).fetchone()
                chain.append(bytes(blob))
        since = prev[1] if prev else 0
        snap = db.execute(
            "SELECT upto_seq, state FROM collab_snapshots WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        snapshot = (snap[0], bytes(snap[1])) if snap and since < snap[0] <= seq else None
        # (the changes since the previous version hold the entries after any newer basis)
        changes = cls._entries(db, doc_id, since, seq)
        return _VersionInputs(created, prev, chain[::-1], snapshot, changes)

    @staticmethod
    def _prev_version(db: sqlite3.Connection, doc_id: str, seq: int) -> tuple[int, int, int] | None:
        row = db.execute(
            "SELECT id, seq, depth FROM collab_versions WHERE doc_id = ? AND seq <= ? "
            "ORDER BY seq DESC, id DESC LIMIT 1",
            (doc_id, seq),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    @staticmethod
    def _encode_version(
        doc_id: str, seq: int, got: _VersionInputs
    ) -> tuple[int, bytes, int | None, int]:
        """(state size, blob, base id, depth) of the version (on a worker thread)."""
        prev = got.prev
        prev_state = h.decode_version(got.chain) if prev else None
        basis_seq, basis = (prev[1], prev_state) if prev else (0, None)
        if got.snapshot is not None:
            basis_seq, basis = got.snapshot[0], h.decompress(got.snapshot[1])
        entries = [e for e in got.changes if e.seq > basis_seq]
        state = h.state_at(doc_id, seq, basis, basis_seq, entries)
        blob, base_id, depth = h.encode_version(
            state, (prev[0], prev_state, prev[2]) if prev and prev_state else None
        )
        return len(state), blob, base_id, depth

    @classmethod
    def _insert_version(
        cls, db: sqlite3.Connection, got: _VersionInputs, row: tuple[Any, ...]
    ) -> int:
        """Store a version computed from ``got``, unless what it was made of changed since."""
        doc_id, seq = row[0], row[1]
        current = db.execute(
            "SELECT created FROM collab_docs WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if current is None:
            raise UnknownDocument(doc_id)
        if current[0] != got.created or cls._prev_version(db, doc_id, seq) != got.prev:
            raise _Stale()  # purged and created again, or another version came in between
        cursor = db.execute(
            "INSERT INTO collab_versions (doc_id, seq, name, kind, user, time, authors, "
            "change_bytes, state_size, state, base_id, depth, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


    _VERSION_COLUMNS = (
        "id, doc_id, seq, name, kind, user, time, authors, change_bytes, state_size, details"
    )

    @staticmethod
    def _version_state(db: sqlite3.Connection, version_id: int) -> bytes:
        """The full state of a version: its chain of blobs back to a full one, merged."""
        blobs = []
        next_id: int | None = version_id
        while next_id is not None:
            blob, next_id = db.execute(
                "SELECT state, base_id FROM collab_versions WHERE id = ?", (next_id,)
            ).fetchone()
            blobs.append(bytes(blob))
        return h.decode_version(blobs[::-1])

    @staticmethod
    def _version_info(row: Sequence[Any]) -> VersionInfo:
        details = json.loads(row[10]) if row[10] else {}
        return VersionInfo(*row[:7], tuple(json.loads(row[7])), row[8], row[9], details)

    async def list_versions(
        self, doc_id: str, limit: int = 50, before: int | None = None
    ) -> list[VersionInfo]:
        check_limit(limit)
        if before is not None:
            check_version_id(before)

        def run(db: sqlite3.Connection) -> list[VersionInfo]:
            self._doc(db, doc_id)
            rows = db.execute(
                f"SELECT {self._VERSION_COLUMNS} FROM collab_versions "
                "WHERE doc_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (doc_id, before if before is not None else 2**62, limit),
            ).fetchall()
            return [self._version_info(row) for row in rows]

        return await self._read_tx(run)

    async def get_version(self, doc_id: str, version_id: int) -> Version:
        check_version_id(version_id)

        def run(db: sqlite3.Connection) -> Version:
            self._doc(db, doc_id)
            row = db.execute(
                f"SELECT {self._VERSION_COLUMNS} FROM collab_versions WHERE id = ?",
                (version_id,),
            ).fetchone()
            if row is None:
                raise UnknownVersion(doc_id, version_id)
            if row[1] != doc_id:
                raise ForeignVersion(doc_id, version_id)
            info = self._version_info(row)
            return Version(**vars(info), state=self._version_state(db, version_id))

        return await self._read_tx(run)

    # -- audit --------------------------------------------------------------------------------

    async def audit(self, event: AuditEvent) -> int:
        event = check_audit_event(event)

        def run(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO collab_audit (time, action, doc_id, user, details) "
                "VALUES (?, ?, ?, ?, ?)",
                (event.time, event.action, event.doc_id, event.user, json.dumps(event.details)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return await self._write_tx(run)

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
        check_limit(limit)
        end = h.decode_cursor(cursor)
        action = getattr(action, "value", action)
        where, args = [], []
        for clause, value in (
            ("doc_id = ?", doc_id),
            ("user = ?", user),
            ("action = ?", action),
            ("time >= ?", None if since is None else check_time(since, "since")),
            ("time < ?", None if until is None else check_time(until, "until")),
            ("id < ?", end),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT id, time, action, doc_id, user, details FROM collab_audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"

        def run(db: sqlite3.Connection) -> list[AuditEvent]:
            rows = db.execute(sql, (*args, limit + 1)).fetchall()
            return [
                AuditEvent(action, time, doc, who, json.loads(details), event_id)
                for event_id, time, action, doc, who, details in rows
            ]

        events = await self._read_tx(run)
        if len(events) > limit:
            events = events[:limit]
            return events, h.encode_cursor(events[-1].id or 0)
        return events, None

    # -- lifecycle ----------------------------------------------------------------------------

    async def mark_deleted(self, doc_id: str, time: float) -> None:
        at = check_time(time)

        def run(db: sqlite3.Connection) -> None:
            self._doc(db, doc_id)
            db.execute("UPDATE collab_docs SET deleted_at = ? WHERE doc_id = ?", (at, doc_id))

        await self._write_tx(run)

    async def undelete(self, doc_id: str) -> None:
        def run(db: sqlite3.Connection) -> None:
            self._doc(db, doc_id)
            db.execute("UPDATE collab_docs SET deleted_at = NULL WHERE doc_id = ?", (doc_id,))

        await self._write_tx(run)

    async def deleted_at(self, doc_id: str) -> float | None:
        return (await self._read_tx(lambda db: self._doc(db, doc_id)))[1]

    async def purge_deleted(self, older_than: float) -> list[str]:
        limit = check_time(older_than, "older_than")

        def run(db: sqlite3.Connection) -> list[str]:
            gone = [
                row[0]
                for row in db.execute(
                    "SELECT doc_id FROM collab_docs WHERE deleted_at IS NOT NULL "
                    "AND deleted_at <= ? ORDER BY doc_id",
                    (limit,),
                )
            ]
            for doc_id in gone:
                for table in (
                    "collab_updates",
                    "collab_snapshots",
                    "collab_versions",
                    "collab_refused",
                    "collab_docs",
                ):
                    db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
            return gone

        return await self._write_tx(run)

    async def refused_deletions(self, doc_id: str) -> dict[str, str]:
        check_doc_id(doc_id)

        def run(db: sqlite3.Connection) -> dict[str, str]:
            rows = db.execute(
                "SELECT user, ranges FROM collab_refused WHERE doc_id = ?", (doc_id,)
            ).fetchall()
            return dict(rows)

        return await self._read_tx(run)

    async def remember_refused(self, doc_id: str, user: str, ranges: str) -> None:
        doc_id, user, ranges = check_refused(doc_id, user, ranges)

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO collab_refused (doc_id, user, ranges) VALUES (?, ?, ?)",
                (doc_id, user, ranges),
            )

        await self._write_tx(run)

    async def size_bytes(self, doc_id: str | None = None) -> int:
        def run(db: sqlite3.Connection) -> int:
            where, args = "", ()
            if doc_id is not None:
                self._doc(db, doc_id)
                where, args = " WHERE doc_id = ?", (doc_id,)
            total = 0
            for table, column in (
                ("collab_updates", "data"),
                ("collab_snapshots", "state"),
                ("collab_versions", "state"),
            ):
                total += db.execute(
                    f"SELECT COALESCE(SUM(LENGTH({column})), 0) FROM {table}{where}", args
                ).fetchone()[0]
            return total

        return await self._read_tx(run)

    async def file_bytes(self) -> int:
        """Bytes on disk: the database file and its WAL (every table in the shared file)."""
        await self._ready()
        return await self.db.file_bytes()

    async def vacuum(self) -> None:
        """Give the pages freed by compaction and purges back to the file system."""

        def run(db: sqlite3.Connection) -> None:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        await self._ready()
        await self.db.run(run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True  # new calls are refused; appends already queued still commit
        while self._committer is not None:
            await asyncio.shield(self._committer)
        await self.db.release()
