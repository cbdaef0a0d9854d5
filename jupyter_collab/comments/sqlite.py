"""Comment threads in the collaboration database (SQLite): its own ``collab_`` tables, made
and upgraded by the one migration mechanism (``persistence/migrations.py``) as the ``comments``
component; every query runs on the database's threads, never on the event loop."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from ..persistence.database import SQLiteTables
from ..persistence.migrations import Component
from .anchors import Anchor
from .store import (
    Comment,
    CommentStore,
    LimitReached,
    Thread,
    UnknownComment,
    UnknownThread,
)

# Append only: migration N brings the tables from version N-1 to N.
COMPONENT = Component(
    "comments",
    (
        (
            """CREATE TABLE collab_comment_threads (
                id TEXT PRIMARY KEY, file_id TEXT NOT NULL, doc_id TEXT NOT NULL, cell TEXT,
                anchor_start BLOB, anchor_end BLOB, quote TEXT NOT NULL, scope BLOB,
                created_by TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
                resolved INTEGER NOT NULL DEFAULT 0, resolved_by TEXT, resolved_at REAL)""",
            "CREATE INDEX collab_comment_threads_file ON collab_comment_threads (file_id, created)",
            """CREATE TABLE collab_comments (
                n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                thread_id TEXT NOT NULL REFERENCES collab_comment_threads (id) ON DELETE CASCADE,
                author TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL, edited REAL,
                mentions TEXT NOT NULL)""",
            "CREATE INDEX collab_comments_thread ON collab_comments (thread_id, n)",
        ),
    ),
)

THREAD_COLUMNS = (
    "id, file_id, doc_id, cell, anchor_start, anchor_end, quote, scope, created_by, created,"
    " updated, resolved, resolved_by, resolved_at"
)
COMMENT_COLUMNS = "id, thread_id, author, body, created, edited, mentions"


def thread_of(row: tuple[Any, ...], comments: Iterable[Comment]) -> Thread:
    (id, file_id, doc_id, cell, start, end, quote, scope, by, created, updated,
     resolved, resolved_by, resolved_at) = row  # fmt: skip
    return Thread(
        id, file_id, doc_id,
        Anchor(cell, _bytes(start), _bytes(end), quote, _bytes(scope)),
        by, created, updated, bool(resolved), resolved_by, resolved_at, tuple(comments),
    )  # fmt: skip


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def comment_of(row: tuple[Any, ...]) -> Comment:
    id, thread, author, body, created, edited, mentions = row
    if isinstance(mentions, str):
        mentions = json.loads(mentions)
    return Comment(id, thread, author, body, created, edited, tuple(mentions or ()))


def thread_row(thread: Thread) -> tuple[Any, ...]:
    a = thread.anchor
    return (
        thread.id, thread.file_id, thread.doc_id, a.cell, a.start, a.end, a.quote, a.scope,
        thread.created_by, thread.created, thread.updated, int(thread.resolved),
        thread.resolved_by, thread.resolved_at,
    )  # fmt: skip


class SQLiteCommentStore(SQLiteTables, CommentStore):
    component = COMPONENT

    @staticmethod
    def _threads(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Thread]:
        rows = db.execute(
            f"SELECT {THREAD_COLUMNS} FROM collab_comment_threads WHERE {where} "
            "ORDER BY created, id",
            params,
        ).fetchall()
        if not rows:
            return []
        ids = [row[0] for row in rows]
        by_thread: dict[str, list[Comment]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):  # (SQLite's limit on bound parameters)
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                f"SELECT {COMMENT_COLUMNS} FROM collab_comments WHERE thread_id IN ({marks}) "
                "ORDER BY n",
                chunk,
            ):
                by_thread[row[1]].append(comment_of(row))
        return [thread_of(row, by_thread[row[0]]) for row in rows]

    async def create_thread(
        self, thread: Thread, first: Comment, max_threads: int | None = None
    ) -> None:
        def run(db: sqlite3.Connection) -> None:  # (one transaction: SQLiteDatabase.write)
            known = db.execute(
                "SELECT 1 FROM collab_comment_threads WHERE id = ?", (thread.id,)
            ).fetchall()
            if known:
                return
            if max_threads is not None:
                (count,) = db.execute(
                    "SELECT count(*) FROM collab_comment_threads WHERE file_id = ?",
                    (thread.file_id,),
                ).fetchone()
                if count >= max_threads:
                    raise LimitReached("threads", max_threads)
            db.execute(
                f"INSERT OR IGNORE INTO collab_comment_threads ({THREAD_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                thread_row(thread),
            )
            self._insert_comment(db, first)

        await self._write(run)

    @staticmethod
    def _insert_comment(db: sqlite3.Connection, c: Comment) -> None:
        db.execute(
            f"INSERT OR IGNORE INTO collab_comments ({COMMENT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (c.id, c.thread, c.author, c.body, c.created, c.edited, json.dumps(c.mentions)),
        )

    async def thread(self, thread_id: str) -> Thread:
        found = await self._read(self._threads, "id = ?", (thread_id,))
        if not found:
            raise UnknownThread(thread_id)
        return found[0]

    async def threads(self, file_id: str) -> list[Thread]:
        return await self._read(self._threads, "file_id = ?", (file_id,))

    async def add_comment(self, comment: Comment, max_comments: int | None = None) -> None:
        def run(db: sqlite3.Connection) -> None:
            touched = db.execute(
                "UPDATE collab_comment_threads SET updated = max(updated, ?) WHERE id = ?",
                (comment.created, comment.thread),
            ).rowcount
            if not touched:
                raise UnknownThread(comment.thread)
            if max_comments is not None:
                (count,) = db.execute(
                    "SELECT count(*) FROM collab_comments WHERE thread_id = ? AND id != ?",
                    (comment.thread, comment.id),
                ).fetchone()
                if count >= max_comments:
                    raise LimitReached("comments", max_comments)
            self._insert_comment(db, comment)

        await self._write(run)

    async def edit_comment(
        self, thread_id: str, comment_id: str, body: str, mentions: tuple[str, ...], time: float
    ) -> Comment:
        def run(db: sqlite3.Connection) -> Comment:
            changed = db.execute(
                "UPDATE collab_comments SET body = ?, mentions = ?, edited = ? "
                "WHERE id = ? AND thread_id = ?",
                (body, json.dumps(mentions), time, comment_id, thread_id),
            ).rowcount
            if not changed:
                raise UnknownComment(comment_id)
            db.execute(
                "UPDATE collab_comment_threads SET updated = max(updated, ?) WHERE id = ?",
                (time, thread_id),
            )
            row = db.execute(
                f"SELECT {COMMENT_COLUMNS} FROM collab_comments WHERE id = ?", (comment_id,)
            ).fetchone()
            return comment_of(row)

        return await self._write(run)

    async def delete_comment(self, thread_id: str, comment_id: str, time: float) -> bool:
        def run(db: sqlite3.Connection) -> bool:
            gone = db.execute(
                "DELETE FROM collab_comments WHERE id = ? AND thread_id = ?",
                (comment_id, thread_id),
            ).rowcount
            if not gone:
                raise UnknownComment(comment_id)
            left = db.execute(
                "SELECT count(*) FROM collab_comments WHERE thread_id = ?", (thread_id,)
            ).fetchone()[0]
            if left:
                db.execute(
                    "UPDATE collab_comment_threads SET updated = max(updated, ?) WHERE id = ?",
                    (time, thread_id),
                )
            else:
                db.execute("DELETE FROM collab_comment_threads WHERE id = ?", (thread_id,))
            return not left

        return await self._write(run)

    async def set_resolved(self, thread_id: str, resolved: bool, user: str, time: float) -> Thread:
        def run(db: sqlite3.Connection) -> Thread:
            changed = db.execute(
                "UPDATE collab_comment_threads SET resolved = ?, resolved_by = ?, "
                "resolved_at = ?, updated = max(updated, ?) WHERE id = ?",
                (int(resolved), user if resolved else None, time if resolved else None, time,
                 thread_id),
            ).rowcount  # fmt: skip
            if not changed:
                raise UnknownThread(thread_id)
            return self._threads(db, "id = ?", (thread_id,))[0]

        return await self._write(run)

    async def file_ids(self) -> list[str]:
        def run(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT DISTINCT file_id FROM collab_comment_threads ORDER BY file_id"
            ).fetchall()
            return [row[0] for row in rows]

        return await self._read(run)

    async def purge_files(self, file_ids: list[str]) -> int:
        def run(db: sqlite3.Connection) -> int:
            gone = 0
            for file_id in file_ids:  # (foreign keys are not enforced: comments first)
                db.execute(
                    "DELETE FROM collab_comments WHERE thread_id IN "
                    "(SELECT id FROM collab_comment_threads WHERE file_id = ?)",
                    (file_id,),
                )
                gone += db.execute(
                    "DELETE FROM collab_comment_threads WHERE file_id = ?", (file_id,)
                ).rowcount
            return gone

        return await self._write(run) if file_ids else 0
