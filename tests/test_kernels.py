"""A notebook's kernel is the notebook's: viewers and people without a role on it cannot run,
interrupt, restart or shut it down, attach a console to it, or change its session; one who
becomes a viewer while connected cannot run anything more (real ipykernel kernels, the REST
API and the kernel channels WebSocket; docs/security.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from .auth import token_header
from .client import eventually
from .test_sharing import share

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def rest(jp_fetch: Any) -> Any:
    """Any Jupyter REST call as a user: (status, JSON body or None)."""

    async def rest(method: str, *parts: str, user: str = "alice", body: Any = None) -> Any:
        kwargs: dict[str, Any] = {"method": method, "headers": token_header(user)}
        if body is not None or method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = json.dumps(body if body is not None else {})
        try:
            response = await jp_fetch(*parts, request_timeout=120, **kwargs)
        except HTTPClientError as error:
            assert error.response is not None
            return error.code, None
        return response.code, json.loads(response.body) if response.body else None

    return rest


class KernelClient:
    """The kernel channels WebSocket in Jupyter's JSON protocol, as JupyterLab speaks it."""

    def __init__(self, ws: WebSocketClientConnection) -> None:
        self.ws = ws
        self.session = uuid.uuid4().hex

    async def execute(self, code: str, timeout: float = 120) -> tuple[str, str]:
        """Run ``code``; (status of the reply, what it printed)."""
        return await asyncio.wait_for(self._execute(code), timeout)

    async def _execute(self, code: str) -> tuple[str, str]:
        msg_id = uuid.uuid4().hex
        self.ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                        "session": self.session, "version": "5.3",
                        "date": datetime.now(timezone.utc).isoformat(),
                    },
                    "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                    "content": {"code": code, "silent": False, "store_history": False,
                                "user_expressions": {}, "allow_stdin": False},
                }  # fmt: skip
            )
        )
        printed, status, idle = "", None, False
        while status is None or not idle:  # the reply, and iopub back to idle after it
            raw = await self.ws.read_message()
            if raw is None:
                return "closed", printed
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                printed += content["text"]
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status":
                idle = content["execution_state"] == "idle"
        return status, printed


@pytest.fixture
def kernel_ws(jp_ws_fetch: Any) -> Any:
    sockets: list[WebSocketClientConnection] = []

    async def kernel_ws(kernel_id: str, user: str) -> KernelClient:
        ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels", headers=token_header(user))
        sockets.append(ws)
        return KernelClient(ws)

    yield kernel_ws
    for ws in sockets:
        ws.close()


async def notebook_session(rest: Any, path: str, user: str = "alice") -> dict[str, Any]:
    status, model = await rest("POST", "api", "sessions", user=user, body={
        "path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"},
    })  # fmt: skip
    assert status == 201, status
    return model


async def test_a_viewer_cannot_run_the_documents_kernel(jp_root_dir, rest, kernel_ws, api):
    (jp_root_dir / "nb.ipynb").write_text(NOTEBOOK)
    model = await notebook_session(rest, "nb.ipynb")
    kernel, session = model["kernel"]["id"], model["id"]
    alice = await kernel_ws(kernel, "alice")
    assert await alice.execute("x = 1") == ("ok", "")
    # bob (an editor by default) opens a console on the notebook's kernel: fine for an editor
    status, console = await rest("POST", "api", "sessions", user="bob", body={
        "path": "console-bob", "type": "console", "name": "", "kernel": {"id": kernel},
    })  # fmt: skip
    assert status == 201 and console["kernel"]["id"] == kernel

    await share(api, "nb.ipynb", "bob", "viewer")
    refused = {
        "interrupt": await rest("POST", "api", "kernels", kernel, "interrupt", user="bob"),
        "restart": await rest("POST", "api", "kernels", kernel, "restart", user="bob"),
        "shut down": await rest("DELETE", "api", "kernels", kernel, user="bob"),
        "new console": await rest("POST", "api", "sessions", user="bob", body={
            "path": "console-2", "type": "console", "name": "", "kernel": {"id": kernel},
        }),  # fmt: skip
        "own session at the path": await rest("POST", "api", "sessions", user="bob", body={
            "path": "./nb.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"},
        }),  # fmt: skip
        "session rename": await rest(
            "PATCH", "api", "sessions", session, user="bob", body={"path": "elsewhere.ipynb"}
        ),
        "session kernel change": await rest(
            "PATCH", "api", "sessions", session, user="bob", body={"kernel": {"name": "python3"}}
        ),
        "session delete": await rest("DELETE", "api", "sessions", session, user="bob"),
        "his console's delete": await rest("DELETE", "api", "sessions", console["id"], user="bob"),
    }
    assert {name: status for name, (status, _) in refused.items()} == dict.fromkeys(refused, 403)
    with pytest.raises(HTTPClientError) as err:
        await kernel_ws(kernel, "bob")
    assert err.value.code == 403
    # reading is not running: the kernel's model and the sessions stay visible
    assert (await rest("GET", "api", "kernels", kernel, user="bob"))[0] == 200
    # users the Authorizer lets only read, or not at all, were refused before any share
    for user in ("viewer", "nobody"):
        assert (await rest("POST", "api", "kernels", kernel, "restart", user=user))[0] == 403
    # nothing happened to the kernel: same process, same variables
    assert await alice.execute("print(x)") == ("ok", "1\n")
    assert (await rest("GET", "api", "sessions", session))[1]["path"] == "nb.ipynb"
    # the owner still runs and restarts it
    assert (await rest("POST", "api", "kernels", kernel, "interrupt"))[0] == 204


async def test_no_role_is_no_kernel(jp_root_dir, rest, kernel_ws, api):
    (jp_root_dir / "nb.ipynb").write_text(NOTEBOOK)
    kernel = (await notebook_session(rest, "nb.ipynb"))["kernel"]["id"]
    await share(api, "nb.ipynb", "bob", "none")
    assert (await rest("POST", "api", "kernels", kernel, "restart", user="bob"))[0] == 403
    with pytest.raises(HTTPClientError) as err:
        await kernel_ws(kernel, "bob")
    assert err.value.code == 403
    # a kernel no document uses is the Authorizer's business alone
    status, other = await rest("POST", "api", "kernels", user="bob", body={"name": "python3"})
    assert status == 201
    assert (await rest("POST", "api", "kernels", other["id"], "interrupt", user="bob"))[0] == 204


async def test_demoted_while_connected_runs_nothing_more(jp_root_dir, rest, kernel_ws, api):
    (jp_root_dir / "nb.ipynb").write_text(NOTEBOOK)
    kernel = (await notebook_session(rest, "nb.ipynb"))["kernel"]["id"]
    alice = await kernel_ws(kernel, "alice")
    bob = await kernel_ws(kernel, "bob")  # an editor (the default role)
    assert await bob.execute("x = 'bob was an editor'") == ("ok", "")
    await share(api, "nb.ipynb", "bob", "viewer")
    assert (await bob.execute("x = 'HACKED'"))[0] == "closed"
    await eventually(lambda: bob.ws.close_code is not None, what="bob's kernel socket closed")
    assert bob.ws.close_code == 1008
    assert await alice.execute("print(x)") == ("ok", "bob was an editor\n")
