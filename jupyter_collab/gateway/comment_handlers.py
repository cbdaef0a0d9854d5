"""REST endpoints of comment threads (docs/comments-api.md); the rules are in
``comments/service.py``, these only read requests and turn its errors into statuses."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..comments.service import CommentError, Comments
from ..sharing.roles import Role
from .handlers import CollabMixin

COMMENTS = "jupyter_collab_comments"

_ID = r"[0-9a-f]{32}"


@contextlib.contextmanager
def _http_errors() -> Iterator[None]:
    try:
        yield
    except CommentError as exc:
        raise web.HTTPError(exc.status, str(exc)) from None


class CommentsHandler(CollabMixin, APIHandler):
    """What every comments endpoint shares: the service, the caller and their cap."""

    @property
    def comments(self) -> Comments:
        return self.settings[COMMENTS]

    async def caller(self) -> tuple[Any, Role]:
        user: Any = self.current_user
        cap = await self.authorizer_cap()
        await self.sharing.seen(user, cap)  # (the directory: people others may mention)
        return user, cap

    async def file_path(self, path: Any) -> str:
        """The canonical path of an existing file (any spelling: documents/paths.py); 404
        otherwise."""
        if not isinstance(path, str) or not path.strip():
            raise web.HTTPError(400, '"path" (the document\'s path) is needed')
        canonical = await self.document_path(path)
        if not canonical or not await ensure_async(self.contents_manager.file_exists(canonical)):
            raise web.HTTPError(404, f"no such file: {path}")
        return canonical

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))


class ThreadsHandler(CommentsHandler):
    """``GET /api/collab/comments?path=&resolved=``, ``POST /api/collab/comments``"""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        user, cap = await self.caller()
        path = await self.file_path(self.get_argument("path", None))
        resolved_argument = self.get_argument("resolved", None)
        if resolved_argument not in (None, "", "true", "false"):
            raise web.HTTPError(400, "resolved must be true or false")
        resolved = None if not resolved_argument else resolved_argument == "true"
        with _http_errors():
            self.reply(await self.comments.list(path, user, cap, resolved))

    @web.authenticated
    @authorized("read")  # commenting is not a write of contents: the role decides (service)
    async def post(self) -> None:
        user, cap = await self.caller()
        body = self.json_body()
        path = await self.file_path(body.get("path"))
        with _http_errors():
            self.reply(await self.comments.create(path, user, cap, body), 201)


class ThreadHandler(CommentsHandler):
    """``GET|PATCH /api/collab/comments/{thread}``"""

    @web.authenticated
    @authorized("read")
    async def get(self, thread_id: str) -> None:
        user, cap = await self.caller()
        with _http_errors():
            self.reply(await self.comments.get(thread_id, user, cap))

    @web.authenticated
    @authorized("read")
    async def patch(self, thread_id: str) -> None:
        body = self.json_body()
        user, cap = await self.caller()
        with _http_errors():
            self.reply(await self.comments.resolve(thread_id, user, cap, body))


class RepliesHandler(CommentsHandler):
    """``POST /api/collab/comments/{thread}/comments``"""

    @web.authenticated
    @authorized("read")
    async def post(self, thread_id: str) -> None:
        body = self.json_body()
        user, cap = await self.caller()
        with _http_errors():
            self.reply(await self.comments.reply(thread_id, user, cap, body), 201)


class CommentHandler(CommentsHandler):
    """``PATCH|DELETE /api/collab/comments/{thread}/comments/{comment}``"""

    @web.authenticated
    @authorized("read")
    async def patch(self, thread_id: str, comment_id: str) -> None:
        body = self.json_body()
        user, cap = await self.caller()
        with _http_errors():
            self.reply(await self.comments.edit(thread_id, comment_id, user, cap, body))

    @web.authenticated
    @authorized("read")
    async def delete(self, thread_id: str, comment_id: str) -> None:
        user, cap = await self.caller()
        with _http_errors():
            self.reply(await self.comments.delete(thread_id, comment_id, user, cap))


class UnknownThreadHandler(CommentsHandler):
    """Anything else under ``/api/collab/comments/``: not a thread id, so no such thread."""

    @web.authenticated
    @authorized("read")
    async def get(self, rest: str) -> None:
        raise web.HTTPError(404, f"no such thread: {rest[:80]}")

    post = patch = delete = get


HANDLERS = [
    (r"/api/collab/comments/?", ThreadsHandler),
    (rf"/api/collab/comments/({_ID})/?", ThreadHandler),
    (rf"/api/collab/comments/({_ID})/comments/?", RepliesHandler),
    (rf"/api/collab/comments/({_ID})/comments/({_ID})/?", CommentHandler),
    (r"/api/collab/comments/(.+)", UnknownThreadHandler),
]
