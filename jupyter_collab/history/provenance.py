"""What a restore carries in its log entry: the attribution of the version it brought back.

A restore is one new update made by the restorer. Replaying the log, that update alone would
make the restorer the author of everything it re-inserts; so its log entry also keeps who
wrote the restored version, part by part (computed when the restore is made, while the log
before the version is still there). The replay then credits the original authors
(``attribution.py``). It lives in the log entry itself, so it lasts exactly as long as the
entry: through reloads and restarts, and through compaction for as long as the entry is
retained (``CollabApp.history_retention``); content older than the retained log is nobody's,
as any other.

Format: zlib-compressed JSON, marks listed once and referenced by index:

- text: ``{"kind": "text", "marks": [...], "runs": [[bytes, owner, last], ...], "checksum"}``
  (runs over the UTF-8 bytes of the version's text; the checksum makes sure the replay
  credits exactly that text);
- notebook: ``{"kind": "notebook", "marks": [...], "cells": [[id, created, [touched...]]]}``;
- blob: ``{"kind": "blob", "marks": [...], "whole": [i, ...]}``.

A mark is ``[user, origin, time, seq, restored_by]``.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from .marks import CellMarks, Mark, Marks, TextMarks, WholeMarks, per_user

FORMAT = 1


class _Table:
    def __init__(self) -> None:
        self.marks: list[list[Any]] = []
        self._index: dict[Mark, int] = {}

    def __call__(self, mark: Mark) -> int:
        index = self._index.get(mark)
        if index is None:
            index = self._index[mark] = len(self.marks)
            self.marks.append([mark.user, mark.origin, mark.time, mark.seq, mark.restored_by])
        return index


def encode(marks: Marks) -> bytes:
    table = _Table()
    payload: dict[str, Any] = {"format": FORMAT}
    if isinstance(marks, TextMarks):
        runs: list[list[int]] = []
        for length, owner, last in marks.runs:
            pair = [table(marks.marks[owner]), table(marks.marks[last])]
            if runs and runs[-1][1:] == pair:
                runs[-1][0] += length
            else:
                runs.append([length, *pair])
        payload.update(kind="text", runs=runs, checksum=marks.fingerprint())
    elif isinstance(marks, CellMarks):
        payload.update(
            kind="notebook",
            cells=[
                [key, table(marks.created[key]), [table(m) for m in per_user(marks.touched[key])]]
                for key in marks.order
            ],
        )
    else:
        payload.update(kind="blob", whole=[table(m) for m in per_user(marks.marks)])
    payload["marks"] = table.marks
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode())


def decode(data: bytes) -> Marks | None:
    """The marks a provenance holds; None for anything unreadable (the restore then stays the
    restorer's edit, as before provenance existed)."""
    try:
        payload = json.loads(zlib.decompress(data))
        if payload.get("format") != FORMAT:
            return None
        marks = [
            Mark(user, str(origin), float(time), int(seq), by)
            for user, origin, time, seq, by in payload["marks"]
        ]
        kind = payload["kind"]
        if kind == "text":
            runs = []
            for size, who, changed in payload["runs"]:
                marks[who], marks[changed]  # noqa: B018 (checks the indexes)
                if not isinstance(size, int) or size <= 0:
                    return None
                runs.append((size, int(who), int(changed)))
            return TextMarks(None, marks, runs, str(payload["checksum"]))
        if kind == "notebook":
            order, created, touched = [], {}, {}
            for key, first, changes in payload["cells"]:
                order.append(str(key))
                created[str(key)] = marks[first]
                touched[str(key)] = [marks[i] for i in changes]
            return CellMarks(order, created, touched)
        if kind == "blob":
            return WholeMarks([marks[i] for i in payload["whole"]])
    except (zlib.error, ValueError, KeyError, TypeError, IndexError):
        return None
    return None
