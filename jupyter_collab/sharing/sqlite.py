"""The sharing store in the collaboration database (its own ``collab_`` tables)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..persistence.database import SQLiteDatabase, SQLiteTables
from ..persistence.migrations import Component
from .roles import Role
from .store import KnownUser, Notification, NotificationPreferences, Share, ShareStore

# Append only: migration N brings the tables from version N-1 to N.
COMPONENT = Component(
    "sharing",
    (
        (
            """CREATE TABLE collab_shares (
                root TEXT NOT NULL, path TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
                granted_by TEXT, time REAL NOT NULL, PRIMARY KEY (root, path, user))""",
            """CREATE TABLE collab_users (
                username TEXT PRIMARY KEY, name TEXT NOT NULL, display_name TEXT NOT NULL,
                initials TEXT NOT NULL, color TEXT NOT NULL, last_seen REAL NOT NULL)""",
            """CREATE TABLE collab_notifications (
                id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, type TEXT NOT NULL,
                time REAL NOT NULL, actor TEXT, actor_name TEXT, path TEXT, room TEXT,
                message TEXT NOT NULL, details TEXT NOT NULL, read INTEGER NOT NULL DEFAULT 0)""",
            "CREATE INDEX collab_notifications_user ON collab_notifications (user, id)",
        ),
        (
            # 2: what each user chose to receive by e-mail (docs/notifications.md); kinds is
            # a JSON list, NULL when never chosen (the server's default applies)
            """CREATE TABLE collab_notification_prefs (
                user TEXT PRIMARY KEY, email TEXT, kinds TEXT, time REAL NOT NULL)""",
        ),
        (
            # 3: the e-mail outbox (notifications/outbox.py): one batch per address, due at
            # the end of its window or of its retry wait, leased by the server sending it;
            # its notifications (item: the notification as shown, JSON) until they are sent
            """CREATE TABLE collab_mail_batches (
                address TEXT PRIMARY KEY, user_name TEXT NOT NULL, due REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, lease_until REAL)""",
            """CREATE TABLE collab_mail_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT NOT NULL, key TEXT NOT NULL,
                item TEXT NOT NULL, created REAL NOT NULL, UNIQUE (address, key))""",
        ),
    ),
)


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


def _shares(rows: Iterable[tuple[Any, ...]]) -> list[Share]:
    return [Share(path, user, Role(role), by, time) for path, user, role, by, time in rows]


class SQLiteShareStore(SQLiteTables, ShareStore):
    component = COMPONENT

    def __init__(self, database: str | Path | SQLiteDatabase, root: str = "") -> None:
        super().__init__(database)
        self._root = root

    def _select_shares(self, db: sqlite3.Connection, paths: list[str]) -> list[Share]:
        marks = ",".join("?" * len(paths))
        return _shares(
            db.execute(
                "SELECT path, user, role, granted_by, time FROM collab_shares "
                f"WHERE root = ? AND path IN ({marks})",
                (self._root, *paths),
            ).fetchall()
        )

    async def shares(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        result: dict[str, dict[str, Share]] = {}
        for share in await self._read(self._select_shares, wanted):
            result.setdefault(share.path, {})[share.user] = share
        return result

    async def all_shares(self) -> list[Share]:
        def run(db: sqlite3.Connection) -> list[Share]:
            return _shares(
                db.execute(
                    "SELECT path, user, role, granted_by, time FROM collab_shares WHERE root = ?",
                    (self._root,),
                ).fetchall()
            )

        return await self._read(run)

    async def set_share(
        self, path: str, user: str, role: Role | None, granted_by: str | None, time: float
    ) -> Share | None:
        def run(db: sqlite3.Connection) -> Share | None:
            previous = next((s for s in self._select_shares(db, [path]) if s.user == user), None)
            if role is None:
                db.execute(
                    "DELETE FROM collab_shares WHERE root = ? AND path = ? AND user = ?",
                    (self._root, path, user),
                )
            else:
                db.execute(
                    "INSERT OR REPLACE INTO collab_shares VALUES (?, ?, ?, ?, ?, ?)",
                    (self._root, path, user, role.value, granted_by, time),
                )
            return previous

        return await self._write(run)

    async def moved(self, old: str, new: str) -> None:
        if not old:
            return

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE OR REPLACE collab_shares SET path = ? || substr(path, ?) "
                "WHERE root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
                (new, len(old) + 1, self._root, old, _like(old)),
            )

        await self._write(run)

    async def deleted(self, path: str) -> None:
        if not path:
            return

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM collab_shares "
                "WHERE root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
                (self._root, path, _like(path)),
            )

        await self._write(run)

    async def user_seen(self, user: KnownUser, time: float) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO collab_users VALUES (?, ?, ?, ?, ?, ?)",
                (user.username, user.name, user.display_name, user.initials, user.color, time),
            )

        await self._write(run)

    async def users(self, query: str, limit: int) -> list[KnownUser]:
        like = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )

        def run(db: sqlite3.Connection) -> list[KnownUser]:
            rows = db.execute(
                "SELECT username, name, display_name, initials, color FROM collab_users "
                "WHERE lower(username) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\' "
                "OR lower(display_name) LIKE ? ESCAPE '\\' ORDER BY username LIMIT ?",
                (like, like, like, limit),
            ).fetchall()
            return [KnownUser(*row) for row in rows]

        return await self._read(run)

    async def notify(self, notification: Notification) -> int:
        n = notification

        def run(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO collab_notifications (user, type, time, actor, actor_name, path,"
                " room, message, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (n.user, n.type, n.time, n.actor, n.actor_name, n.path, n.room, n.message,
                 json.dumps(dict(n.details))),
            )  # fmt: skip
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return await self._write(run)

    async def notifications(self, user: str, after: int, limit: int) -> list[Notification]:
        def run(db: sqlite3.Connection) -> list[Notification]:
            rows = db.execute(
                "SELECT id, user, type, time, actor, actor_name, path, room, message, details,"
                " read FROM collab_notifications WHERE user = ? AND id > ? ORDER BY id LIMIT ?",
                (user, after, limit),
            ).fetchall()
            return [
                Notification(*row[:9], details=json.loads(row[9]), read=bool(row[10]))
                for row in rows
            ]

        return await self._read(run)

    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> None:
        wanted = list(ids or ())

        def run(db: sqlite3.Connection) -> None:
            if upto is not None:
                db.execute(
                    "UPDATE collab_notifications SET read = 1 WHERE user = ? AND id <= ?",
                    (user, upto),
                )
            for notification_id in wanted:
                db.execute(
                    "UPDATE collab_notifications SET read = 1 WHERE user = ? AND id = ?",
                    (user, notification_id),
                )

        await self._write(run)

    async def unread(self, user: str) -> int:
        def run(db: sqlite3.Connection) -> int:
            return db.execute(
                "SELECT COUNT(*) FROM collab_notifications WHERE user = ? AND read = 0", (user,)
            ).fetchall()[0][0]

        return await self._read(run)

    async def preferences(self, user: str) -> NotificationPreferences | None:
        def run(db: sqlite3.Connection) -> NotificationPreferences | None:
            row = db.execute(
                "SELECT email, kinds, time FROM collab_notification_prefs WHERE user = ?", (user,)
            ).fetchone()
            if row is None:
                return None
            kinds = None if row[1] is None else tuple(json.loads(row[1]))
            return NotificationPreferences(user, row[0], kinds, row[2])

        return await self._read(run)

    async def set_preferences(self, preferences: NotificationPreferences) -> None:
        p = preferences
        kinds = None if p.email_kinds is None else json.dumps(list(p.email_kinds))

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO collab_notification_prefs VALUES (?, ?, ?, ?)",
                (p.user, p.email, kinds, p.time),
            )

        await self._write(run)
