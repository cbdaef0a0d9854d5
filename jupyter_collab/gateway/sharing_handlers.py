"""REST endpoints of sharing and the user directory (docs/sharing-api.md); notifications are
in notification_handlers.py."""

from __future__ import annotations

import json
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..collaboration.manager import room_id_for
from ..documents.kinds import KINDS
from ..sharing.service import BadShare, SharingRefused, SharingUnavailable
from .handlers import CollabMixin

MAX_PAGE = 200


class SharingHandler(CollabMixin, APIHandler):
    def limit_argument(self, default: int) -> int:
        limit = self.int_argument("limit", default)
        assert limit is not None
        if not 1 <= limit <= MAX_PAGE:
            raise web.HTTPError(400, f"limit must be from 1 to {MAX_PAGE}")
        return limit


class SharesHandler(SharingHandler):
    """``GET|PUT /api/collab/shares/{path}``"""

    async def _existing(self, path: str) -> str:
        path = await self.document_path(path)
        cm = self.contents_manager
        if path and not await ensure_async(cm.exists(path)):
            raise web.HTTPError(404, f"no such file or folder: {path}")
        return path

    @web.authenticated
    @authorized("read")
    async def get(self, path: str) -> None:
        path = await self._existing(path)
        user: Any = self.current_user
        cap = await self.authorizer_cap()
        if not self.sharing.role(path, user.username, cap).can_read:
            raise web.HTTPError(403, f"{path} is not shared with you")
        self.finish(json.dumps(self.sharing.listing(path, user.username, cap)))

    @web.authenticated
    @authorized("read")  # owners may share; the role check is below
    async def put(self, path: str) -> None:
        path = await self._existing(path)
        body = self.json_body()
        if "user" not in body or "role" not in body:
            raise web.HTTPError(400, 'body needs "user" and "role" (null removes the share)')
        user: Any = self.current_user
        try:
            is_dir = await ensure_async(self.contents_manager.dir_exists(path))
            reply = await self.sharing.set_role(
                path, user, await self.authorizer_cap(), body["user"], body["role"],
                kind="directory" if is_dir else "file",
                doc_ids=[] if is_dir else await self._documents(path),
            )  # fmt: skip
        except BadShare as exc:
            raise web.HTTPError(400, str(exc)) from None
        except SharingRefused as exc:
            raise web.HTTPError(403, str(exc)) from None
        except SharingUnavailable as exc:
            raise web.HTTPError(503, str(exc)) from None
        self.finish(json.dumps(reply))

    async def _documents(self, path: str) -> list[str]:
        """The documents (rooms with history) of the file at ``path``, for the audit event of
        a permission change: filtering the audit log by document then shows it."""
        file_id = await self.rooms.file_ids.get_or_create(path)
        found = []
        for kind in KINDS.values():
            doc_id = room_id_for(kind, file_id)
            if doc_id in self.rooms.rooms or await self._has_history(doc_id):
                found.append(doc_id)
        return found

    async def _has_history(self, doc_id: str) -> bool:
        store = getattr(self.rooms, "store", None)
        if store is None:
            return False
        try:
            return bool(await store.last_seq(doc_id)) or await store.snapshot(doc_id) is not None
        except Exception:  # an unknown document, or a store that fails: no document to name
            return False


class UsersHandler(SharingHandler):
    """``GET /api/collab/users?q=&limit=``"""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        query = self.get_argument("q", "")[:200]
        users = await self.sharing.users(query, self.limit_argument(20))
        self.finish(json.dumps({"users": users}))


HANDLERS = [
    (r"/api/collab/shares/?(.*)", SharesHandler),
    (r"/api/collab/users", UsersHandler),
]
