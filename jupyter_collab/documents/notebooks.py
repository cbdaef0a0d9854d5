"""Reading notebooks quickly, and trusting them as Jupyter does.

``ContentsManager.get(type="notebook")`` validates the whole notebook against its JSON schema
and computes its signature before returning: most of the time it takes to open a large
notebook. Here the file is read through the same ContentsManager as text, parsed as nbformat
does (v4: rejoin lines, strip transient fields), and the signature is checked in a thread after
the room is open, so the first client does not wait for it. Older formats take the regular path.

The notebook stays plain dicts and lists: ``NotebookNode``'s Python ``__deepcopy__`` alone
costs more than the rest of building the shared document.

Building the shared document of a freshly loaded notebook is the largest part of a cold open:
pycrdt integrates a preliminary ``Map`` key by key, each key in a Python-level transaction
context (a dozen Python calls per key, ~14,000 keys for 1,000 executed cells). An empty
document is therefore filled through pycrdt's native types directly, in the one transaction
the caller opened: one native call per key, the same shared schema (see :func:`fill_empty`).
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import json
from datetime import datetime
from typing import Any
from uuid import uuid4

from jupyter_core.utils import ensure_async
from jupyter_ydoc import YNotebook
from jupyter_ydoc.utils import cast_all
from nbformat import from_dict
from nbformat.sign import NotebookNotary
from pycrdt import Array, Doc, Map, Text

from .gcpause import collector_paused


async def read_notebook(cm: Any, path: str) -> tuple[dict[str, Any], datetime | None]:
    """The notebook at ``path`` as an nbformat v4 dict; raise ValueError if it is not one."""
    try:
        model = await ensure_async(cm.get(path, content=True, type="file", format="text"))
        with collector_paused():  # ~10,000 containers for a large notebook: see gcpause
            notebook = json.loads(model["content"])
            if isinstance(notebook, dict) and notebook.get("nbformat") == 4:
                _rejoin_lines(notebook)
                _strip_transient(notebook)
                return notebook, model.get("last_modified")
    except (ValueError, TypeError, KeyError):
        pass
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
    signature = await asyncio.to_thread(compute_signature, notary, notebook)
    # The database lookup stays on the server's thread, where the notary's SQLite lives.
    return bool(signature and notary.store.check_signature(signature, notary.algorithm))


def compute_signature(notary: Any, notebook: dict[str, Any]) -> str:
    """``NotebookNotary.compute_signature`` of a plain-dict notebook, about 10x faster.

    nbformat's feeds the HMAC one ``bytes`` per key and value from nested generators, after
    the caller converted the notebook to a ``NotebookNode``: ~0.2 s of Python holding the GIL
    for a 3 MB notebook, competing with the event loop right after the room opened. The bytes
    hashed are the same (every key in sorted order then its value, strings as UTF-8, other
    scalars as ``str()``, the notebook's own ``metadata.signature`` left out), joined and
    hashed at once. A notary that computes signatures its own way is asked to, as before.
    """
    if getattr(type(notary), "compute_signature", None) is not NotebookNotary.compute_signature:
        return str(notary.compute_signature(from_dict(notebook)))
    parts: list[str] = []
    for key in sorted(notebook):
        parts.append(key)
        value = notebook[key]
        if key == "metadata" and isinstance(value, dict) and "signature" in value:
            value = {k: v for k, v in value.items() if k != "signature"}
        _signed_parts(value, parts)
    mac = hmac.new(notary.secret, "".join(parts).encode("utf8"), notary.digestmod)
    return mac.hexdigest()


def _signed_parts(value: Any, parts: list[str]) -> None:
    """The strings ``nbformat.sign.yield_everything`` yields for ``value``, in order."""
    if isinstance(value, dict):
        for key in sorted(value):
            parts.append(key)
            _signed_parts(value[key], parts)
    elif isinstance(value, list | tuple):
        for item in value:
            _signed_parts(item, parts)
    elif isinstance(value, str):
        parts.append(value)
    else:
        parts.append(str(value))


class SharedNotebook(YNotebook):
    """jupyter_ydoc's notebook, built faster; the shared schema is exactly jupyter_ydoc's.

    ``YNotebook.create_ycell`` deep-copies every cell before turning it into shared types, a
    third of the time it takes to load a large notebook. Only the dicts that are changed here
    are copied (the cell and its outputs); nested values are read, never modified, so the
    caller's notebook stays intact. Setting the content of an empty document (a room loading
    its file) goes through :func:`fill_empty`, several times faster than cell-by-cell
    integration; any other ``set`` (merging a file into a live room) is jupyter_ydoc's own,
    which keeps unchanged cells.
    """

    def set(self, value: dict[str, Any]) -> None:
        with self._ydoc.transaction():
            if not fill_empty(self, value):
                super().set(value)

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


def _native(shared: Any) -> Any:
    """pycrdt's native (Rust) object behind a shared type, or None if this pycrdt has none."""
    return getattr(shared, "_integrated", None)


