"""Merging a new file content into a live document as the smallest concurrent edit.

The edit from the last content both sides agreed on (the base) to the new file content is
computed on a private copy of the document at that base: a line-then-character diff for text,
``jupyter_ydoc``'s granular ``set`` for notebooks (cell by cell, matched by cell id). The
resulting update is concurrent with whatever collaborators typed since the base, so the CRDT
keeps both: nobody loses unsaved edits, cursors stay where they are, nothing appears twice.
"""

from __future__ import annotations

from typing import Any

from jupyter_ydoc import YUnicode
from jupyter_ydoc.ybasedoc import YBaseDoc
from pycrdt import Doc, merge_updates

from .textdiff import apply_text_edits, text_edits


def edit_from_base(base_update: bytes, ydoc_class: type[YBaseDoc], new_value: Any) -> bytes | None:
    """The update that turns the document at ``base_update`` into ``new_value``; None if none."""
    fork = Doc()
    fork.apply_update(base_update)
    shared = ydoc_class(fork)
    edits: list[bytes] = []
    subscription = fork.observe(lambda event: edits.append(event.update))
    if isinstance(shared, YUnicode):
        apply_text_edits(shared._ysource, text_edits(shared.get(), new_value))
    else:
        shared.set(new_value)  # cell by cell, matched by cell id
    fork.unobserve(subscription)
    if not edits:
        return None
    return edits[0] if len(edits) == 1 else merge_updates(*edits)
