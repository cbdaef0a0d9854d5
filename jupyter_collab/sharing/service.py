"""Who may do what on which file, changed by owners and applied live to open rooms.

The Jupyter Authorizer stays the outer limit (a share never grants more than it allows);
shares on a file or its folders narrow or shape access within it (docs/sharing-api.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import Any

from ..collaboration.manager import RoomManager
from ..gateway.identity import awareness_user
from ..history.audit import AuditLog
from ..persistence import AuditAction
from ..timestamps import iso
from .roles import EVERYONE, Role, levels, resolve
from .store import KnownUser, Notification, Share, ShareStore, under

# A user seen again within this many seconds, with the same identity, is not written again.
SEEN_REFRESH = 3600.0


class SharingRefused(Exception):
    """The change is not allowed (not an owner, or it would leave nobody to manage)."""


class SharingUnavailable(Exception):
    """Shares cannot be changed now: the database that keeps them is failing."""


class BadShare(ValueError):
    """Malformed share request."""


def cap_of(can_read: bool, can_write: bool) -> Role:
    """The most the Jupyter Authorizer allows, as a role."""
    if can_write:
        return Role.OWNER
    return Role.VIEWER if can_read else Role.NONE


class Sharing:
    def __init__(
        self,
        store: ShareStore,
        rooms: RoomManager,
        audit: AuditLog,
        log: logging.Logger,
        *,
        default_role: Role,
        owners: Iterable[str] = (),
        known_users: Iterable[str] = (),
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.audit = audit
        self.log = log
        self.default_role = default_role
        self.owners = frozenset(owners)
        self.known_users = tuple(known_users)
        # The shares of this root, in memory: loaded by ``load`` and kept up to date by this
        # object's own writes, so that a role check never waits for the database (issue 9
        # refreshes it from the event bus for changes made by other servers).
        self._shares: dict[str, dict[str, Share]] = {}
        # Why the shares are not known (their database could not be read), or None.
        self.unknown: str | None = None
        self._seen: dict[str, tuple[tuple[str, ...], float]] = {}
        self._recording: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Read every share of this root into memory (at start)."""
        shares: dict[str, dict[str, Share]] = {}
        for share in await self.store.all_shares():
            shares.setdefault(share.path, {})[share.user] = share
        self._shares = shares
        self.unknown = None

    def shares_unknown(self, reason: str) -> None:
        """The shares could not be read: only owners keep their access until they can be."""
        self.unknown = reason
        self.log.error(
            "Shares are unknown (%s): until the database is repaired, only owners (%s) may "
            "open files; everyone else is refused.",
            reason, ", ".join(sorted(self.owners)) or "none configured: everyone as without shares",
        )  # fmt: skip

    def _found(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        return {p: dict(self._shares[p]) for p in paths if self._shares.get(p)}

    def _remember(self, path: str, user: str, share: Share | None) -> None:
        level = self._shares.setdefault(path, {})
        level.pop(user, None)
        if share is not None:
            level[user] = share
        if not level:
            del self._shares[path]

    # -- roles -----------------------------------------------------------------------------------

    def _levels(self, path: str) -> dict[str, dict[str, Role]]:
        found = self._found(levels(path))
        return {level: {u: s.role for u, s in entries.items()} for level, entries in found.items()}

    def role(self, path: str, username: str, cap: Role) -> Role:
        if self.unknown is not None and self.owners and username not in self.owners:
            return Role.NONE  # fail closed: a share restricting this user may exist
        return resolve(
            path.strip("/"),
            username,
            self._levels(path),
            cap=cap,
            default=self.default_role,
            owner=username in self.owners,
        )

    def listing(self, path: str, username: str, cap: Role) -> dict[str, Any]:
        path = path.strip("/")
        found = self._found(levels(path))
        shares, everyone = [], None
        named: set[str] = set()
        for level in levels(path):  # nearest first: a nearer share hides the ones above
            for user, share in sorted(found.get(level, {}).items()):
                entry = {
                    "user": user,
                    "role": share.role.value,
                    "grantedBy": share.granted_by,
                    "time": iso(share.time),
                    "inherited": level != path,
                    "from": level,
                }
                if user == EVERYONE:
                    everyone = everyone or entry
                elif user not in named:
                    named.add(user)
                    shares.append(entry)
        role = self.role(path, username, cap)
        return {
            "path": path,
            "shares": shares,
            "everyone": everyone,
            "role": role.value,
            "canManage": role is Role.OWNER,
        }

    async def set_role(
        self,
        path: str,
        actor: Any,
        actor_cap: Role,
        target: str,
        role: str | None,
        kind: str = "file",
    ) -> dict[str, Any]:
        path = path.strip("/")
        if not isinstance(target, str) or not target.strip() or len(target) > 200:
            raise BadShare('"user" must be a username, or "*" for everyone else')
        try:
            new = Role(role) if role is not None else None
        except ValueError:
            raise BadShare(
                f"unknown role {role!r} (one of {', '.join(r.value for r in Role)}, or null)"
            ) from None
        username = actor.username
        if self.role(path, username, actor_cap) is not Role.OWNER:
            raise SharingRefused(f"only an owner of {path or 'the root folder'} may share it")
        if self.unknown is not None:
            raise SharingUnavailable(f"shares cannot be changed now: {self.unknown}")
        now = time.time()
        try:
            previous = await self.store.set_share(path, target, new, username, now)
        except Exception as exc:
            self.log.error("Changing the share of %s on %s failed: %s", target, path, exc)
            raise SharingUnavailable(f"shares cannot be changed now: {exc}") from exc
        self._remember(path, target, Share(path, target, new, username, now) if new else None)
        if self.role(path, username, actor_cap) is not Role.OWNER:
            # undo: the actor would lose the right to manage what they just changed
            await self.store.set_share(
                path,
                target,
                previous.role if previous else None,
                previous.granted_by if previous else None,
                previous.time if previous else time.time(),
            )
            self._remember(path, target, previous)
            raise SharingRefused(
                "this would leave you without the right to manage sharing here; "
                "make someone else an owner first"
            )
        self.audit.record(
            AuditAction.PERMISSION_CHANGE, None, username, path=path, target=target,
            role=new.value if new else None, previous=previous.role.value if previous else None,
        )  # fmt: skip
        if target not in (EVERYONE, username):
            await self._notify_shared(target, actor, path, new, kind)
        self.apply_live(path)
        return self.listing(path, username, actor_cap)

    def apply_live(self, path: str) -> None:
        """Give everyone connected below ``path`` their new role at once."""
        for room in list(self.rooms.rooms.values()):
            if not (path == "" or room.path == path or room.path.startswith(path + "/")):
                continue
            for participant in list(room.participants):
                cap = getattr(participant, "cap", None)
                if cap is None:
                    continue
                room.set_role(participant, self.role(room.path, participant.username, cap))

    # -- paths -----------------------------------------------------------------------------------

    async def moved(self, old: str, new: str) -> None:
        old, new = old.strip("/"), new.strip("/")
        if old:
            moving = {p: self._shares.pop(p) for p in list(self._shares) if under(p, old)}
            for path, entries in moving.items():
                target = new + path[len(old) :]
                # as the store does: a moved share replaces the same user's share there
                self._shares.setdefault(target, {}).update(
                    {u: dataclasses.replace(s, path=target) for u, s in entries.items()}
                )
        try:
            await self.store.moved(old, new)
        except Exception as exc:
            self.log.error("Moving the shares of %s to %s failed: %s", old, new, exc)

    async def deleted(self, path: str) -> None:
        path = path.strip("/")
        if path:
            for known in [p for p in self._shares if under(p, path)]:
                del self._shares[known]
        try:
            await self.store.deleted(path)
        except Exception as exc:
            self.log.error("Removing the shares of %s failed: %s", path, exc)

    # -- users -----------------------------------------------------------------------------------

    async def seen(self, user: Any) -> None:
        """Record a user in the directory, in the background: nobody's request waits for the
        database for it (and an unchanged identity is not written again within the hour)."""
        identity = awareness_user(user)
        fields = tuple(
            str(identity[k]) for k in ("username", "name", "display_name", "initials", "color")
        )
        now = time.time()
        last = self._seen.get(user.username)
        if last is not None and last[0] == fields and now - last[1] < SEEN_REFRESH:
            return  # known and unchanged: no write for every request
        self._seen[user.username] = (fields, now)
        known = KnownUser(
            identity["username"], identity["name"], identity["display_name"],
            identity["initials"], identity["color"],
        )  # fmt: skip

        async def record() -> None:
            try:
                await self.store.user_seen(known, now)
            except Exception as exc:  # the directory is a convenience: never refuse a user
                self.log.warning("Recording user %s failed: %s", user.username, exc)

        task = asyncio.ensure_future(record())
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def flush(self) -> None:
        """Wait for the directory writes in flight (at shutdown)."""
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    async def users(self, query: str, limit: int) -> list[dict[str, Any]]:
        try:
            stored = await self.store.users(query, limit)
        except Exception as exc:  # the directory is a convenience
            self.log.warning("Searching the user directory failed: %s", exc)
            stored = []
        found = {u.username: vars(u) for u in stored}
        q = query.lower()
        for username in self.known_users:
            if q in username.lower() and username not in found:
                identity = awareness_user(_Named(username))
                fields = ("username", "name", "display_name", "initials", "color")
                found[username] = {k: identity[k] for k in fields}
        return sorted(found.values(), key=lambda u: u["username"])[:limit]

    # -- notifications ---------------------------------------------------------------------------

    async def _notify_shared(
        self, target: str, actor: Any, path: str, role: Role | None, kind: str
    ) -> None:
        name = _display(actor)
        what = path or "the root folder"
        message = (
            f"{name} shared {what} with you as {role.value}"
            if role is not None and role is not Role.NONE
            else f"{name} removed your access to {what}"
            if role is Role.NONE
            else f"{name} removed your share of {what}"
        )
        details = {"role": role.value if role else None, "kind": kind}
        await self.notify(target, "shared", actor, path, None, message, details)

    async def notify_restored(
        self, users: Iterable[str], actor: Any, path: str, room: str, version: int
    ) -> None:
        message = f"{_display(actor)} restored version {version} of {path}"
        for user in users:
            if user != actor.username:
                await self.notify(
                    user, "restored", actor, path, room, message, {"version": version}
                )

    async def notify(
        self, user: str, kind: str, actor: Any, path: str | None, room: str | None,
        message: str, details: dict[str, Any],
    ) -> None:  # fmt: skip
        try:
            await self.store.notify(
                Notification(
                    0,
                    user,
                    kind,
                    time.time(),
                    actor.username,
                    _display(actor),
                    path,
                    room,
                    message,
                    details,
                )  # fmt: skip
            )
        except Exception as exc:
            self.log.warning("Notifying %s failed: %s", user, exc)

    async def notifications(self, user: str, after: int, limit: int) -> dict[str, Any]:
        try:
            found = await self.store.notifications(user, after, limit)
            unread = await self.store.unread(user)
        except Exception as exc:
            raise SharingUnavailable(f"notifications cannot be read now: {exc}") from exc
        return {
            "notifications": [
                {
                    "id": n.id,
                    "type": n.type,
                    "time": iso(n.time),
                    "read": n.read,
                    "actor": {"username": n.actor, "display_name": n.actor_name}
                    if n.actor
                    else None,
                    "path": n.path,
                    "room": n.room,
                    "message": n.message,
                    "details": dict(n.details),
                }
                for n in found
            ],
            "unread": unread,
        }

    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> int:
        """Mark notifications read; how many are still unread."""
        try:
            await self.store.mark_read(user, ids, upto)
            return await self.store.unread(user)
        except Exception as exc:
            raise SharingUnavailable(f"notifications cannot be changed now: {exc}") from exc


class _Named:
    def __init__(self, username: str) -> None:
        self.username = username


def _display(user: Any) -> str:
    return getattr(user, "display_name", None) or getattr(user, "name", None) or user.username