def fill_empty(notebook: YNotebook, value: dict[str, Any]) -> bool:
    """Fill an empty notebook document with ``value``; False (nothing done) if not empty.

    Produces what ``YNotebook.set`` produces on an empty document, the same shared types
    under the same keys with the same values: ``meta`` holds ``nbformat``,
    ``nbformat_minor`` (as floats, as Yjs numbers) and a ``metadata`` Map (with JupyterLab's
    default ``language_info`` and ``kernelspec``); every cell is a Map with a ``source`` Text,
    a ``metadata`` Map, and for code cells an ``outputs`` Array of Maps (a stream's ``text``
    a Text) and ``execution_state`` "idle"; cells get an id when they have none, empty
    attachments of markdown and raw cells are dropped, and an empty notebook gets one empty
    code cell. Needs the caller's transaction to be open (``SharedNotebook.set`` opens it).

    Keys are inserted with pycrdt's native calls (the ones its Python layer makes after its
    checks), so values are converted exactly as ``Map.__setitem__`` would. If this pycrdt
    does not expose them, nothing is done and False is returned (the caller then uses
    jupyter_ydoc's path).
    """
    doc: Doc = notebook.ydoc
    ymeta, ycells = notebook._ymeta, notebook._ycells
    txn = doc._txn
    raw_txn = getattr(txn, "_txn", None)
    cells_native, meta_native = _native(ycells), _native(ymeta)
    if raw_txn is None or cells_native is None or meta_native is None:
        return False
    if not all(
        hasattr(cells_native, name) for name in ("insert_map_prelim", "insert", "len")
    ) or not all(hasattr(meta_native, name) for name in ("insert_map_prelim", "len")):
        return False
    if cells_native.len(raw_txn) or meta_native.len(raw_txn):
        return False
    extra_state = [k for k in notebook.ystate if k not in ("dirty", "path", "document_id")]
    if extra_state:
        return False

    head = copy.deepcopy({key: val for key, val in value.items() if key != "cells"})
    cast_all(head, int, float)  # Yjs numbers are floats
    ymeta["nbformat"] = head.get("nbformat", 4)
    ymeta["nbformat_minor"] = head.get("nbformat_minor", 5)
    metadata = head.get("metadata", {})
    metadata.setdefault("language_info", {"name": ""})
    metadata.setdefault("kernelspec", {"name": "", "display_name": ""})
    ymeta["metadata"] = Map(metadata)

    cells = value.get("cells") or [
        {
            "cell_type": "code",
            "execution_count": None,
            # auto-created empty code cell without outputs ought be trusted
            "metadata": {"trusted": True},
            "outputs": [],
            "source": "",
            "id": str(uuid4()),
        }
    ]
    t = raw_txn
    for index, cell in enumerate(cells):
        ycell = cells_native.insert_map_prelim(t, index)
        put = ycell.insert
        cell_type = cell.get("cell_type")
        code = cell_type == "code"
        for key, val in cell.items():
            if key == "source":
                ycell.insert_text_prelim(t, "source").insert(t, 0, _joined(val))
            elif key == "metadata":
                ymap = ycell.insert_map_prelim(t, "metadata")
                for mkey, mval in (val or {}).items():
                    ymap.insert(t, mkey, mval)
            elif key == "outputs" and code:
                _fill_outputs(t, ycell.insert_array_prelim(t, "outputs"), val or [])
            elif key == "attachments" and not val and cell_type in ("raw", "markdown"):
                continue
            else:
                put(t, key, val)
        if "source" not in cell:
            ycell.insert_text_prelim(t, "source")
        if "metadata" not in cell:
            ycell.insert_map_prelim(t, "metadata")
        if "id" not in cell:
            put(t, "id", str(uuid4()))
        if code:
            if "outputs" not in cell:
                ycell.insert_array_prelim(t, "outputs")
            put(t, "execution_state", "idle")
    return True


