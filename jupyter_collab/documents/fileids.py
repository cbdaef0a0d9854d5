"""Stable file ids that follow files across renames and moves made through Jupyter.

Rooms, and later their history, are keyed by file id, never by path. Ids live in the
collaboration database (outside the served directory) so they survive restarts; the in-memory
implementation is for tests and for deployments that want nothing on disk.
"""

from __future__ import annotations

import sqlite3
import uuid
import zlib
from abc import ABC, abstractmethod
from pathlib import Path


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
    def set_base(self, file_id: str, state: bytes) -> None: ...

    @abstractmethod
    def base(self, file_id: str) -> bytes | None: ...

    @abstractmethod
    def path_of(self, file_id: str) -> str | None: ...

    @abstractmethod
    def moved(self, old: str, new: str) -> dict[str, str]:
        """Record a rename or move of a file or folder; return {file_id: new path}."""

    @abstractmethod
    def deleted(self, path: str) -> list[str]:
        """Forget a file or folder; return the file ids that were under it."""


class MemoryFileIds(FileIds):
    def __init__(self) -> None:
        self._paths: dict[str, str] = {}  # id -> path
        self._bases: dict[str, bytes] = {}

    def set_base(self, file_id: str, state: bytes) -> None:
        self._bases[file_id] = state

    def base(self, file_id: str) -> bytes | None:
        return self._bases.get(file_id)

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
            del self._paths[file_id]
        self._paths.update(changed)
        return changed

    def deleted(self, path: str) -> list[str]:
        path = normalize(path)
        gone = [i for i, p in self._paths.items() if _under(p, path)]
        for file_id in gone:
            del self._paths[file_id]
        return gone


class SQLiteFileIds(FileIds):
    def __init__(self, db_path: str | Path) -> None:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS file_ids (id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS file_bases (id TEXT PRIMARY KEY, state BLOB NOT NULL)"
        )

    def set_base(self, file_id: str, state: bytes) -> None:
        self._db.execute(
            "INSERT INTO file_bases (id, state) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
            (file_id, zlib.compress(state, 1)),
        )

    def base(self, file_id: str) -> bytes | None:
        row = self._db.execute("SELECT state FROM file_bases WHERE id = ?", (file_id,)).fetchone()
        return zlib.decompress(row[0]) if row else None

    def get_or_create(self, path: str) -> str:
        path = normalize(path)
        row = self._db.execute("SELECT id FROM file_ids WHERE path = ?", (path,)).fetchone()
        if row:
            return row[0]
        file_id = str(uuid.uuid4())
        self._db.execute("INSERT INTO file_ids (id, path) VALUES (?, ?)", (file_id, path))
        return file_id

    def path_of(self, file_id: str) -> str | None:
        row = self._db.execute("SELECT path FROM file_ids WHERE id = ?", (file_id,)).fetchone()
        return row[0] if row else None

    def _under(self, path: str) -> list[tuple[str, str]]:
        like = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        return self._db.execute(
            "SELECT id, path FROM file_ids WHERE path = ? OR path LIKE ? ESCAPE '\\'",
            (path, like),
        ).fetchall()

    def moved(self, old: str, new: str) -> dict[str, str]:
        old, new = normalize(old), normalize(new)
        changed = {file_id: new + path[len(old) :] for file_id, path in self._under(old)}
        with self._db:
            self._db.execute("BEGIN")
            # A file that already sat at a destination path was replaced by the move.
            for path in changed.values():
                self._db.execute("DELETE FROM file_ids WHERE path = ?", (path,))
            for file_id, path in changed.items():
                self._db.execute("UPDATE file_ids SET path = ? WHERE id = ?", (path, file_id))
        return changed

    def deleted(self, path: str) -> list[str]:
        gone = [file_id for file_id, _ in self._under(normalize(path))]
        with self._db:
            self._db.execute("BEGIN")
            for file_id in gone:
                self._db.execute("DELETE FROM file_ids WHERE id = ?", (file_id,))
        return gone

    def close(self) -> None:
        self._db.close()
