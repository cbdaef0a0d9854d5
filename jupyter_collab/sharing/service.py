"""Who may do what on which file, changed by owners and applied live to open rooms.

The Jupyter Authorizer stays the outer limit (a share never grants more than it allows);
shares on a file or its folders narrow or shape access within it (docs/sharing-api.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from ..collaboration.manager import RoomManager
from ..documents.paths import BadPath, canonical_path
from ..gateway.identity import awareness_user, is_anonymous, safe_colour
from ..history.audit import AuditLog
from ..persistence import AuditAction
from ..timestamps import iso
from .roles import EVERYONE, Role, cap_of, levels, resolve
from .store import KnownUser, Notification, ShareStore

__all__ = ["BadShare", "Sharing", "SharingRefused", "cap_of"]


class SharingRefused(Exception):
    """The change is not allowed (not an owner, or it would leave nobody to manage)."""


class BadShare(ValueError):
    """Malformed share request (or one that cannot change anything: a server owner's)."""


# What each role lets a user do, for messages people read.
_ABILITY = {
    Role.OWNER: "edit and share it",
    Role.EDITOR: "edit it",
    Role.VIEWER: "only view it",
    Role.NONE: "not open it",
}


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
        everyone_owns: bool = False,
        known_users: Iterable[str] = (),
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.audit = audit
        self.log = log
        self.default_role = default_role
        self.owners = frozenset(owners)
        # jupyter_server's own token/password login: everyone who signs in holds the server's
        # credential, so everyone is the server's own user (CollabApp decides, see app.py)
        self.everyone_owns = everyone_owns
        self.known_users = tuple(known_users)
        # The Authorizer's cap of each user as last seen on this server: what a share given to
        # them can really do (listing), and whose role a change really changes (notices).
        self._caps: dict[str, Role] = {}

    # -- roles -----------------------------------------------------------------------------------

    def is_owner(self, username: str) -> bool:
        """The server's own user: owner of everything, whatever the shares say."""
        return self.everyone_owns or username in self.owners

    def _levels(self, path: str) -> dict[str, dict[str, Role]]:
        found = self.store.shares(levels(path))
        return {level: {u: s.role for u, s in entries.items()} for level, entries in found.items()}

    def role(self, path: str, username: str, cap: Role) -> Role:
        """The user's effective role on ``path`` (any spelling: it is made canonical here, so
        ``./a`` and ``b/../a`` are ``a``); a path outside the root is nobody's."""
        try:
            path = canonical_path(path)
        except BadPath:
            return Role.NONE
        return resolve(
            path,
            username,
            self._levels(path),
            cap=cap,
            default=self.default_role,
            owner=self.is_owner(username),
        )

    def remember_cap(self, username: str, cap: Role) -> None:
        """Note what the Authorizer allowed ``username`` (on each request that computes it)."""
        self._caps[username] = cap

    def _limits(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Add to a listed share what it really gives: ``effectiveRole``, and ``limited`` with
        a ``message`` when that is less (or other) than the share says."""
        user, role = entry["user"], Role(entry["role"])
        if self.is_owner(user):
            effective: Role | None = Role.OWNER
            note = (
                f"{user} owns this server and is an owner of everything: "
                "a share does not change that"
            )
        else:
            cap = self._caps.get(user)
            effective = None if cap is None else role.at_most(cap)
            note = (
                f"the server's access rules let {user} do at most what a {cap.value} does, "
                f"so this share makes them a {effective.value}"
                if cap is not None and effective is not None and effective is not role
                else ""
            )
        entry["effectiveRole"] = effective.value if effective is not None else None
        entry["limited"] = None if effective is None else effective is not role
        if entry["limited"]:
            entry["message"] = note
        return entry

    def listing(self, path: str, username: str, cap: Role) -> dict[str, Any]:
        path = canonical_path(path)
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
                    shares.append(self._limits(entry))
        role = self.role(path, username, cap)
        return {
            "path": path,
            "shares": shares,
            "everyone": everyone,
            "owners": sorted(self.owners),
            "everyoneOwns": self.everyone_owns,
            "defaultRole": self.default_role.value,
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
        doc_ids: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Set (``role=None``: remove) ``target``'s share on ``path`` as ``actor``.

        Returns the new listing, with ``warning`` set when the share does not give ``target``
        what it says. ``doc_ids`` are the documents of the file (its history), so the audit
        event can be found by document too.
        """
        path = canonical_path(path)
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
        if target != EVERYONE and self.is_owner(target):
            raise BadShare(
                f"{target} owns this server and is an owner of everything: "
                "a share cannot change their role"
            )
        target_cap = self._caps.get(target, Role.OWNER)  # unknown: as far as the shares go
        before = self.role(path, target, target_cap)
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
        after = self.role(path, target, target_cap)
        for doc_id in list(doc_ids) or [None]:
            self.audit.record(
                AuditAction.PERMISSION_CHANGE, doc_id, username, path=path, target=target,
                role=new.value if new else None,
                previous=previous.role.value if previous else None,
            )  # fmt: skip
        if target not in (EVERYONE, username):
            self._notify_change(
                target, actor, path, kind, granted=previous is None and new is not None,
                before=before, after=after, share=new,
            )  # fmt: skip
        self.apply_live(path)
        reply = self.listing(path, username, actor_cap)
        listed = next((s for s in reply["shares"] if s["user"] == target), None)
        reply["warning"] = listed.get("message") if listed and listed.get("limited") else None
        return reply

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

    def seen(self, user: Any, cap: Role | None = None) -> None:
        """A user signed in: remember their cap, and list them in the directory unless they
        are one of jupyter_server's made-up anonymous users (a new one per token request)."""
        if cap is not None:
            self.remember_cap(user.username, cap)
        if is_anonymous(user):
            return
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
        # (anonymous users recorded by older versions are skipped: ask for more to fill the page)
        stored = self.store.users(query, min(limit * 5, 1000))
        found = {
            u.username: {**vars(u), "color": safe_colour(u.color) or awareness_user(u)["color"]}
            for u in stored
            if not is_anonymous(u)
        }
        q = query.lower()
        for username in self.known_users:
            if q in username.lower() and username not in found:
                identity = awareness_user(_Named(username))
                fields = ("username", "name", "display_name", "initials", "color")
                found[username] = {k: identity[k] for k in fields}
        return sorted(found.values(), key=lambda u: u["username"])[:limit]

    # -- notifications ---------------------------------------------------------------------------

    def _notify_change(
        self, target: str, actor: Any, path: str, kind: str, *, granted: bool,
        before: Role, after: Role, share: Role | None,
    ) -> None:  # fmt: skip
        """Tell ``target`` what a change did to their access, in plain words: granted, changed
        from one role to another (a demotion is never "shared with you"), or removed. Nothing
        when it changed nothing for them, unless it is a new share: someone shared the file
        with them, which they may want to know even if they could edit it already."""
        if before is after or (not before.can_read and not after.can_read):
            if not (granted and after.can_read):
                return
            change = "granted"  # a new share that gives what they had: still worth knowing
        elif not after.can_read:
            change = "removed"
        elif not before.can_read:
            change = "granted"
        else:
            change = "changed"
        name = _display(actor)
        what = path or "the root folder"
        ability = _ABILITY[after]
        if kind == "directory" and after.can_read:
            ability = ability.replace(" it", " what is in it")
        if change == "granted" and granted:
            message = f"{name} shared {what} with you: you can {ability}."
        elif change == "granted":
            message = f"{name} gave you access to {what}: you can {ability}."
        elif change == "removed":
            message = f"{name} removed your access to {what}."
        else:
            message = (
                f"{name} changed your access to {what} from {before.value} to {after.value}: "
                f"you can now {ability}."
            )
        details = {
            "change": change,
            "role": after.value,
            "previous": before.value,
            "share": share.value if share else None,
            "kind": kind,
        }
        self.notify(target, "shared", actor, path, None, message, details)

    def notify_restored(
        self, users: Iterable[str], actor: Any, path: str, room: str, version: int
    ) -> None:
        message = f"{_display(actor)} restored version {version} of {path}"
        for user in users:
            if user != actor.username:
                self.notify(user, "restored", actor, path, room, message, {"version": version})

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
