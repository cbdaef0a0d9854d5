"""Payload encoding and stream ids, shared by the bus implementations."""

from __future__ import annotations

import json

from .interface import Payload

BINARY = b"b"
JSON = b"j"

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(payload: Payload) -> tuple[bytes, bytes]:
    """``(kind, data)``: bytes as they are (``b``), anything else as UTF-8 JSON (``j``).

    Raises ``TypeError``/``ValueError`` for what JSON cannot carry (sets, objects, NaN), at the
    publisher, where the mistake is.
    """
    if isinstance(payload, bytes):
        return BINARY, payload
    if isinstance(payload, (bytearray, memoryview)):
        return BINARY, bytes(payload)
    return JSON, _encoder.encode(payload).encode()


def decode(kind: bytes, data: bytes) -> Payload:
    if kind == BINARY:
        return data
    if kind == JSON:
        return json.loads(data)
    raise ValueError(f"unknown payload kind {kind!r}")


def normalize(payload: Payload) -> Payload:
    """What a subscriber receives for ``payload``: bytes unchanged (zero-copy), JSON decoded
    from its encoding, so that the in-process bus delivers what Redis would."""
    if isinstance(payload, bytes):
        return payload
    kind, data = encode(payload)
    return decode(kind, data)


StreamId = tuple[int, int]

ZERO: StreamId = (0, 0)


def parse_id(value: str | bytes) -> StreamId:
    """``"<ms>-<seq>"`` → ``(ms, seq)``, comparable in stream order."""
    if isinstance(value, bytes):
        value = value.decode()
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"

