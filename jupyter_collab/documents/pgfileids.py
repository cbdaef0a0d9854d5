"""File ids and merge bases in PostgreSQL, shared by every server that serves one folder.

The same contract as :class:`~.fileids.SQLiteFileIds`, on the process's
:class:`~..persistence.pgdatabase.PostgresDatabase`: no SQL on the event loop (psycopg's
asyncio connections), a lost connection retried within the database's timeout, one migration
mechanism (the ``files`` component, the same name and version as the SQLite tables').

What several servers change here:

- **one id per file, whoever asks first.** Two servers opening a new file at once both insert
  its row; the unique ``(root, path)`` index lets one win (``ON CONFLICT DO NOTHING``) and the
  other reads the winner's id, so the file is one document everywhere.
- ``root`` names the served folder. Servers that serve one folder must give the same name (the
  app passes the folder's real path, or ``CollabApp.shared_root_name``), else they are
  different namespaces, as the SQLite registry keeps each root's files apart.
- renames, moves and deletes are single transactions: another server sees all of them or none.

While the database cannot be reached, a file opened for the first time still gets an id, kept in
memory and written once the database answers again (opening a document never waits on it); a
path that another server gave an id meanwhile keeps ours in this process until it restarts.
Ids and merge bases it refuses are also kept in the ``outage`` log (replayed by the next start
if this process dies), as on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zlib
from typing import Any

from ..persistence.errors import StoreError, StoreUnavailable
from ..persistence.history import compress
from ..persistence.outage import OutageLog
from ..persistence.pgdatabase import PostgresDatabase, Reader, Transaction
from ..persistence.pgmigrations import PostgresComponent
from .fileids import FileIds, _choose_base, _under, normalize

log = logging.getLogger(__name__)

# States this large are (de)compressed on a worker thread; smaller ones cost less than the hop.
THREAD_BYTES = 64 * 1024

# Append only: step N brings the tables from version N-1 to N (the SQLite component's numbering).
COMPONENT = PostgresComponent(
    "files",
    (
        [
            """CREATE TABLE collab_files (
                id TEXT PRIMARY KEY,
                root TEXT NOT NULL,
                path TEXT,
                last_path TEXT NOT NULL,
                deleted_at DOUBLE PRECISION,
                UNIQUE (root, path)
            )""",
            # prefix searches (a folder's files: path LIKE 'dir/%') whatever the collation
            "CREATE INDEX collab_files_prefix ON collab_files (root, path text_pattern_ops)",
            """CREATE TABLE collab_file_merge_bases (
                id TEXT NOT NULL,
                pending BOOLEAN NOT NULL,
                state BYTEA NOT NULL,
                digest TEXT NOT NULL,
                written BIGINT NOT NULL,
                PRIMARY KEY (id, pending)
            )""",
        ],
        # 2: on SQLite, ids of the oldest (rootless) layout set aside for a root to adopt; no
        # PostgreSQL database ever had that layout. Kept so both count the same versions.
        [],
    ),
)

_UPSERT_BASE = """
INSERT INTO collab_file_merge_bases (id, pending, state, digest, written)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (id, pending) DO UPDATE
SET state = EXCLUDED.state, digest = EXCLUDED.digest, written = EXCLUDED.written
"""


def like_prefix(folder: str) -> str:
    """A LIKE pattern for the paths below ``folder`` (backslash is PostgreSQL's LIKE escape)."""
    return folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


async def _blob(fn: Any, data: bytes) -> bytes:
    if len(data) < THREAD_BYTES:
        return fn(data)
    return await asyncio.to_thread(fn, data)


async def _rows(cur: Any) -> list[tuple[Any, ...]]:
    return list(await cur.fetchall())


async def _first(cur: Any) -> Any:
    row = await cur.fetchone()
    return row[0] if row else None


def _query(sql: str, params: Any = None) -> Any:
    """A unit of work of one statement whose rows are the answer."""

    async def run(tx: Transaction) -> Reader[list[tuple[Any, ...]]]:
        cur = await tx.execute(sql, params)
        return lambda: _rows(cur)

    return run


class PostgresFileIds(FileIds):
    """File ids of one served folder (``root``) in a PostgreSQL database.

    ``database`` is a URL (the registry then owns its connection pool) or a
    :class:`~..persistence.pgdatabase.PostgresDatabase` shared with the other components.
    """

    def __init__(
        self,
        database: str | PostgresDatabase,
        root: str = "",
        *,
        outage: OutageLog | None = None,
    ) -> None:
        self.outage = outage
        self.db = (
            database.retain()
            if isinstance(database, PostgresDatabase)
            else PostgresDatabase(database)
        )
        self._root = root
        self._unsaved: dict[str, str] = {}  # path -> id given while the database failed
        # per file id: the merge base write under way (base() answers after it)
        self._writing: dict[str, asyncio.Future[None]] = {}

    @classmethod
    async def open(cls, database: str | PostgresDatabase, root: str = "") -> PostgresFileIds:
        """Create the registry and wait until its tables are ready (errors surface here)."""
        ids = cls(database, root)
        try:
            await ids.db.ready(COMPONENT)
        except BaseException:
            await ids.close()
            raise
        return ids

    async def _read(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        await self.db.ready(COMPONENT)
        return await self.db.read(_query(sql, params))

    # -- merge bases ---------------------------------------------------------------------------

    async def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False,
        fresh: bool = False,
    ) -> None:  # fmt: skip
        # Registered before the first await: a base() asked from now on answers after it.
        previous = self._writing.get(file_id)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writing[file_id] = done
        try:
            if previous is not None:
                await asyncio.wait({previous})
            written = time.time_ns()
            compressed = await _blob(compress, state)  # (shared with the first version)
            await self.db.ready(COMPONENT)

            async def run(tx: Transaction) -> Reader[None]:
                if fresh:
                    await tx.execute(
                        "DELETE FROM collab_file_merge_bases WHERE id = %s", (file_id,)
                    )
                await tx.execute(_UPSERT_BASE, (file_id, pending, compressed, digest, written))
                return lambda: _none()

            try:
                # (running it twice writes the same rows: no need to tell a lost COMMIT apart)
                await self.db.write(run)
            except StoreUnavailable:
                if self.outage is None or not await self.outage.base(
                    file_id, state, digest, pending=pending, fresh=fresh, written=written
                ):
                    raise
                return
            if self.outage is not None:
                self.outage.settled("base", file_id)
        finally:
            done.set_result(None)
            if self._writing.get(file_id) is done:
                del self._writing[file_id]

    async def set_digest(self, file_id: str, digest: str) -> None:
        previous = self._writing.get(file_id)
        if previous is not None:
            await asyncio.wait({previous})
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            await tx.execute(
                "UPDATE collab_file_merge_bases SET digest = %s"
                " WHERE id = %s AND NOT pending AND digest = ''",
                (digest, file_id),
            )
            return lambda: _none()

        await self.db.write(run)

    async def restore_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool, fresh: bool,
        written: int,
    ) -> None:  # fmt: skip
        """A base kept in an outage log, written unless the database has a newer one (a fresh
        one also drops the older bases, as :meth:`set_base` does)."""
        compressed = await _blob(compress, state)
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            if fresh:
                await tx.execute(
                    "DELETE FROM collab_file_merge_bases WHERE id = %s AND written < %s",
                    (file_id, written),
                )
            await tx.execute(
                _UPSERT_BASE + " WHERE EXCLUDED.written > collab_file_merge_bases.written",
                (file_id, pending, compressed, digest, written),
            )
            return lambda: _none()

        await self.db.write(run)

    async def restore_id(self, root: str, path: str, file_id: str) -> None:
        """An id kept in an outage log, recorded unless the path (or the id) is known since."""
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            await tx.execute(
                "INSERT INTO collab_files (id, root, path, last_path) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (file_id, root, path, path),
            )
            return lambda: _none()

        await self.db.autocommit(run)

    async def base(self, file_id: str, digest: str | None) -> bytes | None:
        writing = self._writing.get(file_id)
        if writing is not None:
            await asyncio.wait({writing})
        found = await self._read(
            "SELECT state, digest, written FROM collab_file_merge_bases WHERE id = %s",
            (file_id,),
        )
        rows = [
            (await _blob(zlib.decompress, bytes(state)), known, written)
            for state, known, written in found
        ]
        return _choose_base(rows, digest)

    # -- ids -----------------------------------------------------------------------------------

    async def get_or_create(self, path: str) -> str:
        path = normalize(path)
        if path in self._unsaved:
            await self._save_unsaved()
            if path in self._unsaved:
                return self._unsaved[path]
        try:
            return await self._get_or_create(path)
        except StoreUnavailable as error:
            file_id = self._unsaved.setdefault(path, str(uuid.uuid4()))
            log.warning(
                "Cannot record a file id for %s (%s): kept in memory until the database works",
                path, error,
            )  # fmt: skip
            if self.outage is not None:
                await self.outage.file_id(self._root, path, file_id)
            return file_id

    async def _get_or_create(self, path: str, file_id: str | None = None) -> str:
        find = "SELECT id FROM collab_files WHERE root = %s AND path = %s"
        known = await self._read(find, (self._root, path))
        if known:
            return known[0][0]
        new_id = file_id or str(uuid.uuid4())

        async def insert(tx: Transaction) -> Reader[Any]:
            cur = await tx.execute(
                "INSERT INTO collab_files (id, root, path, last_path) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (root, path) DO NOTHING RETURNING id",
                (new_id, self._root, path, path),
            )
            return lambda: _first(cur)

        # Safe to run twice: a retry after a lost answer finds the row and inserts nothing.
        if await self.db.autocommit(insert) == new_id:
            return new_id
        # Another server inserted it first (the insert waited for it, then did nothing), or our
        # own first attempt did: read it with a new snapshot.
        known = await self._read(find, (self._root, path))
        if not known:
            raise StoreError(f"the file id of {path!r} was neither created nor found")
        return known[0][0]

    async def _save_unsaved(self) -> None:
        """Write the ids given while the database failed (a path that got another id from
        another server meanwhile keeps ours for this process)."""
        for path, file_id in list(self._unsaved.items()):
            try:
                await self._get_or_create(path, file_id)
            except StoreUnavailable:
                return
            if self._unsaved.get(path) == file_id:
                del self._unsaved[path]
            if self.outage is not None:
                self.outage.settled("file", f"{self._root}\0{path}")

    def _unsaved_path(self, file_id: str) -> str | None:
        return next((p for p, i in self._unsaved.items() if i == file_id), None)

    async def path_of(self, file_id: str) -> str | None:
        unsaved = self._unsaved_path(file_id)
        if unsaved is not None:
            return unsaved
        rows = await self._read(
            "SELECT path FROM collab_files WHERE id = %s AND root = %s", (file_id, self._root)
        )
        return rows[0][0] if rows else None

    async def last_path(self, file_id: str) -> str | None:
        unsaved = self._unsaved_path(file_id)
        if unsaved is not None:
            return unsaved
        rows = await self._read(
            "SELECT last_path FROM collab_files WHERE id = %s AND root = %s",
            (file_id, self._root),
        )
        return rows[0][0] if rows else None

    async def moved(self, old: str, new: str) -> dict[str, str]:
        old, new = normalize(old), normalize(new)
        for path in [p for p in self._unsaved if _under(p, old)]:
            self._unsaved[new + path[len(old) :]] = self._unsaved.pop(path)
        await self.db.ready(COMPONENT)
        params = {
            "root": self._root, "old": old, "new": new, "like": like_prefix(old),
            "cut": len(old) + 1, "now": time.time(),
        }  # fmt: skip

        async def run(tx: Transaction) -> Reader[dict[str, str]]:
            # A file that already sat at a destination path was replaced by the move; then the
            # moved ones take their new paths (one statement each: all or nothing).
            await tx.execute(
                "UPDATE collab_files SET path = NULL, deleted_at = %(now)s "
                "WHERE root = %(root)s AND path IN ("
                " SELECT %(new)s || substr(path, %(cut)s) FROM collab_files"
                " WHERE root = %(root)s AND (path = %(old)s OR path LIKE %(like)s))"
                " AND NOT (path = %(old)s OR path LIKE %(like)s)",
                params,
            )
            cur = await tx.execute(
                "UPDATE collab_files SET path = %(new)s || substr(path, %(cut)s),"
                " last_path = %(new)s || substr(path, %(cut)s) "
                "WHERE root = %(root)s AND (path = %(old)s OR path LIKE %(like)s) "
                "RETURNING id, path",
                params,
            )

            async def reader() -> dict[str, str]:
                return {file_id: path for file_id, path in await cur.fetchall()}

            return reader

        return await self.db.write(run, verify=_verify_moved)

    async def deleted(self, path: str) -> list[str]:
        path = normalize(path)
        unsaved = [self._unsaved.pop(p) for p in list(self._unsaved) if _under(p, path)]
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[list[str]]:
            cur = await tx.execute(
                "UPDATE collab_files SET path = NULL, deleted_at = %s "
                "WHERE root = %s AND (path = %s OR path LIKE %s) RETURNING id",
                (time.time(), self._root, path, like_prefix(path)),
            )

            async def reader() -> list[str]:
                return [file_id for (file_id,) in await cur.fetchall()]

            return reader

        return unsaved + await self.db.write(run, verify=_verify_deleted)

    async def revive(self, file_id: str, path: str) -> None:
        path = normalize(path)
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            await tx.execute(
                "UPDATE collab_files SET path = %s, last_path = %s, deleted_at = NULL "
                "WHERE id = %s AND root = %s",
                (path, path, file_id, self._root),
            )
            return lambda: _none()

        try:
            await self.db.autocommit(run)  # (setting values: safe to run twice)
        except StoreError as error:
            if _unique_violation(error):
                raise ValueError(f"{path} already has a file id") from None
            raise

    async def expired(self, file_ids: list[str], before: float) -> list[str]:
        wanted = [i for i in file_ids if self._unsaved_path(i) is None]
        if not wanted:
            return []
        rows = await self._read(
            "SELECT id FROM collab_files WHERE id = ANY(%s)"
            " AND (path IS NOT NULL OR deleted_at IS NULL OR deleted_at >= %s)",
            (wanted, before),
        )
        live = {row[0] for row in rows}
        return [i for i in wanted if i not in live]

    async def forget(self, file_id: str) -> None:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            await tx.execute("DELETE FROM collab_files WHERE id = %s", (file_id,))
            await tx.execute("DELETE FROM collab_file_merge_bases WHERE id = %s", (file_id,))
            return lambda: _none()

        await self.db.write(run)

    async def close(self) -> None:
        await self.db.release()


async def _none() -> None:
    return None


def _unique_violation(error: BaseException) -> bool:
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) == "23505"


async def _verify_moved(conn: Any, result: dict[str, str], xmin: int) -> bool:
    """After a server crash during the COMMIT of a move: whether its rows carry its changes."""
    if not result:
        return False
    file_id, path = next(iter(result.items()))
    cur = await conn.execute(
        "SELECT 1 FROM collab_files WHERE id = %s AND path = %s AND xmin::text = %s",
        (file_id, path, str(xmin)),
    )
    return await cur.fetchone() is not None


async def _verify_deleted(conn: Any, result: list[str], xmin: int) -> bool:
    if not result:
        return False
    cur = await conn.execute(
        "SELECT 1 FROM collab_files WHERE id = %s AND path IS NULL AND xmin::text = %s",
        (result[0], str(xmin)),
    )
    return await cur.fetchone() is not None
