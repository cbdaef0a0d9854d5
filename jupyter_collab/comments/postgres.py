"""Comment threads in PostgreSQL, shared by every server of a group.

The same contract as :class:`~.sqlite.SQLiteCommentStore`, on the process's
:class:`~..persistence.pgdatabase.PostgresDatabase` (asyncio connections, no SQL on the event
loop) and its one migration mechanism: the ``comments`` component, the same name and version
as the SQLite tables'. Ids are made by the service before the write, and inserts ignore a row
that is already there, so a transaction run again after a lost connection lands once.
"""

from __future__ import annotations

from typing import Any

from ..persistence.pgdatabase import PostgresDatabase, Reader, Transaction
from ..persistence.pgmigrations import PostgresComponent
from .sqlite import COMMENT_COLUMNS, THREAD_COLUMNS, comment_of, thread_of, thread_row
from .store import (
    Comment,
    CommentStore,
    LimitReached,
    Thread,
    UnknownComment,
    UnknownThread,
)

# Append only: step N brings the tables from version N-1 to N (the SQLite component's numbering).
COMPONENT = PostgresComponent(
    "comments",
    (
        [
            """CREATE TABLE collab_comment_threads (
                id TEXT PRIMARY KEY,
                file_id TEXT NOT NULL,
                doc_id TEXT NOT NULL,
                cell TEXT,
                anchor_start BYTEA,
                anchor_end BYTEA,
                quote TEXT NOT NULL,
                scope BYTEA,
                created_by TEXT NOT NULL,
                created DOUBLE PRECISION NOT NULL,
                updated DOUBLE PRECISION NOT NULL,
                resolved BOOLEAN NOT NULL DEFAULT FALSE,
                resolved_by TEXT,
                resolved_at DOUBLE PRECISION
            )""",
            "CREATE INDEX collab_comment_threads_file ON collab_comment_threads (file_id, created)",
            """CREATE TABLE collab_comments (
                n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                thread_id TEXT NOT NULL
                    REFERENCES collab_comment_threads (id) ON DELETE CASCADE,
                author TEXT NOT NULL,
                body TEXT NOT NULL,
                created DOUBLE PRECISION NOT NULL,
                edited DOUBLE PRECISION,
                mentions JSONB NOT NULL
            )""",
            "CREATE INDEX collab_comments_thread ON collab_comments (thread_id, n)",
        ],
    ),
)

_INSERT_COMMENT = (
    f"INSERT INTO collab_comments ({COMMENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO NOTHING"
)


def _comment_params(c: Comment) -> tuple[Any, ...]:
    from psycopg.types.json import Jsonb

    return (c.id, c.thread, c.author, c.body, c.created, c.edited, Jsonb(list(c.mentions)))


async def _none() -> None:
    return None


# pg_advisory_xact_lock(int, int) class serializing thread creation per file: "jcct".
THREADS_LOCK = int.from_bytes(b"jcct", "big") - 2**31


