"""The shared store: document history in PostgreSQL, for several servers serving one folder.

Several Jupyter servers share one database and append updates of the same documents at the same
time; the store keeps the contract of every :class:`~.store.DocumentStore` across them.

**Seq allocation.** ``collab_docs.last_seq`` is each document's counter. An append reserves its
seqs with one upsert of the document's row::

    INSERT INTO collab_docs ... VALUES (doc, n, ...)
    ON CONFLICT (doc_id) DO UPDATE SET last_seq = collab_docs.last_seq + n
    WHERE collab_docs.deleted_at IS NULL RETURNING last_seq

The upsert takes the row's lock and holds it until the transaction ends, and inserts the
updates with seqs ``last_seq - n + 1 .. last_seq`` in the same transaction. Why that is
correct, whatever number of processes append: every transaction that reserves seqs of a
document updates its row, so they are serialized by the row lock (``ON CONFLICT DO UPDATE``
waits for the holder, then updates the row's latest committed version even if its own snapshot
is older: it reads the holder's new counter, or the old one if the holder rolled back; two
processes creating a brand-new document meet on the unique index and are ordered the same
way). Each one therefore takes the ``n`` seqs right
after the counter it read, the counter moves by exactly the number of rows inserted, and the
counter and the rows commit or roll back together: no seq is given twice (the primary key
``(doc_id, seq)`` would refuse it anyway) and none is skipped. A deleted document's row is
left as it is and nothing is returned: :class:`~.errors.DocumentDeleted`. (A PostgreSQL
sequence would not do: ``nextval`` is not transactional, so a rolled-back append leaves a gap.)

**Group commit.** As in the SQLite store, appends arriving while a commit is in flight are
committed together in the next transaction, in the order they were made; one statement
reserves the seqs of every document of the batch (rows locked in sorted order, so two
processes' batches never deadlock on each other) and inserts every update. A batch costs two
round trips (``BEGIN``, the transaction id and the statement; then ``COMMIT``), whatever its
size. Every ``append_many`` is all or nothing; requests for a deleted document fail alone.

**Everything else** follows the SQLite store: one snapshot per document, trimming only a prefix
older than the retention; versions as full or delta states (:mod:`.history`), computed from a
consistent read with no connection held while they are merged (off the event loop); audit ids
that become visible in id order (their inserts are serialized by an advisory lock), so audit
pages are stable across servers; deleted marks, purges that lock one document at a time.

The price of gapless seqs: appends to ONE document from several servers take its row lock in
turn, each holding it through its commit (one fsync of the server); appends from one server are
batched, so a busy document costs one commit per server per batch, not one per update.

**Outages** are handled by :class:`~.pgdatabase.PostgresDatabase`: retried within ``timeout``,
then :class:`~.errors.StoreUnavailable`; an append whose commit was cut off is resolved by its
transaction id (or, after a server crash, by the rows at its seqs), so it lands exactly once or
raises.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import history as h
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
from .pgdatabase import Jsonb, PostgresDatabase, Reader, Transaction
from .pgschema import COMPONENT
from .store import DEFAULT_RETENTION, DocumentStore, resolve_now

MAX_SEQ = 2**62
# Blobs this large are (de)compressed on a worker thread; smaller ones cost less than the hop.
THREAD_BYTES = 64 * 1024
# pg_advisory_xact_lock key serializing audit inserts: "jcaudit" in ASCII.
AUDIT_LOCK = int.from_bytes(b"jcaudit", "big")

_ENTRY_COLUMNS = "seq, data, origin, user_name, time, credits, provenance"
_VERSION_COLUMNS = (
    "id, doc_id, seq, name, kind, user_name, time, authors, change_bytes, state_size, details"
)

# Reserve the seqs of every document of a batch and insert its updates, in one statement.
# Documents come sorted, so their rows are locked in one order by every process.
_APPEND = """
WITH alloc AS (
    INSERT INTO collab_docs AS d (doc_id, last_seq, created)
    SELECT * FROM unnest(%(docs)s::text[], %(counts)s::bigint[], %(created)s::float8[])
    ON CONFLICT (doc_id) DO UPDATE SET last_seq = d.last_seq + EXCLUDED.last_seq
    WHERE d.deleted_at IS NULL
    RETURNING d.doc_id, d.last_seq
), added AS (
    INSERT INTO collab_updates (doc_id, seq, origin, user_name, time, data, credits, provenance)
    SELECT u.doc_id, a.last_seq - u.total + u.k, u.origin, u.user_name, u.time, u.data,
           u.credits::jsonb, u.provenance
    FROM unnest(
        %(u_docs)s::text[], %(u_k)s::bigint[], %(u_total)s::bigint[], %(u_origins)s::text[],
        %(u_users)s::text[], %(u_times)s::float8[], %(u_data)s::bytea[],
        %(u_credits)s::text[], %(u_provenance)s::bytea[]
    ) AS u(doc_id, k, total, origin, user_name, time, data, credits, provenance)
    JOIN alloc a ON a.doc_id = u.doc_id
)
SELECT doc_id, last_seq FROM alloc
"""

_UPSERT_SNAPSHOT = """
INSERT INTO collab_snapshots (doc_id, upto_seq, time, state, note) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (doc_id) DO UPDATE
SET upto_seq = EXCLUDED.upto_seq, time = EXCLUDED.time, state = EXCLUDED.state,
    note = EXCLUDED.note
