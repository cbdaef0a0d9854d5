"""Who wrote what: replaying the update log and remembering whose update touched each part.

Every logged update carries its user, origin and time. Applying them in order to a fresh
document, the observer says which characters (text) or which cells (notebook) each update
inserted or changed; we record the update's author there. Content that only exists in the
snapshot (its log was trimmed by compaction) is attributed to nobody, with origin "snapshot".

pycrdt reports text positions in UTF-8 bytes, so text attribution is kept per byte and cut
into lines on the UTF-8 encoding of the final text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc

from ..documents.kinds import DocumentKind
from ..persistence import LogEntry
from ..timestamps import iso


@dataclass(frozen=True)
class Mark:
    """The author of a piece of content: the update that last wrote it."""

    user: str | None
    origin: str
    time: float
    seq: int


SNAPSHOT = Mark(None, "snapshot", 0.0, 0)


def _summary(
    changes: Sequence[Mark], writers: Sequence[Mark], since_seq: int | None
) -> dict[str, Any]:
    """The fields every part (line, cell, blob) reports: its latest change and its authors."""
    latest = max(changes, key=lambda m: m.seq)
    return {
        "user": latest.user,
        "origin": latest.origin,
        "time": iso(latest.time) if latest.time else None,  # (snapshot content has no time)
        "authors": sorted({m.user for m in (*writers, *changes) if m.user is not None}),
        "changed": since_seq is not None and any(m.seq > since_seq for m in changes),
    }


def attribute(
    kind: DocumentKind,
    basis: bytes | None,
    entries: Sequence[LogEntry],
    since_seq: int | None = None,
) -> dict[str, Any]:
    """Attribution of the document at the last of ``entries`` (applied onto ``basis``)."""
    doc = Doc()
    if basis is not None:
        doc.apply_update(basis)
    shared = kind.ydoc_class(doc)
    if isinstance(shared, YUnicode):
        return _text(doc, shared, entries, since_seq)
    if isinstance(shared, YNotebook):
        return _notebook(doc, shared, entries, since_seq)
    return _whole(entries, since_seq)


def _text(
    doc: Doc, shared: YUnicode, entries: Sequence[LogEntry], since_seq: int | None
) -> dict[str, Any]:
    text = shared._ysource
    marks: list[Mark] = [SNAPSHOT]  # distinct marks; bytes hold indexes into it
    size = len(str(text).encode())
    owner: list[int] = [0] * size  # who wrote each byte
    last: list[int] = [0] * size  # who last changed it, or deleted next to it
    current = 0

    def observe(event: Any) -> None:
        position = 0
        for op in event.delta:
            if "retain" in op:
                position += op["retain"]
            elif "insert" in op:
                size = len(str(op["insert"]).encode())
                owner[position:position] = [current] * size
                last[position:position] = [current] * size
                position += size
            elif "delete" in op:
                del owner[position : position + op["delete"]]
                del last[position : position + op["delete"]]
                # A deletion changes the line it happened in: the bytes on both sides.
                for neighbour in (position - 1, position):
                    if 0 <= neighbour < len(last):
                        last[neighbour] = current

    subscription = text.observe(observe)
    for entry in entries:
        marks.append(Mark(entry.user, entry.origin, entry.time, entry.seq))
        current = len(marks) - 1
        doc.apply_update(entry.update)
    text.unobserve(subscription)

    content = str(text).encode()
    pieces = content.split(b"\n") if content else []
    if content.endswith(b"\n"):
        pieces.pop()  # no line after the final newline
    lines = []
    start = 0
    for number, line in enumerate(pieces, 1):
        end = start + len(line)
        # the line's bytes and its newline
        writers = [marks[i] for i in set(owner[start : end + 1])]
        changers = [marks[i] for i in set(last[start : end + 1])] or [SNAPSHOT]
        start = end + 1
        lines.append({"line": number, **_summary(changers, writers, since_seq)})
    return {"type": "text", "lines": lines}


def _notebook(
    doc: Doc, shared: YNotebook, entries: Sequence[LogEntry], since_seq: int | None
) -> dict[str, Any]:
    cells = shared._ycells
    created: dict[str, Mark] = {}
    touched: dict[str, list[Mark]] = {}
    current = SNAPSHOT

    def cell_id(cell: Any) -> str | None:
        try:
            value = cell.get("id")
        except Exception:  # not a map: nothing to attribute
            return None
        return str(value) if value is not None else None

    def observe(events: list[Any]) -> None:
        for event in events:
            path = list(event.path)
            if not path:  # the list of cells itself: cells inserted (moves are inserts too)
                for op in event.delta:
                    for cell in op.get("insert", ()):
                        key = cell_id(cell)
                        if key is not None:
                            created.setdefault(key, current)
                            touched.setdefault(key, []).append(current)
                continue
            index = path[0]
            if isinstance(index, int) and index < len(cells):
                key = cell_id(cells[index])
                if key is not None:
                    touched.setdefault(key, []).append(current)

    subscription = cells.observe_deep(observe)
    for entry in entries:
        current = Mark(entry.user, entry.origin, entry.time, entry.seq)
        doc.apply_update(entry.update)
    cells.unobserve(subscription)

    result = []
    for index, cell in enumerate(cells):
        key = cell_id(cell) or f"#{index}"
        history = touched.get(key) or [SNAPSHOT]
        first = created.get(key, SNAPSHOT)
        result.append(
            {"id": key, "index": index, "createdBy": first.user,
             **_summary(history, (), since_seq)}
        )  # fmt: skip
    return {"type": "notebook", "cells": result}


def _whole(entries: Sequence[LogEntry], since_seq: int | None) -> dict[str, Any]:
    """A blob has no parts: its authors are everyone who wrote it."""
    marks = [Mark(e.user, e.origin, e.time, e.seq) for e in entries] or [SNAPSHOT]
    return {"type": "blob", **_summary(marks, (), since_seq)}
