"""Shares also govern Jupyter's own routes that read, write or run a shared document.

Without this, a user made a viewer of a notebook could still overwrite it through the
contents API (a plain JupyterLab save does exactly that), read it through ``/files`` or
``/nbconvert``, or run code in its kernel. The deployer's Authorizer stays in charge: this
wrapper asks it first and only ever narrows its answer, for requests about a document, to what
the user's role on that document allows (docs/security.md lists every route):

- ``contents`` (``/api/contents/...`` with its checkpoints and trust, ``/files``, ``/view``)
  and ``nbconvert`` (``/nbconvert/{format}/{path}``): read needs viewer, anything else editor;
  a copy also needs read on its source (``copy_from``), a rename also write on its
  destination.
- ``kernels`` (``/api/kernels/{id}``, its interrupt/restart and its channels WebSocket):
  anything but reading the kernel's model needs editor on every document whose session uses
  the kernel (``kernels.py``).
- ``sessions``: creating one needs editor on its path and on the documents of the kernel it
  attaches to; changing or deleting one needs editor on its path and its kernel's documents
  (and on the new path or kernel a change names).

Every path is first resolved to the one API path Jupyter resolves it to
(``documents/paths.py``): ``%2e/secret.txt`` and ``sub/../secret.txt`` are ``secret.txt`` here
too; a path outside the root is refused.

It answers synchronously when the wrapped Authorizer does, so callers that do not await
``is_authorized`` keep working (Jupyter's own all await it).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Iterable
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.base.handlers import AuthenticatedFileHandler
from jupyter_server.files.handlers import FilesHandler

from ..documents.paths import BadPath, canonical_path
from .kernels import json_body, kernel_paths, session_of
from .roles import Role, cap_of

# (path as requested, "read" | "write"): what a request needs on which document
Need = tuple[str, str]
CAP_ATTRIBUTE = "_jupyter_collab_cap"  # the user's Authorizer cap, kept on the handler


def requested_path(handler: Any) -> str | None:
    """The file or folder a Jupyter contents/files/nbconvert request names, if any (as
    requested: not yet canonical)."""
    kwargs = getattr(handler, "path_kwargs", None) or {}
    if "path" in kwargs:  # /api/contents{path}, checkpoints, trust, /view, /nbconvert
        return str(kwargs["path"] or "")
    if isinstance(handler, (FilesHandler, AuthenticatedFileHandler)):  # /files/{path}
        args = getattr(handler, "path_args", None) or []
        return str(args[0]) if args else None
    return None


def _method(handler: Any) -> str:
    request = getattr(handler, "request", None)
    return str(getattr(request, "method", "") or "").upper()


class ShareEnforcingAuthorizer(Authorizer):
    def __init__(self, inner: Authorizer, sharing: Any) -> None:
        super().__init__(identity_provider=inner.identity_provider)
        self.inner = inner
        self.sharing = sharing

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> Any:
        answer = self.inner.is_authorized(handler, user, action, resource)
        try:
            needs = self.needs(handler, action, resource)
        except BadPath:
            _discard(answer)
            return False
        if needs is None:
            return answer
        can_read = self.inner.is_authorized(handler, user, "read", "contents")
        can_write = self.inner.is_authorized(handler, user, "write", "contents")
        if any(inspect.isawaitable(x) for x in (answer, needs, can_read, can_write)):
            return self._decide_async(handler, user, answer, needs, can_read, can_write)
        cap = cap_of(bool(can_read), bool(can_read) and bool(can_write))
        return bool(answer) and self._allowed(handler, user, cap, needs)  # type: ignore[arg-type]

    async def _decide_async(
        self, handler: Any, user: Any, answer: Any, needs: Any, can_read: Any, can_write: Any
    ) -> bool:
        answer, needs = await _awaited(answer), await _awaited(needs)
        can_read, can_write = await _awaited(can_read), await _awaited(can_write)
        if not answer:
            return False
        cap = cap_of(bool(can_read), bool(can_read) and bool(can_write))
        return self._allowed(handler, user, cap, needs)

    def _allowed(self, handler: Any, user: Any, cap: Role, needs: Iterable[Need]) -> bool:
        with contextlib.suppress(AttributeError):
            setattr(handler, CAP_ATTRIBUTE, cap)  # for the kernel WebSocket guard
        for path, need in needs:
            try:
                canonical = canonical_path(path)
            except BadPath:
                return False
            role = self.sharing.role(canonical, user.username, cap)
            if not (role.can_read if need == "read" else role.can_write):
                return False
        return True

    # -- what a request needs ---------------------------------------------------------------------

    def needs(self, handler: Any, action: str, resource: str) -> Any:
        """What ``handler``'s request needs on which documents: a list of :data:`Need` (or an
        awaitable of one), or None when it is not about a document (the Authorizer's answer
        stands). Raises BadPath for a path outside the root."""
        if resource in ("contents", "nbconvert"):
            return self._contents_needs(handler, action)
        if resource == "kernels":
            kernel_id = (getattr(handler, "path_kwargs", None) or {}).get("kernel_id")
            if not kernel_id or action == "read":
                return None  # listing kernels, reading a model, starting a new kernel
            return self._kernel_needs(handler, str(kernel_id))
        if resource == "sessions" and action != "read":
            return self._session_needs(handler)
        return None

    def _contents_needs(self, handler: Any, action: str) -> list[Need] | None:
        path = requested_path(handler)
        if path is None:
            return None  # not about one file (jupyter-collab's own handlers check roles)
        canonical_path(path)  # refuse a path outside the root at once
        needs: list[Need] = [(path, "read" if action == "read" else "write")]
        method = _method(handler)
        if method in ("POST", "PATCH") and _is_contents_handler(handler):
            body = json_body(handler)
            if method == "POST" and isinstance(body.get("copy_from"), str):
                needs.append((body["copy_from"], "read"))  # the source of a copy
            if method == "PATCH" and isinstance(body.get("path"), str):
                needs.append((body["path"], "write"))  # the destination of a rename
        return needs

    def _kernel_needs(self, handler: Any, kernel_id: str) -> Any:
        paths = kernel_paths(handler.session_manager, kernel_id)
        if inspect.isawaitable(paths):
            return _then(paths, lambda found: [(p, "write") for p in found])
        return [(p, "write") for p in _documents(paths)]

    def _session_needs(self, handler: Any) -> Any:
        body = json_body(handler)
        sm = handler.session_manager
        method = _method(handler)
        session_id = (getattr(handler, "path_kwargs", None) or {}).get("session_id")
        lookups: list[Any] = []
        needs: list[Need] = []
        new_path = body.get("path")
        notebook = body.get("notebook")
        if new_path is None and isinstance(notebook, dict):  # the old sessions API
            new_path = notebook.get("path", notebook.get("name"))
        if isinstance(new_path, str):
            canonical_path(new_path)
            needs.append((new_path, "write"))
        kernel = body.get("kernel")
        if isinstance(kernel, dict) and isinstance(kernel.get("id"), str):
            lookups.append(kernel_paths(sm, kernel["id"]))  # attaching to a running kernel
        if session_id is None:
            if method != "POST":
                return None
        else:
            record = session_of(sm, str(session_id))
            if inspect.isawaitable(record):
                return _session_needs_async(sm, record, needs, lookups)
            if record is not None:
                needs.append((record[0], "write"))
                lookups.append(kernel_paths(sm, record[1]))
        if any(inspect.isawaitable(found) for found in lookups):
            return _gather_needs(needs, lookups)
        for found in lookups:
            needs.extend((p, "write") for p in _documents(found))
        return needs


def _is_contents_handler(handler: Any) -> bool:
    from jupyter_server.services.contents.handlers import ContentsHandler

    return isinstance(handler, ContentsHandler)


def _documents(paths: Iterable[str]) -> list[str]:
    """Session paths that can be documents: a session path outside the root (Jupyter does not
    check them) names no document anyone could share."""
    found = []
    for path in paths:
        try:
            canonical_path(path)
        except BadPath:
            continue
        found.append(path)
    return found


async def _then(awaitable: Awaitable[Any], then: Any) -> Any:
    return then(_documents(await awaitable))


async def _gather_needs(needs: list[Need], lookups: list[Any]) -> list[Need]:
    for found in lookups:
        needs.extend((p, "write") for p in _documents(await _awaited(found)))
    return needs


async def _session_needs_async(
    sm: Any, record: Awaitable[Any], needs: list[Need], lookups: list[Any]
) -> list[Need]:
    found = await record
    if found is not None:
        needs.append((found[0], "write"))
        lookups.append(kernel_paths(sm, found[1]))
    return await _gather_needs(needs, lookups)


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _discard(value: Any) -> None:
    """Close an inner answer we will not await (no "never awaited" warning)."""
    if inspect.iscoroutine(value):
        value.close()


class KernelGuard:
    """The per-message check of a kernel WebSocket (``kernels.guarded_connection_class``):
    may this connection's user still run the kernel, given the documents using it now?"""

    def __init__(self, sharing: Any) -> None:
        self.sharing = sharing

    def refusal(self, handler: Any, kernel_id: str) -> str | None:
        """None when the user may run ``kernel_id``, else the reason."""
        user = getattr(handler, "current_user", None)
        cap = getattr(handler, CAP_ATTRIBUTE, None)
        if user is None or cap is None:
            return None if user is not None else "not signed in"
        paths = kernel_paths(handler.session_manager, kernel_id)
        if inspect.isawaitable(paths):  # no synchronous answer: the check at connect stands
            _discard(paths)
            return None
        for path in _documents(paths):
            role = self.sharing.role(path, user.username, cap)
            if not role.can_write:
                return f"your role on {canonical_path(path) or 'the root'} is {role.value}"
        return None
