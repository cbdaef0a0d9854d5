"""Stable file ids that follow files across renames and moves made through Jupyter.

Rooms, and later their history, are keyed by file id, never by path. Ids live in the
collaboration database (outside the served directory) so they survive restarts; the in-memory
implementation is for tests and for deployments that want nothing on disk.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
import zlib
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)


def _report(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("Recording a merge base failed: %s", future.exception())


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
    def get_or_create(self, path: str) -> str: ...

    @abstractmethod
    def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False
    ) -> Future[None]:
        """Record the merge base for a file content (``digest``); done once durable.

        A save records its base as *pending* before it writes the file and as the base after:
        if the server dies in between, the pending base is the one whose digest matches. When
        neither matches (the file also changed while the server was down), the newer one is
        the base: a pending base is written right before its file.
        """

    @abstractmethod
    def base(self, file_id: str, digest: str | None) -> bytes | None:
        """The merge base for the file's current content (its ``digest``)."""

    def close(self) -> None:  # noqa: B027 (optional hook: the in-memory registry holds nothing)
        """Finish pending writes and release resources."""

    @abstractmethod
    def path_of(self, file_id: str) -> str | None: ...

    @abstractmethod
    def moved(self, old: str, new: str) -> dict[str, str]:
        """Record a rename or move of a file or folder; return {file_id: new path}."""

    @abstractmethod
    def deleted(self, path: str) -> list[str]:
        """A file or folder was deleted: detach its ids from their paths, keeping the last path
        (its history is kept for a while and can be restored there); return the ids."""

    @abstractmethod
    def last_path(self, file_id: str) -> str | None:
        """The file's path, or where it was when it was deleted; None for an unknown id."""

    @abstractmethod
    def revive(self, file_id: str, path: str) -> None:
        """Attach a deleted file's id to ``path`` again (its file was restored there)."""

    @abstractmethod
    def forget(self, file_id: str) -> None:
        """Remove a file id for good (its history was purged)."""


class MemoryFileIds(FileIds):
    def __init__(self) -> None:
        self._paths: dict[str, str] = {}  # id -> path
        self._gone: dict[str, str] = {}  # id -> last path, for deleted files
        self._bases: dict[tuple[str, bool], tuple[bytes, str, int]] = {}

    def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False
    ) -> Future[None]:
        self._bases[(file_id, pending)] = (state, digest, time.monotonic_ns())
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def base(self, file_id: str, digest: str | None) -> bytes | None:
        rows = [r for r in (self._bases.get((file_id, p)) for p in (True, False)) if r]
        return _choose_base(rows, digest)

    def get_or_create(self, path: str) -> str:
        path = normalize(path)
        for file_id, known in self._paths.items():
            if known == path:
                return file_id
        file_id = str(uuid.uuid4())
        self._paths[file_id] = path
        return file_id

    def path_of(self, file_id: str) -> str | None:
        return self._paths.get(file_id)

    def moved(self, old: str, new: str) -> dict[str, str]:
        old, new = normalize(old), normalize(new)
        changed = {}
        for file_id, path in self._paths.items():
            if _under(path, old):
                changed[file_id] = new + path[len(old) :]
        replaced = set(changed.values())
        for file_id in [i for i, p in self._paths.items() if p in replaced and i not in changed]:
            self._gone[file_id] = self._paths.pop(file_id)
        self._paths.update(changed)
        return changed

    def deleted(self, path: str) -> list[str]:
        path = normalize(path)
        gone = [i for i, p in self._paths.items() if _under(p, path)]
        for file_id in gone:
            self._gone[file_id] = self._paths.pop(file_id)
        return gone

    def last_path(self, file_id: str) -> str | None:
        return self._paths.get(file_id) or self._gone.get(file_id)

    def revive(self, file_id: str, path: str) -> None:
        path = normalize(path)
        if any(p == path for p in self._paths.values()):
            raise ValueError(f"{path} already has a file id")
        self._gone.pop(file_id, None)
        self._paths[file_id] = path

    def forget(self, file_id: str) -> None:
        self._paths.pop(file_id, None)
        self._gone.pop(file_id, None)
        for key in [k for k in self._bases if k[0] == file_id]:
            del self._bases[key]