def _fill_outputs(t: Any, youtputs: Any, outputs: list[dict[str, Any]]) -> None:
    """A code cell's outputs, as ``YNotebook._create_youtputs`` makes them."""
    for index, output in enumerate(outputs):
        youtput = youtputs.insert_map_prelim(t, index)
        stream = output.get("output_type") == "stream"
        for key, val in output.items():
            if stream and key == "text":
                youtput.insert_text_prelim(t, "text").insert(t, 0, _joined(val))
            else:
                youtput.insert(t, key, val)
        if stream and "text" not in output:
            youtput.insert_text_prelim(t, "text")


CELL_TYPES = ("code", "markdown", "raw")


def repair_cells(notebook: YNotebook) -> list[str]:
    """Make every entry of the shared notebook's cells a cell Jupyter can save; return what
    was done (nothing, for a sound notebook: one native read of the cells).

    An editor may write anything into the shared document (a bit-flipped update once left a
    "cell" that was a list): ``nbformat`` cannot sign or write such a notebook, so every save
    failed and the room stayed unsaved for good. Repaired the way JupyterLab reads a notebook:
    an entry that is not a cell at all (a list, a string, a number) has nothing to show and is
    removed; a cell of no known type becomes a raw cell, as JupyterLab shows it; a missing
    ``source`` or ``metadata`` is created empty. Runs in the caller's transaction, if any.
    """
    cells = notebook._ycells
    try:
        with notebook.ydoc.transaction() as txn:
            raw = json.loads(cells.integrated.to_json(txn._txn))
    except (AttributeError, TypeError):
        raw = cells.to_py() or []
    if all(
        isinstance(cell, dict) and cell.get("cell_type") in CELL_TYPES
        and isinstance(cell.get("source"), str) and isinstance(cell.get("metadata"), dict)
        for cell in raw
    ):  # fmt: skip
        return []
    done: list[list[str]] = []
    with notebook.ydoc.transaction():
        for index in range(len(raw) - 1, -1, -1):
            entry, said = cells[index], []
            done.append(said)
            if not isinstance(entry, Map):
                del cells[index]
                said.append(
                    f"removed entry {index + 1} of the cells: a {type(raw[index]).__name__},"
                    " not a cell"
                )
                continue
            if entry.get("cell_type") not in CELL_TYPES:
                entry["cell_type"] = "raw"
                said.append(f"cell {index + 1} had no known type: made a raw cell")
            if not isinstance(entry.get("source"), Text):
                old = entry.get("source")
                entry["source"] = Text(old if isinstance(old, str) else "")
                said.append(f"cell {index + 1} had no source text: made one")
            if not isinstance(entry.get("metadata"), Map):
                entry["metadata"] = Map()
                said.append(f"cell {index + 1} had no metadata: made it empty")
            if not isinstance(entry.get("id"), str):
                entry["id"] = str(uuid4())
    return [line for said in reversed(done) for line in said]
