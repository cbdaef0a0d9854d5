"""The sharing store in memory: for tests and servers that keep nothing on disk."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace

from .roles import Role
from .store import KnownUser, Notification, NotificationPreferences, Share, ShareStore, under


class MemoryShareStore(ShareStore):
    def __init__(self) -> None:
        self._shares: dict[str, dict[str, Share]] = {}
        self._users: dict[str, KnownUser] = {}
        self._notifications: list[Notification] = []
        self._ids = itertools.count(1)
        self._preferences: dict[str, NotificationPreferences] = {}

    async def shares(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        return {p: dict(self._shares[p]) for p in paths if self._shares.get(p)}

    async def all_shares(self) -> list[Share]:
        return [share for level in self._shares.values() for share in level.values()]

    async def set_share(
        self, path: str, user: str, role: Role | None, granted_by: str | None, time: float
    ) -> Share | None:
        level = self._shares.setdefault(path, {})
        previous = level.pop(user, None)
        if role is not None:
            level[user] = Share(path, user, role, granted_by, time)
        if not level:
            del self._shares[path]
        return previous

    async def moved(self, old: str, new: str) -> None:
        moving = [p for p in self._shares if under(p, old) and old != ""]
        for path in moving:
            target = new + path[len(old) :]
            self._shares[target] = {
                u: replace(s, path=target) for u, s in self._shares.pop(path).items()
            }

    async def deleted(self, path: str) -> None:
        for known in [p for p in self._shares if under(p, path) and path != ""]:
            del self._shares[known]

    async def user_seen(self, user: KnownUser, time: float) -> None:
        self._users[user.username] = user

    async def users(self, query: str, limit: int) -> list[KnownUser]:
        q = query.lower()
        found = [
            u
            for u in self._users.values()
            if q in u.username.lower() or q in u.name.lower() or q in u.display_name.lower()
        ]
        return sorted(found, key=lambda u: u.username)[:limit]

    async def notify(self, notification: Notification) -> int:
        stored = replace(notification, id=next(self._ids), read=False)
        self._notifications.append(stored)
        return stored.id

    async def notifications(self, user: str, after: int, limit: int) -> list[Notification]:
        mine = [n for n in self._notifications if n.user == user and n.id > after]
        return mine[:limit]

    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> None:
        wanted = set(ids or ())
        self._notifications = [
            replace(n, read=True)
            if n.user == user and (n.id in wanted or (upto is not None and n.id <= upto))
            else n
            for n in self._notifications
        ]

    async def unread(self, user: str) -> int:
        return sum(1 for n in self._notifications if n.user == user and not n.read)

    async def preferences(self, user: str) -> NotificationPreferences | None:
        return self._preferences.get(user)

    async def set_preferences(self, preferences: NotificationPreferences) -> None:
        self._preferences[preferences.user] = preferences
