"""REST endpoints of history, versions, attribution and audit (docs/history-api.md).

Each handler parses and checks its input, asks the :class:`~..history.service.History`, and
turns the store's errors into the HTTP statuses the API document promises: a client gets a
clear message for a bad parameter, an unknown version or a version of another document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..collaboration.manager import UnknownRoom
from ..documents.filesync import FileGone, FileUnloadable
from ..history.service import History, NoHistory, PathTaken
from ..persistence import (
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

HISTORY = "jupyter_collab_history"
AUDIT_ACTIONS = frozenset(action.value for action in AuditAction)


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
        self.reply({"versions": versions, "next": after})

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
        self.reply({"version": version}, 201)


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
        action = self.get_argument("action", None) or None
        if action is not None and action not in AUDIT_ACTIONS:
            raise web.HTTPError(
                400, f"unknown action {action!r} (one of {', '.join(sorted(AUDIT_ACTIONS))})"
            )
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


HANDLERS = [
    (r"/api/collab/documents/([^/]+)/versions", VersionsHandler),
    (r"/api/collab/documents/([^/]+)/versions/([^/]+)", VersionHandler),
    (r"/api/collab/documents/([^/]+)/diff", DiffHandler),
    (r"/api/collab/documents/([^/]+)/attribution", AttributionHandler),
    (r"/api/collab/documents/([^/]+)/restore", RestoreHandler),
    (r"/api/collab/audit", AuditHandler),
]
