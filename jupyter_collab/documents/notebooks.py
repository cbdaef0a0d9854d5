"""Reading notebooks quickly, and trusting them as Jupyter does.

``ContentsManager.get(type="notebook")`` validates the whole notebook against its JSON schema
and computes its signature before returning: most of the time it takes to open a large
notebook. Here the file is read through the same ContentsManager as text, parsed as nbformat
does (v4: rejoin lines, strip transient fields), and the signature is checked in a thread after
the room is open, so the first client does not wait for it. Older formats take the regular path.

The notebook stays plain dicts and lists: ``NotebookNode``'s Python ``__deepcopy__`` alone
costs more than the rest of building the shared document.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from uuid import uuid4

from jupyter_core.utils import ensure_async
from jupyter_ydoc import YNotebook
from nbformat import NotebookNode, from_dict
from pycrdt import Array, Map, Text


async def read_notebook(cm: Any, path: str) -> tuple[dict[str, Any], datetime | None]:
    """The notebook at ``path`` as an nbformat v4 dict; raise ValueError if it is not one."""
    try:
        model = await ensure_async(cm.get(path, content=True, type="file", format="text"))
        notebook = json.loads(model["content"])
    except (ValueError, TypeError, KeyError):
        notebook = None
    if isinstance(notebook, dict) and notebook.get("nbformat") == 4:
        _rejoin_lines(notebook)
        _strip_transient(notebook)
        return notebook, model.get("last_modified")
    # Not v4 (or not readable as text): the ContentsManager converts and validates it.
    model = await ensure_async(cm.get(path, content=True, type="notebook"))
    return model["content"], model.get("last_modified")


def _joined(value: Any) -> Any:
    return "".join(value) if isinstance(value, list) else value


def _rejoin_lines(nb: dict[str, Any]) -> None:
    """nbformat.v4.rwbase.rejoin_lines, for plain dicts (nbformat's needs NotebookNodes)."""
    for cell in nb.get("cells", []):
        if "source" in cell:
            cell["source"] = _joined(cell["source"])
        for bundle in (cell.get("attachments") or {}).values():
            _rejoin_bundle(bundle)
        if cell.get("cell_type") == "code":
            for output in cell.get("outputs", []):
                kind = output.get("output_type", "")
                if kind in ("execute_result", "display_data"):
                    _rejoin_bundle(output.get("data", {}))
                elif kind and "text" in output:
                    output["text"] = _joined(output["text"])


def _rejoin_bundle(bundle: dict[str, Any]) -> None:
    for mime, value in bundle.items():
        is_json = mime == "application/json" or (
            mime.startswith("application/") and mime.endswith("+json")
        )
        if not is_json and isinstance(value, list) and all(isinstance(x, str) for x in value):
            bundle[mime] = "".join(value)


def _strip_transient(nb: dict[str, Any]) -> None:
    """nbformat.v4.rwbase.strip_transient, for plain dicts."""
    metadata = nb.get("metadata", {})
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        metadata.pop(key, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("trusted", None)


async def is_trusted(cm: Any, notebook: dict[str, Any]) -> bool:
    """Whether the notebook's signature is in the server's trust database."""
    notary = getattr(cm, "notary", None)
    if notary is None:
        return False
    node: NotebookNode = from_dict(notebook)
    signature = await asyncio.to_thread(notary.compute_signature, node)
    # The database lookup stays on the server's thread, where the notary's SQLite lives.
    return bool(signature and notary.store.check_signature(signature, notary.algorithm))


class SharedNotebook(YNotebook):
    """jupyter_ydoc's notebook, building cells without deep-copying them first.

    ``YNotebook.create_ycell`` deep-copies every cell before turning it into shared types, a
    third of the time it takes to load a large notebook. Only the dicts that are changed here
    are copied (the cell and its outputs); nested values are read, never modified, so the
    caller's notebook stays intact. The shared schema is exactly jupyter_ydoc's.
    """

    def create_ycell(self, value: dict[str, Any]) -> Map:
        cell = dict(value)
        cell.setdefault("id", str(uuid4()))
        cell["source"] = Text(_joined(cell["source"]))
        cell["metadata"] = Map(cell.get("metadata", {}))
        if cell["cell_type"] in ("raw", "markdown"):
            if "attachments" in cell and not cell["attachments"]:
                del cell["attachments"]
        elif cell["cell_type"] == "code":
            outputs = [dict(output) for output in cell.get("outputs", [])]
            cell["outputs"] = Array(self._create_youtputs(outputs, copy_outputs=False))
            cell["execution_state"] = "idle"
        return Map(cell)
