"""Strict lib0 decoding of y-websocket frames.

pycrdt's own ``Decoder`` trusts its input (a truncated length silently yields a short slice), so
frames from the network are parsed here, where every length is checked and any defect raises
:class:`MalformedMessage` instead of reaching the document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pycrdt import create_awareness_message, write_var_uint

from .codes import MessageType, SyncType

EMPTY_UPDATE = b"\x00\x00"
EMPTY_STATE_VECTOR = b"\x00"  # the state vector of an empty document


class MalformedMessage(ValueError):
    """A frame that does not follow the y-websocket protocol."""


class Reader:
    """A cursor over a frame that refuses to read past its end."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def var_uint(self) -> int:
        result = 0
        shift = 0
        data = self.data
        while True:
            if self.pos >= len(data):
                raise MalformedMessage("truncated varUint")
            byte = data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise MalformedMessage("varUint too long")

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        end = self.pos + length
        if end > len(self.data):
            raise MalformedMessage("truncated payload")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage("string is not UTF-8") from exc

    def end(self) -> None:
        if self.pos != len(self.data):
            raise MalformedMessage("trailing bytes after message")


@dataclass(frozen=True)
class SyncMessage:
    sync_type: SyncType
    payload: bytes


@dataclass(frozen=True)
class AwarenessMessage:
    payload: bytes


@dataclass(frozen=True)
class QueryAwarenessMessage:
    """A client asks for every awareness state of the room (y-protocols message type 3)."""


@dataclass(frozen=True)
class NoticeMessage:
    body: dict[str, Any]


Message = SyncMessage | AwarenessMessage | QueryAwarenessMessage | NoticeMessage


def parse_message(frame: bytes) -> Message:
    """Decode one client frame; raise :class:`MalformedMessage` if it is not valid."""
    if not isinstance(frame, bytes | bytearray):
        raise MalformedMessage("text frames are not part of the protocol")
    reader = Reader(bytes(frame))
    kind = reader.var_uint()
    if kind == MessageType.SYNC:
        sub = reader.var_uint()
        if sub not in (SyncType.STEP1, SyncType.STEP2, SyncType.UPDATE):
            raise MalformedMessage(f"unknown sync message type {sub}")
        payload = reader.var_bytes()
        reader.end()
        return SyncMessage(SyncType(sub), payload)
    if kind == MessageType.AWARENESS:
        payload = reader.var_bytes()
        reader.end()
        return AwarenessMessage(payload)
    if kind == MessageType.QUERY_AWARENESS:
        reader.end()
        return QueryAwarenessMessage()
    if kind == MessageType.NOTICE:
        text = reader.var_string()
        reader.end()
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise MalformedMessage("notice is not JSON") from exc
        if not isinstance(body, dict):
            raise MalformedMessage("notice is not a JSON object")
        return NoticeMessage(body)
    raise MalformedMessage(f"unknown message type {kind}")


def sync_frame(sync_type: SyncType, payload: bytes) -> bytes:
    return bytes((MessageType.SYNC, sync_type)) + write_var_uint(len(payload)) + payload


def awareness_frame(payload: bytes) -> bytes:
    return create_awareness_message(payload)


def notice_frame(body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return bytes((MessageType.NOTICE,)) + write_var_uint(len(data)) + data
