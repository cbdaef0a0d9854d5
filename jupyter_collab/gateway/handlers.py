"""HTTP and WebSocket endpoints of the wire contract (docs/contract.md, docs/protocol.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from .. import metrics
from ..collaboration.fanout import Outbox
from ..collaboration.manager import RoomManager, UnknownRoom, room_id_for
from ..collaboration.room import Room
from ..collaboration.transport import FrameSink, encode_frame
from ..documents.filesync import FileGone, FileUnloadable
from ..documents.kinds import DocumentKind, UnsupportedKind, document_kind
from ..documents.paths import BadPath, HiddenPath, visible_path
from ..origins import SERVER, Origin
from ..protocol.codes import CloseCode, SyncType
from ..protocol.framing import (
    EMPTY_UPDATE,
    MalformedMessage,
    SyncMessage,
    notice_frame,
    parse_message,
)
from ..sharing.roles import Role, cap_of
from ..sharing.service import Sharing
from .identity import awareness_user

# Every integer a client sends ends up in SQLite (ids, cursors, limits): what it can hold.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")

ROOMS = "jupyter_collab_rooms"
MAX_MESSAGE_SIZE = "jupyter_collab_max_message_size"
SHARING = "jupyter_collab_sharing"


class CollabMixin:
    """What every collab handler shares: its resource for the Authorizer and the rooms."""

    auth_resource = "contents"
    settings: dict[str, Any]

    @property
    def rooms(self) -> RoomManager:
        return self.settings[ROOMS]

    @property
    def sharing(self) -> Sharing:
        return self.settings[SHARING]

    async def may(self, action: str) -> bool:
        handler: Any = self
        return bool(
            await ensure_async(
                handler.authorizer.is_authorized(handler, handler.current_user, action, "contents")
            )
        )

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; 400 with a clear message otherwise (also for
        JSON nested too deeply for the parser)."""
        handler: Any = self
        try:
            body = json.loads(handler.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "body is not JSON") from None
        except RecursionError:
            raise web.HTTPError(400, "body is JSON nested too deeply") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "body must be a JSON object")
        return body

    def int_argument(self, name: str, default: int | None = None) -> int | None:
        """An integer query argument; 400 with a clear message for anything else."""
        handler: Any = self
        value = handler.get_argument(name, None)
        if value is None or value == "":
            return default
        return parse_int(value, name)

    async def authorizer_cap(self) -> Role:
        """The most the Jupyter Authorizer lets the current user do, as a role (also noted
        as the user's last known cap, for what shares given to them really give)."""
        can_read = await self.may("read")
        cap = cap_of(can_read, can_read and await self.may("write"))
        user: Any = getattr(self, "current_user", None)
        if user is not None:
            self.sharing.remember_cap(user.username, cap)
        return cap

    async def document_path(self, path: str) -> str:
        """The canonical path of a requested file (``documents/paths.py``): 404 for a path
        outside the root or a hidden file (as Jupyter's contents API answers)."""
        handler: Any = self
        try:
            return await visible_path(handler.contents_manager, path)
        except (BadPath, HiddenPath):
            raise web.HTTPError(404, f"no such file or folder: {path}") from None

    async def open_document(
        self, path: str, format: Any, type: Any, given_in: str
    ) -> tuple[dict[str, Any], Role]:
        """What opening ``path`` as ``format``/``type`` gives the current user: the session
        reply (``docs/protocol.md``, "Opening a document") and the user's Authorizer cap.

        The one place both ways of opening a document (the session PUT and the open socket)
        check the request and build the reply, so that the two can never differ. Refusals
        are HTTP errors: 400 for a bad ``format``/``type`` (``given_in`` names where they
        came from), 404 for a path that is not a visible file inside the root, 403 when the
        user's role on the file is ``none``. The caller has checked that the Authorizer lets
        the user read contents at all."""
        if not isinstance(format, str) or not isinstance(type, str):
            raise web.HTTPError(400, f'{given_in} needs string "format" and "type"')
        try:
            kind = document_kind(format, type)
        except UnsupportedKind as exc:
            raise web.HTTPError(400, str(exc)) from None
        handler: Any = self
        # the one path Jupyter resolves this spelling to: one room per file, one check
        path = await self.document_path(path)
        cm = handler.contents_manager
        if not path or not await ensure_async(cm.file_exists(path)):
            raise web.HTTPError(404, f"no such file: {path}")
        user: Any = handler.current_user
        cap = await self.authorizer_cap()
        await self.sharing.seen(user, cap)
        role = self.sharing.role(path, user.username, cap)
        if not role.can_read:
            raise web.HTTPError(403, f"{path} is not shared with you")
        file_id = self.rooms.open_file_id(path) or await self.rooms.file_ids.get_or_create(path)
        return session_reply(room_id_for(kind, file_id), file_id, path, kind, role, user), cap


