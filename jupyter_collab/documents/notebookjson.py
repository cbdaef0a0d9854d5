"""Reading a whole shared notebook at native speed.

``YNotebook.get`` converts a notebook key by key through pycrdt's Python layer: about 1 s for
a 1,000-cell, 3 MB notebook, paid by every save, version preview, diff and restore. yrs can
render the cells as JSON in one native call (~0.07 s); parsing that JSON and applying
jupyter_ydoc's own clean-ups gives the same value about five times faster.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_ydoc import YNotebook
from jupyter_ydoc.utils import cast_all


def _native_json(notebook: YNotebook) -> tuple[Any, Any] | None:
    """(cells, meta) parsed from yrs' JSON, or None if this pycrdt does not offer it."""
    try:
        with notebook.ydoc.transaction() as txn:
            raw = txn._txn  # the native transaction pycrdt wraps
            cells = notebook._ycells.integrated.to_json(raw)
            meta = notebook._ymeta.integrated.to_json(raw)
    except (AttributeError, TypeError):
        return None
    return json.loads(cells), json.loads(meta)


def notebook_value(notebook: YNotebook) -> dict[str, Any]:
    """What ``notebook.get()`` returns, computed natively when it safely can be.

    Duplicate cell ids make jupyter_ydoc rename cells inside the document: that rare case
    goes through jupyter_ydoc itself so the result (and the document) stay identical.
    """
    parsed = _native_json(notebook)
    if parsed is None:
        return notebook.get()
    cells, meta = parsed
    ids = [cell.get("id") for cell in cells if cell.get("id")]
    if len(ids) != len(set(ids)):
        return notebook.get()
    cast_all(meta, float, int)
    strip_ids = int(meta.get("nbformat", 0)) == 4 and int(meta.get("nbformat_minor", 0)) <= 4
    for cell in cells:
        cell.pop("execution_state", None)
        cast_all(cell, float, int)
        if strip_ids and "id" in cell:
            del cell["id"]
        if (
            "attachments" in cell
            and cell.get("cell_type") in ("raw", "markdown")
            and not cell["attachments"]
        ):
            del cell["attachments"]
    return {
        "cells": cells,
        "metadata": meta.get("metadata", {}),
        "nbformat": int(meta.get("nbformat", 0)),
        "nbformat_minor": int(meta.get("nbformat_minor", 0)),
    }
