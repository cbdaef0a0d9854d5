"""Notification endpoints (docs/notifications.md): the caller's list, marking read, e-mail
preferences, and the per-user push socket ``/api/collab/notifications/ws``."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..notifications.kinds import BadPreferences
from ..notifications.service import Notifications, NotificationsUnavailable
from ..protocol.codes import CloseCode
from .handlers import CollabMixin, int_value, parse_int

MAX_PAGE = 200


class NotificationsMixin(CollabMixin):
    @property
    def notifications(self) -> Notifications:
        return self.sharing.notifications


class NotificationsHandler(NotificationsMixin, APIHandler):
    """``GET /api/collab/notifications?after=&limit=``: the caller's own notifications."""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        user: Any = self.current_user
        after = self.int_argument("after", 0) or 0
        limit = self.int_argument("limit", 50)
        assert limit is not None
        if not 1 <= limit <= MAX_PAGE:
            raise web.HTTPError(400, f"limit must be from 1 to {MAX_PAGE}")
        try:
            reply = await self.notifications.list(user.username, after, limit)
        except NotificationsUnavailable as exc:
            raise web.HTTPError(503, str(exc)) from None
        self.finish(json.dumps(reply))


class NotificationsReadHandler(NotificationsMixin, APIHandler):
    """``POST /api/collab/notifications/read`` with ``{"ids": [...]}`` or ``{"upto": id}``."""

    @web.authenticated
    @authorized("read")
    async def post(self) -> None:
        body = self.json_body()
        ids, upto = body.get("ids"), body.get("upto")
        if ids is not None:
            if not isinstance(ids, list) or len(ids) > 10_000:
                raise web.HTTPError(400, '"ids" must be a list of notification ids')
            ids = [int_value(i, '"ids"') for i in ids]
        if upto is not None:
            upto = int_value(upto, '"upto"')
        if ids is None and upto is None:
            raise web.HTTPError(400, 'body needs "ids" or "upto"')
        user: Any = self.current_user
        try:
            unread = await self.notifications.mark_read(user.username, ids, upto)
        except NotificationsUnavailable as exc:
            raise web.HTTPError(503, str(exc)) from None
        self.finish(json.dumps({"unread": unread}))


class PreferencesHandler(NotificationsMixin, APIHandler):
    """``GET|PUT /api/collab/notifications/preferences``: which kinds also go by e-mail, and
    where."""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        user: Any = self.current_user
        try:
            reply = await self.notifications.preferences(user.username)
        except NotificationsUnavailable as exc:
            raise web.HTTPError(503, str(exc)) from None
        self.finish(json.dumps(reply))

    @web.authenticated
    @authorized("read")  # one's own preferences: anyone who may use the server
    async def put(self) -> None:
        body = self.json_body()
        user: Any = self.current_user
        try:
            reply = await self.notifications.set_preferences(user.username, body)
        except BadPreferences as exc:
            raise web.HTTPError(400, str(exc)) from None
        except NotificationsUnavailable as exc:
            raise web.HTTPError(503, str(exc)) from None
        self.finish(json.dumps(reply))


class NotificationSocketHandler(
    NotificationsMixin, WebSocketMixin, WebSocketHandler, JupyterHandler
):
    """``GET /api/collab/notifications/ws?after=<id>``: the caller's notifications as they
    happen (JSON text frames, docs/notifications.md). Origin-checked by WebSocketMixin like
    every Jupyter WebSocket."""

    username = ""
    after: int | None = None
    attached = False

    def get_compression_options(self) -> dict[str, Any]:
        return {}  # small JSON messages: compression is cheap and worth it

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None:
            self.log.warning("Refusing unauthenticated notification WebSocket")
            raise web.HTTPError(403)
        if not await self.may("read"):
            raise web.HTTPError(403, "you may not use this server")
        raw = self.get_argument("after", None)
        self.after = parse_int(raw, "after") if raw not in (None, "") else None
        if self.after is not None and self.after < 0:
            raise web.HTTPError(400, "after must be a notification id (0 or more)")
        self.username = self.current_user.username
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().open()
        self.attached = True
        await self.notifications.push.attach(self.username, self, self.after)

    def push(self, message: dict[str, Any]) -> None:
        if self.ws_connection is None:
            return
        with contextlib.suppress(WebSocketClosedError):  # (closing: on_close detaches it)
            self.write_message(json.dumps(message))

    def shutdown(self) -> None:
        if self.ws_connection is not None:
            code = CloseCode.SHUTTING_DOWN
            self.close(int(code), code.reason)

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.close(int(CloseCode.MALFORMED), "this socket only sends; it reads nothing")

    def on_close(self) -> None:
        if self.attached:
            self.attached = False
            self.notifications.push.detach(self.username, self)


HANDLERS = [
    (r"/api/collab/notifications", NotificationsHandler),
    (r"/api/collab/notifications/read", NotificationsReadHandler),
    (r"/api/collab/notifications/preferences", PreferencesHandler),
    (r"/api/collab/notifications/ws", NotificationSocketHandler),
]