def parse_int(value: str, name: str) -> int:
    """A decimal integer that SQLite can hold; 400 with a clear message otherwise."""
    if not _INTEGER.fullmatch(value) or not INT_MIN <= int(value) <= INT_MAX:
        raise web.HTTPError(
            400, f"{name} must be an integer from {INT_MIN} to {INT_MAX}, not {value[:40]!r}"
        )
    return int(value)


def int_value(value: Any, name: str) -> int:
    """An integer from a JSON body that SQLite can hold; 400 with a clear message otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not INT_MIN <= value <= INT_MAX:
        shown = repr(value) if not isinstance(value, int) else "a number too large"
        raise web.HTTPError(
            400, f"{name} must be an integer from {INT_MIN} to {INT_MAX}, not {shown[:40]}"
        )
    return value


def session_reply(
    room_id: str, file_id: str, path: str, kind: DocumentKind, role: Role, user: Any
) -> dict[str, Any]:
    """The session of ``user`` in a room: the session PUT's reply, and the ``session``
    notice the open socket sends first (``docs/protocol.md``)."""
    return {
        "room": room_id,
        "fileId": file_id,
        "path": path,
        "format": kind.format,
        "type": kind.type,
        "role": role.value,
        "roomUrl": f"api/collab/room/{room_id}",
        # who the others see in this user's awareness states: the client shows itself the
        # same way
        "user": awareness_user(user),
        # a copy kept across the loss of the document's history is merged without doubling
        # it (notice history-reset; collaboration/lostcopy.py)
        "mergesLostCopies": True,
        # a client that holds nothing of the room's may ask for the room's state at once
        # (``fresh=1`` on the room's URL) instead of sending sync step 1
        "syncsFreshClients": True,
    }


class SessionHandler(CollabMixin, APIHandler):
    """``PUT /api/collab/session/{path}``: resolve a file to its room."""

    @web.authenticated
    @authorized("read")
    async def put(self, path: str) -> None:
        body = self.json_body()
        reply, _ = await self.open_document(path, body.get("format"), body.get("type"), "body")
        room_id = reply["room"]
        self.set_status(200 if room_id in self.rooms.rooms else 201)
        self.rooms.prefetch(room_id, reply["path"])  # (loads while the reply and socket travel)
        self.finish(json.dumps(reply))


class RoomHandler(CollabMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """``GET /api/collab/room/{room}``: the y-websocket connection of one client."""

    room: Room | None = None
    outbox: Outbox | None = None
    origin: Origin = SERVER
    can_write = False
    cap: Role = Role.NONE
    role: Role = Role.NONE
    closed_by: CloseCode | None = None  # the server's close code, if it closed the connection
    _author_remembered = False  # remember_author was called for this connection

    def get_compression_options(self) -> None:
        # Frames are encoded once for all recipients (see collaboration/transport.py).
        return None

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        return int(self.settings[MAX_MESSAGE_SIZE])

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None:
            self.log.warning("Refusing unauthenticated collab WebSocket %s", self.request.path)
            raise web.HTTPError(403)
        cap = await self.authorizer_cap()
        await self.sharing.seen(self.current_user, cap)
        self.connecting_as(cap)
        await super().get(*args, **kwargs)

    def connecting_as(self, cap: Role) -> None:
        """Note who connects (the current user, whose Authorizer cap is ``cap``)."""
        user: Any = self.current_user
        self.cap = cap
        self.username = user.username
        self.user = awareness_user(user)

    async def open(self, room_id: str) -> None:  # type: ignore[override]
        super().open()
        if not self.cap.can_read:
            self.disconnect(CloseCode.FORBIDDEN)
            return
        try:
            room = await self.rooms.get(room_id)
        except UnknownRoom:
            self.disconnect(CloseCode.UNKNOWN_ROOM, room_id)
            return
        if not self.sharing.role(room.path, self.username, self.cap).can_read:
            self.disconnect(CloseCode.FORBIDDEN, "not shared with you")
            return
        try:
            await room.ensure_loaded()
        except FileGone:
            await self.rooms.close_room(room, CloseCode.DELETED)
            self.disconnect(CloseCode.DELETED)
            return
        except FileUnloadable as exc:
            await self.rooms.close_room(room, CloseCode.UNLOADABLE)
            self.disconnect(CloseCode.UNLOADABLE, str(exc))
            return
        except Exception:
            self.log.exception("Loading room %s failed", room_id)
            await self.rooms.close_room(room, CloseCode.INTERNAL)
            self.disconnect(CloseCode.INTERNAL)
            return
        if self.ws_connection is None:
            return  # the client left while the document loaded
        if room.closed:  # deleted or shut down while it loaded
            self.disconnect(room.close_code or CloseCode.SHUTTING_DOWN)
            return
        # the role as of joining (shares may have changed while the document loaded)
        self.role = self.sharing.role(room.path, self.username, self.cap)
        if not self.role.can_read:
            self.disconnect(CloseCode.FORBIDDEN, "not shared with you")
            return
        self.can_write = self.role.can_write
        self.room = room
        # ``fresh=1``: the client holds nothing of the room's; it gets the room's state at
        # once (protocol.md, "A first open")
        room.join(self, fresh=self.get_argument("fresh", "") == "1")

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        metrics.received(message)
        room = self.room
        if room is None or self.outbox is None or self.outbox.closed:
            return None
        try:
            parsed = parse_message(message)  # type: ignore[arg-type]
            metrics.received_update(parsed)
            if self.can_write and not self._author_remembered and _writes(parsed):
                # (an anonymous user who writes is named in history after a restart too)
                self._author_remembered = True
                self.sharing.remember_author(self.current_user)
            pending = room.receive(self, parsed)
        except BaseException as exc:
            self._failed(room, exc)
            return None
        if pending is None:
            return None
        return self._finish(room, pending)

    async def _finish(self, room: Room, pending: Awaitable[None]) -> None:
        """A message the room handles in the background (tornado holds this connection's
        next messages until it is done)."""
        try:
            await pending
        except BaseException as exc:
            self._failed(room, exc)

    def _failed(self, room: Room, error: BaseException) -> None:
        """Close this connection for a message it could not have handled; anything else
        than a bad message or a panic inside yrs propagates."""
        if isinstance(error, MalformedMessage):
            metrics.refused(metrics.MALFORMED)
            self.log.warning(
                "Malformed message from %s in %s: %s", self.username, room.room_id, error
            )
            self.disconnect(CloseCode.MALFORMED, str(error))
            return
        # pycrdt turns a panic inside yrs into PanicException, a BaseException: it must not
        # take the server down, only this client's connection.
        if not isinstance(error, Exception) and type(error).__name__ != "PanicException":
            raise error
        self.log.error(
            "Handling a message in room %s failed", room.room_id,
            exc_info=(type(error), error, error.__traceback__),
        )  # fmt: skip
        self.disconnect(CloseCode.INTERNAL)

    def on_close(self) -> None:
        metrics.disconnected(self.closed_by)
        if self.room is not None:
            self.room.leave(self)

    # -- Participant -----------------------------------------------------------------------

    def frame_sink(self) -> FrameSink:
        return FrameSink(self)

    def disconnect(self, code: CloseCode, detail: str | None = None) -> None:
        self.closed_by = self.closed_by or code  # the first reason, for the metrics
        reason = code.reason if not detail else f"{code.reason}: {detail}"
        if code is not CloseCode.SHUTTING_DOWN and self.room is not None:
            self.log.info("Closing %s in %s: %s", self.username, self.room.room_id, reason)
        if self.outbox is not None:
            self.outbox.close()
        if self.ws_connection is not None:
            # A close reason must fit in a control frame (123 bytes of UTF-8).
            self.close(int(code), reason.encode()[:120].decode(errors="ignore"))
        if self.room is not None:
            self.room.leave(self)


class OpenHandler(RoomHandler):
    """``GET /api/collab/open/{path}?format=&type=[&fresh=1]``: open a document over one
    socket (``docs/protocol.md``, "Opening over one socket").

    Before the upgrade it does what the session PUT does, with the same refusals as HTTP
    errors (``CollabMixin.open_document``); then it is the room's socket, exactly as
    ``/api/collab/room/{room}``, except that its first frame is the notice ``{"type":
    "session", "session": <the session PUT's reply>}``. A browser can then create the socket
    as soon as it starts opening a document, without waiting for the session reply (which
    it handles only after the long task that builds the document's widget), and the
    handshake and the document (``fresh=1``) travel while the widget is built."""

    session: dict[str, Any] | None = None

    @authorized("read")
    async def get(self, path: str) -> None:  # type: ignore[override]
        format, type = (self.get_argument(name, None, strip=False) for name in ("format", "type"))
        self.session, cap = await self.open_document(path, format, type, "query")
        self.connecting_as(cap)
        # (open_document did RoomHandler.get's checks: straight to the upgrade)
        await super(RoomHandler, self).get(self.session["room"])

    async def open(self, room_id: str) -> None:  # type: ignore[override]
        # first, before the room loads: the client learns its room, role and identity now
        notice = notice_frame({"type": "session", "session": self.session})
        FrameSink(self).write(encode_frame(notice))
        await super().open(room_id)


def _writes(message: Any) -> bool:
    """Whether a message may change the document (an update that is not empty)."""
    return (
        isinstance(message, SyncMessage)
        and message.sync_type is not SyncType.STEP1
        and message.payload != EMPTY_UPDATE
    )
