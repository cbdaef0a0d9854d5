"""Notifications across servers: two ``jupyter_server`` processes of one group (a real
redis-server, one shared database); a notification made on server A reaches the user's socket
on server B at once, through the ``notification.event`` topic on Redis Streams."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from .auth import token_header
from .bus.test_rooms import started
from .client import eventually
from .servers import Server

pytestmark = pytest.mark.timeout(900)

CONFIG = """
c.ServerApp.identity_provider_class = "tests.auth.TestIdentityProvider"
c.ServerApp.authorizer_class = "tests.auth.TestAuthorizer"
c.CollabApp.owners = ["alice"]
c.CollabApp.freeze_gc_at_start = False
"""


async def request(server: Server, method: str, path: str, user: str, body: Any = None) -> Any:
    reply = await AsyncHTTPClient().fetch(
        HTTPRequest(
            f"{server.url}/{path}", method=method, headers=token_header(user),
            body=None if body is None else json.dumps(body), request_timeout=300,
        )
    )  # fmt: skip
    return json.loads(reply.body)


async def test_a_notification_made_on_one_server_reaches_a_socket_on_another(
    tmp_path: Path, redis_factory: Any
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "jupyter_server_config.py").write_text(CONFIG)
    (root / "shared.txt").write_text("x")
    redis = redis_factory()
    servers = []
    try:
        for name in ("a", "b"):
            server = Server(root, tmp_path / "collab.db", redis_url=redis.url)
            server.log_path = tmp_path / f"server-{name}.log"
            servers.append(started(server))
        a, b = servers

        ws_url = f"ws://127.0.0.1:{b.port}/api/collab/notifications/ws?after=0"
        ws = await websocket_connect(
            HTTPRequest(ws_url, headers=token_header("bob"), request_timeout=120)
        )
        messages: list[dict[str, Any]] = []

        async def read() -> None:
            while (raw := await ws.read_message()) is not None:
                messages.append(json.loads(raw))

        reader = asyncio.ensure_future(read())
        await eventually(lambda: any(m["type"] == "ready" for m in messages), timeout=120,
                         what="bob's socket on B to be ready")  # fmt: skip

        # alice, on server A, shares the file with bob
        await request(a, "PUT", "api/collab/shares/shared.txt", "alice",
                      {"user": "bob", "role": "viewer"})  # fmt: skip
        await eventually(lambda: any(m["type"] == "notification" for m in messages),
                         timeout=120, what="the notification on server B")  # fmt: skip
        (pushed,) = [m for m in messages if m["type"] == "notification"]
        note = pushed["notification"]
        assert note["type"] == "shared" and note["path"] == "shared.txt"
        assert note["actor"]["username"] == "alice" and pushed["unread"] == 1

        # bob reads it on server A: his socket on B hears the new count
        await request(a, "POST", "api/collab/notifications/read", "bob", {"ids": [note["id"]]})
        await eventually(lambda: any(m["type"] == "unread" for m in messages), timeout=120,
                         what="the unread count on server B")  # fmt: skip
        assert [m for m in messages if m["type"] == "unread"][-1]["unread"] == 0

        # Redis dies; alice changes bob's role meanwhile (stored; not on the bus). When Redis
        # is back, B cannot prove it saw everything (a gap) and re-reads bob's notifications
        # from the shared store: his socket gets the one made during the outage, once.
        redis.stop(kill=True)
        await request(a, "PUT", "api/collab/shares/shared.txt", "alice",
                      {"user": "bob", "role": "editor"})  # fmt: skip
        redis.start()

        def notes() -> list[dict[str, Any]]:
            return [m["notification"] for m in messages if m["type"] == "notification"]

        await eventually(lambda: len(notes()) >= 2, timeout=300,
                         what="the notification made while Redis was down")  # fmt: skip
        assert notes()[1]["details"]["role"] == "editor"
        await request(a, "PUT", "api/collab/shares/shared.txt", "alice",
                      {"user": "bob", "role": "viewer"})  # fmt: skip
        await eventually(lambda: len(notes()) >= 3, timeout=300, what="the next one, live")
        assert [n["details"]["role"] for n in notes()] == ["viewer", "editor", "viewer"]
        ws.close()
        reader.cancel()
    finally:
        for server in servers:
            server.stop()
