"""Real Jupyter server processes with jupyter-collab, for tests that kill, stop or share them.

``python -m jupyter_server`` on loopback, a free port, its log in ``<root>/../server.log``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from .client import Client

TOKEN = "restart-test-token"
REPO = Path(__file__).resolve().parent.parent


_CLIENTS: dict[int, AsyncHTTPClient] = {}


def _http() -> AsyncHTTPClient:
    """One HTTP client per event loop that sends every request at once (tornado's default
    queues all but 10: a test opening 150 documents at once would test the queue)."""
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(id(loop))
    if client is None:
        client = AsyncHTTPClient(force_instance=True, max_clients=1000)
        _CLIENTS.clear()  # (clients of loops that are gone)
        _CLIENTS[id(loop)] = client
    return client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python -m jupyter_server`` with jupyter-collab, on loopback, in its own process."""

    def __init__(
        self, root: Path, db: Path | str, *, server_args: tuple[str, ...] = (), **collab: Any
    ) -> None:
        """``server_args``: more command-line options (an identity provider for several
        users...); ``collab``: CollabApp settings."""
        self.root, self.db, self.collab = root, db, collab
        self.server_args = server_args
        self.token = TOKEN  # whose requests (tests/auth.py tokens with its identity provider)
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = root.parent / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        args = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            f"--ServerApp.port={self.port}", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={self.root}", f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.jpserver_extensions={'jupyter_collab': True}",
            f"--CollabApp.db_path={self.db}",
        ] + [f"--CollabApp.{k}={v}" for k, v in self.collab.items()]  # fmt: skip
        args += self.server_args
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.root.parent / "cfg"),
            "JUPYTER_RUNTIME_DIR": str(self.root.parent / "runtime"),
            # this checkout's jupyter_collab, whatever the environment has installed
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 300  # (a loaded shared machine may take minutes)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager or JupyterHub stops a server; its exit code (raises
        if it is still running after ``timeout`` seconds)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Stop it whatever state it is in (for clean-ups)."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    async def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """(status, JSON body) of a REST call, errors included."""
        request = HTTPRequest(
            f"{self.url}/{path}", method=method,
            headers={"Authorization": f"token {token or self.token}"},
            body=None if body is None else json.dumps(body), request_timeout=300,
            connect_timeout=300,
        )  # fmt: skip
        try:
            reply = await _http().fetch(request)
        except HTTPClientError as error:
            if error.response is None:
                raise
            return error.code, json.loads(error.response.body or b"{}")
        return reply.code, json.loads(reply.body or b"{}")

    async def session(
        self, path: str, type: str = "file", token: str | None = None
    ) -> dict[str, Any]:
        """The session reply for ``path`` (its room id...)."""
        format = "json" if type == "notebook" else "text"
        status, reply = await self.request(
            "PUT", f"api/collab/session/{path}", {"format": format, "type": type}, token
        )
        assert status in (200, 201), f"session PUT {path}: {status} {reply}"
        return reply

    async def connect(
        self, path: str, ydoc: Any = None, type: str = "file", token: str | None = None
    ) -> Client:
        reply = await self.session(path, type, token)
        ws_url = f"ws://127.0.0.1:{self.port}/api/collab/room/{reply['room']}"
        headers = {"Authorization": f"token {token or self.token}"}
        ws = await websocket_connect(HTTPRequest(ws_url, headers=headers, request_timeout=120))
        client = Client(ws, type, ydoc)
        waits = [client.synced.wait(), client.closed.wait()]
        await asyncio.wait(
            map(asyncio.ensure_future, waits), timeout=120, return_when="FIRST_COMPLETED"
        )
        assert client.synced.is_set(), f"not synced: {client.close_code} {client.close_reason}"
        return client


@pytest.fixture
def server(tmp_path):
    """Start servers on ``tmp_path/root`` with ``tmp_path/collab.db``; all stopped after."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    servers: list[Server] = []

    def make(**collab: Any) -> Server:
        srv = Server(root, tmp_path / "collab.db", **collab)
        servers.append(srv)
        srv.start()
        return srv

    yield make
    for srv in servers:
        if srv.process and srv.process.poll() is None:
            srv.process.kill()
            srv.process.wait(timeout=30)
