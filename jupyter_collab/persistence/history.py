"""Pure helpers on document history, shared by every store (no I/O)."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterable, Sequence

from pycrdt import Doc, get_state, get_update, merge_updates

from ..origins import OriginKind
from .errors import HistoryCompacted, InvalidInput
from .model import LogEntry

# Yjs state is repetitive (client ids, item headers); zlib shrinks it about 3-4x. Level 1, not
# zlib's default 6: on a 4 MiB text state level 6 took 1.5 s (one core, the writer's time while
# a file is first opened) for a blob 23 % smaller than level 1's 80 ms. Any level decompresses
# the same way, so blobs written at another level read fine.
ZLIB_LEVEL = 1


# A file opened for the first time has the same state compressed twice, by two components
# that do not know of each other: as its merge base (``documents/fileids.py``) and as the
# version of the file as first opened. For a large state (4 MiB of text: ~80 ms) the second
# is served from here. Keyed by the content (a CRC, then compared in full: both far cheaper
# than compressing), for the last few large states only.
_SHARED_MIN = 256 * 1024
_SHARED_KEEP = 2
_shared: list[tuple[int, bytes, bytes]] = []  # (crc32, state, compressed), newest last
_shared_lock = threading.Lock()


def compress(state: bytes) -> bytes:
    """``state`` compressed (thread-safe; called on worker threads)."""
    if len(state) < _SHARED_MIN:
        return zlib.compress(state, ZLIB_LEVEL)
    key = zlib.crc32(state)
    with _shared_lock:
        for crc, known, blob in _shared:
            if crc == key and known == state:
                return blob
    blob = zlib.compress(state, ZLIB_LEVEL)
    with _shared_lock:
        _shared.append((key, bytes(state), blob))
        del _shared[:-_SHARED_KEEP]
    return blob


def decompress(blob: bytes) -> bytes:
    return zlib.decompress(blob)


# merge_updates over n small updates costs about n^2 (50k keystrokes: 31 s); merging them in
# groups, then the groups, gives the same update in linear time (0.2 s).
MERGE_FAN_IN = 64


def merge(base: bytes | None, updates: Iterable[bytes]) -> bytes | None:
    """One update equivalent to applying ``base`` then ``updates`` (None if there is nothing).

    ``pycrdt.merge_updates`` rather than applying to a ``Doc``: it keeps updates whose
    dependencies are missing (pending) instead of dropping them from the encoded state.
    """
    parts = ([base] if base is not None else []) + list(updates)
    if not parts:
        return None
    while len(parts) > 1:
        parts = [
            merge_updates(*group) if len(group) > 1 else group[0]
            for group in (parts[i : i + MERGE_FAN_IN] for i in range(0, len(parts), MERGE_FAN_IN))
        ]
    return parts[0]


# Versions are stored as deltas from the previous version point, with a full state every
# VERSION_CHAIN versions: an hour of automatic points on a 3 MB notebook then costs the edits
# made in that hour, not a compressed copy of the whole notebook per point, and reading any
# version merges at most VERSION_CHAIN - 1 small deltas onto one full state.
VERSION_CHAIN = 32


def encode_version(
    state: bytes, base: tuple[int, bytes, int] | None
) -> tuple[bytes, int | None, int]:
    """(stored blob, base version id or None, depth) for a version whose full state is
    ``state``; ``base`` is (id, full state, depth) of the version point before it, if any.

    The delta is what ``state`` has beyond the base's state vector (plus the delete set), so
    merging it onto the base's state gives ``state`` back exactly.
    """
    if base is None or base[2] + 1 >= VERSION_CHAIN:
        return compress(state), None, 0
    base_id, base_state, depth = base
    return compress(get_update(state, get_state(base_state))), base_id, depth + 1


def decode_version(blobs: Sequence[bytes]) -> bytes:
    """A version's full state from its chain of stored blobs: a full state, then deltas."""
    state = merge(decompress(blobs[0]), (decompress(blob) for blob in blobs[1:]))
    assert state is not None
    return state


def compact_state(base: bytes | None, updates: Sequence[bytes]) -> bytes | None:
    """Like :func:`merge`, but as small as a document encodes itself, when that loses nothing.

    A ``Doc`` re-encoding squashes runs of consecutive items (typing) and drops the content of
    deleted ones (Yjs' garbage collection, which every y-websocket server does): a fraction of
    the merged update for a typing session. It would also drop updates whose dependencies are
    missing (pending): it is used only when the merged update holds nothing beyond what the
    document integrated (their differences from the document's state vector are the same).
    """
    merged = merge(base, updates)
    if merged is None:
        return None
    doc = Doc()
    doc.apply_update(merged)
    encoded = doc.get_update()
    known = doc.get_state()
    return encoded if get_update(merged, known) == get_update(encoded, known) else merged


def state_at(doc_id: str, seq: int, basis_state: bytes | None, basis_seq: int,
             entries: Sequence[LogEntry]) -> bytes:  # fmt: skip
    """The document state at ``seq``: a basis (snapshot or version state) plus the log after it.

    ``entries`` are the retained log entries in ``(basis_seq, seq]``; if any is missing the log
    was compacted past what is needed and the state cannot be rebuilt exactly.
    """
    if len(entries) != seq - basis_seq:
        raise HistoryCompacted(
            f"the log of document {doc_id!r} between seq {basis_seq} and {seq} was compacted"
        )
    if basis_state is None and len(entries) == 1 and entries[0].origin == OriginKind.LOAD.value:
        # A file loaded into an empty document: its entry is that document's own encoding
        # already (``Room.fill``), and re-encoding 4 MiB four times over to find so takes
        # longer than the rest of the open (the version of a file as first opened).
        return entries[0].update
    # as a document encodes itself: what a version keeps is then as small as it can be
    state = compact_state(basis_state, [entry.update for entry in entries])
    assert state is not None  # seq >= 1, so there is a basis or at least one entry
    return state


def authors(entries: Iterable[LogEntry]) -> tuple[str, ...]:
    """Who the entries' content is credited to (a restore credits who wrote what it restored)."""
    return tuple(sorted({user for entry in entries for user in entry.authors}))


def encode_cursor(last_id: int) -> str:
    return f"a{last_id}"


# What ``encode_cursor`` writes, and nothing else: ASCII digits without leading zeros (str.isdigit
# also takes "²" and "٣", and int() reads "٣" as 3), short enough for a SQLite integer.
_CURSOR = re.compile(r"a(0|[1-9][0-9]{0,18})", re.ASCII)
_MAX_ID = 2**63 - 1


def decode_cursor(cursor: str | None) -> int | None:
    """The audit id a page ends at. Cursors are opaque to callers: only one this store handed
    out is taken (its exact spelling, an id SQLite can hold); anything else is ``InvalidInput``
    (400), the same in every store."""
    if cursor is None:
        return None
    match = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    last_id = int(match.group(1)) if match else -1
    if not 0 <= last_id <= _MAX_ID:
        shown = cursor[:40] if isinstance(cursor, str) else type(cursor).__name__
        raise InvalidInput(f"bad audit cursor {shown!r}: use the 'next' of an audit reply")
    return last_id
