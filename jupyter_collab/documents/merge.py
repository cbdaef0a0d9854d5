"""Merging a new file content into a live document as the smallest concurrent edit.

The edit from the last content both sides agreed on (the base) to the new file content is
computed on a private copy of the document at that base: a line-then-character diff for text,
``jupyter_ydoc``'s granular ``set`` for notebooks (cell by cell, matched by cell id). The
resulting update is concurrent with whatever collaborators typed since the base, so the CRDT
keeps both: nobody loses unsaved edits, cursors stay where they are, nothing appears twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_ydoc import YNotebook, YUnicode
from jupyter_ydoc.ybasedoc import YBaseDoc
from pycrdt import Doc, Map, merge_updates

from .notebookjson import notebook_value
from .textdiff import apply_text_edits, text_edits


def value_of(shared: YBaseDoc) -> Any:
    """``shared.get()``, natively for notebooks (see notebookjson.py): saves, previews and
    diffs of large notebooks all read the whole document."""
    return notebook_value(shared) if isinstance(shared, YNotebook) else shared.get()


def _read_once(notebook_class: type[YNotebook]) -> type[YNotebook]:
    """``notebook_class`` whose ``set`` reads the old cells in one native call.

    jupyter_ydoc's granular ``set`` converts every old cell to Python through pycrdt to compare
    it with the new one (about 1 s for 1,000 cells); reading them all at once as JSON first
    makes a merge or a restore of a large notebook several times faster. Cells are looked up by
    id; anything not found (no ids, duplicates) takes jupyter_ydoc's own path.
    """

    class ReadOnce(notebook_class):  # type: ignore[valid-type,misc]
        _old_cells: dict[str, dict[str, Any]] | None = None

        def set(self, value: dict[str, Any]) -> None:
            cells = notebook_value(self)["cells"]
            ids = [cell.get("id") for cell in cells]
            if all(ids) and len(set(ids)) == len(ids):
                self._old_cells = {cell["id"]: cell for cell in cells}
            try:
                super().set(value)
            finally:
                self._old_cells = None

        def _cell_to_py(self, ycell: Map, meta: dict[str, Any] | None = None) -> dict[str, Any]:
            if self._old_cells is not None:
                cached = self._old_cells.pop(str(ycell.get("id")), None)
                if cached is not None:
                    return cached
            return super()._cell_to_py(ycell, meta)

    return ReadOnce


def edit_from_base(
    base_update: bytes,
    ydoc_class: type[YBaseDoc],
    new_value: Any,
    watch: Callable[[Doc, YBaseDoc], None] | None = None,
) -> bytes | None:
    """The update that turns the document at ``base_update`` into ``new_value``; None if none.

    ``watch`` is shown the private copy before it is edited (a restore observes its own edit
    there, to know whose text it brings back).
    """
    fork = Doc()
    fork.apply_update(base_update)
    if issubclass(ydoc_class, YNotebook):
        ydoc_class = _read_once(ydoc_class)
    shared = ydoc_class(fork)
    if watch is not None:
        watch(fork, shared)
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
