"""Which documents a kernel runs for, so that shares also govern who may run it.

A notebook's kernel is the notebook's: whoever may send it code may change what the notebook
shows (and everything else the kernel can reach). Jupyter's own Authorizer only knows
resources ("kernels", "sessions"), not which document a kernel belongs to; Jupyter's
SessionManager does: each session ties a path (a notebook, a console's or a file's) to a
kernel id. These helpers read that table so the wrapped Authorizer (``authorizer.py``) and the
kernel WebSocket guard below can ask the user's role on those documents.

Jupyter's SessionManager keeps its table in SQLite (in memory unless the deployer configured a
file) and queries it on the event loop itself; we read it the same way, synchronously, so the
Authorizer can answer without a coroutine. A session manager without that table falls back to
its public (async) API.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_core.utils import ensure_async

Lookup = list[str] | Awaitable[list[str]]


def _table(session_manager: Any) -> sqlite3.Connection | None:
    """The SessionManager's own SQLite connection, with its table created, if it has one."""
    if not hasattr(type(session_manager), "connection") or not hasattr(
        type(session_manager), "cursor"
    ):
        return None
    session_manager.cursor  # noqa: B018 (creates the session table on first use)
    return session_manager.connection


def kernel_paths(session_manager: Any, kernel_id: str) -> Lookup:
    """The paths of the sessions (documents, consoles) using ``kernel_id``."""
    connection = _table(session_manager)
    if connection is not None:
        rows = connection.execute(
            "SELECT path FROM session WHERE kernel_id = ?", (kernel_id,)
        ).fetchall()
        return [str(row[0]) for row in rows if row[0] is not None]
    return _kernel_paths_async(session_manager, kernel_id)


async def _kernel_paths_async(session_manager: Any, kernel_id: str) -> list[str]:
    sessions = await ensure_async(session_manager.list_sessions())
    return [
        str(s["path"])
        for s in sessions
        if (s.get("kernel") or {}).get("id") == kernel_id and s.get("path") is not None
    ]


def session_of(session_manager: Any, session_id: str) -> tuple[str, str] | None | Awaitable[Any]:
    """The (path, kernel id) of a session, or None if there is no such session."""
    connection = _table(session_manager)
    if connection is not None:
        row = connection.execute(
            "SELECT path, kernel_id FROM session WHERE session_id = ?", (session_id,)
        ).fetchone()
        return (str(row[0]), str(row[1])) if row is not None else None
    return _session_of_async(session_manager, session_id)


async def _session_of_async(session_manager: Any, session_id: str) -> tuple[str, str] | None:
    for s in await ensure_async(session_manager.list_sessions()):
        if s.get("id") == session_id:
            return str(s.get("path")), str((s.get("kernel") or {}).get("id"))
    return None


def json_body(handler: Any) -> dict[str, Any]:
    """The request body as Jupyter's handlers will read it; {} if it is not a JSON object
    (the handler itself answers 400 then)."""
    try:
        body = json.loads(handler.request.body or b"{}")
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def guarded_connection_class(base: type, may_run: Callable[[Any, str], str | None]) -> type:
    """A subclass of the server's kernel WebSocket connection class that checks, on every
    message a client sends, that its user may still run the kernel.

    The Authorizer already refuses the WebSocket to users who may not run the kernel when
    they connect; this catches a user whose role changed while connected (an editor made a
    viewer keeps no way to run code), and a document that started using the kernel since.
    ``may_run(handler, kernel_id)`` returns None when allowed, else the reason; the message
    is then dropped and the WebSocket closed with 1008 (policy violation).
    """

    def handle_incoming_message(self: Any, incoming_msg: Any) -> None:
        handler = self.websocket_handler
        refusal = may_run(handler, str(getattr(handler, "kernel_id", "")))
        if refusal is not None:
            self.log.warning(
                "Refusing a kernel message from %s: %s",
                getattr(handler.current_user, "username", "?"),
                refusal,
            )
            handler.close(1008, refusal.encode()[:120].decode(errors="ignore"))
            return
        base.handle_incoming_message(self, incoming_msg)

    return type(
        f"ShareGuarded{base.__name__}",
        (base,),
        {"handle_incoming_message": handle_incoming_message, "__doc__": base.__doc__},
    )
