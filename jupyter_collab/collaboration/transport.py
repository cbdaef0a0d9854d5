"""Writing pre-encoded WebSocket frames to many clients.

A binary frame from server to client is never masked, and our room sockets never negotiate
compression, so the bytes of a frame are the same for every recipient: the room encodes each
outgoing message once and every client's socket receives the same ``bytes`` object. Tornado's
``write_message`` would re-frame the payload and create a Task per message and recipient, which
is most of the cost of a delivery.
"""

from __future__ import annotations

import struct
from asyncio import Future
from typing import Any

_FIN_BINARY = 0x82


def encode_frame(message: bytes) -> bytes:
    """A complete, unmasked, binary WebSocket frame carrying ``message``."""
    length = len(message)
    if length < 126:
        header = struct.pack("!BB", _FIN_BINARY, length)
    elif length <= 0xFFFF:
        header = struct.pack("!BBH", _FIN_BINARY, 126, length)
    else:
        header = struct.pack("!BBQ", _FIN_BINARY, 127, length)
    return header + message


class FrameSink:
    """The write side of one client's WebSocket, fed with ready-made frames."""

    __slots__ = ("_handler",)

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    @property
    def _stream(self) -> Any:
        connection = self._handler.ws_connection
        if connection is None or connection.is_closing():
            return None
        return connection.stream

    def write(self, frames: bytes) -> Future[None] | None:
        """Queue ``frames`` on the socket; the future resolves once they are flushed.

        Returns None when the socket is already gone.
        """
        stream = self._stream
        if stream is None or stream.closed():
            return None
        return stream.write(frames)

    def pending_bytes(self) -> int:
        """Bytes accepted for this client that the kernel has not taken yet."""
        stream = self._stream
        if stream is None:
            return 0
        # IOStream has no public accessor for the size of its write buffer.
        return int(getattr(stream, "_total_write_index", 0)) - int(
            getattr(stream, "_total_write_done_index", 0)
        )
