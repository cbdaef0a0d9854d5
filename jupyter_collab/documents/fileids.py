"""Stable file ids that follow files across renames and moves made through Jupyter.

Rooms, and their history, are keyed by file id, never by path. Ids live in the collaboration
database (outside the served directory) so they survive restarts; the in-memory implementation
is for tests, for deployments that want nothing on disk, and for a server whose database cannot
be opened.

Every method is a coroutine: the SQLite implementation runs its queries on the database's
threads (``persistence/database.py``), never on the event loop, and issue 9 adds a PostgreSQL
one behind the same interface.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import uuid
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..persistence.database import SQLiteDatabase, is_database_failure
from ..persistence.history import compress
from ..persistence.migrations import Component
from ..persistence.outage import OutageLog

log = logging.getLogger(__name__)
T = TypeVar("T")

# Merge bases at least this large are compressed on a worker thread before their write
# (smaller ones cost less than the hop: on the writer thread, in their transaction).
COMPRESS_OFF_WRITER = 64 * 1024


def _choose_base(rows: list[tuple[bytes, str, int]], digest: str | None) -> bytes | None:
    """The base whose content is the file's; else the most recently written one."""
    for state, known, _ in rows:
        if known == digest:
            return state
    return max(rows, key=lambda row: row[2])[0] if rows else None


def normalize(path: str) -> str:
    return path.strip("/")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


class FileIds(ABC):
    """The server's registry of files: stable ids, and each file's merge base.

    The merge base is the document state whose content equals the file as last loaded, saved
    or merged. Changes found on disk are merged as the edit from it, also after a restart, so
    it must be exactly that state (not merely a point of the update log).
    """

    @abstractmethod
    async def get_or_create(self, path: str) -> str: ...

    @abstractmethod
    async def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False,
        fresh: bool = False,
    ) -> None:  # fmt: skip
        """Record the merge base for a file content (``digest``); returns once durable.

        A save records its base as *pending* before it writes the file and as the base after:
        if the server dies in between, the pending base is the one whose digest matches. When
        neither matches (the file also changed while the server was down), the newer one is
        the base: a pending base is written right before its file.

        ``fresh`` (a file loaded afresh, its history started over): every other base of the
        file belongs to the history before and is dropped with the same write.
        """

    @abstractmethod
    async def set_digest(self, file_id: str, digest: str) -> None:
        """Give the file's current base, recorded without a fingerprint (``digest`` ""), its
        fingerprint, once known: only the digest is written, not the state again (a fresh
        load records its base at once and fingerprints the content later, off the path of
        the first clients). A base replaced meanwhile is left alone."""

    @abstractmethod
    async def base(self, file_id: str, digest: str | None) -> bytes | None:
        """The merge base for the file's current content (its ``digest``), after every base
        written before (even if that write was not awaited yet)."""

    async def close(self) -> None:  # noqa: B027 (optional hook: the in-memory registry holds nothing)
        """Finish pending writes and release resources."""

    @abstractmethod
    async def path_of(self, file_id: str) -> str | None: ...

    @abstractmethod
    async def moved(self, old: str, new: str) -> dict[str, str]:
        """Record a rename or move of a file or folder; return {file_id: new path}."""

    @abstractmethod
    async def deleted(self, path: str) -> list[str]:
        """A file or folder was deleted: detach its ids from their paths, keeping the last path
        (its history is kept for a while and can be restored there); return the ids."""

    @abstractmethod
    async def last_path(self, file_id: str) -> str | None:
        """The file's path, or where it was when it was deleted; None for an unknown id."""

    @abstractmethod
    async def revive(self, file_id: str, path: str) -> None:
        """Attach a deleted file's id to ``path`` again (its file was restored there)."""

    @abstractmethod
    async def forget(self, file_id: str) -> None:
        """Remove a file id for good (its history was purged)."""

    @abstractmethod
    async def expired(self, file_ids: list[str], before: float) -> list[str]:
        """Of ``file_ids``, those of files deleted before ``before`` (time.time()) and not
        restored since, and those not known at all (forgotten once their history was purged).
        Whatever the served folder: ids are unique, and a database shared by servers of other
        folders must not have their files taken for unknown ones."""


