"""REST endpoints of history, versions, attribution and audit (docs/history-api.md).

Each handler parses and checks its input, asks the :class:`~..history.service.History`, and
turns the store's errors into the HTTP statuses the API document promises: a client gets a
clear message for a bad parameter, an unknown version or a version of another document.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.iostream import StreamClosedError

from ..collaboration.manager import UnknownRoom
from ..documents.filesync import FileGone, FileUnloadable
from ..history.service import History, NoHistory, PathTaken
from ..persistence import (
    AuditEvent,
    ForeignVersion,
    HistoryCompacted,
    InvalidInput,
    StoreUnavailable,
    UnknownDocument,
    UnknownVersion,
)
from ..persistence.model import MAX_AUDIT_PAGE, AuditAction
from ..timestamps import iso, parse_time
from .handlers import CollabMixin, int_value, parse_int
from .identity import awareness_user

HISTORY = "jupyter_collab_history"
AUDIT_ACTIONS = frozenset(action.value for action in AuditAction)


def _audit_action(action: str | None) -> str | None:
    """The ``action`` filter of an audit request, or a 400 naming the known actions."""
    if action is not None and action not in AUDIT_ACTIONS:
        raise web.HTTPError(
            400, f"unknown action {action!r} (one of {', '.join(sorted(AUDIT_ACTIONS))})"
        )
    return action


@contextmanager
def _http_errors() -> Iterator[None]:
    try:
        yield
    except (NoHistory, UnknownDocument) as exc:
        raise web.HTTPError(404, str(exc) or "no such document") from None
    except ForeignVersion as exc:  # (a kind of UnknownVersion: first)
        raise web.HTTPError(404, f"the version belongs to another document: {exc}") from None
    except UnknownVersion as exc:
        raise web.HTTPError(404, f"no such version: {exc}") from None
    except HistoryCompacted as exc:
        raise web.HTTPError(409, str(exc), reason="History Compacted") from None
    except PathTaken as exc:
        raise web.HTTPError(409, str(exc), reason="Path Taken") from None
    except InvalidInput as exc:
        raise web.HTTPError(400, str(exc)) from None
    except OverflowError:  # a number the store cannot hold (an audit cursor, say)
        raise web.HTTPError(400, "a number in the request is out of range") from None
    except FileGone as exc:
        raise web.HTTPError(404, f"the document's file is gone: {exc}") from None
    except FileUnloadable as exc:
        raise web.HTTPError(409, f"the document's file cannot be loaded: {exc}") from None
    except StoreUnavailable as exc:  # the database fails now (GET /api/collab/status says why)
        raise web.HTTPError(503, f"history is not available now: {exc}") from None


class HistoryHandler(CollabMixin, APIHandler):
    @property
    def history(self) -> History:
        return self.settings[HISTORY]

    async def require(self, doc_id: str, *, write: bool = False) -> None:
        """The caller's role on the document (its shares) must allow reading, or writing."""
        try:
            _, file_id = self.rooms.parse(doc_id)
        except UnknownRoom:
            raise web.HTTPError(404, f"no such document: {doc_id}") from None
        path = await self.rooms.file_ids.last_path(file_id)
        if path is None:
            raise web.HTTPError(404, f"no such document: {doc_id}")
        user: Any = self.current_user
        role = self.sharing.role(path, user.username, await self.authorizer_cap())
        if not role.can_read or (write and not role.can_write):
            raise web.HTTPError(403, f"your role on {path} is {role.value}")
        # who names or restores a version is named in replies, even if the directory leaves
        # them out (an "Anonymous …" user) and they have no room open
        self.history.people.meet(awareness_user(user))

    def version_argument(self, name: str, *, current: bool = False) -> int | None:
        """A version id; ``current`` (or absent, when allowed) means the present content."""
        value = self.get_argument(name, None)
        if current and value in (None, "", "current"):
            return None
        if value is None:
            raise web.HTTPError(400, f"missing parameter {name}")
        return self.int_argument(name)

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))


