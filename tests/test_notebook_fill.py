"""The fast fill of an empty notebook document builds exactly jupyter_ydoc's shared schema.

Clients (JupyterLab's @jupyter/ydoc, jupyter_ydoc, other servers merging the same history)
read the shared types, not only the JSON they convert to: every Map, Array and Text must be
where ``YNotebook.set`` puts it, with the same value types (ints stay ints, floats floats).
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, Map, Text

from jupyter_collab.documents.notebooks import SharedNotebook, _rejoin_lines, fill_empty


def _shape(value: Any) -> Any:
    """A shared value with its shared types spelled out, to compare two documents."""
    if isinstance(value, Map):
        return ("Map", {key: _shape(value[key]) for key in value})
    if isinstance(value, Array):
        return ("Array", [_shape(item) for item in value])
    if isinstance(value, Text):
        return ("Text", str(value))
    return (type(value).__name__, value)


def _roots(doc: Doc) -> dict[str, Any]:
    return {
        "meta": _shape(doc.get("meta", type=Map)),
        "cells": _shape(doc.get("cells", type=Array)),
        "state": _shape(doc.get("state", type=Map)),
    }


def _reference(value: dict[str, Any]) -> Doc:
    doc = Doc()
    YNotebook(doc).set(copy.deepcopy(value))
    return doc


def _filled(value: dict[str, Any]) -> Doc:
    """Filled through SharedNotebook, then sent through an update as a client receives it."""
    doc = Doc()
    notebook = SharedNotebook(doc)
    before = copy.deepcopy(value)
    with doc.transaction():
        notebook.set(value)
    assert value == before, "the caller's notebook must not be modified"
    received = Doc()
    received.apply_update(doc.get_update())
    return received


def _random_notebook(seed: int, n_cells: int = 30) -> dict[str, Any]:
    rng = random.Random(seed)
    cells: list[dict[str, Any]] = []
    for i in range(n_cells):
        kind = rng.choice(["code", "code", "markdown", "raw"])
        cell: dict[str, Any] = {
            "cell_type": kind,
            "id": f"c{i}",
            "metadata": rng.choice([{}, {"tags": ["a"], "n": i, "f": 0.5, "x": None}]),
            "source": rng.choice(["", "x = 1\n", ["line 1\n", "line 2 é😀"]]),
        }
        if kind == "code":
            cell["execution_count"] = rng.choice([None, i])
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": ["a\n", "b"]},
                {
                    "output_type": "execute_result",
                    "execution_count": i,
                    "data": {"text/plain": "1", "application/json": {"k": [1, 2.5, True]}},
                    "metadata": {},
                },
                {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]},
            ][: rng.randint(0, 3)]
        elif rng.random() < 0.5:
            cell["attachments"] = rng.choice([{}, {"a.png": {"image/png": "AAAA"}}])
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}, "n": 1},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.mark.parametrize("seed", range(5))
def test_same_shared_schema_as_jupyter_ydoc(seed: int) -> None:
    value = _random_notebook(seed)
    assert _roots(_filled(value)) == _roots(_reference(value))


def test_edge_cases_match_jupyter_ydoc() -> None:
    value = {
        "cells": [
            {"cell_type": "code", "id": "a", "source": "no metadata", "execution_count": 1},
            {
                "cell_type": "code",
                "id": "b",
                "metadata": None,
                "source": "",
                "outputs": [
                    {"output_type": "stream", "name": "stderr"},  # a stream without text
                ],
                "execution_count": None,
            },
            {"cell_type": "markdown", "id": "c", "metadata": {}, "source": "", "attachments": {}},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    assert _roots(_filled(value)) == _roots(_reference(value))


def test_missing_ids_and_empty_notebook_get_fresh_ids() -> None:
    value = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "x"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    cells = SharedNotebook(_filled(value)).get()["cells"]
    assert cells[0]["id"] and cells[0]["source"] == "x"
    empty = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    cells = SharedNotebook(_filled(empty)).get()["cells"]
    reference = YNotebook(_reference(empty)).get()["cells"]
    assert [{**c, "id": ""} for c in cells] == [{**c, "id": ""} for c in reference]


def test_a_document_with_content_is_set_by_jupyter_ydoc() -> None:
    """Only an empty document is filled; setting a live one keeps its unchanged cells."""
    doc = Doc()
    notebook = SharedNotebook(doc)
    value = _random_notebook(7)
    _rejoin_lines(value)  # as read_notebook hands it over
    notebook.set(value)
    full = len(doc.get_update())
    state = doc.get_state()
    with doc.transaction():
        assert not fill_empty(notebook, value)
    changed = copy.deepcopy(value)
    changed["cells"][0]["source"] = "changed"
    notebook.set(changed)
    assert notebook.get() == YNotebook(_reference(changed)).get()
    assert len(doc.get_update(state)) < full / 4  # one cell's source, not the whole notebook


def test_signature_is_nbformats() -> None:
    """The trust check hashes exactly what nbformat's notary hashes (else trusted notebooks
    would open untrusted)."""
    from nbformat import from_dict
    from nbformat.sign import MemorySignatureStore, NotebookNotary

    from jupyter_collab.documents.notebooks import compute_signature

    notary = NotebookNotary(store_factory=MemorySignatureStore, secret=b"k" * 32)
    for seed in range(3):
        value = _random_notebook(seed)
        _rejoin_lines(value)
        value["metadata"]["signature"] = "sha256:old"  # never part of what is signed
        value["metadata"]["x"] = {"b": [True, None, 1.5, "é😀"], "a": 2}
        expected = notary.compute_signature(from_dict(copy.deepcopy(value)))
        assert compute_signature(notary, value) == expected
        assert value["metadata"]["signature"] == "sha256:old"  # left as it was
