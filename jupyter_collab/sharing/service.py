"""Who may do what on which file, changed by owners and applied live to open rooms.

The Jupyter Authorizer stays the outer limit (a share never grants more than it allows);
shares on a file or its folders narrow or shape access within it (docs/sharing-api.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..bus import InProcessBus
from ..collaboration.manager import RoomManager
from ..documents.paths import BadPath, canonical_path
from ..gateway.identity import awareness_user, is_anonymous, safe_colour
from ..history.audit import AuditLog
from ..notifications.service import Notifications, NotificationsUnavailable
from ..persistence import AuditAction
from ..timestamps import iso
from .roles import EVERYONE, Role, cap_of, levels, resolve
from .store import KnownUser, Share, ShareStore, under

__all__ = ["BadShare", "Sharing", "SharingRefused", "SharingUnavailable", "cap_of"]

# A user seen again within this many seconds, with the same identity, is not written again.
SEEN_REFRESH = 3600.0


class SharingRefused(Exception):
    """The change is not allowed (not an owner, or it would leave nobody to manage)."""


class SharingUnavailable(Exception):
    """Shares cannot be changed now: the database that keeps them is failing."""


class BadShare(ValueError):
    """Malformed share request (or one that cannot change anything: a server owner's)."""


# What each role lets a user do, for messages people read.
_ABILITY = {
    Role.OWNER: "edit and share it",
    Role.EDITOR: "edit it",
    Role.COMMENTER: "view it and comment on it",
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
        notifications: Notifications | None = None,
    ) -> None:
        self.store = store
        # who is told what (docs/notifications.md); without a bus (tests of this class
        # alone), an in-process one
        self.notifications = notifications or Notifications(store, InProcessBus(), log)
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
        # The shares of this root, in memory: loaded by ``load`` and kept up to date by this
        # object's own writes, so that a role check never waits for the database (issue 9
        # refreshes it from the event bus for changes made by other servers).
        self._shares: dict[str, dict[str, Share]] = {}
        # Why the shares are not known (their database could not be read), or None.
        self.unknown: str | None = None
        self._seen: dict[str, tuple[tuple[str, ...], float]] = {}
        self._recording: set[asyncio.Task[None]] = set()
        # Told of every change this server makes to the shares, once it is in the store (the
        # share feed publishes them to the other servers of a group: sharing/sharebus.py).
        self.on_change: Callable[[dict[str, Any]], None] | None = None

    async def load(self) -> None:
        """Read every share of this root into memory (at start)."""
        shares: dict[str, dict[str, Share]] = {}
        for share in await self.store.all_shares():
            shares.setdefault(share.path, {})[share.user] = share
        self._shares = shares
        self.unknown = None

    async def reload(self) -> None:
        """Read the shares again (another server changed them and this one may have missed
        it) and give everyone connected their role under them."""
        await self.load()
        self.apply_live("")

    def _changed(self, change: dict[str, Any]) -> None:
        if self.on_change is not None:
            try:
                self.on_change(change)
            except Exception:
                self.log.exception("Sharing a change of the shares failed")

    def apply_change(self, change: dict[str, Any]) -> None:
        """Another server changed the shares (already in the store): follow it in memory and
        give the users of this server's open rooms their new role at once. ``change`` is what
        :attr:`on_change` was given there: ``{"op": "set", "path", "user", "role", "by",
        "time"}``, ``{"op": "moved", "old", "new"}`` or ``{"op": "deleted", "path"}``."""
        op = change.get("op")
        if op == "set":
            path, user, role = change["path"], change["user"], change.get("role")
            share = (
                Share(path, user, Role(role), change.get("by"), float(change["time"]))
                if role is not None
                else None
            )
            self._remember(path, user, share)
            self.apply_live(path)
        elif op == "moved":
            self._move(change["old"], change["new"])
            self.apply_live(change["new"])
        elif op == "deleted":
            self._delete(change["path"])
            self.apply_live(change["path"])
        else:
            raise ValueError(f"unknown change of the shares: {op!r}")

    def shares_unknown(self, reason: str) -> None:
        """The shares could not be read: only owners keep their access until they can be."""
        self.unknown = reason
        self.log.error(
            "Shares are unknown (%s): until the database is repaired, only owners (%s) may "
            "open files; everyone else is refused.",
            reason,
            "everyone who signs in" if self.everyone_owns
            else ", ".join(sorted(self.owners)) or "none configured: everyone as without shares",
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

    def is_owner(self, username: str) -> bool:
        """The server's own user: owner of everything, whatever the shares say."""
        return self.everyone_owns or username in self.owners

    def _levels(self, path: str) -> dict[str, dict[str, Role]]:
        found = self._found(levels(path))
        return {level: {u: s.role for u, s in entries.items()} for level, entries in found.items()}

    def role(self, path: str, username: str, cap: Role) -> Role:
        """The user's effective role on ``path`` (any spelling: it is made canonical here, so
        ``./a`` and ``b/../a`` are ``a``); a path outside the root is nobody's. Synchronous:
        the shares are in memory."""
        try:
            path = canonical_path(path)
        except BadPath:
            return Role.NONE
        if self.unknown is not None and self.owners and not self.is_owner(username):
            return Role.NONE  # fail closed: a share restricting this user may exist
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

    def known_cap(self, username: str) -> Role:
        """What the Authorizer allowed ``username`` when last seen here; for someone not seen
        since the server started, as much as the shares give (as ``set_role`` assumes)."""
        return self._caps.get(username, Role.OWNER)

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

    async def set_role(
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
        event can be found by document too. The store is written first, then the in-memory
        copy; a failing store raises ``SharingUnavailable`` and changes nothing.
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
        if self.unknown is not None:
            raise SharingUnavailable(f"shares cannot be changed now: {self.unknown}")
        target_cap = self._caps.get(target, Role.OWNER)  # unknown: as far as the shares go
        before = self.role(path, target, target_cap)
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
            self._changed(_set_change(path, target, previous))
            raise SharingRefused(
                "this would leave you without the right to manage sharing here; "
                "make someone else an owner first"
            )
        self._changed(_set_change(path, target, self._shares.get(path, {}).get(target)))
        after = self.role(path, target, target_cap)
        for doc_id in list(doc_ids) or [None]:
            self.audit.record(
                AuditAction.PERMISSION_CHANGE, doc_id, username, path=path, target=target,
                role=new.value if new else None,
                previous=previous.role.value if previous else None,
            )  # fmt: skip
        if target not in (EVERYONE, username):
            await self._notify_change(
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

    def _move(self, old: str, new: str) -> None:
        if old:
            moving = {p: self._shares.pop(p) for p in list(self._shares) if under(p, old)}
            for path, entries in moving.items():
                target = new + path[len(old) :]
                # as the store does: a moved share replaces the same user's share there
                self._shares.setdefault(target, {}).update(
                    {u: dataclasses.replace(s, path=target) for u, s in entries.items()}
                )

    def _delete(self, path: str) -> None:
        if path:
            for known in [p for p in self._shares if under(p, path)]:
                del self._shares[known]

    async def moved(self, old: str, new: str) -> None:
        old, new = old.strip("/"), new.strip("/")
        self._move(old, new)
        try:
            await self.store.moved(old, new)
        except Exception as exc:
            self.log.error("Moving the shares of %s to %s failed: %s", old, new, exc)
        self._changed({"op": "moved", "old": old, "new": new})

    async def deleted(self, path: str) -> None:
        path = path.strip("/")
        self._delete(path)
        try:
            await self.store.deleted(path)
        except Exception as exc:
            self.log.error("Removing the shares of %s failed: %s", path, exc)
        self._changed({"op": "deleted", "path": path})

    # -- users -----------------------------------------------------------------------------------

    async def seen(self, user: Any, cap: Role | None = None) -> None:
        """A user signed in: remember their cap, and record them in the directory unless they
        are one of jupyter_server's made-up anonymous users (a new one per token request). The
        directory write runs in the background: nobody's request waits for the database for
        it (and an unchanged identity is not written again within the hour)."""
        if cap is not None:
            self.remember_cap(user.username, cap)
        if is_anonymous(user):
            return
        identity = awareness_user(user)
        fields = tuple(
            str(identity[k]) for k in ("username", "name", "display_name", "initials", "color")
        )
        now = time.time()
        last = self._seen.get(user.username)
        if last is not None and last[0] == fields and now - last[1] < SEEN_REFRESH:
            return  # known and unchanged: no write for every request
        self._seen[user.username] = (fields, now)
        # (the directory is a convenience: a failed write never refuses a user)
        self._record(identity, now)

    def remember_author(self, user: Any) -> None:
        """An anonymous user (``is_anonymous``) wrote in a room: remember who they were (their
        name, initials, colour) so that history names them after a restart too. Kept in the
        directory's table but never listed by :meth:`users` (one cannot share with them);
        other users are recorded by :meth:`seen` already."""
        if not is_anonymous(user) or user.username in self._seen:
            return
        identity = awareness_user(user)
        self._seen[user.username] = ((), time.time())
        # (a nicety: without it history falls back to a made-up name)
        self._record(identity, time.time())

    def _record(self, identity: dict[str, Any], when: float) -> None:
        """Write ``identity`` to the user directory in the background; a failure is logged."""
        known = KnownUser(
            identity["username"], identity["name"], identity["display_name"],
            identity["initials"], identity["color"],
        )  # fmt: skip

        async def record() -> None:
            try:
                await self.store.user_seen(known, when)
            except Exception as exc:
                self.log.warning("Recording user %s failed: %s", known.username, exc)

        task = asyncio.ensure_future(record())
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def remembered(self, username: str) -> dict[str, Any] | None:
        """The identity the store remembers for ``username`` (anonymous users included,
        unlike :meth:`users`), or None."""
        try:
            stored = await self.store.users(username, 20)
        except Exception as exc:
            self.log.warning("Reading the user directory failed: %s", exc)
            return None
        for u in stored:
            if u.username == username:
                return {**vars(u), "color": safe_colour(u.color) or awareness_user(u)["color"]}
        return None

    async def flush(self) -> None:
        """Wait for the directory writes in flight (at shutdown)."""
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    async def users(self, query: str, limit: int) -> list[dict[str, Any]]:
        try:
            # (anonymous users recorded by older versions are skipped: ask for more)
            stored = await self.store.users(query, min(limit * 5, 1000))
        except Exception as exc:  # the directory is a convenience
            self.log.warning("Searching the user directory failed: %s", exc)
            stored = []
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

    async def _notify_change(
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
        await self.notify(target, "shared", actor, path, None, message, details)

    async def notify_restored(
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
                await self.notify(user, "restored", actor, path, room, message, details)

    async def notify(
        self, user: str, kind: str, actor: Any, path: str | None, room: str | None,
        message: str | None, details: Mapping[str, Any] | None = None,
    ) -> int | None:  # fmt: skip
        """Notify ``user`` (the one API for it, docs/notifications.md): stored, pushed to
        their sockets on every server, e-mailed if they chose the kind. Never raises; the
        notification's id, or None if it could not be stored."""
        return await self.notifications.notify(user, kind, actor, path, room, message, details)

    async def list_notifications(self, user: str, after: int, limit: int) -> dict[str, Any]:
        try:
            return await self.notifications.list(user, after, limit)
        except NotificationsUnavailable as exc:
            raise SharingUnavailable(str(exc)) from exc

    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> int:
        """Mark notifications read; how many are still unread."""
        try:
            return await self.notifications.mark_read(user, ids, upto)
        except NotificationsUnavailable as exc:
            raise SharingUnavailable(str(exc)) from exc


def _set_change(path: str, user: str, share: Share | None) -> dict[str, Any]:
    """A share set (or removed: role None), as the other servers of a group are told."""
    return {
        "op": "set",
        "path": path,
        "user": user,
        "role": share.role.value if share is not None else None,
        "by": share.granted_by if share is not None else None,
        "time": share.time if share is not None else time.time(),
    }


class _Named:
    def __init__(self, username: str) -> None:
        self.username = username


def _display(user: Any) -> str:
    return getattr(user, "display_name", None) or getattr(user, "name", None) or user.username