class VersionsHandler(HistoryHandler):
    """``GET|POST /api/collab/documents/{room}/versions``"""

    @web.authenticated
    @authorized("read")
    async def get(self, doc_id: str) -> None:
        await self.require(doc_id)
        limit = self.int_argument("limit", 50)
        assert limit is not None
        if not 1 <= limit <= MAX_AUDIT_PAGE:
            raise web.HTTPError(400, f"limit must be from 1 to {MAX_AUDIT_PAGE}")
        with _http_errors():
            versions, after = await self.history.versions(
                doc_id, limit, self.int_argument("before")
            )
        users = await self.history.users(*versions)
        self.reply({"versions": versions, "next": after, "users": users})

    @web.authenticated
    @authorized("write")
    async def post(self, doc_id: str) -> None:
        await self.require(doc_id, write=True)
        name = self.json_body().get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise web.HTTPError(400, '"name" must be a string of 1 to 200 characters')
        with _http_errors():
            version = await self.history.name_version(
                doc_id, name.strip(), self.current_user.username
            )
        self.reply({"version": version, "users": await self.history.users(version)}, 201)


class VersionHandler(HistoryHandler):
    """``GET /api/collab/documents/{room}/versions/{id}``"""

    @web.authenticated
    @authorized("read")
    async def get(self, doc_id: str, version: str) -> None:
        await self.require(doc_id)
        version_id = parse_int(version, "a version id")
        with _http_errors():
            self.reply(await self.history.content(doc_id, version_id))


class DiffHandler(HistoryHandler):
    """``GET /api/collab/documents/{room}/diff?from={id}&to={id}|current``"""

    @web.authenticated
    @authorized("read")
    async def get(self, doc_id: str) -> None:
        await self.require(doc_id)
        from_id = self.version_argument("from")
        assert from_id is not None
        to_id = self.version_argument("to", current=True)
        with _http_errors():
            self.reply(await self.history.diff(doc_id, from_id, to_id))


class AttributionHandler(HistoryHandler):
    """``GET /api/collab/documents/{room}/attribution?at={id}|current&since={id}``"""

    @web.authenticated
    @authorized("read")
    async def get(self, doc_id: str) -> None:
        await self.require(doc_id)
        at_id = self.version_argument("at", current=True)
        since_id = self.int_argument("since")
        with _http_errors():
            self.reply(await self.history.attribution(doc_id, at_id, since_id))


class RestoreHandler(HistoryHandler):
    """``POST /api/collab/documents/{room}/restore`` with ``{"version": id}``"""

    @web.authenticated
    @authorized("write")
    async def post(self, doc_id: str) -> None:
        await self.require(doc_id, write=True)
        version_id = int_value(self.json_body().get("version"), '"version" (a version id)')
        with _http_errors():
            self.reply(await self.history.restore(doc_id, version_id, self.current_user))


class AuditHandler(HistoryHandler):
    """``GET /api/collab/audit?document=&user=&action=&since=&until=&limit=&cursor=``"""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        action = _audit_action(self.get_argument("action", None) or None)
        times = {}
        for name in ("since", "until"):
            value = self.get_argument(name, None)
            if value:
                try:
                    times[name] = parse_time(value)
                    if not math.isfinite(times[name]):
                        raise ValueError(value)
                except (ValueError, OverflowError):
                    raise web.HTTPError(
                        400, f"{name} must be an ISO 8601 time or epoch seconds, not {value[:40]!r}"
                    ) from None
        limit = self.int_argument("limit", 50)
        cursor = self.get_argument("cursor", None) or None
        if cursor is not None and (len(cursor) > 64 or not cursor.isascii()):
            raise web.HTTPError(400, f"bad audit cursor {cursor[:40]!r}")
        document = self.get_argument("document", None) or None
        if document is not None:
            await self.require(document)
        else:  # everything, across documents: for owners of the whole served folder
            user: Any = self.current_user
            if self.sharing.role("", user.username, await self.authorizer_cap()).value != "owner":
                raise web.HTTPError(403, "the whole audit log is for owners; filter by document")
        with _http_errors():
            events, cursor = await self.history.store.query_audit(
                doc_id=document,
                user=self.get_argument("user", None) or None,
                action=action,
                since=times.get("since"),
                until=times.get("until"),
                limit=limit,
                cursor=cursor,
            )
        self.reply(
            {
                "events": [
                    {
                        "id": event.id,
                        "action": event.action,
                        "time": iso(event.time),
                        "document": event.doc_id,
                        "user": event.user,
                        "details": dict(event.details),
                    }
                    for event in events
                ],
                "next": cursor,
            }
        )


