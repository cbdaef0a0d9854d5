"""The smallest edit between two texts, as operations on a shared text.

jupyter_ydoc's ``set`` replaces the whole text when old and new differ by more than a
similarity threshold, which moves collaborators' concurrent edits to the start of the file.
A merge from disk must touch only what changed: lines are diffed first (fast on large files),
and changed blocks of reasonable size are refined character by character.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import TypeVar

from pycrdt import Text

REFINE_LIMIT = 20_000  # characters of a changed block worth diffing character by character
EXACT_LIMIT = 2_000  # lines (after the common ends) still diffed without difflib's junk rule

T = TypeVar("T")


def opcodes(a: Sequence[T], b: Sequence[T]) -> list[tuple[str, int, int, int, int]]:
    """``SequenceMatcher(None, a, b).get_opcodes()``, made safe for large inputs.

    The common start and end are taken off first (the usual change to a file on disk touches
    one place: the rest is then never compared). difflib compares every pair of equal items
    in what is left, which is quadratic when one item repeats: a file of 70,000 identical
    lines did not diff within ten minutes. Past ``EXACT_LIMIT`` items, difflib's own
    ``autojunk`` rule (items making up more than 1% of the new side do not anchor a match)
    keeps it near linear; the edit is then not always the smallest, but always correct.
    """
    n, m = len(a), len(b)
    head = 0
    while head < n and head < m and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and tail < m - head and a[n - 1 - tail] == b[m - 1 - tail]:
        tail += 1
    mid_a, mid_b = a[head : n - tail], b[head : m - tail]
    ops: list[tuple[str, int, int, int, int]] = []
    if head:
        ops.append(("equal", 0, head, 0, head))
    if mid_a or mid_b:
        exact = max(len(mid_a), len(mid_b)) <= EXACT_LIMIT
        matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=not exact)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            ops.append((tag, head + i1, head + i2, head + j1, head + j2))
    if tail:
        ops.append(("equal", n - tail, n, m - tail, m))
    return ops


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
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        if tag == "equal":
            continue
        before = "".join(a[i1:i2])
        after = "".join(b[j1:j2])
        base = starts[i1]
        if tag == "replace" and len(before) + len(after) <= REFINE_LIMIT:
            for op, k1, k2, l1, l2 in opcodes(before, after):
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
