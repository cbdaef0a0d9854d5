"""A real y-websocket client for tests: a pycrdt document synced over the room WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_ydoc import YBlob, YNotebook, YUnicode
from pycrdt import Doc
from tornado.websocket import WebSocketClientConnection

from jupyter_collab.protocol.awareness import AwarenessEntry, encode_awareness, parse_awareness
from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import (
    AwarenessMessage,
    NoticeMessage,
    SyncMessage,
    awareness_frame,
    parse_message,
    sync_frame,
)

SHARED = {"file": YUnicode, "notebook": YNotebook, "blob": YBlob}
REMOTE = object()


class Client:
    """Speaks the protocol the way y-websocket does: step 1 on connect, updates as they happen."""

    def __init__(
        self, ws: WebSocketClientConnection, type: str = "file", ydoc: Doc | None = None,
        *, step1: bool = True,
    ) -> None:  # fmt: skip
        self.ws = ws
        self.ydoc = ydoc if ydoc is not None else Doc()
        self.jdoc = SHARED[type](self.ydoc)
        self.awareness: dict[int, dict[str, Any]] = {}
        self.awareness_updates: list[bytes] = []  # every awareness update received, in order
        self.notices: list[dict[str, Any]] = []
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self.online = True
        self.offline_updates: list[bytes] = []
        self._applying = False
        self._clock = 0
        self._subscription = self.ydoc.observe(self._local_change)
        self._task = asyncio.get_running_loop().create_task(self._read())
        if step1:  # (else the server sends its state unasked: a room URL with fresh=1)
            self.send(sync_frame(SyncType.STEP1, self.ydoc.get_state()))

    # -- sending ----------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        if self.ws.protocol is not None and self.ws.close_code is None:
            self.ws.write_message(frame, binary=True)

    def _local_change(self, event: Any) -> None:
        if self._applying:
            return
        if self.online:
            self.send(sync_frame(SyncType.UPDATE, event.update))
        else:
            self.offline_updates.append(event.update)

    def set_awareness(self, state: dict[str, Any] | None) -> None:
        self._clock += 1
        entry = AwarenessEntry(self.ydoc.client_id, self._clock, state)
        self.send(awareness_frame(encode_awareness([entry])))

    # -- receiving --------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            frame = await self.ws.read_message()
            if frame is None:
                self.closed.set()
                return
            message = parse_message(frame)
            if isinstance(message, SyncMessage):
                if message.sync_type is SyncType.STEP1:
                    self.send(sync_frame(SyncType.STEP2, self.ydoc.get_update(message.payload)))
                else:
                    self._applying = True
                    try:
                        self.ydoc.apply_update(message.payload)
                    finally:
                        self._applying = False
                    if message.sync_type is SyncType.STEP2:
                        self.synced.set()
            elif isinstance(message, AwarenessMessage):
                self.awareness_updates.append(message.payload)
                for entry in parse_awareness(message.payload):
                    if entry.state is None:
                        self.awareness.pop(entry.client_id, None)
                    else:
                        self.awareness[entry.client_id] = entry.state
            elif isinstance(message, NoticeMessage):
                self.notices.append(message.body)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self.ws.close_reason

    def content(self) -> Any:
        return self.jdoc.get()

    def close(self) -> None:
        """Disconnect; the document stays usable (offline), as a browser tab's would."""
        if self._subscription is not None:
            self.ydoc.unobserve(self._subscription)
            self._subscription = None
        self.ws.close()
        self._task.cancel()


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0, what: str = "condition"
) -> None:
    """Wait until ``check`` holds; fail with ``what`` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
