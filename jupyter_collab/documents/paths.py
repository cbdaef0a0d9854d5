"""The one spelling of a file's path that every check, file id, room and share uses.

Jupyter accepts many spellings of the same file: ``secret.txt``, ``./secret.txt``,
``%2e/secret.txt`` (tornado decodes it to ``./secret.txt``), ``sub/../secret.txt`` (even when
``sub`` does not exist), ``sub%2F%2F..%2Fsecret.txt``, a trailing slash... Its
``FileContentsManager`` joins the parts to the root and normalizes them lexically
(``jupyter_server.utils.to_os_path``: ``os.path.normpath``), so they all reach one file. A
check made on the spelling instead of on that file lets a user through with another spelling,
and a room keyed by the spelling gives one file two rooms. :func:`canonical_path` gives the
API path Jupyter resolves a request path to; callers key everything on it.

Paths that climb out of the served folder are refused outright (Jupyter answers 404 for most
of them; ``../root/x`` happens to land inside the root again, and is refused here too: no
client needs it). Symbolic links are not followed, exactly as Jupyter does not: a link is a
file of its own to Jupyter's APIs (see docs/security.md).
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_core.utils import ensure_async

_SEPARATORS = {"/", os.sep, os.altsep} - {None}


class BadPath(ValueError):
    """Not a path inside the served folder (it climbs out of it, or holds a NUL byte)."""


class HiddenPath(LookupError):
    """A hidden file or folder, which the ContentsManager does not serve (``allow_hidden``)."""


def canonical_path(path: str) -> str:
    """The API path (``/``-separated, relative to the root, no leading or trailing slash,
    ``""`` for the root itself) that Jupyter's contents manager resolves ``path`` to.

    ``path`` is a decoded request path (tornado has already turned ``%2e`` into ``.`` and
    ``%2F`` into ``/``). Raises :class:`BadPath` for a path outside the root.
    """
    if not isinstance(path, str) or "\0" in path:
        raise BadPath(f"{path!r} is not a valid path")
    for separator in _SEPARATORS - {"/"}:  # Windows: Jupyter's os.path.join splits on "\\" too
        path = path.replace(separator, "/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise BadPath(f"{path!r} is outside the served folder")
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


async def visible_path(contents_manager: Any, path: str) -> str:
    """The canonical path of ``path``, refusing hidden files as the ContentsManager does.

    Raises :class:`BadPath` or :class:`HiddenPath` (both a 404 for a client: Jupyter's own
    contents API answers 404 for hidden files unless ``ContentsManager.allow_hidden``).
    """
    canonical = canonical_path(path)
    hidden_allowed = not canonical or getattr(contents_manager, "allow_hidden", False)
    if not hidden_allowed and await ensure_async(contents_manager.is_hidden(canonical)):
        raise HiddenPath(canonical)
    return canonical
