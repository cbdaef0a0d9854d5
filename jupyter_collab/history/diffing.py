"""Comparing two contents of a document: a unified diff for text, cell by cell for notebooks.

Notebook cells are matched by their id (nbformat 4.5; the shared notebook gives every cell
one), so a cell that moved and changed is one cell that moved and changed, not a removal and
an addition. Cells whose relative order changed are the ones outside the longest common
subsequence of ids, which is what a reader calls "moved".
"""

from __future__ import annotations

import difflib
from typing import Any

# Server bookkeeping in cell metadata (set on load of a trusted notebook), not anybody's edit.
IGNORED_CELL_METADATA = frozenset({"trusted"})


def unified(old: str, new: str, old_label: str, new_label: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_label,
            tofile=new_label,
            n=3,
        )
    )


def text_diff(old: str, new: str, old_label: str, new_label: str) -> dict[str, Any]:
    diff = unified(_terminated(old), _terminated(new), old_label, new_label)
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    return {
        "type": "text",
        "diff": diff,
        "added": sum(1 for line in body if line.startswith("+")),
        "removed": sum(1 for line in body if line.startswith("-")),
    }


def _terminated(text: str) -> str:
    """difflib marks nothing for a missing final newline; compare whole lines instead."""
    return text if not text or text.endswith("\n") else text + "\n"


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _metadata(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (cell.get("metadata") or {}).items() if k not in IGNORED_CELL_METADATA}


def _outputs(cell: dict[str, Any]) -> tuple[Any, Any]:
    return cell.get("outputs"), cell.get("execution_count")


def _cell_ids(cells: list[dict[str, Any]], prefix: str) -> list[str]:
    """Cell ids, with positional stand-ins for cells that lack one (older nbformat)."""
    return [str(cell.get("id") or f"{prefix}{index}") for index, cell in enumerate(cells)]


def notebook_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_cells, new_cells = old.get("cells", []), new.get("cells", [])
    old_ids, new_ids = _cell_ids(old_cells, "#"), _cell_ids(new_cells, "#")
    old_at = {cell_id: index for index, cell_id in enumerate(old_ids)}
    new_set = set(new_ids)
    common_old = [cell_id for cell_id in old_ids if cell_id in new_set]
    common_new = [cell_id for cell_id in new_ids if cell_id in old_at]
    matcher = difflib.SequenceMatcher(a=common_old, b=common_new, autojunk=False)
    in_order = {
        cell_id
        for block in matcher.get_matching_blocks()
        for cell_id in common_new[block.b : block.b + block.size]
    }

    entries: list[dict[str, Any]] = []
    removed = [index for index, cell_id in enumerate(old_ids) if cell_id not in new_set]
    next_removed = 0

    def emit_removed(upto: int) -> None:
        nonlocal next_removed
        while next_removed < len(removed) and removed[next_removed] < upto:
            index = removed[next_removed]
            cell = old_cells[index]
            entries.append(_entry(old_ids[index], cell, "removed", False, index, None, cell, None))
            next_removed += 1

    for new_index, cell_id in enumerate(new_ids):
        cell = new_cells[new_index]
        old_index = old_at.get(cell_id)
        if old_index is None:
            entries.append(_entry(cell_id, cell, "added", False, None, new_index, None, cell))
            continue
        emit_removed(old_index)
        before = old_cells[old_index]
        entries.append(
            _entry(cell_id, cell, None, cell_id not in in_order, old_index, new_index, before, cell)
        )
    emit_removed(len(old_cells))
    return {
        "type": "notebook",
        "metadataChanged": old.get("metadata") != new.get("metadata"),
        "language": language_of(new.get("metadata") or {})
        or language_of(old.get("metadata") or {}),
        "cells": entries,
    }


def language_of(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """A notebook's language, as a client highlights its code: ``language_info``, else the
    kernel's language (what JupyterLab's notebook uses too)."""
    info = metadata.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str) and info["name"]:
        return info
    language = (metadata.get("kernelspec") or {}).get("language")
    return {"name": language} if isinstance(language, str) and language else None


def _entry(
    cell_id: str,
    cell: dict[str, Any],
    status: str | None,
    moved: bool,
    old_index: int | None,
    new_index: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    old_source = _source(before) if before is not None else ""
    new_source = _source(after) if after is not None else ""
    source_changed = old_source != new_source or before is None or after is None
    outputs_changed = metadata_changed = False
    if before is not None and after is not None:
        outputs_changed = _outputs(before) != _outputs(after)
        metadata_changed = _metadata(before) != _metadata(after) or before.get(
            "cell_type"
        ) != after.get("cell_type")
        if status is None:
            changed = source_changed or outputs_changed or metadata_changed
            status = "modified" if changed else "unchanged"
    return {
        "id": cell_id,
        "cellType": cell.get("cell_type"),
        "status": status,
        "moved": moved,
        "oldIndex": old_index,
        "newIndex": new_index,
        "sourceChanged": source_changed,
        "outputsChanged": outputs_changed,
        "metadataChanged": metadata_changed,
        "sourceDiff": unified(_terminated(old_source), _terminated(new_source), "before", "after")
        if source_changed
        else None,
    }


def blob_diff(old: bytes, new: bytes) -> dict[str, Any]:
    return {"type": "blob", "changed": old != new, "oldSize": len(old), "newSize": len(new)}
