"""What a collaboration database holds, read from outside a server (the command line).

:class:`Catalog` is a plain (blocking) connection to either engine, for tools that run in a
process of their own: ``jupyter collab documents``, path lookup, ``check``, ``backup`` and
``import``. It never runs in a server (whose SQL goes through ``database.py`` /
``pgdatabase.py`` threads and pools, off the event loop).

Queries are written once, in SQLite's dialect with the SQLite names, and translated for
PostgreSQL by :func:`pg_sql`: the two schemas have the same tables and columns except that
``user`` is ``user_name`` there (a reserved word), the merge bases are
``collab_file_merge_bases`` and the versions table is ``collab_schema_version``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# SQLite name -> PostgreSQL name, for the tables whose names differ.
PG_TABLES = {
    "file_merge_bases": "collab_file_merge_bases",
    "schema_version": "collab_schema_version",
}
SQLITE_TABLES = {pg: lite for lite, pg in PG_TABLES.items()}
# The column ``user`` of the SQLite schema is ``user_name`` in PostgreSQL.
PG_COLUMNS = {"user": "user_name"}
SQLITE_COLUMNS = {pg: lite for lite, pg in PG_COLUMNS.items()}

_WORDS = re.compile(r"\b(file_merge_bases|schema_version|user)\b")
# Room ids are "<format>:<type>:<file id>" (collaboration/manager.py room_id_for).
KIND_PREFERENCE = ("json:notebook", "text:file", "base64:file", "base64:blob")


def pg_sql(sql: str) -> str:
    """A query of this module in PostgreSQL's dialect (names, and ``?`` placeholders)."""

    def name(match: re.Match[str]) -> str:
        word = match.group(1)
        return PG_TABLES.get(word) or PG_COLUMNS.get(word, word)

    return _WORDS.sub(name, sql).replace("?", "%s")


class NoDatabase(Exception):
    """There is no database where the configuration points (nothing to read)."""


