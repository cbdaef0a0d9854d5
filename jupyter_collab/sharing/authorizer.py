"""Shares also govern Jupyter's own file endpoints (``/api/contents``, ``/files``).

Without this, a user made a viewer of a notebook could still overwrite it through the
contents API (a plain JupyterLab save does exactly that). The deployer's Authorizer stays in
charge: this wrapper asks it first and only ever narrows its answer, for requests that name a
file, to what the user's role on that file allows.

It answers synchronously when the wrapped Authorizer does, so callers that do not await
``is_authorized`` keep working.
"""

from __future__ import annotations

import inspect
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.files.handlers import FilesHandler

from .roles import Role


def requested_path(handler: Any) -> str | None:
    """The file or folder a Jupyter contents/files request is about, if it names one."""
    kwargs = getattr(handler, "path_kwargs", None) or {}
    if "path" in kwargs:  # /api/contents{path}, checkpoints, trust
        return str(kwargs["path"] or "").strip("/")
    if isinstance(handler, (FilesHandler, AuthenticatedFileHandler)):  # /files/{path}
        args = getattr(handler, "path_args", None) or []
        return str(args[0]).strip("/") if args else None
    return None


class ShareEnforcingAuthorizer(Authorizer):
    def __init__(self, inner: Authorizer, sharing: Any) -> None:
        super().__init__(identity_provider=inner.identity_provider)
        self.inner = inner
        self.sharing = sharing

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> Any:
        answer = self.inner.is_authorized(handler, user, action, resource)
        if resource != "contents":
            return answer
        path = requested_path(handler)
        if path is None:
            return answer  # not about one file (jupyter-collab's own handlers check roles)
        if inspect.isawaitable(answer):
            return self._narrow_async(answer, handler, user, action, path)
        if not answer:
            return False
        other = "write" if action == "read" else "read"
        also = self.inner.is_authorized(handler, user, other, resource)
        if inspect.isawaitable(also):  # an Authorizer that is sometimes async
            return self._narrow_async(_ready(True), handler, user, action, path, also)
        return self._allowed(path, user, action, bool(also))

    async def _narrow_async(
        self, answer: Any, handler: Any, user: Any, action: str, path: str, also: Any = None
    ) -> bool:
        if not await answer:
            return False
        if also is None:
            other = "write" if action == "read" else "read"
            also = self.inner.is_authorized(handler, user, other, "contents")
        return self._allowed(path, user, action, bool(await _awaited(also)))

    def _allowed(self, path: str, user: Any, action: str, other_allowed: bool) -> bool:
        can_read = action == "read" or other_allowed
        can_write = action == "write" or (action == "read" and other_allowed)
        cap = Role.OWNER if can_write else Role.VIEWER if can_read else Role.NONE
        role = self.sharing.role(path, user.username, cap)
        return role.can_read if action == "read" else role.can_write


async def _ready(value: Any) -> Any:
    return value


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
