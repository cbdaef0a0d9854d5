"""Clients nobody here wrote, driven from the tests.

- :class:`NodeClient`: stock ``yjs`` + ``y-websocket`` 1.5.x in Node (``tests/node/``), installed
  by the tests themselves into ``tests/node/node_modules`` from the committed lockfile.
- :func:`pycrdt_provider`: pycrdt's own ``Provider`` over a tornado WebSocket (pycrdt ships the
  provider and leaves the transport to a ``Channel`` adapter, which is all that is written here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Provider
from tornado.websocket import WebSocketClientConnection

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = NODE_DIR / "stockclient.mjs"


def ensure_node_modules() -> str:
    """Install the stock clients from the lockfile on first use; return the node binary."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are needed for the stock y-websocket client (Node 20)")
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        # --prefer-offline: npm's cache is enough once it has been filled.
        result = subprocess.run(
            [npm, "ci", "--prefer-offline", "--omit=optional", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci in {NODE_DIR} failed:\n{result.stdout}\n{result.stderr}")
    return node


class NodeClient:
    """One stock y-websocket client in its own Node process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._dumps = 0
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._stderr = asyncio.get_running_loop().create_task(self._drain_stderr())
        self.stderr: list[str] = []

    @classmethod
    async def start(cls) -> NodeClient:
        node = ensure_node_modules()
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            cwd=str(NODE_DIR),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            self._changed.set()
        self._changed.set()

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while True:
            line = await self.process.stderr.readline()
            if not line:
                return
            self.stderr.append(line.decode(errors="replace").rstrip())

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())

    async def connect(self, base_ws_url: str, room: str, user: str = "alice", kind: str = "file",
                      route: str = "room", **options: Any) -> None:  # fmt: skip
        """Connect the provider to ``room`` as ``user`` and wait for its first sync.

        ``route``: ``room`` (``room`` is a room id) or ``open`` (``room`` is a file's path, and
        ``params={"format": ..., "type": ...}`` go in ``options``)."""
        self.send(cmd="connect", url=f"{base_ws_url}api/collab/{route}", room=room,
                  token=f"{user}-token", kind=kind, **options)  # fmt: skip
        await self.wait_event(lambda e: e["event"] == "synced", what="the first sync")

    async def wait_event(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = "event",
        start: int = 0,
    ) -> dict[str, Any]:  # fmt: skip
        """The first event (from index ``start``) for which ``check`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = start
        while True:
            for event in self.events[seen:]:
                if event.get("event") == "error":
                    raise AssertionError(f"stock client error: {event['message']}")
                if check(event):
                    return event
            seen = len(self.events)
            if self.process.returncode is not None:
                raise AssertionError(f"stock client exited waiting for {what}: {self.stderr}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; events: {self.events[-10:]}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    async def dump(self) -> dict[str, Any]:
        self._dumps += 1
        ident = self._dumps
        start = len(self.events)
        self.send(cmd="dump", id=ident)
        return await self.wait_event(
            lambda e: e["event"] == "dump" and e["id"] == ident, what="a dump", start=start
        )

    async def content(self) -> Any:
        return (await self.dump())["content"]

    def closes(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "close"]

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                self.send(cmd="exit")
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()
        self._stderr.cancel()


@contextlib.asynccontextmanager
async def node_clients() -> AsyncIterator[Callable[[], Any]]:
    """Start stock Node clients on demand; stop them all at the end."""
    started: list[NodeClient] = []

    async def start() -> NodeClient:
        client = await NodeClient.start()
        started.append(client)
        return client

    try:
        yield start
    finally:
        for client in started:
            await client.stop()


@contextlib.asynccontextmanager
async def stock_client(
    ws_base: str, room: str, user: str = "bob", kind: str = "file"
) -> AsyncIterator[NodeClient]:
    """One stock client (yjs + y-websocket in Node) in ``room`` as ``user``, synced; stopped
    at the end."""
    async with node_clients() as start:
        stock = await start()
        await stock.connect(ws_base, room, user, kind=kind)
        yield stock


class TornadoChannel:
    """pycrdt's ``Channel`` over a tornado WebSocket client connection.

    Only binary y-websocket frames go to the provider; pycrdt's provider reads the sync
    messages and ignores the others (awareness, our notices), as a stock client should.
    """

    def __init__(self, ws: WebSocketClientConnection, path: str) -> None:
        self._ws = ws
        self._path = path
        self.closed = False  # the connection ended (a close frame, or the server dropped it)

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> TornadoChannel:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionError:
            raise StopAsyncIteration from None

    async def send(self, message: bytes) -> None:
        if self._ws.protocol is None or self._ws.close_code is not None:
            raise ConnectionError("closed")
        await self._ws.write_message(message, binary=True)

    async def recv(self) -> bytes:
        message = await self._ws.read_message()
        if message is None:
            self.closed = True
            raise ConnectionError("closed")
        return message if isinstance(message, bytes) else message.encode()


@contextlib.asynccontextmanager
async def pycrdt_provider(ws: WebSocketClientConnection, doc: Doc, path: str = "") -> Any:
    """Run pycrdt's own Provider for ``doc`` over ``ws`` while the block runs; yields the
    provider and its channel."""
    channel = TornadoChannel(ws, path)
    provider = Provider(doc, channel)
    task = asyncio.get_running_loop().create_task(provider.start())
    try:
        await asyncio.wait_for(provider.started.wait(), 30)
        yield provider, channel
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(provider.stop(), 10)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task

