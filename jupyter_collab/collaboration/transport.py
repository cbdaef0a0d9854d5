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

from tornado.iostream import IOStream

from ..metrics import SENT_BYTES

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
        """Send ``frames``; return a future that resolves once they are flushed, or None when
        there is nothing to wait for (all sent at once, or the socket is gone).

        When nothing is queued on a plain TCP stream, the frames go straight to the socket:
        the common case of a client that keeps up then costs one ``send`` and no Future.
        """
        stream = self._stream
        if stream is None or stream.closed():
            return None
        SENT_BYTES.value += len(frames)
        if type(stream) is IOStream and not stream.writing():
            try:
                sent = stream.socket.send(frames)
            except BlockingIOError:
                sent = 0
            except OSError:
                return stream.write(frames)  # let tornado report and close as it does
            if sent == len(frames):
                return None
            return stream.write(memoryview(frames)[sent:])
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