@dataclass
class DocumentRow:
    """One document with history, as ``jupyter collab documents`` lists it."""

    room: str
    file_id: str
    kind: str  # "json:notebook", "text:file"...
    root: str | None
    path: str | None  # None: the file was deleted (``last_path`` is where it was)
    last_path: str | None
    deleted: float | None
    created: float
    last_edit: float | None
    last_seq: int
    versions: int
    log_entries: int
    log_bytes: int
    history_bytes: int  # log, snapshot and version states

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Catalog:
    """A blocking connection to the SQLite file at ``db_path`` or the PostgreSQL database at
    ``url``, read-only unless ``write``."""

    def __init__(self, *, db_path: str = "", url: str = "", write: bool = False) -> None:
        self.url = url
        self.db_path = db_path
        self.engine = "postgres" if url else "sqlite"
        if url:
            import psycopg

            self.conn: Any = psycopg.connect(url, autocommit=True, connect_timeout=30)
        else:
            if not db_path or not os.path.exists(db_path):
                raise NoDatabase(f"no database at {db_path or '(none configured)'}")
            mode = "rw" if write else "ro"
            self.conn = sqlite3.connect(
                f"file:{Path(db_path).absolute()}?mode={mode}", uri=True, isolation_level=None,
                timeout=30,
            )  # fmt: skip

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        """The database, as messages name it (a URL without its password)."""
        if self.url:
            from .pgdatabase import masked

            return masked(self.url)
        return str(self.db_path)

    # -- SQL ----------------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.engine == "postgres":
            return self.conn.execute(pg_sql(sql), tuple(params)).fetchall()
        return self.conn.execute(sql, tuple(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement without results (in either dialect, written in SQLite's)."""
        if self.engine == "postgres":
            self.conn.execute(pg_sql(sql), tuple(params))
        else:
            self.conn.execute(sql, tuple(params))

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch: int = 500
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of a large result without holding them all (a server-side cursor on
        PostgreSQL). Consume it whole before the next query."""
        if self.engine == "postgres":
            from psycopg.pq import TransactionStatus

            # (a server-side cursor lives in a transaction: its own, unless one is open)
            idle = self.conn.info.transaction_status == TransactionStatus.IDLE
            with (
                self.conn.transaction() if idle else contextlib.nullcontext(),
                self.conn.cursor(name="collab_stream") as cursor,
            ):
                cursor.execute(pg_sql(sql), tuple(params))
                while chunk := cursor.fetchmany(batch):
                    yield from chunk
            return
        cursor = self.conn.execute(sql, tuple(params))
        while chunk := cursor.fetchmany(batch):
            yield from chunk

    def tables(self) -> dict[str, list[str]]:
        """Every table of ours (SQLite names) and its columns (SQLite names)."""
        found: dict[str, list[str]] = {}
        if self.engine == "postgres":
            rows = self.conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name LIKE 'collab%' "
                "ORDER BY table_name, ordinal_position"
            ).fetchall()
            for table, column in rows:
                found.setdefault(SQLITE_TABLES.get(table, table), []).append(
                    SQLITE_COLUMNS.get(column, column)
                )
            return found
        names = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for table in names:
            if table.startswith("sqlite_"):
                continue
            found[table] = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
        return found

    def schema_versions(self) -> dict[str, int]:
        if "schema_version" not in self.tables():
            return {}
        return dict(self.rows("SELECT component, version FROM schema_version"))

    # -- documents ----------------------------------------------------------------------------

    def documents(self) -> list[DocumentRow]:
        """Every document with history, with its file (path, or last path if deleted)."""
        tables = self.tables()
        if "collab_docs" not in tables:
            return []
        length = "octet_length" if self.engine == "postgres" else "LENGTH"
        docs = self.rows(
            "SELECT d.doc_id, d.created, d.deleted_at, d.last_seq, "
            "(SELECT MAX(u.time) FROM collab_updates u WHERE u.doc_id = d.doc_id), "
            "(SELECT COUNT(*) FROM collab_updates u WHERE u.doc_id = d.doc_id), "
            f"(SELECT COALESCE(SUM({length}(u.data)), 0) FROM collab_updates u "
            "WHERE u.doc_id = d.doc_id), "
            "(SELECT COUNT(*) FROM collab_versions v WHERE v.doc_id = d.doc_id), "
            "(SELECT MAX(v.time) FROM collab_versions v WHERE v.doc_id = d.doc_id), "
            f"(SELECT COALESCE(SUM({length}(v.state)), 0) FROM collab_versions v "
            "WHERE v.doc_id = d.doc_id), "
            f"(SELECT COALESCE(SUM({length}(s.state)), 0) FROM collab_snapshots s "
            "WHERE s.doc_id = d.doc_id) "
            "FROM collab_docs d ORDER BY d.doc_id"
        )
        files = {}
        if "collab_files" in tables:
            files = {
                row[0]: row[1:]
                for row in self.rows("SELECT id, root, path, last_path FROM collab_files")
            }
        result = []
        for (doc_id, created, deleted, last_seq, last_update, entries, log_bytes, versions,
             last_version, version_bytes, snapshot_bytes) in docs:  # fmt: skip
            kind, _, file_id = doc_id.rpartition(":")
            root, path, last_path = files.get(file_id, (None, None, None))
            result.append(
                DocumentRow(
                    room=doc_id, file_id=file_id, kind=kind, root=root, path=path,
                    last_path=last_path, deleted=deleted, created=created,
                    last_edit=last_update if last_update is not None else last_version,
                    last_seq=int(last_seq), versions=int(versions), log_entries=int(entries),
                    log_bytes=int(log_bytes),
                    history_bytes=int(log_bytes) + int(version_bytes) + int(snapshot_bytes),
                )
            )  # fmt: skip
        return result

    def roots(self) -> list[str]:
        if "collab_files" not in self.tables():
            return []
        return [r[0] for r in self.rows("SELECT DISTINCT root FROM collab_files ORDER BY root")]

    def find(self, spelling: str, root: str) -> str:
        """The room id of a document: a room id itself, or a file's path under ``root`` (its
        current path, else the last path of a deleted file). :class:`LookupError` says why
        not."""
        known = {row[0] for row in self.rows("SELECT doc_id FROM collab_docs")} if (
            "collab_docs" in self.tables()
        ) else set()  # fmt: skip
        if spelling in known:
            return spelling
        path = normalize_path(spelling)
        roots = self.roots()
        # A database of one folder: its paths, whatever folder the command runs in.
        search = [root] if root in roots or len(roots) != 1 else roots
        for where in search:
            for column in ("path", "last_path"):
                rows = self.rows(
                    f"SELECT id FROM collab_files WHERE root = ? AND {column} = ?", (where, path)
                )
                for (file_id,) in rows:
                    rooms = [r for r in known if r.rpartition(":")[2] == file_id]
                    if rooms:
                        return _preferred(rooms, path)
        if any(r.rpartition(":")[2] == spelling for r in known):  # a file id
            return _preferred([r for r in known if r.rpartition(":")[2] == spelling], "")
        shown = ", ".join(roots) if roots else "none"
        raise LookupError(
            f"no document with history at {path!r} under {root!r} (folders in this database: "
            f"{shown}); `jupyter collab documents` lists them"
        )


def _preferred(rooms: list[str], path: str) -> str:
    """The room of a file to use when it was opened as several kinds (a notebook as text)."""
    if path.endswith(".ipynb") and any(r.startswith("json:notebook:") for r in rooms):
        return next(r for r in rooms if r.startswith("json:notebook:"))
    for kind in KIND_PREFERENCE[1:]:
        for room in rooms:
            if room.startswith(kind + ":"):
                return room
    return sorted(rooms)[0]


def normalize_path(path: str) -> str:
    """A path as the file ids keep it: relative to the root, ``/`` separated, no dots."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LookupError(f"{path!r}: paths are relative to the served folder, without '..'")
    return "/".join(parts)


def room_kind(room_id: str) -> tuple[Any, str]:
    """(document kind, file id) of a room id (``RoomManager.parse`` without importing the
    room machinery); ``LookupError`` if it is not one."""
    from ..documents.kinds import UnsupportedKind, document_kind

    try:
        format, type, file_id = room_id.split(":", 2)
        return document_kind(format, type), file_id
    except (ValueError, UnsupportedKind):
        raise LookupError(f"not a document id: {room_id!r}") from None
