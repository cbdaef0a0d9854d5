"""The sharing store in the collaboration database (its own ``collab_`` tables)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .roles import Role
from .store import KnownUser, Notification, Share, ShareStore

COMPONENT = "sharing"
# Append only: migration N brings the tables from version N-1 to N.
MIGRATIONS: list[list[str]] = [
    [
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
    ],
]


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"


class SQLiteShareStore(ShareStore):
    def __init__(self, db_path: str | Path, root: str = "") -> None:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
        self._root = root
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = self._db.execute(
                "SELECT version FROM schema_version WHERE component = ?", (COMPONENT,)
            ).fetchall()
            current = row[0][0] if row else 0
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"the sharing tables are at schema {current}; this jupyter-collab knows "
                    f"up to {len(MIGRATIONS)}"
                )
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR REPLACE INTO schema_version (component, version) VALUES (?, ?)",
                (COMPONENT, len(MIGRATIONS)),
            )

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        # fetchall, never fetchone: an open cursor would keep a read transaction.
        return self._db.execute(sql, args).fetchall()

    def shares(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        result: dict[str, dict[str, Share]] = {}
        for path, user, role, granted_by, time in self._all(
            "SELECT path, user, role, granted_by, time FROM collab_shares "
            f"WHERE root = ? AND path IN ({marks})",
            (self._root, *wanted),
        ):
            result.setdefault(path, {})[user] = Share(path, user, Role(role), granted_by, time)
        return result

    def set_share(
        self, path: str, user: str, role: Role | None, granted_by: str | None, time: float
    ) -> Share | None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            previous = self.shares([path]).get(path, {}).get(user)
            if role is None:
                self._db.execute(
                    "DELETE FROM collab_shares WHERE root = ? AND path = ? AND user = ?",
                    (self._root, path, user),
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO collab_shares VALUES (?, ?, ?, ?, ?, ?)",
                    (self._root, path, user, role.value, granted_by, time),
                )
        return previous

    def moved(self, old: str, new: str) -> None:
        if not old:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE OR REPLACE collab_shares SET path = ? || substr(path, ?) "
                "WHERE root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
                (new, len(old) + 1, self._root, old, _like(old)),
            )

    def deleted(self, path: str) -> None:
        if not path:
            return
        self._db.execute(
            "DELETE FROM collab_shares WHERE root = ? AND (path = ? OR path LIKE ? ESCAPE '\\')",
            (self._root, path, _like(path)),
        )

    def user_seen(self, user: KnownUser, time: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO collab_users VALUES (?, ?, ?, ?, ?, ?)",
            (user.username, user.name, user.display_name, user.initials, user.color, time),
        )

    def users(self, query: str, limit: int) -> list[KnownUser]:
        like = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        rows = self._all(
            "SELECT username, name, display_name, initials, color FROM collab_users "
            "WHERE lower(username) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\' "
            "OR lower(display_name) LIKE ? ESCAPE '\\' ORDER BY username LIMIT ?",
            (like, like, like, limit),
        )
        return [KnownUser(*row) for row in rows]

    def notify(self, notification: Notification) -> int:
        n = notification
        cursor = self._db.execute(
            "INSERT INTO collab_notifications (user, type, time, actor, actor_name, path, room,"
            " message, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (n.user, n.type, n.time, n.actor, n.actor_name, n.path, n.room, n.message,
             json.dumps(dict(n.details))),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def notifications(self, user: str, after: int, limit: int) -> list[Notification]:
        rows = self._all(
            "SELECT id, user, type, time, actor, actor_name, path, room, message, details, read "
            "FROM collab_notifications WHERE user = ? AND id > ? ORDER BY id LIMIT ?",
            (user, after, limit),
        )
        return [
            Notification(*row[:9], details=json.loads(row[9]), read=bool(row[10])) for row in rows
        ]

    def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if upto is not None:
                self._db.execute(
                    "UPDATE collab_notifications SET read = 1 WHERE user = ? AND id <= ?",
                    (user, upto),
                )
            for notification_id in ids or ():
                self._db.execute(
                    "UPDATE collab_notifications SET read = 1 WHERE user = ? AND id = ?",
                    (user, notification_id),
                )

    def unread(self, user: str) -> int:
        return self._all(
            "SELECT COUNT(*) FROM collab_notifications WHERE user = ? AND read = 0", (user,)
        )[0][0]

    def close(self) -> None:
        self._db.close()
