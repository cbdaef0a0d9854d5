"""Who wrote what: replaying the update log and remembering whose update touched each part.

Every logged update carries its user, origin and time. Applying them in order to a fresh
document, the observer says which characters (text) or which cells (notebook) each update
inserted or changed; we record the update's author there. Content that only exists in the
snapshot (its log was trimmed by compaction) is attributed to nobody, with origin "snapshot".

A restore is a new edit made by the restorer, but what it brings back was written by others:
its log entry carries the attribution of the restored version (``provenance.py``), and the
replay gives the restored content back to its authors. The restorer is remembered as
``restored_by`` on what the restore changed (and ``changed`` since a version counts it).

pycrdt reports text positions in UTF-8 bytes, so text attribution is kept per byte and cut
into lines on the UTF-8 encoding of the final text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc

from ..documents.kinds import DocumentKind
from ..origins import OriginKind
from ..persistence import LogEntry, Snapshot
from ..timestamps import iso
from .marks import SNAPSHOT, CellMarks, Mark, Marks, TextMarks, WholeMarks, digest, latest
from .provenance import decode, encode
from .runs import ByteRuns

RESTORE = OriginKind.RESTORE.value


def mark_of(entry: LogEntry) -> Mark:
    return Mark(entry.user, entry.origin, entry.time, entry.seq)


def _cell_id(cell: Any) -> str | None:
    try:
        value = cell.get("id")
    except Exception:  # not a map: nothing to attribute
        return None
    return str(value) if value is not None else None


class _TextReplay:
    def __init__(self, doc: Doc, shared: YUnicode, initial: Marks | None) -> None:
        self.doc = doc
        self.text = shared._ysource
        content = str(self.text).encode()
        self.marks: list[Mark] = [SNAPSHOT]  # distinct marks; runs hold indexes into it
        self.runs = ByteRuns([(len(content), 0, 0)])
        if (
            isinstance(initial, TextMarks)
            and initial.size == len(content)
            and initial.fingerprint() == digest(content)
        ):  # what the snapshot's note says of the basis
            self.marks, self.runs = list(initial.marks), ByteRuns(initial.runs)
        self.current = 0
        self.deleted = False
        self.applied = False  # whether the last step's provenance was applied
        self.credits: set[str] = set()
        self.text.observe(self._observe)

    def _observe(self, event: Any) -> None:
        runs, current = self.runs, self.current
        position = 0
        for op in event.delta:
            if "retain" in op:
                position += op["retain"]
            elif "insert" in op:
                size = len(str(op["insert"]).encode())
                runs.insert(position, size, current, current)
                position += size
            elif "delete" in op:
                self.deleted = True
                runs.delete(position, op["delete"])
                # A deletion changes the line it happened in: the bytes on both sides.
                runs.set_last(position - 1, current)
                runs.set_last(position, current)

    def begin(self, mark: Mark, restoring: bool = False) -> None:
        """What changes the document from now on is ``mark``'s (``restoring``: a restore's)."""
        self.marks.append(mark)
        self.current = len(self.marks) - 1
        self.deleted = self.applied = False

    def finish(self, mark: Mark, restored: Marks | None) -> None:
        """``mark``'s change is done; ``restored``: what its provenance says it brought back."""
        if isinstance(restored, TextMarks):
            self._restore(restored, mark)

    def _restore(self, restored: TextMarks, mark: Mark) -> None:
        """The text is now the restored version's: so is its attribution. Bytes the restore
        wrote (or deleted next to) keep their authors but count as changed by the restore."""
        content = str(self.text).encode()
        if restored.size != len(content) or digest(content) != restored.fingerprint():
            return  # not the restored text (cannot happen for an exact restore): as logged
        self.applied = True
        current = self.current
        offset = len(self.marks)
        self.marks.extend(restored.marks)
        again: dict[int, int] = {}
        credits = self.credits = set()
        merged: list[tuple[int, int, int]] = []
        for length, (owner, last), (source, changed) in _overlay(self.runs.runs(), restored.runs):
            wrote = owner == current
            if wrote and restored.marks[source].user is not None:
                credits.add(restored.marks[source].user)  # type: ignore[arg-type]
            if wrote or last == current:
                index = again.get(changed)
                if index is None:
                    self.marks.append(restored.marks[changed].restored(mark.seq, mark.user))
                    index = again[changed] = len(self.marks) - 1
                merged.append((length, offset + source, index))
            else:
                merged.append((length, offset + source, offset + changed))
        self.runs = ByteRuns(merged)
        if self.deleted and mark.user is not None:
            credits.add(mark.user)  # removing what the version did not have is the restorer's

    def result(self) -> TextMarks:
        return TextMarks(str(self.text).encode(), self.marks, list(self.runs.runs()))


