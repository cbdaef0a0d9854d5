"""The smallest edit between two texts, as operations on a shared text.

jupyter_ydoc's ``set`` replaces the whole text when old and new differ by more than a
similarity threshold, which moves collaborators' concurrent edits to the start of the file.
A merge from disk must touch only what changed: lines are diffed first (fast on large files),
and changed blocks of reasonable size are refined character by character.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from pycrdt import Text

REFINE_LIMIT = 20_000  # characters of a changed block worth diffing character by character


def text_edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """Edits ``(start, end, replacement)`` turning ``old`` into ``new``.

    Offsets are in UTF-8 bytes of ``old``, the unit pycrdt indexes text with, in increasing
    order and not overlapping.
    """
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line.encode()))
    edits: list[tuple[int, int, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        before = "".join(a[i1:i2])
        after = "".join(b[j1:j2])
        base = starts[i1]
        if tag == "replace" and len(before) + len(after) <= REFINE_LIMIT:
            matcher = SequenceMatcher(None, before, after, autojunk=False)
            for op, k1, k2, l1, l2 in matcher.get_opcodes():
                if op != "equal":
                    start = base + len(before[:k1].encode())
                    end = start + len(before[k1:k2].encode())
                    edits.append((start, end, after[l1:l2]))
        else:
            edits.append((base, starts[i2], after))
    return edits


def apply_text_edits(text: Text, edits: list[tuple[int, int, str]]) -> None:
    """Apply edits from :func:`text_edits` in one transaction, last first."""
    with text.doc.transaction():
        for start, end, replacement in reversed(edits):
            if end > start:
                del text[start:end]
            if replacement:
                text.insert(start, replacement)
