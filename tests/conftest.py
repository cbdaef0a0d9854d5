from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .auth import token_header
from .client import Client
from .servers import server  # noqa: F401 (fixture: real server processes)

pytest_plugins = [
    "pytest_jupyter.jupyter_server",
    "tests.services.postgres",
    "tests.services.redis",
]


@pytest.fixture
def collab_config() -> dict[str, Any]:
    """Short delays so tests see saves, polls and cleanups quickly (overridable per test)."""
    return {
        "save_delay": 0.1,
        "save_max_wait": 0.5,
        "file_poll_interval": 0.1,
        "document_cleanup_delay": 0.3,
        # one test process starts hundreds of servers: keep its garbage collector as it was
        "freeze_gc_at_start": False,
        # the test identity provider names its users: alice plays the server's own user
        # (as $JUPYTERHUB_USER would on JupyterHub); everyone else gets the default role
        "owners": ["alice"],
    }


@pytest.fixture
def server_app_config() -> dict[str, Any]:
    """ServerApp settings beyond the defaults (overridable per test)."""
    return {}


@pytest.fixture
def jp_server_config(
    tmp_path_factory: Any, collab_config: dict[str, Any], server_app_config: dict[str, Any]
) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("collabdb") / "collab.db"
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_collab": True},
            "identity_provider_class": "tests.auth.TestIdentityProvider",
            "authorizer_class": "tests.auth.TestAuthorizer",
            **server_app_config,
        },
        "CollabApp": {"db_path": str(db), **collab_config},
    }


@pytest.fixture
def open_session(jp_fetch: Any) -> Any:
    async def open_session(
        path: str, format: str = "text", type: str = "file", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await jp_fetch(
            "api", "collab", "session", path, method="PUT",
            body=json.dumps({"format": format, "type": type}), headers=headers,
        )  # fmt: skip
        return json.loads(response.body)

    return open_session


@pytest.fixture
def connect(jp_ws_fetch: Any, open_session: Any) -> Any:
    """Open a document and return a synced protocol client for it."""
    clients: list[Client] = []

    async def connect(
        path: str, format: str = "text", type: str = "file", headers: dict[str, str] | None = None,
        wait_sync: bool = True,
    ) -> Client:  # fmt: skip
        session = await open_session(path, format, type, headers)
        ws = await jp_ws_fetch("api", "collab", "room", session["room"], headers=headers)
        client = Client(ws, type)
        clients.append(client)
        if wait_sync:
            waits = [
                asyncio.ensure_future(client.synced.wait()),
                asyncio.ensure_future(client.closed.wait()),
            ]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:  # (the other one would be left pending at the loop's end)
                wait.cancel()
            assert client.synced.is_set(), f"closed: {client.close_code} {client.close_reason}"
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def ws_base(jp_http_port: int, jp_base_url: str) -> str:
    """The server's WebSocket base URL, for clients that build room URLs themselves."""
    return f"ws://127.0.0.1:{jp_http_port}{jp_base_url}"


@pytest.fixture
def rooms(jp_serverapp: Any) -> Any:
    """The server's RoomManager, to look at rooms from the inside."""
    return jp_serverapp.web_app.settings["jupyter_collab_rooms"]


@pytest.fixture
def api(jp_fetch: Any) -> Any:
    """Call a jupyter-collab REST endpoint as a user; (status, JSON body), also for errors."""

    async def api(
        method: str,
        *parts: str,
        user: str = "alice",
        body: Any = None,
        params: dict[str, Any] | None = None,
        **more: Any,
    ) -> tuple[int, Any]:
        params = {**(params or {}), **more}
        kwargs: dict[str, Any] = {"method": method, "headers": token_header(user)}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        elif method == "POST":
            kwargs["body"] = "{}"
        if params:
            kwargs["params"] = {k: str(v) for k, v in params.items()}
        try:
            response = await jp_fetch("api", "collab", *parts, **kwargs)
        except HTTPClientError as error:
            assert error.response is not None
            return error.code, json.loads(error.response.body or b"{}")
        return response.code, json.loads(response.body)

    return api


@pytest.fixture
def ours_in_room(connect: Any, open_session: Any) -> Any:
    """``ours, room = await ours_in_room(path[, format, type])``: alice's client of ours,
    synced in the room of ``path``, and the room's id (for clients nobody here wrote)."""

    async def ours_in_room(path: str, format: str = "text", type: str = "file") -> Any:
        ours = await connect(path, format, type, headers=token_header("alice"))
        room = (await open_session(path, format, type))["room"]
        return ours, room

    return ours_in_room