def _overlay(
    first: Iterable[tuple[int, int, int]], second: Iterable[tuple[int, int, int]]
) -> Iterator[tuple[int, tuple[int, int], tuple[int, int]]]:
    """Two run lists over the same bytes, cut where either changes: (bytes, first's pair,
    second's pair)."""
    a, b = iter(first), iter(second)
    left = right = None
    while True:
        if left is None or left[0] == 0:
            left = list(next(a, (0, 0, 0)))
        if right is None or right[0] == 0:
            right = list(next(b, (0, 0, 0)))
        if left[0] == 0 or right[0] == 0:
            return
        length = min(left[0], right[0])
        yield length, (left[1], left[2]), (right[1], right[2])
        left[0] -= length
        right[0] -= length


class _NotebookReplay:
    def __init__(self, doc: Doc, shared: YNotebook, initial: Marks | None) -> None:
        self.doc = doc
        self.cells = shared._ycells
        self.created: dict[str, Mark] = {}
        self.touched: dict[str, list[Mark]] = {}
        if isinstance(initial, CellMarks):  # what the snapshot's note says of the basis
            for key in self._ids():
                if key in initial.touched:
                    self.created[key] = initial.created.get(key, SNAPSHOT)
                    self.touched[key] = list(initial.touched[key])
        self.current = SNAPSHOT
        self.applied = False
        self.credits: set[str] = set()
        self._before: list[str] = []
        self.cells.observe_deep(self._observe)

    def _observe(self, events: list[Any]) -> None:
        cells, current = self.cells, self.current
        for event in events:
            path = list(event.path)
            if not path:  # the list of cells itself: cells inserted (moves are inserts too)
                for op in event.delta:
                    for cell in op.get("insert", ()):
                        key = _cell_id(cell)
                        if key is not None:
                            self.created.setdefault(key, current)
                            self.touched.setdefault(key, []).append(current)
                continue
            index = path[0]
            if isinstance(index, int) and index < len(cells):
                key = _cell_id(cells[index])
                if key is not None:
                    self.touched.setdefault(key, []).append(current)

    def _ids(self) -> list[str]:
        return [_cell_id(cell) or f"#{index}" for index, cell in enumerate(self.cells)]

    def begin(self, mark: Mark, restoring: bool = False) -> None:
        self.current = mark
        self.applied = False
        self._before = self._ids() if restoring else []

    def finish(self, mark: Mark, restored: Marks | None) -> None:
        if isinstance(restored, CellMarks):
            self._restore(restored, mark, self._before)

    def _restore(self, restored: CellMarks, mark: Mark, before: list[str]) -> None:
        """Cells as the restored version had them are credited as it credited them."""
        self.applied = True
        credits = self.credits = set()
        for key in self._ids():
            if key not in restored.touched:
                continue
            history = self.touched.get(key, [])
            changed = self.created.get(key) is mark or any(m is mark for m in history)
            marks = list(restored.touched[key]) or [SNAPSHOT]
            if changed:
                credits.update(m.user for m in marks if m.user is not None)
                marks.append(latest(marks).restored(mark.seq, mark.user))
            self.created[key] = restored.created.get(key, SNAPSHOT)
            self.touched[key] = marks
        if set(before) - set(self._ids()) and mark.user is not None:
            credits.add(mark.user)  # removing cells the version did not have

    def result(self) -> CellMarks:
        order = self._ids()
        return CellMarks(
            order,
            {k: self.created.get(k, SNAPSHOT) for k in order},
            {k: self.touched.get(k) or [SNAPSHOT] for k in order},
        )


class _WholeReplay:
    def __init__(self, initial: Marks | None) -> None:
        self.marks: list[Mark] = list(initial.marks) if isinstance(initial, WholeMarks) else []
        self.applied = False
        self.credits: set[str] = set()

    def begin(self, mark: Mark, restoring: bool = False) -> None:
        self.applied = False

    def finish(self, mark: Mark, restored: Marks | None) -> None:
        if isinstance(restored, WholeMarks):
            marks = list(restored.marks) or [SNAPSHOT]
            self.applied = True
            self.credits = {m.user for m in marks if m.user is not None}
            self.marks = [*marks, latest(marks).restored(mark.seq, mark.user)]
        else:
            self.marks.append(mark)

    def result(self) -> WholeMarks:
        return WholeMarks(self.marks or [SNAPSHOT])


_Replay = _TextReplay | _NotebookReplay | _WholeReplay


def _watch(doc: Doc, shared: Any, initial: Marks | None = None) -> _Replay:
    """Attribution kept while ``doc`` changes (its ``shared`` document decides how)."""
    if isinstance(shared, YUnicode):
        return _TextReplay(doc, shared, initial)
    if isinstance(shared, YNotebook):
        return _NotebookReplay(doc, shared, initial)
    return _WholeReplay(initial)


def replay(
    kind: DocumentKind,
    basis: bytes | None,
    entries: Sequence[LogEntry],
    initial: Marks | None = None,
) -> Marks:
    """The attribution of the document at the last of ``entries`` (applied onto ``basis``).

    ``initial`` says who wrote what in ``basis`` (a snapshot's note); without it (or if it
    does not match the basis) the basis is nobody's: "snapshot".
    """
    doc = Doc()
    if basis is not None:
        doc.apply_update(basis)
    replayer = _watch(doc, kind.ydoc_class(doc), initial)
    for entry in entries:
        restored = None
        if entry.origin == RESTORE and entry.provenance is not None:
            restored = decode(entry.provenance)
        mark = mark_of(entry)
        replayer.begin(mark, restored is not None)
        doc.apply_update(entry.update)
        replayer.finish(mark, restored)
    return replayer.result()