"""

# Trim the longest prefix of seqs <= upto whose entries are all older than the cutoff (so the
# retained log stays contiguous); returns how many entries went.
_TRIM = """
WITH gone AS (
    DELETE FROM collab_updates
    WHERE doc_id = %(doc)s AND seq <= %(upto)s::bigint AND seq < COALESCE(
        (SELECT MIN(seq) FROM collab_updates
         WHERE doc_id = %(doc)s AND seq <= %(upto)s::bigint AND time >= %(cutoff)s::float8),
        %(upto)s::bigint + 1)
    RETURNING 1
)
SELECT count(*) FROM gone
"""

# A version's stored blobs, from the full state it builds on to itself.
_CHAIN = """
WITH RECURSIVE chain(id, base_id, state, n) AS (
    SELECT id, base_id, state, 0 FROM collab_versions WHERE id = %s
    UNION ALL
    SELECT v.id, v.base_id, v.state, c.n + 1
    FROM collab_versions v JOIN chain c ON v.id = c.base_id
)
SELECT state FROM chain ORDER BY n DESC
"""


@dataclass
class _Request:
    doc_id: str
    entries: list[NewUpdate]
    reset: bool
    future: asyncio.Future[list[int]]
    offset: int = 0  # position of its first entry among its document's entries in the batch
    snapshot: bytes | None = None  # a reset's compressed state


class _Stale(Exception):
    """What a version was computed from changed before it could be stored: compute it again."""


async def _blob_op(fn: Any, data: bytes) -> bytes:
    if len(data) < THREAD_BYTES:
        return fn(data)
    return await asyncio.to_thread(fn, data)


def _entry(row: Sequence[Any]) -> LogEntry:
    seq, data, origin, user, time, credits, provenance = row
    return LogEntry(
        seq, bytes(data), origin, user, time,
        None if credits is None else tuple(credits),
        None if provenance is None else bytes(provenance),
    )  # fmt: skip


def _version_info(row: Sequence[Any]) -> VersionInfo:
    return VersionInfo(*row[:7], tuple(row[7]), row[8], row[9], dict(row[10] or {}))


async def _value(value: Any) -> Any:
    return value


async def _rowcount(cur: Any) -> int:
    return int(cur.rowcount)


async def _fetch_doc(cur: Any, doc_id: str) -> tuple[Any, ...]:
    row = await cur.fetchone()
    if row is None:
        raise UnknownDocument(doc_id)
    return tuple(row)


class PostgresStore(DocumentStore):
    """History in a PostgreSQL database shared by several servers.

    ``database`` is a URL (``postgresql://user:password@host:5432/dbname``; the store then owns
    its connection pool, created with ``options``: ``timeout``, ``min_size``, ``max_size``) or a
    :class:`~.pgdatabase.PostgresDatabase` shared with other components of the process.
    """

    def __init__(
        self,
        database: str | PostgresDatabase,
        *,
        retention: float = DEFAULT_RETENTION,
        **options: Any,
    ) -> None:
        self.retention = check_retention(retention)
        if isinstance(database, PostgresDatabase):
            if options:
                raise ValueError("pool options apply to a URL, not to an open database")
            self.db = database.retain()
        else:
            self.db = PostgresDatabase(database, **options)
        self._pending: list[_Request] = []
        self._committer: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, database: str | PostgresDatabase, **kwargs: Any) -> PostgresStore:
        """Create a store and wait until its schema is ready (errors surface here)."""
        store = cls(database, **kwargs)
        try:
            await store._ready()
        except BaseException:
            await store.close()
            raise
        return store

    async def _ready(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed")
        await self.db.ready(COMPONENT)

    # -- update log ---------------------------------------------------------------------------

    async def append_many(self, doc_id: str, entries: Sequence[NewUpdate]) -> list[int]:
        return await self._enqueue(doc_id, entries, reset=False)

    async def reset(self, doc_id: str, entry: NewUpdate) -> int:
        """Append ``entry`` (a whole document) as the document's new start, in one transaction
        with a snapshot at its seq, so loading gives this document alone from now on; older
        entries and versions stay readable until compaction trims them per the retention."""
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
        self._pending.append(_Request(doc_id, checked, reset, future))
        if self._committer is None:
            self._committer = loop.create_task(self._commit_pending())
        # shield: a cancelled caller does not cancel the commit of other callers' updates
        # (its own update may still become durable, as it would with any database).
        return await asyncio.shield(future)

    async def _commit_pending(self) -> None:
        """Commit what is pending, then what arrived meanwhile, until nothing is left."""
        batch: list[_Request] = []
        try:
            await self.db.ready(COMPONENT)  # (not _ready: a closing store commits what it took)
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._commit_batch(batch)
                except Exception as error:  # the whole transaction failed
                    results = [error] * len(batch)
                for request, result in zip(batch, results, strict=True):
                    if request.future.done():
                        continue
                    if isinstance(result, BaseException):
                        request.future.set_exception(result)
                    else:
                        request.future.set_result(result)
                batch = []
        except asyncio.CancelledError:
            # The event loop is going away mid-commit: whether the batch is durable is unknown.
            self._fail(batch, StoreError("interrupted: these updates may not be durable"))
            raise
        except Exception as error:  # the database could not be opened
            self._fail(batch, error)
        finally:
            self._committer = None

    def _fail(self, batch: list[_Request], error: Exception) -> None:
        waiting, self._pending = batch + self._pending, []
        for request in waiting:
            if not request.future.done():
                request.future.set_exception(error)

    async def _commit_batch(self, batch: list[_Request]) -> list[list[int] | BaseException]:
        by_doc: dict[str, list[_Request]] = {}
        for request in batch:
            by_doc.setdefault(request.doc_id, []).append(request)
        docs = sorted(by_doc)  # one lock order for every process
        counts, created = [], []
        u_docs: list[str] = []
        u_k: list[int] = []
        u_total: list[int] = []
        u_origins: list[str] = []
        u_users: list[str | None] = []
        u_times: list[float] = []
        u_data: list[bytes] = []
        u_credits: list[str | None] = []
        u_provenance: list[bytes | None] = []
        for doc_id in docs:
            requests = by_doc[doc_id]
            total = sum(len(r.entries) for r in requests)
            counts.append(total)
            created.append(requests[0].entries[0].time)
            k = 0
            for request in requests:
                request.offset = k
                for entry in request.entries:
                    k += 1
                    u_docs.append(doc_id)
                    u_k.append(k)
                    u_total.append(total)
                    u_origins.append(entry.origin)
                    u_users.append(entry.user)
                    u_times.append(entry.time)
                    u_data.append(entry.update)
                    u_credits.append(None if entry.credits is None else json.dumps(entry.credits))
                    u_provenance.append(entry.provenance)
        total_of = dict(zip(docs, counts, strict=True))
        resets = [r for r in batch if r.reset]
        for request in resets:  # compressed before a connection is taken
            request.snapshot = await _blob_op(h.compress, request.entries[0].update)
        params = {
            "docs": docs, "counts": counts, "created": created, "u_docs": u_docs, "u_k": u_k,
            "u_total": u_total, "u_origins": u_origins, "u_users": u_users, "u_times": u_times,
            "u_data": u_data, "u_credits": u_credits, "u_provenance": u_provenance,
        }  # fmt: skip
        retention = self.retention

        async def run(tx: Transaction) -> Reader[dict[str, int]]:
            cur = await tx.execute(_APPEND, params)
            allocated: dict[str, int] | None = None
            if resets:
                await tx.sync()  # their seqs are needed to write their snapshots
                allocated = {doc_id: last for doc_id, last in await cur.fetchall()}
                for request in resets:
                    last = allocated.get(request.doc_id)
                    if last is None:
                        continue  # deleted: the request fails below
                    seq = last - total_of[request.doc_id] + request.offset + 1
                    if seq > 1:  # (without an older log there is nothing to hide)
                        entry = request.entries[0]
                        await tx.execute(
                            _UPSERT_SNAPSHOT,
                            (request.doc_id, seq, entry.time, request.snapshot, None),
                        )
                        await tx.execute(_TRIM, {
                            "doc": request.doc_id, "upto": seq, "cutoff": entry.time - retention,
                        })  # fmt: skip

            async def reader() -> dict[str, int]:
                if allocated is not None:
                    return allocated
                return {doc_id: last for doc_id, last in await cur.fetchall()}

            return reader

        async def verify(conn: Any, allocated: dict[str, int], xmin: int) -> bool:
            """Whether the batch's first stored update is there, written by its transaction."""
            if not allocated:
                return False
            doc_id = next(d for d in docs if d in allocated)
            seq = allocated[doc_id] - total_of[doc_id] + 1
            cur = await conn.execute(
                "SELECT 1 FROM collab_updates WHERE doc_id = %s AND seq = %s "
                "AND xmin::text = %s AND data = %s",
                (doc_id, seq, str(xmin), u_data[u_docs.index(doc_id)]),
            )
            return await cur.fetchone() is not None

        allocated = await self.db.write(run, verify=verify)
        results: list[list[int] | BaseException] = []
        for request in batch:
            last = allocated.get(request.doc_id)
            if last is None:
                results.append(DocumentDeleted(request.doc_id))
                continue
            first = last - total_of[request.doc_id] + request.offset + 1
            results.append(list(range(first, first + len(request.entries))))
        return results

    async def last_seq(self, doc_id: str) -> int:
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[int]:
            cur = await tx.execute("SELECT last_seq FROM collab_docs WHERE doc_id = %s", (doc_id,))

            async def reader() -> int:
                row = await cur.fetchone()
                return row[0] if row else 0

            return reader

        return await self.db.read(run)

    async def read(self, doc_id: str, after_seq: int = 0) -> list[LogEntry]:
        check_seq(after_seq, "after_seq")
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[list[LogEntry]]:
            doc = await tx.execute("SELECT last_seq FROM collab_docs WHERE doc_id = %s", (doc_id,))
            first = await tx.execute(
                "SELECT MIN(seq) FROM collab_updates WHERE doc_id = %s", (doc_id,)
            )
            rows = await tx.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM collab_updates "
                "WHERE doc_id = %s AND seq > %s ORDER BY seq",
                (doc_id, after_seq), binary=True,
            )  # fmt: skip

            async def reader() -> list[LogEntry]:
                (last,) = await _fetch_doc(doc, doc_id)
                (start,) = await first.fetchone() or (None,)
                start = start if start is not None else last + 1
                if 0 < after_seq < start - 1:
                    raise HistoryCompacted(
                        f"the log of document {doc_id!r} after seq {after_seq} was compacted"
                    )
                return [_entry(row) for row in await rows.fetchall()]

            return reader

        return await self.db.read(run, snapshot=True)

    async def snapshot(self, doc_id: str) -> Snapshot | None:
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[tuple[Any, ...] | None]:
            doc = await tx.execute("SELECT 1 FROM collab_docs WHERE doc_id = %s", (doc_id,))
            snap = await tx.execute(
                "SELECT state, upto_seq, time, note FROM collab_snapshots WHERE doc_id = %s",
                (doc_id,), binary=True,
            )  # fmt: skip

            async def reader() -> tuple[Any, ...] | None:
                await _fetch_doc(doc, doc_id)
                row = await snap.fetchone()
                return tuple(row) if row else None

            return reader

        return await self._snapshot(await self.db.read(run))

    @staticmethod
    async def _snapshot(row: tuple[Any, ...] | None) -> Snapshot | None:
        if row is None:
            return None
        state, upto, time, note = row
        return Snapshot(
            await _blob_op(h.decompress, bytes(state)), upto, time,
            None if note is None else bytes(note),
        )  # fmt: skip

    async def history(self, doc_id: str) -> tuple[Snapshot | None, list[LogEntry]]:
        check_doc_id(doc_id)
        await self._ready()

        async def run(
            tx: Transaction,
        ) -> Reader[tuple[tuple[Any, ...] | None, list[LogEntry]]]:
            doc = await tx.execute("SELECT 1 FROM collab_docs WHERE doc_id = %s", (doc_id,))
            snap = await tx.execute(
                "SELECT state, upto_seq, time, note FROM collab_snapshots WHERE doc_id = %s",
                (doc_id,), binary=True,
            )  # fmt: skip
            rows = await tx.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM collab_updates WHERE doc_id = %s AND seq > "
                "COALESCE((SELECT upto_seq FROM collab_snapshots WHERE doc_id = %s), 0) "
                "ORDER BY seq",
                (doc_id, doc_id), binary=True,
            )  # fmt: skip

            async def reader() -> tuple[tuple[Any, ...] | None, list[LogEntry]]:
                await _fetch_doc(doc, doc_id)
                row = await snap.fetchone()
                return (tuple(row) if row else None), [_entry(r) for r in await rows.fetchall()]

            return reader

        row, entries = await self.db.read(run, snapshot=True)
        return await self._snapshot(row), entries

    async def write_snapshot(
        self,
        doc_id: str,
        state: bytes,
        upto_seq: int,
        *,
        now: float | None = None,
        note: bytes | None = None,
    ) -> int:
        check_doc_id(doc_id)
        at = resolve_now(now)
        cutoff = at - self.retention
        blob = None
        if isinstance(state, (bytes, bytearray, memoryview)) and state:
            blob = await _blob_op(h.compress, bytes(state))  # before a connection is taken
        await self._ready()

        async def run(tx: Transaction) -> Reader[int]:
            # The document's row lock orders this with appends and other snapshot writers
            # (another server compacting the same document): a snapshot never goes back.
            doc = await tx.execute(
                "SELECT last_seq FROM collab_docs WHERE doc_id = %s FOR NO KEY UPDATE",
                (doc_id,),
            )
            snap = await tx.execute(
                "SELECT upto_seq FROM collab_snapshots WHERE doc_id = %s", (doc_id,)
            )
            await tx.sync()
            (last,) = await _fetch_doc(doc, doc_id)
            current = await snap.fetchone()
            check_snapshot_args(doc_id, state, upto_seq, last, current[0] if current else 0)
            await tx.execute(_UPSERT_SNAPSHOT, (doc_id, upto_seq, at, blob, note))
            trimmed = await tx.execute(_TRIM, {"doc": doc_id, "upto": upto_seq, "cutoff": cutoff})

            async def reader() -> int:
                row = await trimmed.fetchone()
                assert row is not None
                return int(row[0])

            return reader

        return await self.db.write(run)

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
        await self._ready()
        for _ in range(5):
            try:
                return await self._add_version(doc_id, seq, name, kind, user, float(time), extra)
            except _Stale:
                continue
        raise StoreError(f"document {doc_id!r} kept changing under a new version; try again")

    async def _add_version(
        self,
        doc_id: str,
        seq: int,
        name: str | None,
        kind: str,
        user: str | None,
        time: float,
        details: dict[str, Any],
    ) -> int:
        # 1. Read what the version is made of, in one snapshot, then let the connection go.
        async def read(tx: Transaction) -> Reader[dict[str, Any]]:
            doc = await tx.execute(
                "SELECT last_seq, created FROM collab_docs WHERE doc_id = %s", (doc_id,)
            )
            snap_seq = await tx.execute(
                "SELECT upto_seq FROM collab_snapshots WHERE doc_id = %s", (doc_id,)
            )
            prev_cur = await tx.execute(
                "SELECT id, seq, depth FROM collab_versions WHERE doc_id = %s AND seq <= %s "
                "ORDER BY seq DESC, id DESC LIMIT 1",
                (doc_id, check_seq(seq)),
            )
            await tx.sync()
            last, created = await _fetch_doc(doc, doc_id)
            check_version_seq(seq, last)
            prev = await prev_cur.fetchone()
            upto = await snap_seq.fetchone()
            since = prev[1] if prev else 0
            chain = await tx.execute(_CHAIN, (prev[0],), binary=True) if prev else None
            state = (
                await tx.execute(
                    "SELECT state FROM collab_snapshots WHERE doc_id = %s", (doc_id,),
                    binary=True,
                )
                if upto is not None and since < upto[0] <= seq
                else None
            )  # fmt: skip
            entries = await tx.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM collab_updates "
                "WHERE doc_id = %s AND seq > %s AND seq <= %s ORDER BY seq",
                (doc_id, since, seq), binary=True,
            )  # fmt: skip

            async def reader() -> dict[str, Any]:
                snapshot_row = await state.fetchone() if state else None
                return {
                    "created": created,
                    "prev": tuple(prev) if prev else None,
                    "chain": [bytes(r[0]) for r in await chain.fetchall()] if chain else [],
                    "snapshot": (upto[0], bytes(snapshot_row[0])) if snapshot_row else None,
                    "changes": [_entry(r) for r in await entries.fetchall()],
                }

            return reader

        got = await self.db.read(read, snapshot=True)
        prev, changes = got["prev"], got["changes"]

        # 2. Merge and encode on a worker thread, holding no connection.
        def compute() -> tuple[int, bytes, int | None, int]:
            prev_state = h.decode_version(got["chain"]) if prev else None
            basis_seq, basis = (prev[1], prev_state) if prev else (0, None)
            if got["snapshot"] is not None:
                basis_seq, basis = got["snapshot"][0], h.decompress(got["snapshot"][1])
            entries = [e for e in changes if e.seq > basis_seq]
            state = h.state_at(doc_id, seq, basis, basis_seq, entries)
            blob, base_id, depth = h.encode_version(
                state, (prev[0], prev_state, prev[2]) if prev and prev_state else None
            )
            return len(state), blob, base_id, depth

        state_size, blob, base_id, depth = await asyncio.to_thread(compute)
        values = (
            doc_id, seq, name, kind, user, time, Jsonb(list(h.authors(changes))),
            sum(len(e.update) for e in changes), state_size, blob, base_id, depth,
            Jsonb(details) if details else None,
        )  # fmt: skip

        # 3. Store it, if the document and the version it builds on are still there.
        async def write(tx: Transaction) -> Reader[int]:
            doc = await tx.execute(
                "SELECT created FROM collab_docs WHERE doc_id = %s FOR NO KEY UPDATE", (doc_id,)
            )
            base = (
                await tx.execute("SELECT 1 FROM collab_versions WHERE id = %s", (base_id,))
                if base_id is not None
                else None
            )
            await tx.sync()
            (created,) = await _fetch_doc(doc, doc_id)
            if created != got["created"] or (base is not None and not await base.fetchone()):
                raise _Stale()  # purged (and perhaps created again) meanwhile
            cur = await tx.execute(
                "INSERT INTO collab_versions (doc_id, seq, name, kind, user_name, time, authors,"
                " change_bytes, state_size, state, base_id, depth, details) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values,
            )

            async def reader() -> int:
                row = await cur.fetchone()
                assert row is not None
                return int(row[0])

            return reader

        return await self.db.write(write)

    async def list_versions(
        self, doc_id: str, limit: int = 50, before: int | None = None
    ) -> list[VersionInfo]:
        check_limit(limit)
        if before is not None:
            check_version_id(before)
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[list[VersionInfo]]:
            doc = await tx.execute("SELECT 1 FROM collab_docs WHERE doc_id = %s", (doc_id,))
            rows = await tx.execute(
                f"SELECT {_VERSION_COLUMNS} FROM collab_versions "
                "WHERE doc_id = %s AND id < %s ORDER BY id DESC LIMIT %s",
                (doc_id, before if before is not None else MAX_SEQ, limit),
            )

            async def reader() -> list[VersionInfo]:
                await _fetch_doc(doc, doc_id)
                return [_version_info(row) for row in await rows.fetchall()]

            return reader

        return await self.db.read(run)

    async def get_version(self, doc_id: str, version_id: int) -> Version:
        check_version_id(version_id)
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[tuple[VersionInfo, list[bytes]]]:
            doc = await tx.execute("SELECT 1 FROM collab_docs WHERE doc_id = %s", (doc_id,))
            info = await tx.execute(
                f"SELECT {_VERSION_COLUMNS} FROM collab_versions WHERE id = %s", (version_id,)
            )
            chain = await tx.execute(_CHAIN, (version_id,), binary=True)

            async def reader() -> tuple[VersionInfo, list[bytes]]:
                await _fetch_doc(doc, doc_id)
                row = await info.fetchone()
                if row is None:
                    raise UnknownVersion(doc_id, version_id)
                if row[1] != doc_id:
                    raise ForeignVersion(doc_id, version_id)
                return _version_info(row), [bytes(r[0]) for r in await chain.fetchall()]

            return reader

        # (versions never change: a snapshot is not needed to read one with its chain)
        info, chain = await self.db.read(run, snapshot=True)
        if sum(map(len, chain)) < THREAD_BYTES:
            state = h.decode_version(chain)
        else:
            state = await asyncio.to_thread(h.decode_version, chain)
        return Version(**vars(info), state=state)

    # -- audit --------------------------------------------------------------------------------

    async def audit(self, event: AuditEvent) -> int:
        event = check_audit_event(event)
        await self._ready()

        async def run(tx: Transaction) -> Reader[int]:
            # Ids are drawn and committed one transaction at a time, so a reader never sees an
            # id before a smaller one that is still to commit (stable paging across servers).
            await tx.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            cur = await tx.execute(
                "INSERT INTO collab_audit (time, action, doc_id, user_name, details) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (event.time, event.action, event.doc_id, event.user, Jsonb(event.details)),
            )

            async def reader() -> int:
                row = await cur.fetchone()
                assert row is not None
                return int(row[0])

            return reader

        return await self.db.write(run)

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
        where: list[str] = []
        args: list[Any] = []
        for clause, value in (
            ("doc_id = %s", doc_id),
            ("user_name = %s", user),
            ("action = %s", action),
            ("time >= %s", None if since is None else check_time(since, "since")),
            ("time < %s", None if until is None else check_time(until, "until")),
            ("id < %s", end),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT id, time, action, doc_id, user_name, details FROM collab_audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT %s"
        await self._ready()

        async def run(tx: Transaction) -> Reader[list[AuditEvent]]:
            cur = await tx.execute(sql, (*args, limit + 1))

            async def reader() -> list[AuditEvent]:
                return [
                    AuditEvent(action, time, doc, who, details, event_id)
                    for event_id, time, action, doc, who, details in await cur.fetchall()
                ]

            return reader

        events = await self.db.read(run)
        if len(events) > limit:
            events = events[:limit]
            return events, h.encode_cursor(events[-1].id or 0)
        return events, None

    # -- lifecycle ----------------------------------------------------------------------------

    async def _set_deleted(self, doc_id: str, at: float | None) -> None:
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[int]:
            cur = await tx.execute(
                "UPDATE collab_docs SET deleted_at = %s WHERE doc_id = %s", (at, doc_id)
            )
            return lambda: _rowcount(cur)

        if not await self.db.autocommit(run):  # (setting a value: safe to run twice)
            raise UnknownDocument(doc_id)

    async def mark_deleted(self, doc_id: str, time: float) -> None:
        await self._set_deleted(doc_id, check_time(time))

    async def undelete(self, doc_id: str) -> None:
        await self._set_deleted(doc_id, None)

    async def deleted_at(self, doc_id: str) -> float | None:
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[float | None]:
            cur = await tx.execute(
                "SELECT deleted_at FROM collab_docs WHERE doc_id = %s", (doc_id,)
            )

            async def reader() -> float | None:
                (at,) = await _fetch_doc(cur, doc_id)
                return at

            return reader

        return await self.db.read(run)

    async def purge_deleted(self, older_than: float) -> list[str]:
        limit = check_time(older_than, "older_than")
        await self._ready()

        async def candidates(tx: Transaction) -> Reader[list[str]]:
            cur = await tx.execute(
                "SELECT doc_id FROM collab_docs WHERE deleted_at IS NOT NULL "
                "AND deleted_at <= %s",
                (limit,),
            )

            async def reader() -> list[str]:
                return [row[0] for row in await cur.fetchall()]

            return reader

        gone = []
        # One transaction and one row lock per document: purging never holds two documents'
        # locks, so it cannot deadlock with appends locking several.
        for doc_id in sorted(await self.db.read(candidates)):

            async def purge(tx: Transaction, doc_id: str = doc_id) -> Reader[bool]:
                cur = await tx.execute(
                    "SELECT deleted_at FROM collab_docs WHERE doc_id = %s FOR UPDATE", (doc_id,)
                )
                await tx.sync()
                row = await cur.fetchone()
                if row is None or row[0] is None or row[0] > limit:
                    return lambda: _value(False)  # purged, undeleted or deleted again meanwhile
                for table in (
                    "collab_updates", "collab_snapshots", "collab_versions", "collab_refused",
                    "collab_docs",
                ):  # fmt: skip
                    await tx.execute(f"DELETE FROM {table} WHERE doc_id = %s", (doc_id,))
                return lambda: _value(True)

            if await self.db.write(purge):
                gone.append(doc_id)
        return gone

    async def refused_deletions(self, doc_id: str) -> dict[str, str]:
        check_doc_id(doc_id)
        await self._ready()

        async def run(tx: Transaction) -> Reader[dict[str, str]]:
            cur = await tx.execute(
                "SELECT user_name, ranges FROM collab_refused WHERE doc_id = %s", (doc_id,)
            )

            async def reader() -> dict[str, str]:
                return {row[0]: row[1] for row in await cur.fetchall()}

            return reader

        return await self.db.read(run)

    async def remember_refused(self, doc_id: str, user: str, ranges: str) -> None:
        doc_id, user, ranges = check_refused(doc_id, user, ranges)
        await self._ready()

        async def run(tx: Transaction) -> Reader[None]:
            await tx.execute(
                "INSERT INTO collab_refused (doc_id, user_name, ranges) VALUES (%s, %s, %s) "
                "ON CONFLICT (doc_id, user_name) DO UPDATE SET ranges = EXCLUDED.ranges",
                (doc_id, user, ranges),
            )
            return lambda: _value(None)

        await self.db.write(run)  # (setting a value: safe to run twice)

    async def size_bytes(self, doc_id: str | None = None) -> int:
        if doc_id is not None:
            check_doc_id(doc_id)
        await self._ready()
        where = "" if doc_id is None else " WHERE doc_id = %(doc)s"
        sql = (
            f"SELECT (SELECT count(*) FROM collab_docs{where}), "
            f"(SELECT COALESCE(SUM(octet_length(data)), 0) FROM collab_updates{where}) + "
            f"(SELECT COALESCE(SUM(octet_length(state)), 0) FROM collab_snapshots{where}) + "
            f"(SELECT COALESCE(SUM(octet_length(state)), 0) FROM collab_versions{where})"
        )

        async def run(tx: Transaction) -> Reader[int]:
            cur = await tx.execute(sql, {"doc": doc_id} if doc_id is not None else None)

            async def reader() -> int:
                row = await cur.fetchone()
                assert row is not None
                if doc_id is not None and not row[0]:
                    raise UnknownDocument(doc_id)
                return int(row[1])

            return reader

        return await self.db.read(run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True  # new calls are refused; appends already queued still commit
        while self._committer is not None:
            await asyncio.shield(self._committer)
        await self.db.release()