FOLLOW_HEARTBEAT = 15.0  # seconds between keep-alive lines of an audit follow
FOLLOW_BACKLOG = 10_000  # events a follow may have waiting before it is ended (too slow)


class AuditFollowHandler(HistoryHandler):
    """``GET /api/collab/audit/follow?document=&user=&action=``: the audit log live, as it
    happens on any server of the group, in newline-delimited JSON (one event per line, the
    fields of ``GET /api/collab/audit`` plus ``path``; no ``id``: a live event from another
    server has none yet). The first line is ``{"following": true}`` once the follow is
    established; empty lines keep the connection alive. The same rights as the audit API:
    read on the document, or owner of the whole served folder without ``document``; checked
    again for every event, so a follow ends when its user loses the right."""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        action = _audit_action(self.get_argument("action", None) or None)
        who = self.get_argument("user", None) or None
        document = self.get_argument("document", None) or None
        user: Any = self.current_user
        cap = await self.authorizer_cap()
        doc_path = ""
        if document is not None:
            await self.require(document)
            _, file_id = self.rooms.parse(document)
            doc_path = await self.rooms.file_ids.last_path(file_id) or ""
        elif self.sharing.role("", user.username, cap).value != "owner":
            raise web.HTTPError(403, "the whole audit log is for owners; filter by document")

        def allowed() -> bool:
            role = self.sharing.role(doc_path, user.username, cap)
            return role.can_read if document is not None else role.value == "owner"

        queue: asyncio.Queue[AuditEvent] = asyncio.Queue(FOLLOW_BACKLOG)
        self._gone = asyncio.Event()

        def watcher(event: AuditEvent) -> None:
            if document is not None and event.doc_id != document:
                return
            if (who is not None and event.user != who) or (action and event.action != action):
                return
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._gone.set()

        stop = self.history.audit.watch(watcher)
        paths: dict[str, str | None] = {}
        self.set_header("Content-Type", "application/x-ndjson; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # (nginx: pass each line on at once)
        try:
            await self._line({"following": True})
            while not self._gone.is_set():
                getting = asyncio.ensure_future(queue.get())
                gone = asyncio.ensure_future(self._gone.wait())
                await asyncio.wait(
                    {getting, gone}, timeout=FOLLOW_HEARTBEAT, return_when=asyncio.FIRST_COMPLETED
                )
                gone.cancel()
                if not getting.done():
                    getting.cancel()
                    if not self._gone.is_set():
                        await self._line(None)
                    continue
                event = getting.result()
                if not allowed():
                    break
                await self._line(await self._event_json(event, paths))
        except (StreamClosedError, web.HTTPError):
            pass
        finally:
            stop()
        if not self._finished:
            with contextlib.suppress(StreamClosedError):
                self.finish()

    async def _event_json(self, event: AuditEvent, paths: dict[str, str | None]) -> dict[str, Any]:
        path = None
        if event.doc_id:
            if event.doc_id not in paths:
                try:
                    _, file_id = self.rooms.parse(event.doc_id)
                    paths[event.doc_id] = await self.rooms.file_ids.last_path(file_id)
                except Exception:
                    paths[event.doc_id] = None
            path = paths[event.doc_id]
        return {
            "action": event.action, "time": iso(event.time), "document": event.doc_id,
            "path": path, "user": event.user, "details": dict(event.details),
        }  # fmt: skip

    async def _line(self, data: Any) -> None:
        self.write(b"\n" if data is None else json.dumps(data).encode() + b"\n")
        await self.flush()

    def on_connection_close(self) -> None:
        gone = getattr(self, "_gone", None)
        if gone is not None:
            gone.set()


HANDLERS = [
    (r"/api/collab/documents/([^/]+)/versions", VersionsHandler),
    (r"/api/collab/documents/([^/]+)/versions/([^/]+)", VersionHandler),
    (r"/api/collab/documents/([^/]+)/diff", DiffHandler),
    (r"/api/collab/documents/([^/]+)/attribution", AttributionHandler),
    (r"/api/collab/documents/([^/]+)/restore", RestoreHandler),
    (r"/api/collab/audit", AuditHandler),
    (r"/api/collab/audit/follow", AuditFollowHandler),
]