class MemoryFileIds(FileIds):
    def __init__(self) -> None:
        self._paths: dict[str, str] = {}  # id -> path
        self._gone: dict[str, str] = {}  # id -> last path, for deleted files
        self._gone_at: dict[str, float] = {}  # id -> when it was deleted
        self._bases: dict[tuple[str, bool], tuple[bytes, str, int]] = {}

    async def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False,
        fresh: bool = False,
    ) -> None:  # fmt: skip
        if fresh:
            self._bases.pop((file_id, not pending), None)
        self._bases[(file_id, pending)] = (state, digest, time.monotonic_ns())

    async def set_digest(self, file_id: str, digest: str) -> None:
        row = self._bases.get((file_id, False))
        if row is not None and row[1] == "":
            self._bases[(file_id, False)] = (row[0], digest, row[2])

    async def base(self, file_id: str, digest: str | None) -> bytes | None:
        rows = [r for r in (self._bases.get((file_id, p)) for p in (True, False)) if r]
        return _choose_base(rows, digest)

    def _id_of(self, path: str) -> str | None:
        for file_id, known in self._paths.items():
            if known == path:
                return file_id
        return None

    async def get_or_create(self, path: str) -> str:
        path = normalize(path)
        file_id = self._id_of(path)
        if file_id is None:
            file_id = str(uuid.uuid4())
            self._paths[file_id] = path
        return file_id

    async def path_of(self, file_id: str) -> str | None:
        return self._paths.get(file_id)

    async def moved(self, old: str, new: str) -> dict[str, str]:
        old, new = normalize(old), normalize(new)
        changed = {}
        for file_id, path in self._paths.items():
            if _under(path, old):
                changed[file_id] = new + path[len(old) :]
        replaced = set(changed.values())
        for file_id in [i for i, p in self._paths.items() if p in replaced and i not in changed]:
            self._gone[file_id] = self._paths.pop(file_id)
            self._gone_at[file_id] = time.time()
        self._paths.update(changed)
        return changed

    async def deleted(self, path: str) -> list[str]:
        path = normalize(path)
        gone = [i for i, p in self._paths.items() if _under(p, path)]
        for file_id in gone:
            self._gone[file_id] = self._paths.pop(file_id)
            self._gone_at[file_id] = time.time()
        return gone

    async def last_path(self, file_id: str) -> str | None:
        return self._paths.get(file_id) or self._gone.get(file_id)

    async def revive(self, file_id: str, path: str) -> None:
        path = normalize(path)
        if any(p == path for p in self._paths.values()):
            raise ValueError(f"{path} already has a file id")
        self._gone.pop(file_id, None)
        self._gone_at.pop(file_id, None)
        self._paths[file_id] = path

    async def expired(self, file_ids: list[str], before: float) -> list[str]:
        return [
            i for i in file_ids
            if i not in self._paths and self._gone_at.get(i, float("-inf")) < before
        ]  # fmt: skip

    async def forget(self, file_id: str) -> None:
        self._paths.pop(file_id, None)
        self._gone.pop(file_id, None)
        self._gone_at.pop(file_id, None)
        for key in [k for k in self._bases if k[0] == file_id]:
            del self._bases[key]


def _set_unrooted_aside(db: sqlite3.Connection) -> None:
    """Ids of the very first layout (``file_ids``) had no root. A migration does not know the
    served directory, so they are set aside here and the first server to use the database
    adopts them under its root (:meth:`SQLiteFileIds._adopt`), as every root shared them
    before anyway."""
    old = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'file_ids'"
    ).fetchall()
    if old:
        db.execute("ALTER TABLE file_ids RENAME TO collab_unrooted_files")


COMPONENT = Component(
    "files",
    (
        # 1: the layout the first releases created without a schema_version row (hence
        # IF NOT EXISTS), with ids of the oldest layout kept aside until a root adopts them.
        (
            "CREATE TABLE IF NOT EXISTS collab_files (id TEXT PRIMARY KEY,"
            " root TEXT NOT NULL, path TEXT, last_path TEXT NOT NULL, deleted_at REAL,"
            " UNIQUE (root, path))",
            "CREATE TABLE IF NOT EXISTS file_merge_bases (id TEXT NOT NULL,"
            " pending INTEGER NOT NULL, state BLOB NOT NULL, digest TEXT NOT NULL,"
            " written INTEGER NOT NULL, PRIMARY KEY (id, pending))",
        ),
        _set_unrooted_aside,
    ),
)


