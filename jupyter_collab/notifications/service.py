"""The notifications service: store, publish on the bus, and queue for e-mail.

``Notifications.notify`` is what ``Sharing.notify`` (the one API other modules call) does: the
store is written first (the source of truth a socket catches up from), then the event is
published on ``notification.event`` keyed by the user (every server pushes it to that user's
sockets), then, if the user chose the kind for e-mail, it joins their e-mail batch (in the
outbox: ``outbox.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..bus import BusError, EventBus, Topic
from ..sharing.store import Notification, NotificationPreferences, ShareStore
from .kinds import (
    COMMENT_KINDS,
    EMAIL_KINDS,
    BadPreferences,
    check_address,
    check_kinds,
    comment_message,
    public,
    shorten,
    valid_kind,
)
from .mailer import Mailer
from .push import PushHub


class NotificationsUnavailable(Exception):
    """Notifications cannot be read or changed now: their database is failing."""


def display_name(user: Any) -> str:
    return getattr(user, "display_name", None) or getattr(user, "name", None) or user.username


class Notifications:
    def __init__(
        self,
        store: ShareStore,
        bus: EventBus,
        log: logging.Logger,
        *,
        mailer: Mailer | None = None,
        address_template: str = "",
        default_email_kinds: Iterable[str] = ("mentioned",),
    ) -> None:
        self.store = store
        self.bus = bus
        self.log = log
        self.mailer = mailer
        self.address_template = address_template
        self.default_email_kinds = tuple(k for k in EMAIL_KINDS if k in set(default_email_kinds))
        self.push = PushHub(bus, store, log)

    # -- notifying -------------------------------------------------------------------------

    async def notify(
        self,
        user: str,
        kind: str,
        actor: Any,
        path: str | None,
        room: str | None,
        message: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> int | None:
        """Store, publish and maybe e-mail one notification; its id, or None if it could not
        be stored (logged: a notification never fails the request that caused it)."""
        if not valid_kind(kind):
            self.log.error("Not notifying %s: %r is not a notification kind", user, kind)
            return None
        details = dict(details or {})
        actor_name = display_name(actor) if actor is not None else None
        if not message:
            message = (
                comment_message(kind, actor_name or "Someone", path, details.get("excerpt", ""))
                if kind in COMMENT_KINDS
                else f"{actor_name or 'Someone'}: {kind}"
            )
        stored = Notification(
            0, user, kind, time.time(), getattr(actor, "username", None), actor_name, path,
            room, message, details,
        )  # fmt: skip
        try:
            nid = await self.store.notify(stored)
            unread = await self.store.unread(user)
        except Exception as exc:
            self.log.warning("Notifying %s failed: %s", user, exc)
            return None
        shown = public(replace(stored, id=nid))
        await self._publish(user, {"event": "notification", "notification": shown,
                                   "unread": unread})  # fmt: skip
        if self.mailer is not None:
            await self._email(user, kind, shown)
        return nid

    async def comment(
        self,
        kind: str,
        user: str,
        actor: Any,
        path: str,
        thread: str,
        excerpt: str,
        *,
        room: str | None = None,
        comment: str | None = None,
    ) -> int | None:
        """A comment notification (``mentioned``, ``reply``, ``resolved``) with the standard
        message and details ``{thread, excerpt, comment}``."""
        details: dict[str, Any] = {"thread": thread, "excerpt": shorten(excerpt)}
        if comment is not None:
            details["comment"] = comment
        return await self.notify(user, kind, actor, path, room, None, details)

    async def _publish(self, user: str, payload: dict[str, Any]) -> None:
        try:
            await self.bus.start()  # (idempotent: the server started it; a test app may not)
            await self.bus.publish(Topic.NOTIFICATION_EVENT, user, payload)
        except BusError as exc:
            # stored: other servers' sockets catch up when they reconnect; ours get it now
            self.log.warning("Publishing a notification for %s failed: %s", user, exc)
            self.push.deliver_here(user, payload)

    async def _email(self, user: str, kind: str, shown: dict[str, Any]) -> None:
        assert self.mailer is not None
        try:
            prefs = await self.store.preferences(user)
        except Exception as exc:
            self.log.warning("Reading %s's e-mail preferences failed: %s", user, exc)
            return
        kinds = self._kinds(prefs)
        address = self.address(user, prefs)
        if kind in kinds and address:
            await self.mailer.enqueue(address, user, shown)

    # -- reading ---------------------------------------------------------------------------

    async def list(self, user: str, after: int, limit: int) -> dict[str, Any]:
        try:
            found = await self.store.notifications(user, after, limit)
            unread = await self.store.unread(user)
        except Exception as exc:
            raise NotificationsUnavailable(f"notifications cannot be read now: {exc}") from exc
        return {"notifications": [public(n) for n in found], "unread": unread}

    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> int:
        """Mark notifications read; how many are still unread (pushed to the user's sockets
        on every server, so the other tabs' bells follow)."""
        try:
            await self.store.mark_read(user, ids, upto)
            unread = await self.store.unread(user)
        except Exception as exc:
            raise NotificationsUnavailable(f"notifications cannot be changed now: {exc}") from exc
        await self._publish(user, {"event": "unread", "unread": unread})
        return unread

    # -- preferences -----------------------------------------------------------------------

    def _kinds(self, prefs: NotificationPreferences | None) -> tuple[str, ...]:
        if prefs is None or prefs.email_kinds is None:
            return self.default_email_kinds
        return prefs.email_kinds

    def address(self, user: str, prefs: NotificationPreferences | None) -> str | None:
        if prefs is not None and prefs.email:
            return prefs.email
        if self.address_template:
            try:
                return check_address(self.address_template.format(username=user))
            except (BadPreferences, KeyError, IndexError, ValueError):
                return None  # (a username that makes no address: none)
        return None

    def _describe(self, user: str, prefs: NotificationPreferences | None) -> dict[str, Any]:
        address = self.address(user, prefs)
        return {
            "email": prefs.email if prefs else None,
            "emailKinds": list(self._kinds(prefs)),
            "address": address,
            "addressFrom": None if not address
            else "preference" if prefs is not None and prefs.email else "template",
            "emailEnabled": self.mailer is not None,
            "kinds": list(EMAIL_KINDS),
        }  # fmt: skip

    async def preferences(self, user: str) -> dict[str, Any]:
        try:
            prefs = await self.store.preferences(user)
        except Exception as exc:
            raise NotificationsUnavailable(f"preferences cannot be read now: {exc}") from exc
        return self._describe(user, prefs)

    async def set_preferences(self, user: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``{"email"?, "emailKinds"?}``; BadPreferences (nothing changed) when any
        part is wrong."""
        unknown = sorted(set(body) - {"email", "emailKinds"})
        if unknown:
            raise BadPreferences(f"unknown preference {', '.join(map(repr, unknown))}")
        try:
            prefs = await self.store.preferences(user)
        except Exception as exc:
            raise NotificationsUnavailable(f"preferences cannot be read now: {exc}") from exc
        email = prefs.email if prefs else None
        kinds = prefs.email_kinds if prefs else None
        if "email" in body:
            raw = body["email"]
            email = None if raw is None or raw == "" else check_address(raw)
        if "emailKinds" in body:
            kinds = check_kinds(body["emailKinds"])
        new = NotificationPreferences(user, email, kinds, time.time())
        try:
            await self.store.set_preferences(new)
        except Exception as exc:
            raise NotificationsUnavailable(f"preferences cannot be saved now: {exc}") from exc
        return self._describe(user, new)

    def start(self) -> None:
        """Start sending what the e-mail outbox holds (mail a stopped server left there)."""
        if self.mailer is not None:
            self.mailer.start()

    async def close(self) -> None:
        await self.push.close()
        if self.mailer is not None:
            await self.mailer.close()
