"""Copies of a document kept across the loss of its history: merged once, never doubled.

A room resumes from its durable log, so a client that kept its copy through a restart (a
browser tab, y-websocket reconnecting with its document) shares the room's CRDT items and
merges without duplicates. When the history is gone (the database deleted, unreadable at
start, or a server without one), the room is loaded afresh from the file: the same text under
new items. A kept copy then holds none of the room's items and the room none of its: merged as
a CRDT, every line would be there twice, in the room, for everyone, and in the file.

Such a copy is recognised by its state vector (its sync step 1), before anything is sent to
it: it has content, the room has content, and they share no client id. A client that ever
synced with the room holds at least one of the room's client ids (those of the file's load,
or of the first edits of an empty file): its offline edits merge the usual way. A client that
never synced (content made before its first connection, or a copy from the lost history) is
merged like this instead, which loses nothing either:

1. the room answers the copy's sync step 1 only once it has its sync step 2 (the whole copy:
   the room lacks all of it);
2. the copy's items enter the room deleted (one transaction: they are tombstones, so the
   copy's later edits, anchored on them, still integrate; the text shows nothing twice);
3. what the copy holds that the room does not show is added to the room, as that user's
   edit: lines of text (and, in a notebook, cells missing by id and lines of cell sources)
   missing from the room are inserted where they sit in the copy. Nothing of the room is
   deleted: what the copy deleted offline comes back to it (nobody can tell, without the
   lost history, a line deleted offline from a line the copy never had);
4. the copy is sent the room's state, its own items' deletion included (notice
   ``history-reset`` first): it converges on the room's content.

Other copies of the same lost history (other tabs) then share the tombstones' client ids with
the room and merge the usual way: their items are deleted already, their own offline edits
(items of their own client id) are kept.
"""

from __future__ import annotations

from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, Map, Text

from ..documents.kinds import DocumentKind
from ..documents.merge import value_of
from ..documents.textdiff import opcodes
from ..protocol.updates import SKIP_REF, Update, encode_delete_set, encode_structs

RESET_TEXT = (
    "the server lost this document's history: your copy was merged into the shared one, "
    "without doubling it (what you deleted while disconnected may come back)"
)


def from_lost_history(client: dict[int, int], room: dict[int, int]) -> bool:
    """Whether a client with state vector ``client`` holds content of another history than
    the room's (state vector ``room``): both have content and no client id in common."""
    mine = {c for c, clock in client.items() if clock > 0}
    ours = {c for c, clock in room.items() if clock > 0}
    return bool(mine) and bool(ours) and not (mine & ours)


def retirement(update: Update) -> bytes:
    """An update (a delete set only) deleting every item ``update`` brings."""
    deletes: dict[int, list[tuple[int, int]]] = {}
    for client, structs in update.blocks.items():
        spans: list[tuple[int, int]] = []
        for s in structs:
            if s.ref == SKIP_REF:
                continue
            if spans and spans[-1][1] == s.clock:
                spans[-1] = (spans[-1][0], s.end)
            else:
                spans.append((s.clock, s.end))
        if spans:
            deletes[client] = [(start, end - start) for start, end in spans]
    return encode_structs({}, {}) + encode_delete_set(deletes)


def content_of(kind: DocumentKind, update: bytes) -> Any:
    """The content of the document ``update`` holds (a whole copy), as its file would have it.
    (Reads a private document: safe on a worker thread.)"""
    doc = Doc()
    doc.apply_update(update)
    return value_of(kind.ydoc_class(doc))


def shows_content(theirs: Any) -> bool:
    """Whether a copy's content (``content_of``) holds anything a person wrote: JupyterLab
    writes its own bookkeeping (the ``state`` map, a notebook's defaults) into a document
    before its first sync; such a copy merges the usual way."""
    if isinstance(theirs, dict):
        return bool(theirs.get("cells"))
    return bool(theirs)


def root_maps(jdoc: Any) -> list[tuple[Map, dict[str, tuple[type, Any]]]]:
    """The document's root maps (a notebook's metadata, the ``state`` map) with their entries
    (the shared type of each, and its value as plain data): deleting a copy's entry of a key
    that won over the room's (which Yjs then deleted) would leave the key unset."""
    out = []
    for value in vars(jdoc).values():
        if isinstance(value, Map):
            entries = {}
            for key in value:
                entry = value.get(key)
                plain = entry.to_py() if isinstance(entry, (Map, Array, Text)) else entry
                entries[key] = (type(entry), plain)
            out.append((value, entries))
    return out


