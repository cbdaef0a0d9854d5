"""The sharing store in PostgreSQL: shares, the user directory and notifications, shared by
every server that serves one folder.

The same contract as :class:`~.sqlite.SQLiteShareStore`, on the process's
:class:`~..persistence.pgdatabase.PostgresDatabase` (asyncio connections: no SQL on the event
loop; a lost connection retried within the database's timeout) and its one migration mechanism
(the ``sharing`` component, the same name and version as the SQLite tables'). ``user`` is a
reserved word in PostgreSQL: the column is ``user_name``.

What several servers change here:

- **notification ids are a cursor** (``notifications(user, after=id)``): ids come from an
  identity column, and inserts for one user are serialized by a transaction-level advisory lock
  on that user, so no server ever sees a user's notification before one with a smaller id that
  is still to commit (a reader's cursor would step over it for good).
- a move of a folder moves its shares and those below it in one transaction, replacing a share
  that sat at a destination (as SQLite's ``UPDATE OR REPLACE`` does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..persistence.pgdatabase import Jsonb, PostgresDatabase, Reader, Transaction
from ..persistence.pgmigrations import PostgresComponent
from .roles import Role
from .store import KnownUser, Notification, NotificationPreferences, Share, ShareStore

# Append only: step N brings the tables from version N-1 to N (the SQLite component's numbering).
COMPONENT = PostgresComponent(
    "sharing",
    (
        [
            """CREATE TABLE collab_shares (
                root TEXT NOT NULL,
                path TEXT NOT NULL,
                user_name TEXT NOT NULL,
                role TEXT NOT NULL,
                granted_by TEXT,
                time DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (root, path, user_name)
            )""",
            "CREATE INDEX collab_shares_prefix ON collab_shares (root, path text_pattern_ops)",
            """CREATE TABLE collab_users (
                username TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                display_name TEXT NOT NULL,
                initials TEXT NOT NULL,
                color TEXT NOT NULL,
                last_seen DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE collab_notifications (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                user_name TEXT NOT NULL,
                type TEXT NOT NULL,
                time DOUBLE PRECISION NOT NULL,
                actor TEXT,
                actor_name TEXT,
                path TEXT,
                room TEXT,
                message TEXT NOT NULL,
                details JSONB NOT NULL,
                read BOOLEAN NOT NULL DEFAULT FALSE
            )""",
            "CREATE INDEX collab_notifications_user ON collab_notifications (user_name, id)",
        ],
        [
            # 2: what each user chose to receive by e-mail (docs/notifications.md)
            """CREATE TABLE collab_notification_prefs (
                user_name TEXT PRIMARY KEY,
                email TEXT,
                kinds JSONB,
                time DOUBLE PRECISION NOT NULL
            )""",
        ],
        [
            # 3: the e-mail outbox (notifications/outbox.py), shared by the servers of a group
            """CREATE TABLE collab_mail_batches (
                address TEXT PRIMARY KEY,
                user_name TEXT NOT NULL,
                due DOUBLE PRECISION NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                owner TEXT,
                lease_until DOUBLE PRECISION
            )""",
            """CREATE TABLE collab_mail_outbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                address TEXT NOT NULL,
                key TEXT NOT NULL,
                item JSONB NOT NULL,
                created DOUBLE PRECISION NOT NULL,
                UNIQUE (address, key)
            )""",
        ],
    ),
)

# pg_advisory_xact_lock(int, int) class serializing one user's notification inserts: "jcnt".
NOTIFY_LOCK = int.from_bytes(b"jcnt", "big") - 2**31

_SHARE_COLUMNS = "path, user_name, role, granted_by, time"
_NOTIFICATION_COLUMNS = (
    "id, user_name, type, time, actor, actor_name, path, room, message, details, read"
)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _shares(rows: Iterable[tuple[Any, ...]]) -> list[Share]:
    return [Share(path, user, Role(role), by, time) for path, user, role, by, time in rows]


async def _rows(cur: Any) -> list[tuple[Any, ...]]:
    return list(await cur.fetchall())


async def _none() -> None:
    return None


def _query(sql: str, params: Any = None) -> Any:
    async def run(tx: Transaction) -> Reader[list[tuple[Any, ...]]]:
        cur = await tx.execute(sql, params)
        return lambda: _rows(cur)

    return run


def _statements(*statements: tuple[str, Any]) -> Any:
    async def run(tx: Transaction) -> Reader[None]:
        for sql, params in statements:
            await tx.execute(sql, params)
        return _none

    return run


class PostgresShareStore(ShareStore):
    """Shares of one served folder (``root``), the user directory and notifications.

    ``database`` is a URL (the store then owns its connection pool) or a
    :class:`~..persistence.pgdatabase.PostgresDatabase` shared with the other components.
    """

    def __init__(self, database: str | PostgresDatabase, root: str = "") -> None:
        self.db = (
            database.retain()
            if isinstance(database, PostgresDatabase)
            else PostgresDatabase(database)
        )
        self._root = root

    @classmethod
    async def open(
        cls, database: str | PostgresDatabase, root: str = ""
    ) -> PostgresShareStore:
        """Create the store and wait until its tables are ready (errors surface here)."""
        store = cls(database, root)
        try:
            await store.db.ready(COMPONENT)
        except BaseException:
            await store.close()
            raise
        return store

    async def _read(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        await self.db.ready(COMPONENT)
        return await self.db.read(_query(sql, params))

    # -- shares --------------------------------------------------------------------------------

    async def shares(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        result: dict[str, dict[str, Share]] = {}
        rows = await self._read(
            f"SELECT {_SHARE_COLUMNS} FROM collab_shares WHERE root = %s AND path = ANY(%s)",
            (self._root, wanted),
        )
        for share in _shares(rows):
            result.setdefault(share.path, {})[share.user] = share
        return result

    async def all_shares(self) -> list[Share]:
        rows = await self._read(
            f"SELECT {_SHARE_COLUMNS} FROM collab_shares WHERE root = %s", (self._root,)
        )
        return _shares(rows)

    async def set_share(
        self, path: str, user: str, role: Role | None, granted_by: str | None, time: float
    ) -> Share | None:
        await self.db.ready(COMPONENT)
        key = (self._root, path, user)

        async def run(tx: Transaction) -> Reader[Share | None]:
            # Read (and lock) the previous share, then change it, in one round trip.
            previous = await tx.execute(
                f"SELECT {_SHARE_COLUMNS} FROM collab_shares "
                "WHERE root = %s AND path = %s AND user_name = %s FOR UPDATE",
                key,
            )
            if role is None:
                await tx.execute(
                    "DELETE FROM collab_shares WHERE root = %s AND path = %s AND user_name = %s",
                    key,
                )
            else:
                await tx.execute(
                    "INSERT INTO collab_shares (root, path, user_name, role, granted_by, time) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (root, path, user_name) "
                    "DO UPDATE SET role = EXCLUDED.role, granted_by = EXCLUDED.granted_by, "
                    "time = EXCLUDED.time",
                    (*key, role.value, granted_by, time),
                )

            async def reader() -> Share | None:
                found = _shares(await previous.fetchall())
                return found[0] if found else None

            return reader

        # Run twice (a lost COMMIT that did not land), it sets the same share: the previous
        # one returned is still the one read before the first attempt committed or not.
        return await self.db.write(run)

    async def moved(self, old: str, new: str) -> None:
        if not old:
            return
        params = {
            "root": self._root, "old": old, "new": new, "like": _escape(old) + "/%",
            "cut": len(old) + 1,
        }  # fmt: skip
        moving = "(path = %(old)s OR path LIKE %(like)s)"
        await self.db.ready(COMPONENT)
        await self.db.write(
            _statements(
                # a share sitting where one moves to is replaced by the one moving there
                (
                    "DELETE FROM collab_shares d USING collab_shares s "
                    f"WHERE s.root = %(root)s AND {moving.replace('path', 's.path')} "
                    "AND d.root = s.root AND d.user_name = s.user_name "
                    "AND d.path = %(new)s || substr(s.path, %(cut)s) "
                    f"AND NOT {moving.replace('path', 'd.path')}",
                    params,
                ),
                (
                    "UPDATE collab_shares SET path = %(new)s || substr(path, %(cut)s) "
                    f"WHERE root = %(root)s AND {moving}",
                    params,
                ),
            )
        )

    async def deleted(self, path: str) -> None:
        if not path:
            return
        await self.db.ready(COMPONENT)
        await self.db.autocommit(  # (deleting by key: safe to run twice)
            _statements(
                (
                    "DELETE FROM collab_shares "
                    "WHERE root = %s AND (path = %s OR path LIKE %s)",
                    (self._root, path, _escape(path) + "/%"),
                )
            )
        )

    # -- users ---------------------------------------------------------------------------------

    async def user_seen(self, user: KnownUser, time: float) -> None:
        await self.db.ready(COMPONENT)
        await self.db.autocommit(
            _statements(
                (
                    "INSERT INTO collab_users "
                    "(username, name, display_name, initials, color, last_seen) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (username) DO UPDATE SET "
                    "name = EXCLUDED.name, display_name = EXCLUDED.display_name, "
                    "initials = EXCLUDED.initials, color = EXCLUDED.color, "
                    "last_seen = EXCLUDED.last_seen",
                    (user.username, user.name, user.display_name, user.initials, user.color,
                     time),
                )  # fmt: skip
            )
        )

    async def users(self, query: str, limit: int) -> list[KnownUser]:
        like = "%" + _escape(query.lower()) + "%"
        rows = await self._read(
            "SELECT username, name, display_name, initials, color FROM collab_users "
            "WHERE lower(username) LIKE %(q)s OR lower(name) LIKE %(q)s "
            "OR lower(display_name) LIKE %(q)s "
            'ORDER BY username COLLATE "C" LIMIT %(limit)s',
            {"q": like, "limit": limit},
        )
        return [KnownUser(*row) for row in rows]

    # -- notifications -------------------------------------------------------------------------

    async def notify(self, notification: Notification) -> int:
        n = notification
        await self.db.ready(COMPONENT)

        async def run(tx: Transaction) -> Reader[int]:
            await tx.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (NOTIFY_LOCK, n.user)
            )
            cur = await tx.execute(
                "INSERT INTO collab_notifications (user_name, type, time, actor, actor_name,"
                " path, room, message, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id",
                (n.user, n.type, n.time, n.actor, n.actor_name, n.path, n.room, n.message,
                 Jsonb(dict(n.details))),
            )  # fmt: skip

            async def reader() -> int:
                row = await cur.fetchone()
                assert row is not None
                return int(row[0])

            return reader

        async def verify(conn: Any, notification_id: int, xmin: int) -> bool:
            cur = await conn.execute(
                "SELECT 1 FROM collab_notifications WHERE id = %s AND xmin::text = %s",
                (notification_id, str(xmin)),
            )
            return await cur.fetchone() is not None

        return await self.db.write(run, verify=verify)

    async def notifications(self, user: str, after: int, limit: int) -> list[Notification]:
        rows = await self._read(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM collab_notifications "
            "WHERE user_name = %s AND id > %s ORDER BY id LIMIT %s",
            (user, after, limit),
        )
        return [
            Notification(*row[:9], details=dict(row[9] or {}), read=bool(row[10]))
            for row in rows
        ]

    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> None:
        wanted = [int(i) for i in ids or ()]
        statements = []
        if upto is not None:
            statements.append((
                "UPDATE collab_notifications SET read = TRUE WHERE user_name = %s AND id <= %s",
                (user, upto),
            ))  # fmt: skip
        if wanted:
            statements.append((
                "UPDATE collab_notifications SET read = TRUE "
                "WHERE user_name = %s AND id = ANY(%s)",
                (user, wanted),
            ))  # fmt: skip
        if not statements:
            return
        await self.db.ready(COMPONENT)
        await self.db.autocommit(_statements(*statements))  # (setting a mark: idempotent)

    async def unread(self, user: str) -> int:
        rows = await self._read(
            "SELECT count(*) FROM collab_notifications WHERE user_name = %s AND NOT read",
            (user,),
        )
        return int(rows[0][0])

    async def preferences(self, user: str) -> NotificationPreferences | None:
        rows = await self._read(
            "SELECT email, kinds, time FROM collab_notification_prefs WHERE user_name = %s",
            (user,),
        )
        if not rows:
            return None
        email, kinds, time = rows[0]
        return NotificationPreferences(user, email, None if kinds is None else tuple(kinds), time)

    async def set_preferences(self, preferences: NotificationPreferences) -> None:
        p = preferences
        kinds = None if p.email_kinds is None else Jsonb(list(p.email_kinds))
        await self.db.ready(COMPONENT)
        await self.db.autocommit(  # (replacing by key: safe to run twice)
            _statements(
                (
                    "INSERT INTO collab_notification_prefs (user_name, email, kinds, time) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (user_name) DO UPDATE SET "
                    "email = EXCLUDED.email, kinds = EXCLUDED.kinds, time = EXCLUDED.time",
                    (p.user, p.email, kinds, p.time),
                )
            )
        )

    async def close(self) -> None:
        await self.db.release()
