"""The marks attribution keeps: who wrote a piece of content, and when it last changed.

Shared by the replay (``attribution.py``) and a restore's provenance (``provenance.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Mark:
    """The author of a piece of content: the update that last wrote it.

    ``seq`` is the update's place in the log (what ``changed`` since a version compares);
    ``restored_by`` is set when a restore brought the content back at ``seq``: ``user``,
    ``origin`` and ``time`` then still say who wrote it and when.
    """

    user: str | None
    origin: str
    time: float
    seq: int
    restored_by: str | None = None

    def restored(self, seq: int, by: str | None) -> Mark:
        return replace(self, seq=seq, restored_by=by)


SNAPSHOT = Mark(None, "snapshot", 0.0, 0)


def latest(marks: Iterable[Mark]) -> Mark:
    return max(marks, key=lambda m: m.seq, default=SNAPSHOT)


def per_user(marks: Iterable[Mark]) -> list[Mark]:
    """The latest mark of each user, oldest first: all a part's summary needs (its latest
    change, everyone who touched it, whether anything is newer than a seq)."""
    last: dict[str | None, Mark] = {}
    for mark in marks:
        if mark.user not in last or mark.seq >= last[mark.user].seq:
            last[mark.user] = mark
    return sorted(last.values(), key=lambda m: m.seq)


def digest(content: bytes) -> str:
    """What a restore's provenance checks before crediting content: the very same bytes."""
    return hashlib.sha256(content).hexdigest()


@dataclass
class TextMarks:
    """Per byte of the text: who wrote it and who last changed it or deleted next to it, as
    ``runs`` of ``(bytes, owner, last)`` (indexes into ``marks``) in text order. A restore's
    provenance keeps the text's ``checksum`` rather than the text itself (its update holds the
    text already)."""

    content: bytes | None
    marks: list[Mark]
    runs: list[tuple[int, int, int]]
    checksum: str = ""

    @property
    def size(self) -> int:
        return sum(run[0] for run in self.runs)

    def fingerprint(self) -> str:
        return self.checksum or digest(self.content or b"")


@dataclass
class CellMarks:
    """Per cell id: who created the cell, and the marks of every change to it."""

    order: list[str]
    created: dict[str, Mark]
    touched: dict[str, list[Mark]]


@dataclass
class WholeMarks:
    """A blob has no parts: everyone who wrote it."""

    marks: list[Mark] = field(default_factory=list)


Marks = TextMarks | CellMarks | WholeMarks