def restore_maps(before: list[tuple[Map, dict[str, tuple[type, Any]]]]) -> None:
    """Set again the root map entries the copy's deletion unset (in a transaction)."""
    for shared, entries in before:
        for key, (kind, plain) in entries.items():
            if key in shared:
                continue
            shared[key] = kind(plain) if kind in (Map, Array, Text) else plain


def _lines(text: str) -> list[str]:
    """``text``'s lines, each ending with a newline (the last one too)."""
    return (text if not text or text.endswith("\n") else text + "\n").splitlines(keepends=True)


def line_insertions(ours: str, theirs: str) -> list[tuple[int, str]]:
    """``(offset, text)``: the lines of ``theirs`` that ``ours`` lacks, each with the UTF-8
    byte offset in ``ours`` (pycrdt's unit) where they go; nothing of ``ours`` is removed."""
    a, b = _lines(ours), _lines(theirs)
    size = len(ours.encode())
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line.encode()))
    out: list[tuple[int, str]] = []
    for tag, i1, _i2, j1, j2 in opcodes(a, b):  # (safe on repeated lines)
        if tag not in ("insert", "replace"):
            continue
        added = "".join(b[j1:j2])
        at = starts[i1]
        if i1 == len(a):  # after ours' last line
            at = size
            if ours and not ours.endswith("\n"):
                added = "\n" + added
            if j2 == len(b) and not theirs.endswith("\n"):
                added = added[:-1]
        out.append((at, added))
    return out


def _insert_lines(text: Text, ours: str, theirs: str) -> bool:
    edits = line_insertions(ours, theirs)
    for offset, added in reversed(edits):
        text.insert(offset, added)
    return bool(edits)


def keep_missing(jdoc: Any, theirs: Any) -> bool:
    """Add to the room's document ``jdoc`` what the copy's content ``theirs`` holds that the
    room does not show (see the module's docstring); run it in a transaction. Whether
    anything was added."""
    if isinstance(jdoc, YNotebook):
        return _keep_cells(jdoc, theirs)
    source = getattr(jdoc, "_ysource", None)
    if isinstance(source, Text) and isinstance(theirs, str):
        return _insert_lines(source, str(source), theirs)
    return False  # (a blob: the room's bytes stay; nothing can be merged line by line)


def missing_update(kind: DocumentKind, base: bytes, theirs: Any) -> bytes | None:
    """The update adding to the document ``base`` (the room's whole state) what the copy's
    content ``theirs`` holds that it does not show (:func:`keep_missing`), made on a private
    copy: safe on a worker thread (diffing a large text takes a while), and concurrent with
    whatever the room takes meanwhile, as a merge from disk is. None if nothing is missing."""
    fork = Doc()
    fork.apply_update(base)
    jdoc = kind.ydoc_class(fork)
    updates: list[bytes] = []
    subscription = fork.observe(lambda event: updates.append(event.update))
    with fork.transaction():
        keep_missing(jdoc, theirs)
    fork.unobserve(subscription)
    return updates[0] if updates else None


def _keep_cells(jdoc: YNotebook, theirs: Any) -> bool:
    cells = theirs.get("cells") if isinstance(theirs, dict) else None
    if not isinstance(cells, list):
        return False
    changed = False
    ycells = jdoc.ycells

    def room_ids() -> list[Any]:
        return [cell.get("id") for cell in ycells]

    previous: Any = None  # the id of the copy's previous cell that the room has
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        cell_id = cell.get("id")
        ids = room_ids()
        if cell_id is not None and cell_id in ids:
            ycell = ycells[ids.index(cell_id)]
            source = ycell.get("source")
            theirs_source = cell.get("source")
            if isinstance(theirs_source, list):
                theirs_source = "".join(theirs_source)
            if isinstance(source, Text) and isinstance(theirs_source, str):
                changed = _insert_lines(source, str(source), theirs_source) or changed
            previous = cell_id
            continue
        at = ids.index(previous) + 1 if previous in ids else 0
        ycells.insert(at, jdoc.create_ycell(cell))
        changed = True
        previous = cell_id
    return changed