class SQLiteFileIds(FileIds):
    """File ids in the collaboration database, one namespace per served directory (``root``).

    The default database lives in the user's Jupyter data dir and is shared by every server
    that user starts, so ``notes.txt`` under two different root dirs must be two files with
    two histories: ids are keyed by (root, path).

    While the database fails (read-only, full), a file opened for the first time still gets an
    id, kept in memory and written once the database works again: opening a document never
    depends on the database. Ids and merge bases it refuses are kept in the ``outage`` log
    meanwhile (replayed by the next start if this process dies).
    """

    def __init__(
        self,
        database: str | Path | SQLiteDatabase,
        root: str = "",
        *,
        outage: OutageLog | None = None,
    ) -> None:
        self.outage = outage
        self.db = (
            database.retain()
            if isinstance(database, SQLiteDatabase)
            else SQLiteDatabase.acquire(database)
        )
        self._root = root
        self._unsaved: dict[str, str] = {}  # path -> id given while the database failed
        self._adopted = False
        # Large merge bases being compressed before their write, per file (see ``base``).
        self._compressing: dict[str, list[asyncio.Future[bytes]]] = {}
        self.db.prepare(COMPONENT)

    @classmethod
    async def open(cls, database: str | Path | SQLiteDatabase, root: str = "") -> SQLiteFileIds:
        """Create the registry and wait until its tables are ready (errors surface here)."""
        ids = cls(database, root)
        try:
            await ids._ready()
        except BaseException:
            await ids.close()
            raise
        return ids

    async def _ready(self) -> None:
        await self.db.ready(COMPONENT)
        if self._adopted:
            return

        def unrooted(db: sqlite3.Connection) -> bool:
            return bool(
                db.execute(
                    "SELECT name FROM sqlite_master WHERE name = 'collab_unrooted_files'"
                ).fetchall()
            )

        def adopt(db: sqlite3.Connection) -> None:
            if unrooted(db):
                db.execute(
                    "INSERT OR IGNORE INTO collab_files (id, root, path, last_path)"
                    " SELECT id, ?, path, path FROM collab_unrooted_files",
                    (self._root,),
                )
                db.execute("DROP TABLE collab_unrooted_files")

        if await self.db.read(unrooted, ordered=True):
            await self.db.write(adopt)
        self._adopted = True

    async def _read(self, fn: Callable[..., T], *args: Any, ordered: bool = False) -> T:
        await self._ready()
        return await self.db.read(fn, *args, ordered=ordered)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        await self._ready()
        return await self.db.write(fn, *args)

    # -- merge bases ---------------------------------------------------------------------------

    async def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False,
        fresh: bool = False,
    ) -> None:  # fmt: skip
        # A large state is compressed on a worker thread first, not on the writer thread that
        # every log append, file id and base of the process queues behind (~80 ms for a 4 MiB
        # text). Its order with the room's log is the room's to keep: a fresh load holds its
        # log until this base is durable (``RoomJournal.hold``), so no crash can find edits
        # logged without the base to resume them from. The compression is shared with the
        # version of the file as first opened (``compress``): a fresh load compresses once.
        def run(db: sqlite3.Connection, blob: bytes | None) -> None:
            if fresh:
                db.execute("DELETE FROM file_merge_bases WHERE id = ?", (file_id,))
            db.execute(
                "INSERT INTO file_merge_bases (id, pending, state, digest, written)"
                " VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id, pending) DO UPDATE SET state = excluded.state, "
                "digest = excluded.digest, written = excluded.written",
                (file_id, int(pending), compress(state) if blob is None else blob, digest,
                 written),
            )  # fmt: skip

        written = time.time_ns()
        try:
            blob = None
            if len(state) >= COMPRESS_OFF_WRITER:
                job = asyncio.ensure_future(asyncio.to_thread(compress, state))
                jobs = self._compressing.setdefault(file_id, [])
                jobs.append(job)
                try:
                    blob = await job
                finally:
                    jobs.remove(job)
                    if not jobs:
                        del self._compressing[file_id]
            # (submitted in this same step: a ``base`` waiting for the job reads after it)
            await self._write(run, blob)
        except Exception as error:
            if self.outage is None or not is_database_failure(error):
                raise
            if not await self.outage.base(
                file_id, state, digest, pending=pending, fresh=fresh, written=written
            ):
                raise
            return
        if self.outage is not None:
            self.outage.settled("base", file_id)

    async def set_digest(self, file_id: str, digest: str) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE file_merge_bases SET digest = ?"
                " WHERE id = ? AND pending = 0 AND digest = ''",
                (digest, file_id),
            )

        await self._write(run)

    async def restore_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool, fresh: bool,
        written: int,
    ) -> None:  # fmt: skip
        """A base kept in an outage log, written unless the database has a newer one (a fresh
        one also drops the older bases, as :meth:`set_base` does)."""

        def run(db: sqlite3.Connection) -> None:
            if fresh:
                db.execute(
                    "DELETE FROM file_merge_bases WHERE id = ? AND written < ?", (file_id, written)
                )
            db.execute(
                "INSERT INTO file_merge_bases (id, pending, state, digest, written)"
                " VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id, pending) DO UPDATE SET state = excluded.state, "
                "digest = excluded.digest, written = excluded.written "
                "WHERE excluded.written > file_merge_bases.written",
                (file_id, int(pending), compress(state), digest, written),
            )

        await self._write(run)

    async def restore_id(self, root: str, path: str, file_id: str) -> None:
        """An id kept in an outage log, recorded unless the path got another one since."""

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO collab_files (id, root, path, last_path)"
                " VALUES (?, ?, ?, ?)",
                (file_id, root, path, path),
            )

        await self._write(run)

    async def base(self, file_id: str, digest: str | None) -> bytes | None:
        def run(db: sqlite3.Connection) -> bytes | None:
            found = db.execute(
                "SELECT state, digest, written FROM file_merge_bases WHERE id = ?", (file_id,)
            ).fetchall()
            rows = [(zlib.decompress(state), known, written) for state, known, written in found]
            return _choose_base(rows, digest)

        # After the compressions in progress (each write is submitted as soon as its own is
        # done, before this read wakes up), and on the writer thread: it sees every base
        # written before, awaited or not.
        for job in list(self._compressing.get(file_id, ())):
            await asyncio.gather(job, return_exceptions=True)
        return await self._read(run, ordered=True)

    # -- ids -------------------------------------------------------------------------------

    async def get_or_create(self, path: str) -> str:
        path = normalize(path)
        if path in self._unsaved:
            await self._save_unsaved()
            if path in self._unsaved:
                return self._unsaved[path]
        root = self._root

        def find(db: sqlite3.Connection) -> str | None:
            rows = db.execute(
                "SELECT id FROM collab_files WHERE root = ? AND path = ?", (root, path)
            ).fetchall()
            return rows[0][0] if rows else None

        def create(db: sqlite3.Connection) -> str:
            known = find(db)  # (another server may have created it meanwhile)
            if known is not None:
                return known
            file_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO collab_files (id, root, path, last_path) VALUES (?, ?, ?, ?)",
                (file_id, root, path, path),
            )
            return file_id

        try:
            return await self._read(find) or await self._write(create)
        except Exception as error:
            if not is_database_failure(error):
                raise
            file_id = self._unsaved.setdefault(path, str(uuid.uuid4()))
            log.warning(
                "Cannot record a file id for %s (%s): kept in memory until the database works",
                path, error,
            )  # fmt: skip
            if self.outage is not None:
                await self.outage.file_id(root, path, file_id)
            return file_id

    async def _save_unsaved(self) -> None:
        """Write the ids given while the database failed (a path that got another id from
        another server meanwhile keeps ours for this process)."""
        pending = dict(self._unsaved)
        root = self._root

        def run(db: sqlite3.Connection) -> None:
            for path, file_id in pending.items():
                db.execute(
                    "INSERT OR IGNORE INTO collab_files (id, root, path, last_path)"
                    " VALUES (?, ?, ?, ?)",
                    (file_id, root, path, path),
                )

        try:
            await self._write(run)
        except Exception as error:
            if not is_database_failure(error):
                raise
            return
        for path, file_id in pending.items():
            if self._unsaved.get(path) == file_id:
                del self._unsaved[path]
            if self.outage is not None:
                self.outage.settled("file", f"{root}\0{path}")

    def _unsaved_path(self, file_id: str) -> str | None:
        return next((p for p, i in self._unsaved.items() if i == file_id), None)

    async def path_of(self, file_id: str) -> str | None:
        unsaved = self._unsaved_path(file_id)
        if unsaved is not None:
            return unsaved

        def run(db: sqlite3.Connection) -> str | None:
            rows = db.execute(
                "SELECT path FROM collab_files WHERE id = ? AND root = ?", (file_id, self._root)
            ).fetchall()
            return rows[0][0] if rows else None

        return await self._read(run)

    async def last_path(self, file_id: str) -> str | None:
        unsaved = self._unsaved_path(file_id)
        if unsaved is not None:
            return unsaved

        def run(db: sqlite3.Connection) -> str | None:
            rows = db.execute(
                "SELECT last_path FROM collab_files WHERE id = ? AND root = ?",
                (file_id, self._root),
            ).fetchall()
            return rows[0][0] if rows else None

        return await self._read(run)

    def _under(self, db: sqlite3.Connection, path: str) -> list[tuple[str, str]]:
        like = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        return db.execute(
            "SELECT id, path FROM collab_files"
            " WHERE root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
            (self._root, path, like),
        ).fetchall()

    async def moved(self, old: str, new: str) -> dict[str, str]:
        old, new = normalize(old), normalize(new)
        for path in [p for p in self._unsaved if _under(p, old)]:
            self._unsaved[new + path[len(old) :]] = self._unsaved.pop(path)

        def run(db: sqlite3.Connection) -> dict[str, str]:
            changed = {file_id: new + path[len(old) :] for file_id, path in self._under(db, old)}
            # A file that already sat at a destination path was replaced by the move.
            for path in changed.values():
                db.execute(
                    "UPDATE collab_files SET path = NULL, deleted_at = ?"
                    " WHERE root = ? AND path = ?",
                    (time.time(), self._root, path),
                )
            for file_id, path in changed.items():
                db.execute(
                    "UPDATE collab_files SET path = ?, last_path = ? WHERE id = ?",
                    (path, path, file_id),
                )
            return changed

        return await self._write(run)

    async def deleted(self, path: str) -> list[str]:
        path = normalize(path)
        unsaved = [self._unsaved.pop(p) for p in list(self._unsaved) if _under(p, path)]

        def run(db: sqlite3.Connection) -> list[str]:
            gone = [file_id for file_id, _ in self._under(db, path)]
            for file_id in gone:
                db.execute(
                    "UPDATE collab_files SET path = NULL, deleted_at = ? WHERE id = ?",
                    (time.time(), file_id),
                )
            return gone

        return unsaved + await self._write(run)

    async def revive(self, file_id: str, path: str) -> None:
        path = normalize(path)

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE collab_files SET path = ?, last_path = ?, deleted_at = NULL"
                " WHERE id = ? AND root = ?",
                (path, path, file_id, self._root),
            )

        try:
            await self._write(run)
        except sqlite3.IntegrityError:
            raise ValueError(f"{path} already has a file id") from None

    async def expired(self, file_ids: list[str], before: float) -> list[str]:
        wanted = [i for i in file_ids if self._unsaved_path(i) is None]

        def run(db: sqlite3.Connection) -> list[str]:
            live: set[str] = set()
            for start in range(0, len(wanted), 500):  # (SQLite's limit on bound parameters)
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                live.update(
                    row[0] for row in db.execute(
                        f"SELECT id FROM collab_files WHERE id IN ({marks})"
                        " AND (path IS NOT NULL OR deleted_at IS NULL OR deleted_at >= ?)",
                        (*chunk, before),
                    )
                )  # fmt: skip
            return [i for i in wanted if i not in live]

        return await self._read(run)

    async def forget(self, file_id: str) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM collab_files WHERE id = ?", (file_id,))
            db.execute("DELETE FROM file_merge_bases WHERE id = ?", (file_id,))

        await self._write(run)

    async def close(self) -> None:
        await self.db.release()
