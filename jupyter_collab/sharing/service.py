"""Who may do what on which file, changed by owners and applied live to open rooms.

The Jupyter Authorizer stays the outer limit (a share never grants more than it allows);
shares on a file or its folders narrow or shape access within it (docs/sharing-api.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..collaboration.manager import RoomManager
from ..gateway.identity import awareness_user
from ..history.audit import AuditLog
from ..persistence import AuditAction
from ..timestamps import iso
from .roles import EVERYONE, Role, levels, resolve
from .store import KnownUser, Notification, ShareStore


class SharingRefused(Exception):
    """The change is not allowed (not an owner, or it would leave nobody to manage)."""


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

    # -- roles -----------------------------------------------------------------------------------

    def _levels(self, path: str) -> dict[str, dict[str, Role]]:
        found = self.store.shares(levels(path))
        return {level: {u: s.role for u, s in entries.items()} for level, entries in found.items()}

    def role(self, path: str, username: str, cap: Role) -> Role:
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
        found = self.store.shares(levels(path))
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

    def set_role(
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
        previous = self.store.set_share(path, target, new, username, time.time())
        if self.role(path, username, actor_cap) is not Role.OWNER:
            # undo: the actor would lose the right to manage what they just changed
            self.store.set_share(
                path,
                target,
                previous.role if previous else None,
                previous.granted_by if previous else None,
                previous.time if previous else time.time(),
            )
            raise SharingRefused(
                "this would leave you without the right to manage sharing here; "
                "make someone else an owner first"
            )
        self.audit.record(
            AuditAction.PERMISSION_CHANGE, None, username, path=path, target=target,
            role=new.value if new else None, previous=previous.role.value if previous else None,
        )  # fmt: skip
        if target not in (EVERYONE, username):
            self._notify_shared(target, actor, path, new, kind)
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

    def moved(self, old: str, new: str) -> None:
        self.store.moved(old.strip("/"), new.strip("/"))

    def deleted(self, path: str) -> None:
        self.store.deleted(path.strip("/"))

    # -- users -----------------------------------------------------------------------------------

    def seen(self, user: Any) -> None:
        identity = awareness_user(user)
        try:
            self.store.user_seen(
                KnownUser(
                    identity["username"], identity["name"], identity["display_name"],
                    identity["initials"], identity["color"],
                ),
                time.time(),
            )  # fmt: skip
        except Exception as exc:  # the directory is a convenience: never refuse a user for it
            self.log.warning("Recording user %s failed: %s", user.username, exc)

    def users(self, query: str, limit: int) -> list[dict[str, Any]]:
        found = {u.username: vars(u) for u in self.store.users(query, limit)}
        q = query.lower()
        for username in self.known_users:
            if q in username.lower() and username not in found:
                identity = awareness_user(_Named(username))
                fields = ("username", "name", "display_name", "initials", "color")
                found[username] = {k: identity[k] for k in fields}
        return sorted(found.values(), key=lambda u: u["username"])[:limit]

    # -- notifications ---------------------------------------------------------------------------

    def _notify_shared(
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
        self.notify(target, "shared", actor, path, None, message, details)

    def notify_restored(
        self, users: Iterable[str], actor: Any, path: str, room: str, version: Mapping[str, Any]
    ) -> None:
        """Tell a document's authors it was restored. ``version`` is what was restored
        (``{"id", "name", "time", "kind"}``): people know a version by its name or its time
        (which clients show in their own time zone), never by its id."""
        what = f"“{version['name']}”" if version.get("name") else "an earlier version"
        message = f"{_display(actor)} restored {what} of {path}"
        details = {
            "version": version.get("id"),
            "versionName": version.get("name"),
            "versionTime": version.get("time"),
            "versionKind": version.get("kind"),
        }
        for user in users:
            if user != actor.username:
                self.notify(user, "restored", actor, path, room, message, details)

    def notify(
        self, user: str, kind: str, actor: Any, path: str | None, room: str | None,
        message: str, details: dict[str, Any],
    ) -> None:  # fmt: skip
        try:
            self.store.notify(
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

    def notifications(self, user: str, after: int, limit: int) -> dict[str, Any]:
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
                for n in self.store.notifications(user, after, limit)
            ],
            "unread": self.store.unread(user),
        }


class _Named:
    def __init__(self, username: str) -> None:
        self.username = username


def _display(user: Any) -> str:
    return getattr(user, "display_name", None) or getattr(user, "name", None) or user.username