class SQLiteFileIds(FileIds):
    """File ids in the collaboration database, one namespace per served directory (``root``).

    The default database lives in the user's Jupyter data dir and is shared by every server
    that user starts, so ``notes.txt`` under two different root dirs must be two files with
    two histories: ids are keyed by (root, path).
    """

    def __init__(self, db_path: str | Path, root: str = "") -> None:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        # sqlite3 here is built thread-safe (serialized); the writer thread and the event loop
        # share this connection.
        self._db = sqlite3.connect(
            str(db_path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._root = root
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-bases")
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS collab_files (id TEXT PRIMARY KEY,"
                " root TEXT NOT NULL, path TEXT, last_path TEXT NOT NULL, deleted_at REAL,"
                " UNIQUE (root, path))"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS file_merge_bases (id TEXT NOT NULL,"
                " pending INTEGER NOT NULL, state BLOB NOT NULL, digest TEXT NOT NULL,"
                " written INTEGER NOT NULL,"
                " PRIMARY KEY (id, pending))"
            )
            self._migrate_unrooted()

    def _migrate_unrooted(self) -> None:
        """Ids of the first schema had no root: the first server to open the database after
        the upgrade adopts them (before, every root shared them anyway)."""
        old = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'file_ids'"
        ).fetchall()
        if not old:
            return
        self._db.execute(
            "INSERT OR IGNORE INTO collab_files (id, root, path, last_path)"
            " SELECT id, ?, path, path FROM file_ids",
            (self._root,),
        )
        self._db.execute("DROP TABLE file_ids")

    def set_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool = False
    ) -> Future[None]:
        # Compressing and writing a large document's state takes tens of milliseconds: it
        # happens on a thread of its own, in order, off the server's event loop.
        future = self._writer.submit(self._write_base, file_id, state, digest, pending)
        future.add_done_callback(_report)
        return future

    def _write_base(self, file_id: str, state: bytes, digest: str, pending: bool) -> None:
        self._db.execute(
            "INSERT INTO file_merge_bases (id, pending, state, digest, written)"
            " VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id, pending) DO UPDATE SET state = excluded.state, "
            "digest = excluded.digest, written = excluded.written",
            (file_id, int(pending), zlib.compress(state, 1), digest, time.time_ns()),
        )

    def base(self, file_id: str, digest: str | None) -> bytes | None:
        # Through the writer thread too, so that it sees every base written before.
        return self._writer.submit(self._read_base, file_id, digest).result()

    def _read_base(self, file_id: str, digest: str | None) -> bytes | None:
        found = self._db.execute(
            "SELECT state, digest, written FROM file_merge_bases WHERE id = ?", (file_id,)
        ).fetchall()
        rows = [(zlib.decompress(state), known, written) for state, known, written in found]
        return _choose_base(rows, digest)

    def get_or_create(self, path: str) -> str:
        path = normalize(path)
        row = self._one(
            "SELECT id FROM collab_files WHERE root = ? AND path = ?", (self._root, path)
        )
        if row:
            return row[0]
        file_id = str(uuid.uuid4())
        self._db.execute(
            "INSERT INTO collab_files (id, root, path, last_path) VALUES (?, ?, ?, ?)",
            (file_id, self._root, path, path),
        )
        return file_id

    def path_of(self, file_id: str) -> str | None:
        row = self._one(
            "SELECT path FROM collab_files WHERE id = ? AND root = ?", (file_id, self._root)
        )
        return row[0] if row else None

    def last_path(self, file_id: str) -> str | None:
        row = self._one(
            "SELECT last_path FROM collab_files WHERE id = ? AND root = ?", (file_id, self._root)
        )
        return row[0] if row else None

    def _one(self, sql: str, args: tuple) -> tuple | None:
        # fetchall, never fetchone: a cursor left open keeps a read transaction, and a write
        # on this connection then fails at once with "database is locked".
        rows = self._db.execute(sql, args).fetchall()
        return rows[0] if rows else None

    def _under(self, path: str) -> list[tuple[str, str]]:
        like = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        return self._db.execute(
            "SELECT id, path FROM collab_files"
            " WHERE root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
            (self._root, path, like),
        ).fetchall()

    def moved(self, old: str, new: str) -> dict[str, str]:
        old, new = normalize(old), normalize(new)
        changed = {file_id: new + path[len(old) :] for file_id, path in self._under(old)}
        with self._db:
            self._db.execute("BEGIN")
            # A file that already sat at a destination path was replaced by the move.
            for path in changed.values():
                self._db.execute(
                    "UPDATE collab_files SET path = NULL, deleted_at = ?"
                    " WHERE root = ? AND path = ?",
                    (time.time(), self._root, path),
                )
            for file_id, path in changed.items():
                self._db.execute(
                    "UPDATE collab_files SET path = ?, last_path = ? WHERE id = ?",
                    (path, path, file_id),
                )
        return changed

    def deleted(self, path: str) -> list[str]:
        gone = [file_id for file_id, _ in self._under(normalize(path))]
        with self._db:
            self._db.execute("BEGIN")
            for file_id in gone:
                self._db.execute(
                    "UPDATE collab_files SET path = NULL, deleted_at = ? WHERE id = ?",
                    (time.time(), file_id),
                )
        return gone

    def revive(self, file_id: str, path: str) -> None:
        path = normalize(path)
        try:
            self._db.execute(
                "UPDATE collab_files SET path = ?, last_path = ?, deleted_at = NULL"
                " WHERE id = ? AND root = ?",
                (path, path, file_id, self._root),
            )
        except sqlite3.IntegrityError:
            raise ValueError(f"{path} already has a file id") from None

    def forget(self, file_id: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM collab_files WHERE id = ?", (file_id,))
        self._writer.submit(
            self._db.execute, "DELETE FROM file_merge_bases WHERE id = ?", (file_id,)
        ).result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._db.close()
