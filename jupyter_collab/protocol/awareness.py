"""Decoding and rewriting awareness updates.

The server is the authority on who a client is: whatever ``user`` a client puts in its
awareness state is replaced by the authenticated identity before anyone else sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pycrdt import write_var_uint

from .framing import MalformedMessage, Reader

MAX_STATES_PER_UPDATE = 1024


@dataclass
class AwarenessEntry:
    client_id: int
    clock: int
    state: dict[str, Any] | None


def parse_awareness(payload: bytes) -> list[AwarenessEntry]:
    reader = Reader(payload)
    count = reader.var_uint()
    if count > MAX_STATES_PER_UPDATE:
        raise MalformedMessage("too many awareness states in one update")
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        text = reader.var_string()
        try:
            state = json.loads(text) if text else None
        except ValueError as exc:
            raise MalformedMessage("awareness state is not JSON") from exc
        if state is not None and not isinstance(state, dict):
            raise MalformedMessage("awareness state is not a JSON object")
        entries.append(AwarenessEntry(client_id, clock, state))
    reader.end()
    return entries


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    # Written here rather than with pycrdt's Encoder, whose var_string counts characters instead
    # of UTF-8 bytes and so corrupts any non-ASCII display name.
    parts = [write_var_uint(len(entries))]
    for entry in entries:
        text = json.dumps(entry.state, separators=(",", ":"), ensure_ascii=False).encode()
        parts += [write_var_uint(entry.client_id), write_var_uint(entry.clock)]
        parts += [write_var_uint(len(text)), text]
    return b"".join(parts)
