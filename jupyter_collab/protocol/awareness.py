"""Decoding and encoding awareness updates (y-protocols' awareness encoding).

An awareness update is ``varUint(count)`` then, per client id, ``varUint(clientID)``,
``varUint(clock)`` and ``varString(JSON state)`` (``"null"`` for a removed state).

The server is the authority on who a client is: whatever ``user`` a client puts in its
awareness state is replaced by the authenticated identity before anyone else sees it (see
``collaboration/presence.py``). Decoding here only checks the encoding; a state longer than
the caller's limit is not decoded at all (a 60 MB state must not cost a 60 MB JSON parse), it
comes back marked ``oversize`` for the caller to refuse.
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
    size: int = 0  # bytes of the state's JSON as the client sent it
    oversize: bool = False  # longer than the decoder's limit: ``state`` was not decoded


def parse_awareness(payload: bytes, max_state_bytes: int | None = None) -> list[AwarenessEntry]:
    """Decode an awareness update; raise :class:`MalformedMessage` if it is not one.

    A state of more than ``max_state_bytes`` bytes is returned with ``oversize`` set and
    ``state`` None, without being decoded.
    """
    reader = Reader(payload)
    count = reader.var_uint()
    if count > MAX_STATES_PER_UPDATE:
        raise MalformedMessage("too many awareness states in one update")
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        raw = reader.var_bytes()
        if max_state_bytes is not None and len(raw) > max_state_bytes:
            entries.append(AwarenessEntry(client_id, clock, None, len(raw), oversize=True))
            continue
        try:
            state = json.loads(raw) if raw else None
        except ValueError as exc:  # also a UnicodeDecodeError
            raise MalformedMessage("awareness state is not JSON") from exc
        if state is not None and not isinstance(state, dict):
            raise MalformedMessage("awareness state is not a JSON object")
        entries.append(AwarenessEntry(client_id, clock, state, len(raw)))
    reader.end()
    return entries


def state_json(state: dict[str, Any] | None) -> bytes:
    """A state as the UTF-8 JSON text that goes on the wire (``null`` for a removal)."""
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()


def encode_states(states: list[tuple[int, int, bytes]]) -> bytes:
    """An awareness update from ``(client id, clock, state JSON)`` triples.

    Written here rather than with pycrdt's Encoder, whose var_string counts characters instead
    of UTF-8 bytes and so corrupts any non-ASCII display name.
    """
    parts = [write_var_uint(len(states))]
    for client_id, clock, text in states:
        parts += [write_var_uint(client_id), write_var_uint(clock)]
        parts += [write_var_uint(len(text)), text]
    return b"".join(parts)


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    return encode_states([(e.client_id, e.clock, state_json(e.state)) for e in entries])