class RestoreCredits:
    """Who a restore's edit is credited to: the authors of what it brings back, and the
    restorer only for what it removes (the restore itself).

    It watches the private copy of the document the edit is made on (``merge.edit_from_base``
    calls :meth:`watch` before it edits), so the edit is observed as it is made.
    """

    def __init__(self, restored: Marks, restorer: str) -> None:
        self.restored = restored
        self.restorer = restorer
        self.mark = Mark(restorer, RESTORE, 0.0, 1)
        self._replay: _Replay | None = None

    def watch(self, doc: Doc, shared: Any) -> None:
        self._replay = _watch(doc, shared)
        self._replay.begin(self.mark, restoring=True)

    def credits(self) -> tuple[str, ...]:
        replayer = self._replay
        if replayer is None:
            return (self.restorer,)
        replayer.finish(self.mark, self.restored)
        if not replayer.applied:  # (not the restored content: the restorer's own edit)
            return (self.restorer,)
        return tuple(sorted(replayer.credits))


# -- what the API answers -----------------------------------------------------------------------


def _summary(
    changes: Sequence[Mark], writers: Sequence[Mark], since_seq: int | None
) -> dict[str, Any]:
    """The fields every part (line, cell, blob) reports: its latest change and its authors."""
    last = latest(changes)
    return {
        "user": last.user,
        "origin": last.origin,
        "time": iso(last.time) if last.time else None,  # (snapshot content has no time)
        "authors": sorted({m.user for m in (*writers, *changes) if m.user is not None}),
        "changed": since_seq is not None and any(m.seq > since_seq for m in changes),
        "restoredBy": last.restored_by,
    }


def summarize(marks: Marks, since_seq: int | None = None) -> dict[str, Any]:
    if isinstance(marks, TextMarks):
        return _text_lines(marks, since_seq)
    if isinstance(marks, CellMarks):
        return {
            "type": "notebook",
            "cells": [
                {"id": key, "index": index, "createdBy": marks.created[key].user,
                 **_summary(marks.touched[key], (), since_seq)}
                for index, key in enumerate(marks.order)
            ],
        }  # fmt: skip
    return {"type": "blob", **_summary(marks.marks, (), since_seq)}


def _text_lines(marks: TextMarks, since_seq: int | None) -> dict[str, Any]:
    content = marks.content or b""
    pieces = content.split(b"\n") if content else []
    if content.endswith(b"\n"):
        pieces.pop()  # no line after the final newline
    # where each run begins, to sweep runs and lines together
    starts = [0, *accumulate(run[0] for run in marks.runs)]
    lines = []
    start = 0
    first = 0  # the first run that may reach the current line
    for number, line in enumerate(pieces, 1):
        stop = start + len(line) + 1  # the line's bytes and its newline
        while first < len(marks.runs) and starts[first + 1] <= start:
            first += 1
        owners: set[int] = set()
        lasts: set[int] = set()
        i = first
        while i < len(marks.runs) and starts[i] < stop:
            owners.add(marks.runs[i][1])
            lasts.add(marks.runs[i][2])
            i += 1
        writers = [marks.marks[k] for k in owners]
        changers = [marks.marks[k] for k in lasts] or [SNAPSHOT]
        start = stop
        lines.append({"line": number, **_summary(changers, writers, since_seq)})
    return {"type": "text", "lines": lines}


def attribute(
    kind: DocumentKind,
    snapshot: Snapshot | None,
    entries: Sequence[LogEntry],
    since_seq: int | None = None,
) -> dict[str, Any]:
    """Attribution of the document at the last of ``entries`` (applied onto ``snapshot``)."""
    return summarize(replay_from(kind, snapshot, entries), since_seq)


def replay_from(
    kind: DocumentKind, snapshot: Snapshot | None, entries: Sequence[LogEntry]
) -> Marks:
    """The attribution after ``entries``, from a snapshot and what its note says of it."""
    if snapshot is None:
        return replay(kind, None, entries)
    initial = decode(snapshot.note) if snapshot.note else None
    return replay(kind, snapshot.state, entries, initial)


def annotate(kind: DocumentKind, snapshot: Snapshot | None, entries: Sequence[LogEntry]) -> bytes:
    """The note of a new snapshot folding ``entries`` into ``snapshot``: who wrote what in it
    (``DocumentStore.annotator``), so attribution outlives the log compaction trims."""
    return encode(replay_from(kind, snapshot, entries))


def mentioned(result: dict[str, Any]) -> set[str]:
    """Every username an attribution reply names (for its ``users`` map)."""
    parts = result.get("lines") or result.get("cells") or [result]
    names: set[str] = set()
    for part in parts:
        names.update(part.get("authors") or ())
        for key in ("user", "createdBy", "restoredBy"):
            if part.get(key):
                names.add(part[key])
    return names