class PostgresCommentStore(CommentStore):
    """``database`` is a URL (the store then owns its pool) or a shared
    :class:`~..persistence.pgdatabase.PostgresDatabase`."""

    def __init__(self, database: str | PostgresDatabase) -> None:
        self.db = (
            database.retain()
            if isinstance(database, PostgresDatabase)
            else PostgresDatabase(database)
        )

    async def _threads(self, where: str, params: tuple[Any, ...]) -> list[Thread]:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[list[Thread]]:
            threads = await tx.execute(
                f"SELECT {THREAD_COLUMNS} FROM collab_comment_threads WHERE {where} "
                "ORDER BY created, id",
                params,
            )
            comments = await tx.execute(
                f"SELECT {COMMENT_COLUMNS} FROM collab_comments WHERE thread_id IN "
                f"(SELECT id FROM collab_comment_threads WHERE {where}) ORDER BY n",
                params,
            )

            async def reader() -> list[Thread]:
                rows = await threads.fetchall()
                by_thread: dict[str, list[Comment]] = {row[0]: [] for row in rows}
                for row in await comments.fetchall():
                    if row[1] in by_thread:
                        by_thread[row[1]].append(comment_of(row))
                return [thread_of(row, by_thread[row[0]]) for row in rows]

            return reader

        return await self.db.read(run, snapshot=True)

    async def create_thread(
        self, thread: Thread, first: Comment, max_threads: int | None = None
    ) -> None:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            if max_threads is not None:
                # Creations on one file wait for each other (servers of a group included),
                # so two at the cap cannot both pass the count.
                await tx.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    (THREADS_LOCK, thread.file_id),
                )
                known = await tx.execute(
                    "SELECT 1 FROM collab_comment_threads WHERE id = %s", (thread.id,)
                )
                count = await tx.execute(
                    "SELECT count(*) FROM collab_comment_threads WHERE file_id = %s",
                    (thread.file_id,),
                )
                await tx.sync()
                if await known.fetchone() is not None:
                    return _none  # (stored by an earlier run of this transaction)
                row = await count.fetchone()
                if row is not None and int(row[0]) >= max_threads:
                    raise LimitReached("threads", max_threads)
            await tx.execute(
                f"INSERT INTO collab_comment_threads ({THREAD_COLUMNS}) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (*thread_row(thread)[:11], thread.resolved, *thread_row(thread)[12:]),
            )
            await tx.execute(_INSERT_COMMENT, _comment_params(first))
            return _none

        await self.db.write(run)

    async def thread(self, thread_id: str) -> Thread:
        found = await self._threads("id = %s", (thread_id,))
        if not found:
            raise UnknownThread(thread_id)
        return found[0]

    async def threads(self, file_id: str) -> list[Thread]:
        return await self._threads("file_id = %s", (file_id,))

    async def add_comment(self, comment: Comment, max_comments: int | None = None) -> None:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[None]:
            # (the UPDATE locks the thread's row: replies to one thread are counted in turn)
            touched = await tx.execute(
                "UPDATE collab_comment_threads SET updated = GREATEST(updated, %s) WHERE id = %s",
                (comment.created, comment.thread),
            )
            count = await tx.execute(
                "SELECT count(*) FROM collab_comments WHERE thread_id = %s AND id <> %s",
                (comment.thread, comment.id),
            )
            await tx.sync()
            if not touched.rowcount:
                raise UnknownThread(comment.thread)
            row = await count.fetchone()
            if max_comments is not None and row is not None and int(row[0]) >= max_comments:
                raise LimitReached("comments", max_comments)
            await tx.execute(_INSERT_COMMENT, _comment_params(comment))
            return _none

        await self.db.write(run)

    async def edit_comment(
        self, thread_id: str, comment_id: str, body: str, mentions: tuple[str, ...], time: float
    ) -> Comment:
        from psycopg.types.json import Jsonb

        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[Comment]:
            changed = await tx.execute(
                "UPDATE collab_comments SET body = %s, mentions = %s, edited = %s "
                f"WHERE id = %s AND thread_id = %s RETURNING {COMMENT_COLUMNS}",
                (body, Jsonb(list(mentions)), time, comment_id, thread_id),
            )
            await tx.execute(
                "UPDATE collab_comment_threads SET updated = GREATEST(updated, %s) WHERE id = %s",
                (time, thread_id),
            )

            async def reader() -> Comment:
                row = await changed.fetchone()
                if row is None:
                    raise UnknownComment(comment_id)
                return comment_of(row)

            return reader

        return await self.db.write(run)

    async def delete_comment(self, thread_id: str, comment_id: str, time: float) -> bool:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[bool]:
            # Lock the thread first: two last comments deleted at once leave no empty thread.
            await tx.execute(
                "SELECT 1 FROM collab_comment_threads WHERE id = %s FOR UPDATE", (thread_id,)
            )
            gone = await tx.execute(
                "DELETE FROM collab_comments WHERE id = %s AND thread_id = %s",
                (comment_id, thread_id),
            )
            left = await tx.execute(
                "SELECT count(*) FROM collab_comments WHERE thread_id = %s", (thread_id,)
            )
            await tx.sync()
            if not gone.rowcount:
                raise UnknownComment(comment_id)
            row = await left.fetchone()
            remaining = int(row[0]) if row else 0
            if remaining:
                await tx.execute(
                    "UPDATE collab_comment_threads SET updated = GREATEST(updated, %s) "
                    "WHERE id = %s",
                    (time, thread_id),
                )
            else:
                await tx.execute("DELETE FROM collab_comment_threads WHERE id = %s", (thread_id,))

            async def reader() -> bool:
                return not remaining

            return reader

        return await self.db.write(run)

    async def set_resolved(self, thread_id: str, resolved: bool, user: str, time: float) -> Thread:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[int]:
            changed = await tx.execute(
                "UPDATE collab_comment_threads SET resolved = %s, resolved_by = %s, "
                "resolved_at = %s, updated = GREATEST(updated, %s) WHERE id = %s",
                (resolved, user if resolved else None, time if resolved else None, time,
                 thread_id),
            )  # fmt: skip

            async def reader() -> int:
                return changed.rowcount

            return reader

        if not await self.db.write(run):
            raise UnknownThread(thread_id)
        return await self.thread(thread_id)

    async def file_ids(self) -> list[str]:
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[list[str]]:
            cur = await tx.execute(
                "SELECT DISTINCT file_id FROM collab_comment_threads ORDER BY file_id"
            )

            async def reader() -> list[str]:
                return [row[0] for row in await cur.fetchall()]

            return reader

        return await self.db.read(run)

    async def purge_files(self, file_ids: list[str]) -> int:
        if not file_ids:
            return 0
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[int]:
            # (comments go with their thread: ON DELETE CASCADE)
            cur = await tx.execute(
                "DELETE FROM collab_comment_threads WHERE file_id = ANY(%s)", (list(file_ids),)
            )

            async def reader() -> int:
                return cur.rowcount

            return reader

        return await self.db.write(run)

    async def close(self) -> None:
        await self.db.release()
